package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/policywire/policywire/internal/testenv"
)

func discoverFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "discover", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// discoverConfig is a config a team already edits by hand, with comments
// and its own layout, reaching the loopback fixtures.
const discoverConfigText = `# Our desk's config: keep these notes.
data_dir: ./data
fetch:
  allow_private: true   # loopback fixtures
  host_delay: 0s

topics:
  diplomacy:
    query: '"digital diplomacy" OR "cyber diplomacy"'

sources:
    # The Council first: it publishes most.
    -   id: council-press
        name: Council of the EU – press releases
        url: https://www.consilium.europa.eu/en/rss/pressreleases.ashx

# Slack comes last.
slack:
  bot_token: xoxb-not-used
channels:
  - id: desk
    slack: C0DESK
    topics: [diplomacy]
`

func TestDiscoverPrintsSourceBlocksBestFirst(t *testing.T) {
	dir := t.TempDir()
	fx := testenv.NewFixtureServer(t)
	fx.Set("/news/", discoverFixture(t, "wordpress-home.html"), "text/html; charset=UTF-8")
	fx.Set("/feed/", discoverFixture(t, "wordpress-feed.rss"), "application/rss+xml")
	fx.Set("/comments/feed/", discoverFixture(t, "wordpress-comments.rss"), "application/rss+xml")
	writeFile(t, filepath.Join(dir, "config.yaml"), discoverConfigText)

	r := runBinary(t, dir, nil, "discover", fx.URL+"/news/")
	if r.code != 0 {
		t.Fatalf("discover: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"2 sources found for " + fx.URL + "/news/ (News – Cybersecurity Tech Accord), best first.",
		"# 1. feed (link rel=alternate): 3 items, newest 2026-11-26, languages en\n",
		"  - id: 127-0-0-1-feed\n    name: Cybersecurity Tech Accord » Feed\n    url: " + fx.URL + "/feed/\n",
		"# 2. feed (link rel=alternate): 1 item",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if i, j := strings.Index(r.stdout, "/feed/\n"), strings.Index(r.stdout, "/comments/feed/"); i < 0 || j < i {
		t.Errorf("the site feed should be listed before the comments feed:\n%s", r.stdout)
	}
}

func TestDiscoverAddKeepsTheFileAndPassesCheck(t *testing.T) {
	dir := t.TempDir()
	fx := testenv.NewFixtureServer(t)
	fx.Set("/en/news", discoverFixture(t, "drupal-listing.html"), "text/html; charset=UTF-8")
	path := filepath.Join(dir, "config.yaml")
	writeFile(t, path, discoverConfigText)

	r := runBinary(t, dir, nil, "discover", "--add", fx.URL+"/en/news")
	if r.code != 0 {
		t.Fatalf("discover --add: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "Added source 127-0-0-1-page") || !strings.Contains(r.stdout, "config.yaml: ok: 2 sources, 1 topic, 1 channel") {
		t.Errorf("output:\n%s", r.stdout)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(data)
	// Everything that was there is still there, byte for byte, and the
	// new source sits at the end of the list with the list's indentation.
	before, after, ok := strings.Cut(discoverConfigText, "\n# Slack comes last.")
	if !ok || !strings.HasPrefix(got, before) || !strings.HasSuffix(got, "\n# Slack comes last."+after) {
		t.Fatalf("the file was not kept as it was around the new source:\n%s", got)
	}
	added := strings.TrimPrefix(strings.TrimSuffix(got, "\n# Slack comes last."+after), before)
	for _, want := range []string{
		"    # found by policywire discover " + fx.URL + "/en/news on ",
		"    -   id: 127-0-0-1-page\n        name: Ministry of Foreign Affairs (web page)\n        type: html\n",
		"        html:\n          item: div.views-row\n          title: h3.node__title a\n          link: h3.node__title a@href\n          date: time@datetime\n",
	} {
		if !strings.Contains(added, want) {
			t.Errorf("the added block lacks %q:\n%s", want, added)
		}
	}
	// The daemon's own check reads it, and try reads the page with it.
	if r := runBinary(t, dir, nil, "check"); r.code != 0 {
		t.Fatalf("check after --add: exit %d: %s", r.code, r.stderr)
	}
	r = runBinary(t, dir, nil, "try", "127-0-0-1-page")
	if r.code != 0 || !strings.Contains(r.stdout, "12 items.") {
		t.Errorf("try the added source: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Adding the same page again gives the next free id.
	r = runBinary(t, dir, nil, "discover", "--add", fx.URL+"/en/news")
	if r.code != 0 || !strings.Contains(r.stdout, "Added source 127-0-0-1-page-2") || !strings.Contains(r.stdout, "ok: 3 sources") {
		t.Errorf("second --add: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestDiscoverChallengePageExitsOne(t *testing.T) {
	dir := t.TempDir()
	fx := testenv.NewFixtureServer(t)
	fx.Set("/en/press/", testenv.SourceFixture(t, "council-challenge.html"), "text/html")
	writeFile(t, filepath.Join(dir, "config.yaml"), discoverConfigText)
	before, _ := os.ReadFile(filepath.Join(dir, "config.yaml"))
	r := runBinary(t, dir, nil, "discover", "--add", fx.URL+"/en/press/")
	if r.code != 1 {
		t.Fatalf("discover on a challenge page: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "is a block or challenge page") || !strings.Contains(r.stderr, `"Just a moment..."`) {
		t.Errorf("stderr should say it is a challenge page, with its title: %s", r.stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "config.yaml")); string(after) != string(before) {
		t.Errorf("the config changed")
	}
}

func TestDiscoverRefusesLoopbackWithoutAllowPrivate(t *testing.T) {
	dir := t.TempDir()
	fx := testenv.NewFixtureServer(t)
	fx.Set("/feed/", discoverFixture(t, "wordpress-feed.rss"), "application/rss+xml")
	// No config file: the default fetch settings, which refuse loopback.
	r := runBinary(t, dir, nil, "discover", fx.URL+"/feed/")
	if r.code != 1 || !strings.Contains(r.stderr, "address refused") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}
