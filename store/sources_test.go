package store

import (
	"errors"
	"testing"
	"time"
)

// A slow poll that fails after a later poll recorded its state must not
// undo it: the first poll stays done (no backfill again) and the later
// poll's validators stay.
func TestStateOfAnOlderPollDoesNotOverwriteANewerOne(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	older := SourceState{Source: "council-press", LastPoll: clk.Now(), Polls: 1}
	newer := SourceState{Source: "council-press", LastPoll: clk.Now().Add(time.Second), Polls: 1, ETag: `"v2"`, FirstPollDone: true, Items: 6}
	if err := s.PutSourceState(newer); err != nil {
		t.Fatal(err)
	}
	older.ConsecutiveFailures, older.LastError = 1, "timeout"
	if err := s.PutSourceState(older); !errors.Is(err, ErrStaleSourceState) {
		t.Fatalf("older state written over a newer one: err = %v", err)
	}
	got, err := s.SourceState("council-press")
	if err != nil {
		t.Fatal(err)
	}
	if !got.FirstPollDone || got.ETag != `"v2"` || got.ConsecutiveFailures != 0 || got.Items != 6 {
		t.Fatalf("stored state %+v, want the newer poll's", got)
	}
}
