package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/internal/testenv"
)

// TestDiskFullIngestAndDelivery: on a filesystem that fills up, a poll's
// ingest and the recording of a delivery fail with an error that says the
// disk is full (ENOSPC) and are listed as failing writes, nothing stored
// before is lost, the file passes bbolt's check, and once space is back the
// same writes succeed and the failures clear.
func TestDiskFullIngestAndDelivery(t *testing.T) {
	dir := testenv.SmallFS(t, 2<<20)
	clk := newClock()
	s, err := Open(filepath.Join(dir, "policywire.db"), Options{Now: clk.Now, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := func(from, n int) []policywire.Item {
		var out []policywire.Item
		for i := from; i < from+n; i++ {
			it := item("council-press", fmt.Sprintf("g%d", i), fmt.Sprintf("https://example.org/%d", i), fmt.Sprintf("Statement %d on cyber diplomacy", i), clk.Now())
			it.Content = strings.Repeat("The council adopted conclusions. ", 30)
			out = append(out, it)
		}
		return out
	}
	ingest(t, s, "council-press", routeAllTo("ch"), batch(0, 20)...)
	before := outbox(t, s, "ch")

	filler := testenv.FillUp(t, dir)
	// Enough new pages that bbolt must grow the file.
	_, ingestErr := s.Ingest(Batch{Source: "council-press", Items: batch(100, 400)}, routeAllTo("ch"))
	if !errors.Is(ingestErr, syscall.ENOSPC) {
		t.Fatalf("ingest on a full disk: err = %v, want one wrapping ENOSPC", ingestErr)
	}
	t.Logf("ingest on a full disk: %v", ingestErr)

	var deliverErr error
	delivered := 0
	for _, row := range before {
		if deliverErr = s.Delivered("ch", row.Key, "ref"); deliverErr != nil {
			break
		}
		delivered++
	}
	t.Logf("delivered %d of %d rows on a full disk, then: %v", delivered, len(before), deliverErr)
	if !errors.Is(deliverErr, syscall.ENOSPC) {
		t.Fatalf("recording deliveries on a full disk: err = %v, want one wrapping ENOSPC", deliverErr)
	}
	failing := s.WriteFailures()
	var what []string
	for _, f := range failing {
		if !f.DiskFull() {
			t.Errorf("write failure %q: %v, want it seen as a full disk", f.What, f.Err)
		}
		what = append(what, f.What)
	}
	if want := []string{"ingest of source council-press", "outbox of channel ch"}; !equalStrings(what, want) {
		t.Errorf("failing writes = %q, want %q", what, want)
	}
	if got := outbox(t, s, "ch"); len(got) != len(before) {
		t.Fatalf("the failed ingest changed the outbox: %d rows, want %d", len(got), len(before))
	}
	if n, err := s.ItemCount(); err != nil || n != 20 {
		t.Fatalf("after the failed ingest: %d items (err %v), want the 20 stored before", n, err)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("database damaged by the failed ingest: %v", err)
	}

	filler.Release(t)
	ingest(t, s, "council-press", routeAllTo("ch"), batch(100, 400)...)
	for _, row := range before[delivered:] {
		if err := s.Delivered("ch", row.Key, "ref"); err != nil {
			t.Fatalf("recording a delivery once space is back: %v", err)
		}
	}
	if f := s.WriteFailures(); f != nil {
		t.Errorf("failing writes once space is back and the writes went through: %v", f)
	}
	if n, err := s.ItemCount(); err != nil || n != 420 {
		t.Fatalf("after space came back: %d items (err %v), want 420", n, err)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}
