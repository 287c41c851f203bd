package index

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/policywire/policywire/internal/testenv"
)

// TestIndexDiskFull: on a filesystem that fills up, a write to the index
// fails with an error wrapping ENOSPC and no panic; once space is back the
// same items are written again, the index holds each once, and it opens
// again after Close with its segments matching their checksums.
func TestIndexDiskFull(t *testing.T) {
	items := corpusItems(t)
	st := archive(t, items)
	fs := testenv.SmallFS(t, 3<<20)
	dir := filepath.Join(fs, "index")
	x, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if err := x.Index(items[:50]); err != nil {
		t.Fatal(err)
	}
	filler := testenv.FillUp(t, fs)
	err = x.Index(items[50:])
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("index on a full disk: err = %v, want one wrapping ENOSPC", err)
	}
	filler.Release(t)
	if err := x.Index(items[50:]); err != nil {
		t.Fatalf("index once space is back: %v", err)
	}
	assertCount(t, x, len(items))
	assertSearchable(t, x, items)
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := Verify(dir, st); err != nil || n != uint64(len(items)) {
		t.Fatalf("index after the disk was full: %d items, %v", n, err)
	}
}

// TestRepairAfterBleveFailure: once bleve has failed on the open index
// (it panics writing after a segment it could not persist on a full disk),
// the next write rebuilds the index in place from the database, logging
// why, and the index holds and finds every item again.
func TestRepairAfterBleveFailure(t *testing.T) {
	items := corpusItems(t)
	st := archive(t, items)
	logs, logger := newLogBuffer()
	x, err := OpenOrRebuild(context.Background(), filepath.Join(t.TempDir(), "index"), st, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	err = x.failed(func() error { panic("assignment to entry in nil map") })
	if !errors.Is(err, ErrBroken) {
		t.Fatalf("a panic of bleve: err = %v, want ErrBroken", err)
	}
	if err := x.Index(items[:3]); err != nil {
		t.Fatalf("the write after the failure: %v", err)
	}
	assertCount(t, x, len(items))
	assertSearchable(t, x, items)
	if !strings.Contains(logs.String(), "reason=broken") {
		t.Errorf("log does not tell of the repair:\n%s", logs)
	}
}
