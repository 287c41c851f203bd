package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/store"
	"github.com/policywire/policywire/store/index"
)

// timeArchive is a fixed archive: an item every 7 hours back from the
// clock for 400 days, every third one about "cyber", plus items on the
// edges of the days the filters name.
func timeArchive(loc *time.Location, now time.Time) []policywire.Item {
	var items []policywire.Item
	add := func(title string, at time.Time) {
		items = append(items, policywire.Item{
			ID: fmt.Sprintf("it-%04d", len(items)), Source: "council", Title: title,
			URL: fmt.Sprintf("https://example.org/%d", len(items)), Published: at,
		})
	}
	for i := 0; i < 400*24/7; i++ {
		title := fmt.Sprintf("Press release %d", i)
		if i%3 == 0 {
			title = fmt.Sprintf("Cyber resilience note %d", i)
		}
		add(title, now.Add(-time.Duration(i)*7*time.Hour))
	}
	for _, d := range []time.Time{
		time.Date(2026, 1, 1, 0, 0, 0, 0, loc), time.Date(2025, 12, 31, 23, 59, 59, 0, loc),
		time.Date(2026, 6, 30, 0, 0, 0, 0, loc), time.Date(2026, 6, 29, 23, 59, 0, 0, loc),
		time.Date(2026, 11, 1, 0, 0, 0, 0, loc), time.Date(2026, 10, 31, 23, 30, 0, 0, loc),
		time.Date(2026, 11, 5, 12, 0, 0, 0, loc), now.Add(-7 * 24 * time.Hour), now.Add(-7*24*time.Hour - time.Second),
	} {
		add("Cyber edge "+d.Format(time.RFC3339), d)
	}
	return items
}

// TestSearchTimeFiltersAgainstOracle: since:, after:, before: and date:
// select exactly the items a plain reading of their dates selects, in
// policywire search --json (with --now) and in the chat search command
// (with its clock), over the same fixed archive.
func TestSearchTimeFiltersAgainstOracle(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 15, 30, 0, 0, loc)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "policywire.yaml")
	writeFile(t, cfgPath, "data_dir: ./data\ntimezone: Europe/Brussels\nsources:\n  - id: council\n    url: https://www.consilium.europa.eu/en/rss/pressreleases.ashx\n")
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	archive := timeArchive(loc, now)
	st, err := store.Open(dbPath(cfg), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := index.Open(indexDir(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Index(archive); err != nil {
		t.Fatal(err)
	}
	// The command line opens the archive itself.
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, loc) }
	cyber := func(it policywire.Item) bool { return strings.Contains(it.Title, "Cyber") }
	cases := []struct {
		q      string
		oracle func(it policywire.Item) bool
	}{
		{"cyber since:7d", func(it policywire.Item) bool { return cyber(it) && !it.Published.Before(now.Add(-7*24*time.Hour)) }},
		{"since:12h", func(it policywire.Item) bool { return !it.Published.Before(now.Add(-12 * time.Hour)) }},
		{"cyber after:2026-01-01", func(it policywire.Item) bool { return cyber(it) && !it.Published.Before(day(2026, 1, 1)) }},
		{"cyber before:2026-06-30", func(it policywire.Item) bool { return cyber(it) && it.Published.Before(day(2026, 6, 30)) }},
		{"cyber after:2026-01-01 before:2026-06-30", func(it policywire.Item) bool {
			return cyber(it) && !it.Published.Before(day(2026, 1, 1)) && it.Published.Before(day(2026, 6, 30))
		}},
		{"date:2026-11", func(it policywire.Item) bool {
			return it.Published.In(loc).Year() == 2026 && it.Published.In(loc).Month() == 11
		}},
		{"cyber date:2026-11-05", func(it policywire.Item) bool {
			y, m, d := it.Published.In(loc).Date()
			return cyber(it) && y == 2026 && m == 11 && d == 5
		}},
	}
	oracle := func(keep func(it policywire.Item) bool) []string {
		var want []string
		for _, it := range archive {
			if keep(it) {
				want = append(want, it.Title)
			}
		}
		if len(want) == 0 {
			t.Fatal("the oracle selects nothing: the archive tests nothing")
		}
		return want
	}
	for _, tc := range cases {
		want := oracle(tc.oracle)

		var stdout, stderr bytes.Buffer
		code := run([]string{"policywire", "search", "-c", cfgPath, "--json", "--limit", "5000", "--now", now.Format(time.RFC3339), tc.q}, strings.NewReader(""), &stdout, &stderr)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.q, code, stderr.String())
		}
		var hits []policywire.SearchHit
		if err := json.Unmarshal(stdout.Bytes(), &hits); err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		var got []string
		for _, h := range hits {
			got = append(got, h.Item.Title)
		}
		if slices.Sort(got); !slices.Equal(got, sorted(want)) {
			t.Errorf("%s: policywire search --json found %d items, the oracle %d:\ngot  %v\nwant %v", tc.q, len(got), len(want), clipped(got), clipped(sorted(want)))
		}
	}

	st, err = store.Open(dbPath(cfg), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	idx, err = index.Open(indexDir(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	b, err := bot.New(bot.Options{Config: cfg, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	commands := &bot.Commands{Bot: b, Searcher: idx, Now: func() time.Time { return now.UTC() }}
	for _, tc := range cases {
		want := oracle(tc.oracle)

		// In chat, sort:date shows the five newest of exactly those.
		ans, err := commands.Handle(context.Background(), bot.CommandRequest{Platform: "slack", Text: "search " + tc.q + " sort:date"}, "/policywire")
		if err != nil {
			t.Fatal(err)
		}
		newest := slices.Clone(want) // the archive is newest first, edges last
		slices.SortStableFunc(newest, func(a, b string) int { return byTitle(archive, b).Published.Compare(byTitle(archive, a).Published) })
		newest = newest[:min(5, len(newest))]
		var chat []string
		for _, e := range ans.Entries {
			chat = append(chat, e.Title)
		}
		if !slices.Equal(chat, newest) {
			t.Errorf("%s: chat search showed %v, want the newest %v (answer %q)", tc.q, chat, newest, ans.Text)
		}
	}
}

func byTitle(items []policywire.Item, title string) policywire.Item {
	for _, it := range items {
		if it.Title == title {
			return it
		}
	}
	return policywire.Item{}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func clipped(s []string) []string {
	if len(s) > 8 {
		return append(s[:8:8], fmt.Sprintf("… %d more", len(s)-8))
	}
	return s
}

// TestCheckRejectsTimeFilterInTopic: a topic routes new items as they come,
// so check points at its time filter, by line and column.
func TestCheckRejectsTimeFilterInTopic(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.yaml"), `topics:
  cyber:
    query: "cyber since:7d"
  order:
    query: cyber sort:date
sources:
  - id: council
    url: https://example.org/feed
`)
	r := runBinary(t, dir, nil, "check", "-c", "p.yaml")
	want := `p.yaml:3:19: topic "cyber": query: since: is a time filter for search, subscriptions and watches; a topic routes each new item as it comes, so it takes none
p.yaml:5:18: topic "order": query: sort: orders search results; a topic routes each new item as it comes, so it takes no sort:
`
	if r.code != 2 || r.stderr != want {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and:\n%s", r.code, r.stderr, want)
	}
}
