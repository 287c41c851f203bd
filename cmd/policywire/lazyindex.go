package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/store"
	"github.com/policywire/policywire/store/index"
)

// lazyIndex is the search index of run --once, opened when the first
// items are to be indexed (or pruned): a run with nothing new, most cron
// runs, neither opens bleve's files nor checks the index against the
// database. The database's item count is taken at start, before any poll
// archives anything, so the late check compares like with like.
type lazyIndex struct {
	ctx    context.Context
	cfg    *config.Config
	st     *store.Store
	logger *slog.Logger
	want   int

	mu     sync.Mutex
	idx    *index.Index
	err    error
	opened bool
}

func newLazyIndex(ctx context.Context, cfg *config.Config, st *store.Store, logger *slog.Logger) (*lazyIndex, error) {
	want, err := st.ItemCount()
	if err != nil {
		return nil, err
	}
	return &lazyIndex{ctx: ctx, cfg: cfg, st: st, logger: logger, want: want}, nil
}

// open opens the index once; a failure is logged once and then reported
// by every call, as an index that could not be opened at start was.
func (l *lazyIndex) open() (*index.Index, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.opened {
		l.opened = true
		l.idx, l.err = index.OpenOrRebuildExpecting(l.ctx, indexDir(l.cfg), l.st, l.want, l.logger)
		if l.err != nil {
			l.logger.Warn("search index unavailable; items are archived and reindex rebuilds it", "err", l.err)
			l.err = fmt.Errorf("search index unavailable: %w", l.err)
		}
	}
	return l.idx, l.err
}

// Index opens the index if need be and indexes items.
func (l *lazyIndex) Index(items []policywire.Item) error {
	idx, err := l.open()
	if err != nil {
		return err
	}
	return idx.Index(items)
}

// Prune opens the index if need be and drops the items dated before.
func (l *lazyIndex) Prune(ctx context.Context, before time.Time) (int, error) {
	idx, err := l.open()
	if err != nil {
		return 0, err
	}
	return idx.Prune(ctx, before)
}

// Close closes the index if it was opened.
func (l *lazyIndex) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.idx == nil {
		return nil
	}
	return l.idx.Close()
}
