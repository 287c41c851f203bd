package store

import (
	"errors"
	"testing"
	"time"

	"github.com/policywire/policywire"
)

func queued(t *testing.T, s *Store, clk *clock, n int) []OutboxRow {
	t.Helper()
	batch := realisticBatch(clk.Now())[:n]
	ingest(t, s, "council-press", routeAllTo("eu-desk"), batch...)
	return outbox(t, s, "eu-desk")
}

func TestRetryParkUnpark(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	rows := queued(t, s, clk, 3)
	head := rows[0]
	next := clk.Now().Add(30 * time.Second)
	if err := s.Retry("eu-desk", head.Key, "slack: 503 Service Unavailable", next); err != nil {
		t.Fatal(err)
	}
	if err := s.Retry("eu-desk", head.Key, "slack: 503 Service Unavailable", next.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got := outbox(t, s, "eu-desk")
	if got[0].Attempts != 2 || got[0].LastError != "slack: 503 Service Unavailable" || !got[0].NotBefore.Equal(next.Add(time.Minute)) {
		t.Fatalf("after two retries: %+v", got[0])
	}
	if got[0].Alert.ID != head.Alert.ID {
		t.Error("a retried row must keep its place")
	}
	if err := s.Park("eu-desk", rows[1].Key, "channel_not_found"); err != nil {
		t.Fatal(err)
	}
	pending, _ := s.Outbox("eu-desk", false, 0)
	if len(pending) != 2 || pending[1].Alert.ID != rows[2].Alert.ID {
		t.Fatalf("pending rows %q", titles(pending))
	}
	all := outbox(t, s, "eu-desk")
	if len(all) != 3 || !all[1].Parked || all[1].ParkReason != "channel_not_found" {
		t.Fatalf("with parked rows: %+v", all[1])
	}
	depth, _ := s.OutboxDepth()
	if depth["eu-desk"] != 2 {
		t.Errorf("depth %v, want 2 pending", depth)
	}
	n, err := s.Unpark("eu-desk")
	if err != nil || n != 1 {
		t.Fatalf("Unpark = %d, %v", n, err)
	}
	pending, _ = s.Outbox("eu-desk", false, 0)
	if len(pending) != 3 || pending[1].Parked || pending[1].Attempts != 0 {
		t.Fatalf("after unpark: %+v", pending)
	}
	if err := s.Retry("eu-desk", []byte("no such key"), "x", time.Time{}); !errors.Is(err, ErrNoRow) {
		t.Errorf("retry of a missing row: %v", err)
	}
	if err := s.Park("gone", head.Key, "x"); !errors.Is(err, ErrNoRow) {
		t.Errorf("park in a channel without rows: %v", err)
	}
}

func TestParkChannelKeepsAlerts(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	queued(t, s, clk, 3)
	ingest(t, s, "eeas-press", routeAllTo("diplomacy-room"), item("eeas-press", "", "https://www.eeas.europa.eu/eeas/x_en", "EU and Singapore sign digital partnership", clk.Now()))
	n, err := s.ParkChannel("eu-desk", "channel removed from the config")
	if err != nil || n != 3 {
		t.Fatalf("ParkChannel = %d, %v", n, err)
	}
	if n, _ := s.ParkChannel("eu-desk", "again"); n != 0 {
		t.Errorf("parking again parked %d", n)
	}
	depth, _ := s.OutboxDepth()
	if depth["eu-desk"] != 0 || depth["diplomacy-room"] != 1 {
		t.Errorf("depth %v", depth)
	}
	chans, _ := s.OutboxChannels()
	if !equalStrings(chans, []string{"diplomacy-room", "eu-desk"}) {
		t.Errorf("channels with rows %v", chans)
	}
	// The channel comes back: everything is there, in order.
	if n, _ := s.Unpark(""); n != 3 {
		t.Errorf("Unpark(all) = %d", n)
	}
	if rows, _ := s.Outbox("eu-desk", false, 0); len(rows) != 3 {
		t.Errorf("after the channel came back: %d rows", len(rows))
	}
}

func TestDeliveredIsIdempotent(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	rows := queued(t, s, clk, 3)
	for i, r := range rows[:2] {
		clk.Advance(time.Second)
		if err := s.Delivered("eu-desk", r.Key, "ref-"+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delivered("eu-desk", rows[0].Key, "ref-a"); err != nil {
		t.Fatalf("delivering twice: %v", err)
	}
	left := outbox(t, s, "eu-desk")
	if len(left) != 1 || left[0].Alert.ID != rows[2].Alert.ID {
		t.Fatalf("left %q", titles(left))
	}
	for _, r := range rows[:2] {
		if ok, _ := s.IsDelivered("eu-desk", r.Alert.ID); !ok {
			t.Errorf("%q not recorded as delivered", r.Alert.Item.Title)
		}
	}
	if ok, _ := s.IsDelivered("eu-desk", rows[2].Alert.ID); ok {
		t.Error("a queued alert counts as delivered")
	}
	if ok, _ := s.IsDelivered("diplomacy-room", rows[0].Alert.ID); ok {
		t.Error("delivered to the wrong channel")
	}
	latest, _ := s.LatestDelivered("eu-desk", 5)
	if len(latest) != 2 || latest[0].ID != rows[1].Alert.ID || latest[1].ID != rows[0].Alert.ID {
		t.Errorf("latest delivered %+v, want newest first", latest)
	}
	if latest, _ := s.LatestDelivered("eu-desk", 1); len(latest) != 1 {
		t.Errorf("latest 1: %d", len(latest))
	}
	// The same items polled again are not queued again.
	if r := ingest(t, s, "council-press", routeAllTo("eu-desk"), realisticBatch(clk.Now())[:3]...); len(r.Alerts) != 0 {
		t.Errorf("re-poll after delivery: %+v", r.Alerts)
	}
}

func TestDeliveredDigest(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	batch := realisticBatch(clk.Now())[:5]
	ingest(t, s, "council-press", func(policywire.Item) []Route {
		return []Route{{Channel: "weekly", Topics: []string{"all"}, Digest: true}}
	}, batch...)
	rows := outbox(t, s, "weekly")
	var keys [][]byte
	for _, r := range rows {
		if !r.Digest {
			t.Fatalf("row %+v is not a digest row", r)
		}
		keys = append(keys, r.Key)
	}
	if err := s.DeliveredDigest("weekly", keys, []string{"$event1", "$event2"}); err != nil {
		t.Fatal(err)
	}
	if left := outbox(t, s, "weekly"); len(left) != 0 {
		t.Fatalf("%d rows left", len(left))
	}
	for _, r := range rows {
		if ok, _ := s.IsDelivered("weekly", r.Alert.ID); !ok {
			t.Errorf("%q not delivered", r.Alert.Item.Title)
		}
	}
	if err := s.DeliveredDigest("weekly", keys, nil); err != nil {
		t.Errorf("again: %v", err)
	}
}
