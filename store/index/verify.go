package index

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"

	"github.com/policywire/policywire/store"
)

// verifySegments checks the CRC-32 that ends every segment file of the
// index's current snapshot against the file's bytes. Opening an index
// reads only the segments' footers, so flipped bytes elsewhere would
// otherwise surface as wrong results or a panic in a search much later.
func verifySegments(idx bleve.Index) error {
	adv, err := idx.Advanced()
	if err != nil {
		return err
	}
	sc, ok := adv.(*scorch.Scorch)
	if !ok {
		return nil
	}
	r, err := sc.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	snap, ok := r.(*scorch.IndexSnapshot)
	if !ok {
		return nil
	}
	for _, ss := range snap.Segments() {
		persisted, ok := ss.Segment().(interface{ Path() string })
		if !ok {
			continue // still in memory
		}
		if err := verifySegmentFile(persisted.Path()); err != nil {
			return err
		}
	}
	return nil
}

// verifySegmentFile compares the CRC-32 (IEEE) of a segment file's bytes
// with the one its last four bytes hold, as zap writes them.
func verifySegmentFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() < 4 {
		return fmt.Errorf("segment %s: %d bytes, too short", path, st.Size())
	}
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, st.Size()-4)); err != nil {
		return fmt.Errorf("segment %s: %w", path, err)
	}
	var stored [4]byte
	if _, err := f.ReadAt(stored[:], st.Size()-4); err != nil {
		return fmt.Errorf("segment %s: %w", path, err)
	}
	if got, want := h.Sum32(), binary.BigEndian.Uint32(stored[:]); got != want {
		return fmt.Errorf("segment %s: checksum %08x, the file says %08x", path, got, want)
	}
	return nil
}

// bleveFailure is a panic or memory fault of bleve, caught.
type bleveFailure struct{ v any }

func (e bleveFailure) Error() string { return fmt.Sprintf("bleve failed on it: %v", e.v) }

// guard runs fn, turning a panic or a memory fault on a mapped file (a
// damaged index makes bleve do either, and so does a write after one that
// failed on a full disk) into a bleveFailure.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = bleveFailure{r}
		}
	}()
	return fn()
}

// failed runs a write or a search through guard; when bleve panicked, the
// index is marked broken, to be rebuilt by the next write (see repair),
// and the error wraps ErrBroken.
func (x *Index) failed(fn func() error) error {
	err := guard(fn)
	var bf bleveFailure
	if errors.As(err, &bf) {
		x.broken.Store(&err)
		x.logger.Error("search index failed; it is rebuilt from the database at the next write", "dir", x.dir, "err", err)
		return fmt.Errorf("%w: %w", ErrBroken, err)
	}
	return err
}

// repair rebuilds, in place, an index that bleve failed on, so that the
// daemon need not be restarted: the database has every item. While the
// disk is still full the rebuild fails and the next write tries again.
func (x *Index) repair() error {
	if x.broken.Load() == nil {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	cause := x.broken.Load()
	if cause == nil {
		return nil
	}
	if x.closed {
		return errClosed
	}
	if x.st == nil {
		return fmt.Errorf("index: %s: %w: %w", x.dir, ErrBroken, *cause)
	}
	_ = guard(x.idx.Close)
	fresh, _, err := rebuild(context.Background(), x.dir, x.st, x.logger, "broken")
	if err != nil {
		return fmt.Errorf("index: %s: %w: %w (rebuilding it: %w)", x.dir, ErrBroken, *cause, err)
	}
	x.idx = fresh.idx
	x.spans.Store(nil)
	x.broken.Store(nil)
	return nil
}

// Verify checks, without changing anything, that the index in dir opens,
// that its segments match their checksums and that it holds as many items
// as the database; it returns the number of items in the index. A missing
// index is an error too: search has nothing until it is rebuilt.
func Verify(dir string, st *store.Store) (uint64, error) {
	if _, err := os.Stat(dir); err != nil {
		return 0, fmt.Errorf("index: %s: %w", dir, err)
	}
	empty, err := isEmptyDir(dir)
	if err != nil {
		return 0, err
	}
	if empty {
		return 0, fmt.Errorf("index: %s is empty", dir)
	}
	x, _, err := open(dir, nil)
	if err != nil {
		return 0, err
	}
	defer x.Close()
	have, err := x.Count()
	if err != nil {
		return 0, err
	}
	want, err := st.ItemCount()
	if err != nil {
		return have, fmt.Errorf("index: %w", err)
	}
	if have != uint64(want) {
		return have, fmt.Errorf("index: %s holds %d items, the database %d", dir, have, want)
	}
	return have, nil
}

func isEmptyDir(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("index: %s: %w", dir, err)
	}
	return len(entries) == 0, nil
}

// diskFull is an error of bleve that says the disk is full only in its
// text: bleve formats the errors of its segment writes with %v.
type diskFull struct{ err error }

func (e diskFull) Error() string   { return e.err.Error() }
func (e diskFull) Unwrap() []error { return []error{e.err, syscall.ENOSPC} }

// withDiskFull makes such an error wrap ENOSPC, so that callers can tell
// a full disk from a broken index.
func withDiskFull(err error) error {
	if err == nil || errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), syscall.ENOSPC.Error()) {
		return err
	}
	return diskFull{err}
}
