package demo

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// demoNow is the clock of the golden transcripts.
var demoNow = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return demoNow }

// runDemo runs the demo with the fixed clock and returns what it printed.
func runDemo(t *testing.T, o Options) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	o.Stdout, o.Stderr = &out, &errOut
	if o.Now == nil {
		o.Now = fixedNow
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Run(ctx, o); err != nil {
		t.Fatalf("Run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/demo -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("transcript differs from %s (go test ./internal/demo -update rewrites it)\n--- got ---\n%s", path, got)
	}
}

// alertBlocks splits the transcript's alerts into their channel sections:
// channel heading → the alert blocks under it, each starting with "▌ ".
func alertBlocks(t *testing.T, transcript string) map[string][]string {
	t.Helper()
	sections := map[string][]string{}
	current := ""
	for _, block := range strings.Split(transcript, "\n\n") {
		block = strings.TrimSpace(block)
		switch {
		case strings.HasPrefix(block, "── "):
			current = strings.Fields(block)[1]
		case strings.HasPrefix(block, "▌ ") && current != "":
			sections[current] = append(sections[current], block)
		}
	}
	return sections
}

func TestDemoTranscript(t *testing.T) {
	out, errOut := runDemo(t, Options{})
	golden(t, "demo.golden", out)
	if errOut != "" {
		t.Errorf("the demo logged on stderr:\n%s", errOut)
	}

	for _, want := range []string{
		"✓ council-press  ", "6 items, 5 new alerts",
		"✓ eeas-press ", "5 items, 3 new alerts",
		"✓ state-press", "✓ govuk-fcdo", "✓ tech-accord",
		"12 alerts to 2 channels from 5 sources.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	if strings.Contains(out, "search> ") || strings.Contains(out, "\x1b[") {
		t.Errorf("no-prompt, no-colour transcript has a prompt or escapes:\n%s", out)
	}

	sections := alertBlocks(t, out)
	desk, room := sections["#eu-desk"], sections["!diplomacy:example.org"]
	if len(desk) != 5 || len(room) != 7 {
		t.Fatalf("want 5 alerts in #eu-desk and 7 in the Matrix room, got %d and %d", len(desk), len(room))
	}

	// The story the Council and the EEAS both published is one alert per
	// channel, from the Council, naming the EEAS.
	const twoSources = "EU-African Union Digital Partnership: joint statement on digital diplomacy and secure connectivity"
	for name, blocks := range sections {
		n := 0
		for _, b := range blocks {
			if strings.Contains(b, twoSources) {
				n++
				if !strings.Contains(b, "Council of the EU – press releases") ||
					!strings.Contains(b, "Also reported by: EEAS – press material <https://www.eeas.europa.eu/eeas/eu-african-union-digital-partnership-joint-statement-digital-diplomacy-and-secure-connectivity_en>") {
					t.Errorf("%s: the two-source story does not show the EEAS as also reporting:\n%s", name, b)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s: the two-source story appears %d times, want once", name, n)
		}
	}

	// The French item matches digital-diplomacy through "diplomatie
	// numérique" and reaches both channels.
	for name, blocks := range sections {
		found := false
		for _, b := range blocks {
			if strings.HasPrefix(b, "▌ Diplomatie numérique : l’Union européenne et le Sénégal") {
				found = strings.Contains(b, "digital-diplomacy")
			}
		}
		if !found {
			t.Errorf("%s: the French digital-diplomacy item is not among its alerts", name)
		}
	}

	// Everyday items are archived but never alert.
	for _, everyday := range []string{
		"Fisheries: Council agrees on fishing opportunities",
		"Agriculture: Council adopts conclusions",
		"EU annual budget",
		"Kenya: High Representative visits Nairobi",
		"Moldova: EU support helps wine",
		"Agricultural Trade Mission",
		"Secretary’s Travel to Brazil",
		"fisheries agreement with Norway",
		"Foreign Secretary visits Canada",
		"Welcome to our newest signatories",
	} {
		if strings.Contains(out, everyday) {
			t.Errorf("everyday item %q was alerted", everyday)
		}
	}

	// #eu-desk takes only the EU sources; cyber items of other sources
	// (GOV.UK, the coalition) reach neither channel.
	for _, b := range desk {
		if !strings.Contains(b, "Council of the EU") && !strings.Contains(b, "EEAS") {
			t.Errorf("#eu-desk got an alert from a source it does not follow:\n%s", b)
		}
	}
	for _, notAlerted := range []string{"UK and Estonia sign cyber security partnership", "ransomware and cyber resilience"} {
		if strings.Contains(out, notAlerted) {
			t.Errorf("%q was alerted although no channel wants it", notAlerted)
		}
	}
}

func TestDemoSearchPrompt(t *testing.T) {
	out, _ := runDemo(t, Options{
		Prompt: true,
		Stdin:  strings.NewReader("digital diplomacy\ncybersécurité\n\"unbalanced\n"),
	})
	i := strings.Index(out, "search> ")
	if i < 0 {
		t.Fatalf("no search prompt:\n%s", out)
	}
	session := out[i:]
	golden(t, "search.golden", session)

	answers := strings.Split(session, "search> ")[1:]
	if len(answers) != 4 {
		t.Fatalf("want 3 answers and a last prompt, got %d prompts:\n%s", len(answers), session)
	}
	if n := len(regexp.MustCompile(`(?m)^ ?\d\. `).FindAllString(answers[0], -1)); n != 5 {
		t.Errorf("digital diplomacy: want the best 5, got %d:\n%s", n, answers[0])
	}
	if !strings.Contains(answers[0], "https://") || !strings.Contains(answers[0], " · ") {
		t.Errorf("digital diplomacy: hits lack link or source and date:\n%s", answers[0])
	}
	if !strings.Contains(answers[1], "1. Diplomatie numérique : l’Union européenne et le Sénégal") {
		t.Errorf("cybersécurité does not find the French item first:\n%s", answers[1])
	}
	wantErr := "That query does not parse at column 1: "
	if !strings.Contains(answers[2], wantErr) || !strings.Contains(answers[2], "  \"unbalanced\n  ^\n") {
		t.Errorf("bad query: want the error with a caret under column 1:\n%s", answers[2])
	}
	if answers[3] != "\n" {
		t.Errorf("after EOF the prompt should end the line, got %q", answers[3])
	}
}
