package index

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/testenv"
	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/query"
	"github.com/policywire/policywire/sources"
)

var update = flag.Bool("update", false, "rewrite testdata/corpus.json")

// fixtureFeeds are the source fixtures that parse into items, with the
// source of sources/testdata/fixtures/sources.yaml each stands for.
var fixtureFeeds = []struct{ file, source string }{
	{"council-press.rss", "council-press"},
	{"council-press-listing.html", "council-press-listing"},
	{"eeas-press.html", "eeas-press"},
	{"commission-presscorner.rss", "commission-presscorner"},
	{"commission-presscorner-api.json", "commission-presscorner-api"},
	{"europarl-press.rss", "europarl-press"},
	{"europarl-press-de.rss", "europarl-press-de"},
	{"eurlex.rss", "eurlex"},
	{"state-press.rss", "state-press"},
	{"govuk-fcdo.atom", "govuk-fcdo"},
	{"govuk-fcdo-v2.atom", "govuk-fcdo"},
	{"govuk-search.atom", "govuk-search"},
	{"govuk-search-api.json", "govuk-search-api"},
	{"federalregister.json", "federalregister"},
	{"diplomatie.rss", "diplomatie"},
}

// fixtureSources reads the config the source fixtures stand for.
func fixtureSources(t testing.TB) map[string]config.Source {
	return testenv.FixtureSources(t)
}

// fixtureItems parses every source fixture as its source would, keeping
// the last version of an item that two fixtures both hold.
func fixtureItems(t testing.TB) []policywire.Item {
	t.Helper()
	srcs := fixtureSources(t)
	loc, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]int{}
	var out []policywire.Item
	for _, fx := range fixtureFeeds {
		src, ok := srcs[fx.source]
		if !ok {
			t.Fatalf("no source %q in sources.yaml", fx.source)
		}
		items, err := sources.Parse(wiring.Source(src), testenv.SourceFixture(t, fx.file), src.URL, testenv.ContentTypeFor(fx.file), loc)
		if err != nil {
			t.Fatalf("parse %s: %v", fx.file, err)
		}
		for _, it := range items {
			if i, seen := byID[it.ID]; seen {
				out[i] = it
				continue
			}
			byID[it.ID] = len(out)
			out = append(out, it)
		}
	}
	if len(out) < 40 {
		t.Fatalf("only %d items in the source fixtures", len(out))
	}
	return out
}

// corpusItems reads testdata/corpus.json.
func corpusItems(t testing.TB) []policywire.Item {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "corpus.json"))
	if err != nil {
		t.Fatalf("%v (go test ./store/index/ -update writes it)", err)
	}
	var items []policywire.Item
	if err := json.Unmarshal(b, &items); err != nil {
		t.Fatalf("testdata/corpus.json: %v", err)
	}
	return items
}

// openWith opens a new index in a temporary directory holding items.
func openWith(t testing.TB, items []policywire.Item) *Index {
	t.Helper()
	x, err := Open(filepath.Join(t.TempDir(), "index"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	if err := x.Index(items); err != nil {
		t.Fatal(err)
	}
	return x
}

// searchIDs returns the IDs of every item a search finds, sorted.
func searchIDs(t testing.TB, x *Index, q *query.Query) []string {
	t.Helper()
	hits, err := x.Search(context.Background(), q, policywire.SearchOptions{Limit: 100000})
	if err != nil {
		t.Fatalf("search %s: %v", q, err)
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.Item.ID
	}
	slices.Sort(ids)
	return ids
}

// matchIDs returns the IDs of the items query.Match accepts, sorted.
func matchIDs(q *query.Query, docs []*query.Doc, items []policywire.Item) []string {
	var ids []string
	for i, d := range docs {
		if q.Match(d) {
			ids = append(ids, items[i].ID)
		}
	}
	slices.Sort(ids)
	return ids
}
