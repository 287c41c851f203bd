package console

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire"
)

func alert() policywire.Alert {
	return policywire.Alert{
		ID: "a1", Channel: "eu-desk", SourceName: "Council of the EU – press releases", Topics: []string{"digital-diplomacy"},
		Item: policywire.Item{
			Title:      "Digital diplomacy: Council approves conclusions\u202e evil",
			URL:        "https://www.consilium.europa.eu/en/press/press-releases/2026/10/20/digital-diplomacy/",
			Summary:    "Building on its conclusions on digital diplomacy of 18 July 2022, the Council calls for a network of EU tech envoys.\x1b[31m",
			Published:  time.Date(2026, 10, 20, 9, 45, 0, 0, time.UTC),
			References: []string{"ST 11406/22"},
		},
		Also: []policywire.AlsoReported{{Source: "eeas-press", SourceName: "EEAS – press material", URL: "https://www.eeas.europa.eu/x"}},
	}
}

func TestRenderShowsWhatChatWouldShow(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Brussels")
	var buf bytes.Buffer
	s := &Sender{W: &buf, Location: loc, ChannelNames: map[string]string{"C1": "#eu-desk"}}
	if _, err := s.Send(context.Background(), "C1", alert()); err != nil {
		t.Fatal(err)
	}
	want := `▌ Digital diplomacy: Council approves conclusions evil
  https://www.consilium.europa.eu/en/press/press-releases/2026/10/20/digital-diplomacy/
  Council of the EU – press releases · 20 Oct 2026 11:45 CEST · digital-diplomacy
  Building on its conclusions on digital diplomacy of 18 July 2022, the
  Council calls for a network of EU tech envoys.[31m
  References: ST 11406/22
  Also reported by: EEAS – press material <https://www.eeas.europa.eu/x>
  → #eu-desk

`
	if buf.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
	if strings.ContainsAny(buf.String(), "\x1b\u202e") {
		t.Fatal("feed text must not reach the terminal with escape or bidi characters")
	}
}

func TestColourOnlyWhenAsked(t *testing.T) {
	var plain, colour bytes.Buffer
	(&Sender{W: &plain}).Send(context.Background(), "C1", alert())
	(&Sender{W: &colour, Colour: true}).Send(context.Background(), "C1", alert())
	if strings.Contains(plain.String(), "\x1b[") || !strings.Contains(colour.String(), "\x1b[1m") {
		t.Fatalf("colour codes: plain=%q colour=%q", plain.String(), colour.String())
	}
}
