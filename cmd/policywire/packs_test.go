package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/policywire/policywire/internal/testenv"
)

func TestCheckPointsAtAnUnknownPack(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "config.yaml"), `topics:
  diplomacy:
    pack: digital-diplomacy
  sanctions:
    pack: cyber-sanction
sources:
  - id: s
    url: https://example.org/feed
slack:
  bot_token: xoxb-not-used
channels:
  - id: desk
    slack: C0DESK
`)
	r := runBinary(t, dir, nil, "check")
	if r.code != 2 || !strings.Contains(r.stderr, `config.yaml:5:11: topic "sanctions": pack: unknown topic pack "cyber-sanction" (did you mean cyber-sanctions?)`) {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}

// TestPackTopicRoutesItems: a channel following a pack topic gets the
// items the pack matches, in any of its languages, and a topic's own
// query adds to them.
func TestPackTopicRoutesItems(t *testing.T) {
	dir := t.TempDir()
	fx := testenv.NewFixtureServer(t)
	fx.Set("/diplomatie.rss", testenv.SourceFixture(t, "diplomatie.rss"), testenv.ContentTypeFor(".rss"))
	fx.Set("/council.rss", testenv.SourceFixture(t, "council-press.rss"), testenv.ContentTypeFor(".rss"))
	writeFile(t, filepath.Join(dir, "config.yaml"), `data_dir: ./data
fetch:
  allow_private: true
  host_delay: 0s
topics:
  sanctions:
    pack: cyber-sanctions
  fish:
    pack: cyber-sanctions
    query: 'title:fisheries'
sources:
  - id: council-press
    url: `+fx.URL+`/council.rss
  - id: diplomatie
    language: fr
    url: `+fx.URL+`/diplomatie.rss
slack:
  bot_token: xoxb-not-used
channels:
  - id: sanctions-desk
    slack: C0SANCT
    topics: [sanctions]
  - id: fish-desk
    slack: C0FISH
    topics: [fish]
`)
	r := runBinary(t, dir, nil, "try", "council-press")
	if r.code != 0 {
		t.Fatalf("try: exit %d: %s", r.code, r.stderr)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		switch {
		case strings.Contains(line, "Cyber-attacks: Council sanctions"):
			if !strings.HasSuffix(strings.TrimSpace(line), "sanctions-desk, fish-desk") {
				t.Errorf("the cyber sanctions should go to both desks: %q", line)
			}
		case strings.Contains(line, "Fisheries"):
			if !strings.HasSuffix(strings.TrimSpace(line), "fish-desk") {
				t.Errorf("fisheries should go to fish-desk through the topic's own query: %q", line)
			}
		}
	}
	r = runBinary(t, dir, nil, "try", "diplomatie")
	if r.code != 0 || !strings.Contains(r.stdout, "sanctions-desk") {
		t.Errorf("the French ransomware sanctions item should go to sanctions-desk: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, dir, nil, "packs")
	if r.code != 0 || !strings.Contains(r.stdout, "cyber-sanctions") || !strings.Contains(r.stdout, "de,en,es,fr,it,nl,pl,pt") {
		t.Errorf("packs: exit %d\n%s", r.code, r.stdout)
	}
}
