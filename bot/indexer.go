package bot

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/query"
)

// indexBatchSize, indexBatchText and indexInterval bound how many items
// wait for the search index, how much text they hold and for how long. The
// index analyzes a batch all at once, holding some fifty bytes of memory
// per byte of text: a thousand items of full articles took 150 MB, while
// a megabyte of text keeps a batch near 50 MB and still makes segments
// large enough for merging to stay cheap.
const (
	indexBatchSize = 1000
	indexBatchText = 1 << 20
	indexInterval  = time.Second
)

// batchIndexer gathers the items of many polls and hands them to the
// search index in batches. One bleve batch per poll made a small segment
// per poll that the merger then rewrote again and again; batches of up to a
// thousand items cost a fraction of that. Search lags the archive by at
// most indexInterval, and a crash loses nothing: the index is derived, and
// rebuilt at start when it holds fewer items than the database.
type batchIndexer struct {
	next   Indexer
	logger *slog.Logger

	mu      sync.Mutex
	buf     []policywire.Item
	bufText int // bytes of text in buf
	// flushing serializes writes to the index, so batches keep their order
	// (a revision indexed after the item it revises).
	flushing sync.Mutex
	stop     context.CancelFunc
	done     chan struct{}

	// failed is the error of the last write when it failed (a full disk):
	// its items are kept and written again by the next flush. Guarded by mu.
	failed  error
	dropped int // items given up on while failing; guarded by mu
}

// indexMaxWaiting bounds the items kept for the index while its writes
// fail; beyond it the oldest are dropped, and the index is rebuilt at the
// next start, when it holds fewer items than the database.
const indexMaxWaiting = 20 * indexBatchSize

func newBatchIndexer(next Indexer, logger *slog.Logger) *batchIndexer {
	ctx, cancel := context.WithCancel(context.Background())
	x := &batchIndexer{next: next, logger: logger, stop: cancel, done: make(chan struct{})}
	go x.run(ctx)
	return x
}

// Index queues items; a full batch is written at once, by the caller, so a
// burst of polls is slowed down rather than held in memory.
func (x *batchIndexer) Index(items []policywire.Item) error {
	x.mu.Lock()
	x.buf = append(x.buf, items...)
	for _, it := range items {
		x.bufText += textSize(it)
	}
	full := len(x.buf) >= indexBatchSize || x.bufText >= indexBatchText
	x.mu.Unlock()
	if full {
		return x.Flush()
	}
	return nil
}

// Flush writes what is queued.
func (x *batchIndexer) Flush() (err error) {
	x.flushing.Lock()
	defer x.flushing.Unlock()
	x.mu.Lock()
	items := x.buf
	x.buf, x.bufText = nil, 0
	x.mu.Unlock()
	if len(items) == 0 {
		return nil
	}
	err = x.indexRecovered(items)
	x.mu.Lock()
	defer x.mu.Unlock()
	x.failed = err
	if err == nil {
		x.dropped = 0
		return nil
	}
	// Written again, ahead of what came since, by the next flush: indexing
	// an item twice replaces it.
	x.buf = append(items, x.buf...)
	if over := len(x.buf) - indexMaxWaiting; over > 0 {
		x.buf = x.buf[over:]
		x.dropped += over
	}
	x.bufText = 0
	for _, it := range x.buf {
		x.bufText += textSize(it)
	}
	return err
}

// indexRecovered writes items to the index. The index is derived: a crash
// of the indexer is an error of this batch (kept for the next flush;
// reindex rebuilds the index), never the end of the daemon.
func (x *batchIndexer) indexRecovered(items []policywire.Item) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{What: fmt.Sprintf("the search index, on %d items,", len(items)), Value: r, Stack: debug.Stack()}
		}
	}()
	return x.next.Index(items)
}

// Failure is how many items were given up on and the error of the last
// write to the index, when it failed (zero and nil once a write works).
func (x *batchIndexer) Failure() (int, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.dropped, x.failed
}

// textSize is the text of an item the index analyzes, in bytes.
func textSize(it policywire.Item) int {
	n := len(it.Title) + len(it.Summary) + len(it.Content)
	for _, c := range it.Categories {
		n += len(c)
	}
	return n
}

func (x *batchIndexer) run(ctx context.Context) {
	defer close(x.done)
	t := time.NewTicker(indexInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := x.Flush(); err != nil {
				x.logger.Warn("search index update failed; reindex rebuilds it", "err", err)
			}
		}
	}
}

// Close stops the timer and writes what is left.
func (x *batchIndexer) Close() error {
	x.stop()
	<-x.done
	return x.Flush()
}

// freshSearcher writes the items waiting for the index before it searches,
// so an answer covers everything archived so far.
type freshSearcher struct {
	b    *Bot
	next Searcher
}

func (f freshSearcher) Search(ctx context.Context, q *query.Query, o policywire.SearchOptions) ([]policywire.SearchHit, error) {
	if err := f.b.FlushIndex(); err != nil {
		f.b.logger.Warn("search index update failed; reindex rebuilds it", "err", err)
	}
	return f.next.Search(ctx, q, o)
}

// FreshSearcher wraps the archive search so that it first writes what
// waits for the index.
func (b *Bot) FreshSearcher(s Searcher) Searcher {
	return freshSearcher{b: b, next: s}
}
