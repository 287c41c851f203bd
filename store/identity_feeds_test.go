package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/sources"
)

// parseFeedFixture parses a feed of sources/testdata/feeds as source src.
func parseFeedFixture(t *testing.T, src, name string) []policywire.Item {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "sources", "testdata", "feeds", name))
	if err != nil {
		t.Fatal(err)
	}
	items, err := sources.Parse(config.Source{ID: src, URL: "https://publisher.example/feed"}, body, "", "", time.UTC)
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
	}{
		{"Atom ids used as links were canonicalised", "atom-ids-no-links.atom", func(t *testing.T, it policywire.Item) policywire.Item {
			it.CanonicalURL = canonical(t, it.URL)
			return it
		}},
		{"a guid with isPermaLink=false was the link", "guid-not-permalink.rss", func(t *testing.T, it policywire.Item) policywire.Item {
			if it.URL == "" {
				it.URL = it.GUID
				it.CanonicalURL = canonical(t, it.GUID)
			}
			return it
		}},
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
		}},
		{"rdf:about was not the id", "rss10-rdf-about.rdf", func(t *testing.T, it policywire.Item) policywire.Item {
			it.GUID = ""
			return it
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, newClock())
			now := parseFeedFixture(t, "pub", tc.file)
			var old []policywire.Item
			for _, it := range now {
				o := tc.before(t, it)
				o.ID = policywire.Identity(o)
				old = append(old, o)
			}
			ingest(t, s, "pub", routeAllTo("#policy"), old...)
			queued := len(outbox(t, s, "#policy"))

			unseen, err := s.Unseen(now)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range unseen {
				t.Errorf("archived item looks new: %q (identity %q)", it.Title, it.ID)
			}
			res := ingest(t, s, "pub", routeAllTo("#policy"), now...)
			if res.New != 0 || len(outbox(t, s, "#policy")) != queued {
				t.Errorf("second poll: %d new, outbox %d → %d", res.New, queued, len(outbox(t, s, "#policy")))
			}
		})
	}
}
