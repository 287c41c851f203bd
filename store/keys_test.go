package store

import (
	"strings"
	"testing"
	"time"
)

// A feed item with a 40 KB link and another with a 40 KB GUID are archived
// with the rest of their poll, found again by those identities, and the
// source's state is written: before keys were bounded, bbolt refused the
// key and the whole poll was lost, every time.
func TestOversizedLinkAndGUIDAreArchivedWithTheirPoll(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	longLink := "https://www.consilium.europa.eu/en/press/?q=" + strings.Repeat("a", 40<<10)
	good := item("council-press", "1", "https://www.consilium.europa.eu/en/press/1", "Council adopts conclusions on cyber diplomacy", clk.Now())
	bigLink := item("council-press", "2", longLink, "Council agrees position on the digital networks act", clk.Now())
	bigGUID := item("council-press", strings.Repeat("g", 40<<10), "", "Council approves cybersecurity reserve", clk.Now())

	r := ingest(t, s, "council-press", routeAllTo("eu-desk"), good, bigLink, bigGUID)
	if r.New != 3 || len(r.Alerts) != 3 {
		t.Fatalf("first poll: %+v, want three new items with an alert each", r)
	}
	st, err := s.SourceState("council-press")
	if err != nil {
		t.Fatal(err)
	}
	if !st.FirstPollDone || st.Items != 3 {
		t.Fatalf("source state not written with the poll: %+v", st)
	}
	for _, it := range []string{good.ID, bigLink.ID, bigGUID.ID} {
		if _, ok, err := s.Item(it); err != nil || !ok {
			t.Fatalf("item %.60q… not found by its identity (ok=%v, err=%v)", it, ok, err)
		}
	}
	clk.Advance(time.Hour)
	r = ingest(t, s, "council-press", routeAllTo("eu-desk"), good, bigLink, bigGUID)
	if r.New != 0 || r.Unchanged != 3 || len(r.Alerts) != 0 {
		t.Fatalf("second poll of the same items: %+v, want all three unchanged", r)
	}
}

func TestArticleCacheTakesLongURLs(t *testing.T) {
	s := openTest(t, newClock())
	u := "https://www.consilium.europa.eu/en/press/?q=" + strings.Repeat("b", 40<<10)
	if err := s.PutArticle(u, "the text"); err != nil {
		t.Fatal(err)
	}
	if text, ok, err := s.Article(u); err != nil || !ok || text != "the text" {
		t.Fatalf("article of a long URL: %q %v %v", text, ok, err)
	}
}

func TestBoundedKeysKeepShortOnesAndDoNotCollide(t *testing.T) {
	short := "https://www.gov.uk/government/news/x"
	if got := string(boundedKey(short)); got != short {
		t.Fatalf("short key changed: %q", got)
	}
	a := strings.Repeat("a", 1000)
	b := a[:999] + "b"
	ka, kb := boundedKey(a), boundedKey(b)
	if len(ka) > maxKeyBytes || string(ka) == string(kb) {
		t.Fatalf("long keys: %d bytes, equal=%v", len(ka), string(ka) == string(kb))
	}
}
