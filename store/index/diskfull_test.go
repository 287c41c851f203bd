package index

import (
	"errors"
	"path/filepath"
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
