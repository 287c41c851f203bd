package store

import (
	"testing"
	"time"
)

// A story published weeks ago but first seen today (a first poll, a feed
// that publishes late) must still cluster with the same story from another
// source, also after a restart.
func TestOldStoryFirstSeenTodayStillClusters(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		clk := newClock()
		path := t.TempDir() + "/policywire.db"
		s, err := Open(path, Options{Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		council, eeas := councilAndEEAS(clk.Now().Add(-40 * 24 * time.Hour))
		ingest(t, s, "council-press", storyRouter, council)
		clk.Advance(2 * time.Hour)
		if reopen {
			s.Close()
			if s, err = Open(path, Options{Now: clk.Now}); err != nil {
				t.Fatal(err)
			}
		}
		ingest(t, s, "eeas-press", storyRouter, eeas)
		rows := outbox(t, s, "eu-desk")
		if len(rows) != 1 || len(rows[0].Alert.Also) != 1 {
			t.Fatalf("reopen=%v: want one alert with also-reported-by, got %+v", reopen, rows)
		}
		s.Close()
	}
}
