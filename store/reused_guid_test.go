package store

import (
	"testing"
	"time"

	"github.com/policywire/policywire"
)

// A CMS that gives an old GUID to a new item across polls: the new item is
// new (archived and alerted), the old one keeps its record, and both are
// known from then on, whichever comes back.
func TestGUIDReusedAcrossPollsIsANewItem(t *testing.T) {
	for _, tt := range []struct {
		name         string
		linkA, linkB string
	}{
		{"with links", "https://www.diplomatie.gouv.fr/en/a", "https://www.diplomatie.gouv.fr/en/b"},
		{"without links", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			s := openTest(t, clk)
			route := routeAllTo("eu-desk")
			a := item("france-diplomatie", "1", tt.linkA, "France appoints ambassador for digital affairs", clk.Now())
			if r := ingest(t, s, "france-diplomatie", route, a); r.New != 1 || len(r.Alerts) != 1 {
				t.Fatalf("first poll: %+v", r)
			}
			clk.Advance(time.Hour)
			b := item("france-diplomatie", "1", tt.linkB, "Minister receives the Cybersecurity Tech Accord", clk.Now())
			if unseen, err := s.Unseen([]policywire.Item{b}); err != nil || len(unseen) != 1 {
				t.Fatalf("Unseen(new item under the old GUID) = %v, %v; want it", unseen, err)
			}
			r := ingest(t, s, "france-diplomatie", route, b)
			if r.New != 1 || r.Revised != 0 || len(r.Alerts) != 1 || r.Alerts[0].Item.Title != b.Title {
				t.Fatalf("second poll: %+v, want the new item alerted", r)
			}
			if n, _ := s.ItemCount(); n != 2 {
				t.Fatalf("archive holds %d items, want 2", n)
			}
			old, ok, err := s.Item(r.Alerts[0].Item.ID)
			if err != nil || !ok || old.Title != b.Title {
				t.Fatalf("new item by its id: %+v %v %v", old, ok, err)
			}
			if rows := outbox(t, s, "eu-desk"); len(rows) != 2 || rows[0].Alert.Item.Title != a.Title {
				t.Fatalf("outbox: %d rows, the first titled %q; want the old alert kept", len(rows), rows[0].Alert.Item.Title)
			}
			// Either item coming back is known, alone or together.
			clk.Advance(time.Hour)
			for _, items := range [][]policywire.Item{{b}, {a}, {a, b}} {
				if r := ingest(t, s, "france-diplomatie", route, items...); r.New != 0 || r.Revised != 0 || len(r.Alerts) != 0 {
					t.Fatalf("poll of %d known items: %+v, want nothing new", len(items), r)
				}
			}
		})
	}
}

// A GUID kept while the link and the title are reworded is one item
// revised, not a new one.
func TestGUIDWithRewordedTitleAndNewLinkIsARevision(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	a := item("council-press", "1188042", "https://www.consilium.europa.eu/en/press/2026/09/25/cyber-posture/", "Cybersecurity: Council adopts conclusions on the cyber posture", clk.Now())
	ingest(t, s, "council-press", routeAllTo("eu-desk"), a)
	b := item("council-press", "1188042", "https://www.consilium.europa.eu/en/press/2026/09/25/eu-cyber-posture/", "Cybersecurity: Council adopts conclusions on the EU's cyber posture", clk.Now())
	if r := ingest(t, s, "council-press", routeAllTo("eu-desk"), b); r.New != 0 || r.Revised != 1 || len(r.Alerts) != 0 {
		t.Fatalf("reworded item: %+v, want one revision and no alert", r)
	}
}

// Two items without links under one GUID in the same poll are two items,
// and stay two on the next poll.
func TestGUIDSharedWithinAPollWithoutLinks(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	a := item("france-diplomatie", "1", "", "France appoints ambassador for digital affairs", clk.Now())
	b := item("france-diplomatie", "1", "", "Minister receives the Cybersecurity Tech Accord", clk.Now())
	if r := ingest(t, s, "france-diplomatie", routeAllTo("eu-desk"), a, b); r.New != 2 || len(r.Alerts) != 2 {
		t.Fatalf("first poll: %+v, want two new items", r)
	}
	clk.Advance(time.Hour)
	if r := ingest(t, s, "france-diplomatie", routeAllTo("eu-desk"), a, b); r.New != 0 || r.Revised != 0 || len(r.Alerts) != 0 {
		t.Fatalf("second poll: %+v, want nothing new", r)
	}
}
