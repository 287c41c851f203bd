// Package index owns the archive's search index: a bleve index derived
// from the items in the store, kept in its own directory and rebuildable
// from the database at any time. It compiles the query language to bleve
// queries over fields tokenized exactly as query.Match tokenizes, so that a
// search finds precisely the items a topic of the same query would match;
// stemmed, language-aware copies of the text and the items' dates only rank
// the results. It knows nothing of sources, routing, chat platforms or how
// results are shown, and it keeps no data the store does not have.
package index

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	bleveQuery "github.com/blevesearch/bleve/v2/search/query"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/store"
)

// ErrBroken is wrapped by the error Open returns for a directory that holds
// no usable index: garbage files, a damaged index, or one made by another
// version of the mapping. OpenOrRebuild rebuilds such an index.
var ErrBroken = errors.New("index: search index is broken")

// ErrLocked is wrapped by the error Open returns when another process has
// the index open.
var ErrLocked = errors.New("index: search index is in use by another process")

// mappingVersion names the field layout; an index whose stored version
// differs is treated as broken, so that a new layout is rebuilt rather
// than searched wrongly.
const mappingVersion = "policywire-index-3"

var versionKey = []byte("policywire:mapping-version")

// newestKey holds the latest item date ever indexed (RFC 3339), which
// newest-first searches start their date windows from.
var newestKey = []byte("policywire:newest-date")

// batchSize is how many items go into one bleve batch.
const batchSize = 1000

// openTimeout bounds the wait for the lock on the index's root file.
const openTimeout = 2 * time.Second

// Index is an open search index. Its methods are safe for concurrent use.
type Index struct {
	dir    string
	logger *slog.Logger

	mu     sync.RWMutex // guards idx against Close
	idx    bleve.Index
	closed bool

	// writeMu serializes writes, so that newestKey only ever grows.
	writeMu sync.Mutex

	// spans caches how many items each of rankSpans holds (see poolSpans).
	spans atomic.Pointer[spanSizes]

	// st, when set (OpenOrRebuild), is the database a broken index is
	// rebuilt from; broken is why bleve failed on the index (see repair).
	st     *store.Store
	broken atomic.Pointer[error]
}

// Open opens the index in dir, creating an empty one when dir does not
// exist or is empty. A directory that holds something else, or a damaged
// index, gives an error wrapping ErrBroken; one that another process holds
// open gives an error wrapping ErrLocked.
func Open(dir string, logger *slog.Logger) (*Index, error) {
	x, _, err := open(dir, logger)
	return x, err
}

// open is Open that also says whether it created the index.
func open(dir string, logger *slog.Logger) (*Index, bool, error) {
	if dir == "" {
		return nil, false, errors.New("index: open: empty directory name")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	empty, err := missingOrEmpty(dir)
	if err != nil {
		return nil, false, err
	}
	if empty {
		x, err := create(dir, logger)
		return x, true, err
	}
	var idx bleve.Index
	err = guard(func() error {
		var err error
		idx, err = bleve.OpenUsing(dir, map[string]interface{}{"bolt_timeout": openTimeout.String()})
		return err
	})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, false, fmt.Errorf("index: open %s: %w", dir, ErrLocked)
		}
		return nil, false, fmt.Errorf("index: open %s: %w: %w", dir, ErrBroken, err)
	}
	err = guard(func() error {
		v, err := idx.GetInternal(versionKey)
		if err == nil && string(v) != mappingVersion {
			err = fmt.Errorf("made with layout %q, this version uses %q", v, mappingVersion)
		}
		if err != nil {
			return err
		}
		return verifySegments(idx)
	})
	if err != nil {
		_ = guard(idx.Close)
		return nil, false, fmt.Errorf("index: open %s: %w: %w", dir, ErrBroken, err)
	}
	return &Index{dir: dir, logger: logger, idx: idx}, false, nil
}

// missingOrEmpty reports whether dir does not exist or is an empty
// directory, removing the empty directory so that bleve can create it.
func missingOrEmpty(dir string) (bool, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("index: open %s: %w", dir, err)
	}
	if !st.IsDir() {
		return false, fmt.Errorf("index: open %s: %w: not a directory", dir, ErrBroken)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("index: open %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return false, nil
	}
	if err := os.Remove(dir); err != nil {
		return false, fmt.Errorf("index: open %s: %w", dir, err)
	}
	return true, nil
}

// create makes a new, empty index in dir, which must not exist. Every
// batch waits until it is on disk (scorch's "unsafe_batch" would be faster
// for a rebuild, but Close does not write what is still in memory).
func create(dir string, logger *slog.Logger) (*Index, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o750); err != nil {
		return nil, fmt.Errorf("index: create %s: %w", dir, err)
	}
	m, err := newMapping()
	if err != nil {
		return nil, fmt.Errorf("index: mapping: %w", err)
	}
	config := map[string]interface{}{"bolt_timeout": openTimeout.String()}
	idx, err := bleve.NewUsing(dir, m, scorch.Name, bleve.Config.DefaultKVStore, config)
	if err != nil {
		return nil, fmt.Errorf("index: create %s: %w", dir, err)
	}
	if err := idx.SetInternal(versionKey, []byte(mappingVersion)); err != nil {
		_ = idx.Close()
		return nil, fmt.Errorf("index: create %s: %w", dir, err)
	}
	return &Index{dir: dir, logger: logger, idx: idx}, nil
}

// OpenOrRebuild opens the index in dir and rebuilds it from the database
// when it is missing, broken, or does not hold as many items as the
// database (a crash between archiving and indexing, or pruning).
func OpenOrRebuild(ctx context.Context, dir string, st *store.Store, logger *slog.Logger) (*Index, error) {
	return openOrRebuild(ctx, dir, st, st.ItemCount, logger)
}

// OpenOrRebuildExpecting is OpenOrRebuild for an index opened late: want
// is the number of items the database held before the items that are
// about to be indexed were archived, so an index that holds want items is
// complete as far as it should be.
func OpenOrRebuildExpecting(ctx context.Context, dir string, st *store.Store, want int, logger *slog.Logger) (*Index, error) {
	return openOrRebuild(ctx, dir, st, func() (int, error) { return want, nil }, logger)
}

func openOrRebuild(ctx context.Context, dir string, st *store.Store, count func() (int, error), logger *slog.Logger) (*Index, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	x, created, err := open(dir, logger)
	var reason string
	switch {
	case errors.Is(err, ErrBroken):
		reason = "broken"
		logger.Warn("search index is broken, rebuilding it", "dir", dir, "err", err)
	case err != nil:
		return nil, err
	default:
		want, err := count()
		if err != nil {
			_ = x.Close()
			return nil, fmt.Errorf("index: %w", err)
		}
		have, err := x.Count()
		if err != nil {
			_ = x.Close()
			return nil, err
		}
		if have == uint64(want) {
			x.st = st
			return x, nil
		}
		reason = "stale"
		if created {
			reason = "missing"
		}
		if err := x.Close(); err != nil {
			return nil, err
		}
	}
	x, _, err = rebuild(ctx, dir, st, logger, reason)
	if err != nil {
		return nil, err
	}
	x.st = st
	return x, nil
}

// Rebuild builds a new index of every item in the database into dir+".new"
// and then puts it in place of dir, so that a crash during the rebuild
// leaves the old index as it was. No one else may have dir open. It returns
// the new index, open, and the number of items in it.
func Rebuild(ctx context.Context, dir string, st *store.Store, logger *slog.Logger) (*Index, int, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return rebuild(ctx, dir, st, logger, "requested")
}

func rebuild(ctx context.Context, dir string, st *store.Store, logger *slog.Logger, reason string) (*Index, int, error) {
	if dir == "" {
		return nil, 0, errors.New("index: rebuild: empty directory name")
	}
	start := time.Now()
	dir = filepath.Clean(dir)
	fresh := dir + ".new"
	if err := os.RemoveAll(fresh); err != nil {
		return nil, 0, fmt.Errorf("index: rebuild: %w", err)
	}
	x, err := create(fresh, logger)
	if err != nil {
		return nil, 0, err
	}
	n := 0
	batch := make([]policywire.Item, 0, batchSize)
	err = st.ForEachItem(func(it policywire.Item) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch = append(batch, it)
		if len(batch) < batchSize {
			return nil
		}
		n += len(batch)
		err := x.Index(batch)
		batch = batch[:0]
		return err
	})
	if err == nil && len(batch) > 0 {
		n += len(batch)
		err = x.Index(batch)
	}
	if cerr := x.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.RemoveAll(fresh)
		return nil, 0, fmt.Errorf("index: rebuild %s: %w", dir, err)
	}
	if err := swap(dir, fresh); err != nil {
		return nil, 0, err
	}
	x, _, err = open(dir, logger)
	if err != nil {
		return nil, 0, err
	}
	logger.Info("search index rebuilt", "dir", dir, "items", n, "duration", time.Since(start).Round(time.Millisecond), "reason", reason)
	return x, n, nil
}

// swap puts the directory fresh in place of dir. Between the two renames
// dir is missing, which the next start repairs by rebuilding.
func swap(dir, fresh string) error {
	old := dir + ".old"
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("index: rebuild: %w", err)
	}
	if err := os.Rename(dir, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("index: rebuild: move the old index aside: %w", err)
	}
	if err := os.Rename(fresh, dir); err != nil {
		return fmt.Errorf("index: rebuild: put the new index in place: %w", err)
	}
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("index: rebuild: remove the old index: %w", err)
	}
	return nil
}

// Index adds items to the index, replacing any earlier version of an item
// with the same ID, in batches.
func (x *Index) Index(items []policywire.Item) error {
	if err := x.repair(); err != nil {
		return err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return errClosed
	}
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	newest := x.newestDate()
	for len(items) > 0 {
		n := min(len(items), batchSize)
		b := x.idx.NewBatch()
		grew := false
		for _, it := range items[:n] {
			if it.ID == "" {
				return fmt.Errorf("index: item %q of %s has no ID", it.Title, it.Source)
			}
			if err := b.Index(it.ID, document(it)); err != nil {
				return fmt.Errorf("index: item %s: %w", it.ID, err)
			}
			if d := it.Date(); d.After(newest) && d.Year() < 2262 {
				newest, grew = d, true
			}
		}
		if grew {
			b.SetInternal(newestKey, []byte(newest.UTC().Format(time.RFC3339Nano)))
		}
		if err := x.failed(func() error { return x.idx.Batch(b) }); err != nil {
			return fmt.Errorf("index: write batch: %w", withDiskFull(err))
		}
		items = items[n:]
	}
	return nil
}

// Delete removes items by ID (pruned from the archive); unknown IDs are
// ignored.
func (x *Index) Delete(ids []string) error {
	if err := x.repair(); err != nil {
		return err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return errClosed
	}
	for len(ids) > 0 {
		n := min(len(ids), batchSize)
		b := x.idx.NewBatch()
		for _, id := range ids[:n] {
			b.Delete(id)
		}
		if err := x.failed(func() error { return x.idx.Batch(b) }); err != nil {
			return fmt.Errorf("index: delete batch: %w", withDiskFull(err))
		}
		ids = ids[n:]
	}
	return nil
}

// Prune removes the items dated before the given time, as the store's
// retention does, and returns how many it removed.
func (x *Index) Prune(ctx context.Context, before time.Time) (int, error) {
	q := bleveQuery.NewDateRangeInclusiveQuery(time.Time{}, before, nil, &[]bool{false}[0])
	q.SetField(fieldDate)
	n := 0
	for {
		req := bleve.NewSearchRequestOptions(q, batchSize, 0, false)
		req.Score = "none"
		res, err := x.search(ctx, req)
		if err != nil {
			return n, fmt.Errorf("index: prune: %w", err)
		}
		if len(res.Hits) == 0 {
			return n, nil
		}
		ids := make([]string, len(res.Hits))
		for i, h := range res.Hits {
			ids[i] = h.ID
		}
		if err := x.Delete(ids); err != nil {
			return n, fmt.Errorf("index: prune: %w", err)
		}
		n += len(ids)
	}
}

// Count is the number of items in the index.
func (x *Index) Count() (uint64, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return 0, errClosed
	}
	n, err := x.idx.DocCount()
	if err != nil {
		return 0, fmt.Errorf("index: count: %w", err)
	}
	return n, nil
}

// newestDate is the latest item date indexed, or zero.
func (x *Index) newestDate() time.Time {
	v, err := x.idx.GetInternal(newestKey)
	if err != nil || v == nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, string(v))
	if err != nil {
		return time.Time{}
	}
	return t
}

// Dir is the index's directory.
func (x *Index) Dir() string { return x.dir }

// Close closes the index; it waits for searches and writes in progress.
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
	x.closed = true
	if err := x.idx.Close(); err != nil {
		return fmt.Errorf("index: close %s: %w", x.dir, err)
	}
	return nil
}

var errClosed = errors.New("index: the search index is closed")
