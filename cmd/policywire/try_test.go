package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/policywire/policywire/internal/testenv"
)

// tryConfig is a config with the Council feed, the Council challenge page
// and the EEAS listing on a loopback fixture server.
func tryConfig(t *testing.T, dir string, fixtures *testenv.FixtureServer) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "config.yaml"), `data_dir: ./data
timezone: Europe/Brussels
fetch:
  allow_private: true
  host_delay: 0s
topics:
  digital-diplomacy:
    query: '"digital diplomacy" OR "cyber diplomacy"'
  cyber:
    query: 'cyber* AND (attack OR attacks OR ransomware)'
sources:
  - id: council-press
    name: Council of the EU – press releases
    url: `+fixtures.URL+`/council.rss
  - id: council-waf
    name: Council behind its firewall
    url: `+fixtures.URL+`/challenge.rss
  - id: eeas-press
    name: EEAS – press material
    type: html
    url: `+fixtures.URL+`/eeas.html
    html:
      item: ".view-content .card"
      title: "h3.card-title a"
      link: "h3.card-title a@href"
      date: ".card-footer"
      date_format: "02.01.2006"
slack:
  bot_token: xoxb-not-used
channels:
  - id: eu-desk
    slack: C0EUDESK
    topics: [digital-diplomacy]
  - id: cyber-desk
    slack: C0CYBER
    topics: [cyber]
`)
}

func TestTryShowsItemsAndWhereTheyWouldGo(t *testing.T) {
	dir := t.TempDir()
	fixtures := testenv.NewFixtureServer(t)
	fixtures.Set("/council.rss", testenv.SourceFixture(t, "council-press.rss"), testenv.ContentTypeFor(".rss"))
	tryConfig(t, dir, fixtures)

	r := runBinary(t, dir, nil, "try", "council-press")
	if r.code != 0 {
		t.Fatalf("try: exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"council-press — Council of the EU – press releases",
		"HTTP 200",
		"6 items.",
		"Digital diplomacy: Council approves conclusions on a stronger EU voic…",
		"2026-11-05 16:20", // a10:updated, in Brussels time
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("try output lacks %q:\n%s", want, r.stdout)
		}
	}
	// Which channel each item would go to.
	for _, line := range strings.Split(r.stdout, "\n") {
		switch {
		case strings.Contains(line, "Cyber-attacks: Council sanctions"):
			if !strings.HasSuffix(strings.TrimSpace(line), "cyber-desk") {
				t.Errorf("the ransomware sanctions should go to cyber-desk only: %q", line)
			}
		case strings.Contains(line, "Fisheries"):
			if !strings.HasSuffix(strings.TrimSpace(line), "-") {
				t.Errorf("fisheries should go nowhere: %q", line)
			}
		case strings.Contains(line, "Digital diplomacy: Council approves"):
			if !strings.HasSuffix(strings.TrimSpace(line), "eu-desk") {
				t.Errorf("digital diplomacy should go to eu-desk: %q", line)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "policywire.db")); !os.IsNotExist(err) {
		t.Errorf("try wrote state: %v", err)
	}
}

func TestTryJSONHasEveryField(t *testing.T) {
	dir := t.TempDir()
	fixtures := testenv.NewFixtureServer(t)
	fixtures.Set("/eeas.html", testenv.SourceFixture(t, "eeas-press.html"), testenv.ContentTypeFor(".html"))
	tryConfig(t, dir, fixtures)
	r := runBinary(t, dir, nil, "try", "--json", "eeas-press")
	if r.code != 0 {
		t.Fatalf("try --json: exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Source string `json:"source"`
		Items  []struct {
			Source   string   `json:"source"`
			Channels []string `json:"channels"`
			Item     struct {
				ID, URL, Title, Published string
			} `json:"item"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	if len(out.Items) == 0 || out.Source != "eeas-press" {
		t.Fatalf("source %q, %d items", out.Source, len(out.Items))
	}
	for _, it := range out.Items {
		if it.Item.ID == "" || !strings.HasPrefix(it.Item.URL, fixtures.URL+"/") || it.Item.Title == "" || it.Item.Published == "" {
			t.Errorf("incomplete item (relative links must be resolved against the page): %+v", it.Item)
		}
	}
}

func TestTryFailingSourceExitsOneWithTheTypedError(t *testing.T) {
	dir := t.TempDir()
	fixtures := testenv.NewFixtureServer(t)
	fixtures.Set("/challenge.rss", testenv.SourceFixture(t, "council-challenge.html"), testenv.ContentTypeFor(".html"))
	tryConfig(t, dir, fixtures)
	r := runBinary(t, dir, nil, "try", "council-waf")
	if r.code != 1 {
		t.Fatalf("try on a challenge page: exit %d, want 1", r.code)
	}
	if !strings.Contains(r.stderr, "(unexpected)") || !strings.Contains(r.stderr, "Just a moment") {
		t.Errorf("the error should name its kind and the page title: %s", r.stderr)
	}
	r = runBinary(t, dir, nil, "try", "no-such-source")
	if r.code != 2 || !strings.Contains(r.stderr, "council-press, council-waf, eeas-press") {
		t.Errorf("unknown source: exit %d: %s", r.code, r.stderr)
	}
}

func TestTryShowsWhatTheReadDroppedAndRepaired(t *testing.T) {
	dir := t.TempDir()
	fixtures := testenv.NewFixtureServer(t)
	cut, err := os.ReadFile(filepath.Join("..", "..", "sources", "testdata", "feeds", "truncated.rss"))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := os.ReadFile(filepath.Join("..", "..", "sources", "testdata", "feeds", "bad-item.rss"))
	if err != nil {
		t.Fatal(err)
	}
	// The Council's source serves a feed a proxy cut short, and the
	// firewall's source a feed with broken items.
	fixtures.Set("/council.rss", cut, testenv.ContentTypeFor(".rss"))
	fixtures.Set("/challenge.rss", bad, testenv.ContentTypeFor(".rss"))
	tryConfig(t, dir, fixtures)

	r := runBinary(t, dir, nil, "try", "council-press")
	if r.code != 0 {
		t.Fatalf("try: exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"12 items.", "Warning: feed truncated after item 12.", "Dropped item 13: cut off by the end of the body."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("try output lacks %q:\n%s", want, r.stdout)
		}
	}

	r = runBinary(t, dir, nil, "try", "--json", "council-waf")
	if r.code != 0 {
		t.Fatalf("try --json: exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Items   []json.RawMessage `json:"items"`
		Dropped []struct {
			Position int    `json:"position"`
			Reason   string `json:"reason"`
		} `json:"dropped"`
		Repairs []struct {
			Position int    `json:"position"`
			What     string `json:"what"`
		} `json:"repairs"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	if len(out.Items) != 3 || len(out.Dropped) != 1 || out.Dropped[0].Position != 3 || !strings.HasPrefix(out.Dropped[0].Reason, "markup error") {
		t.Errorf("%d items, dropped %+v; want 3 items and item 3 dropped with its markup error", len(out.Items), out.Dropped)
	}
	if len(out.Repairs) != 2 || out.Repairs[0].Position != 2 || !strings.Contains(out.Repairs[0].What, `"<"`) {
		t.Errorf("repairs %+v", out.Repairs)
	}
}
