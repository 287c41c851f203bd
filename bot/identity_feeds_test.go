package bot_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/sources"
	"github.com/policywire/policywire/store"
)

// archive ingests items into st as one poll of source "pub" routing every
// item to #policy, and returns what the poll did and the outbox after it.
func archive(t *testing.T, st *store.Store, items []policywire.Item) (store.IngestResult, int) {
	t.Helper()
	state, err := st.SourceState("pub")
	if err != nil {
		t.Fatal(err)
	}
	all := func(policywire.Item) []store.Route {
		return []store.Route{{Channel: "#policy", Topics: []string{"all"}}}
	}
	res, err := st.Ingest(store.Batch{Source: "pub", SourceName: "Publisher", Items: items, State: state}, all)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.Outbox("#policy", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	return res, len(rows)
}

// parseFeedFixture parses a feed of sources/testdata/feeds as source src.
func parseFeedFixture(t *testing.T, src, name string) []policywire.Item {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "sources", "testdata", "feeds", name))
	if err != nil {
		t.Fatal(err)
	}
	items, err := sources.Parse(sources.Source{ID: src, URL: "https://publisher.example/feed"}, body, "", "", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// TestFeedReadingChangesKeepArchivedItemsKnown archives items with the
// identities the feed reader used to give them and then polls the same
// feeds as it reads them now: nothing may look new, or an archive would
// be alerted again.
func TestFeedReadingChangesKeepArchivedItemsKnown(t *testing.T) {
	canonical := func(t *testing.T, u string) string {
		c, err := sources.CanonicalURL(u)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name, file string
		// before rewrites an item as the reader used to produce it.
		before func(t *testing.T, it policywire.Item) policywire.Item
		// wantNew are the titles that may come back: entries the old
		// reading wrongly merged into another's record.
		wantNew []string
	}{
		{"Atom ids used as links were canonicalised", "atom-ids-no-links.atom", func(t *testing.T, it policywire.Item) policywire.Item {
			it.CanonicalURL = canonical(t, it.URL)
			return it
		}, []string{
			// Its id differs from the next entry's by the fragment only, so
			// the old reading gave both one canonical link: the next entry
			// overwrote its record (title and link) as a "revision" and was
			// never alerted. Read apart now, it no longer matches the
			// overwritten record and is alerted once more; the next entry
			// stays known.
			"Appointment of the data protection commissioner",
		}},
		{"a guid with isPermaLink=false was the link", "guid-not-permalink.rss", func(t *testing.T, it policywire.Item) policywire.Item {
			if it.URL == "" {
				it.URL = it.GUID
				it.CanonicalURL = canonical(t, it.GUID)
			}
			return it
		}, nil},
		{"FeedBurner's redirect was the link", "rss-publisher-fields.rss", func(t *testing.T, it policywire.Item) policywire.Item {
			switch it.Title {
			case "Export controls on surveillance tech":
				it.URL = "http://feedproxy.google.com/~r/ThinkTankBriefings/~3/aBcDeF/"
				it.CanonicalURL = canonical(t, it.URL)
			case "Sanctions tracker, October":
				it.URL = it.GUID
				it.CanonicalURL = canonical(t, it.GUID)
			}
			return it
		}, nil},
		{"rdf:about was not the id", "rss10-rdf-about.rdf", func(t *testing.T, it policywire.Item) policywire.Item {
			it.GUID = ""
			return it
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := store.Open(filepath.Join(t.TempDir(), "policywire.db"), store.Options{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			now := parseFeedFixture(t, "pub", tc.file)
			var old []policywire.Item
			for _, it := range now {
				o := tc.before(t, it)
				o.ID = policywire.Identity(o)
				old = append(old, o)
			}
			_, queued := archive(t, s, old)

			unseen, err := s.Unseen(now)
			if err != nil {
				t.Fatal(err)
			}
			var titles []string
			for _, it := range unseen {
				titles = append(titles, it.Title)
			}
			if !slices.Equal(titles, tc.wantNew) {
				t.Errorf("archived items that look new: %q, want %q", titles, tc.wantNew)
			}
			res, after := archive(t, s, now)
			if res.New != len(tc.wantNew) || after != queued+len(tc.wantNew) {
				t.Errorf("second poll: %d new, outbox %d → %d; want %d new", res.New, queued, after, len(tc.wantNew))
			}
		})
	}
}
