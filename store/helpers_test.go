package store

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/policywire/policywire"
	bolt "go.etcd.io/bbolt"
)

// clock is a settable time source for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 9, 25, 14, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func openTest(t testing.TB, clk *clock) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "data", "policywire.db"), Options{Now: clk.Now, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// item builds an item as the sources package hands it over: canonical URL,
// GUID and the identity already set.
func item(source, guid, url, title string, published time.Time) policywire.Item {
	it := policywire.Item{Source: source, GUID: guid, URL: url, CanonicalURL: url, Title: title, Published: published}
	it.ID = policywire.Identity(it)
	return it
}

// routeAllTo routes every item to the given channels.
func routeAllTo(channels ...string) Router {
	return func(policywire.Item) []Route {
		var out []Route
		for _, ch := range channels {
			out = append(out, Route{Channel: ch, Topics: []string{"all"}})
		}
		return out
	}
}

// routeIfTitle routes items whose title contains word (any case).
func routeIfTitle(word string, channels ...string) Router {
	return func(it policywire.Item) []Route {
		if !strings.Contains(strings.ToLower(it.Title), strings.ToLower(word)) {
			return nil
		}
		return routeAllTo(channels...)(it)
	}
}

func ingest(t testing.TB, s *Store, source string, route Router, items ...policywire.Item) IngestResult {
	t.Helper()
	st, err := s.SourceState(source)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Ingest(Batch{Source: source, SourceName: sourceNames[source], Items: items, State: st}, route)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

var sourceNames = map[string]string{
	"council-press":  "Council of the EU – press releases",
	"eeas-press":     "EEAS – press material",
	"govuk-fcdo":     "GOV.UK – FCDO news",
	"ec-presscorner": "European Commission – press corner",
	"eurlex":         "EUR-Lex",
}

func outbox(t testing.TB, s *Store, channel string) []OutboxRow {
	t.Helper()
	rows, err := s.Outbox(channel, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func titles(rows []OutboxRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Alert.Item.Title)
	}
	return out
}

// dump renders every bucket of the database, nested buckets included, so
// that two states can be compared byte for byte.
func dump(t testing.TB, s *Store) string {
	t.Helper()
	var b strings.Builder
	var walk func(prefix string, bk *bolt.Bucket)
	walk = func(prefix string, bk *bolt.Bucket) {
		fmt.Fprintf(&b, "%s seq=%d\n", prefix, bk.Sequence())
		_ = bk.ForEach(func(k, v []byte) error {
			if v == nil {
				walk(prefix+"/"+string(k), bk.Bucket(k))
				return nil
			}
			fmt.Fprintf(&b, "%s %q=%q\n", prefix, k, v)
			return nil
		})
	}
	err := s.DB().View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			walk(string(name), bk)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func alsoSources(also []policywire.AlsoReported) []string {
	var out []string
	for _, a := range also {
		out = append(out, a.Source)
	}
	return out
}

func equalStrings(a, b []string) bool { return slices.Equal(a, b) }
