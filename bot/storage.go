package bot

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/policywire/policywire/store"
)

// storageCheckInterval is how often the daemon looks at whether its
// writes go through.
const storageCheckInterval = time.Second

// StorageProblem describes the data directory not taking writes: the
// database's failing kinds of write and the search index's, "" when all is
// well.
func (b *Bot) StorageProblem() string {
	var parts []string
	failures := b.opts.Store.WriteFailures()
	if len(failures) > 0 {
		f := failures[0]
		what := "cannot write"
		if f.DiskFull() {
			what = "disk full: cannot write"
		}
		more := ""
		if len(failures) > 1 {
			more = fmt.Sprintf(" (and %d other kinds of write)", len(failures)-1)
		}
		parts = append(parts, fmt.Sprintf("%s the database %s since %s: %s%s: %v",
			what, b.opts.Store.Path(), f.Since.UTC().Format(time.RFC3339), f.What, more, f.Err))
	}
	if b.indexer != nil {
		if dropped, err := b.indexer.Failure(); err != nil {
			what := "cannot write"
			if store.IsDiskFull(err) {
				what = "disk full: cannot write"
			}
			s := fmt.Sprintf("%s the search index: %v", what, err)
			if dropped > 0 {
				s += fmt.Sprintf(" (%d items will be indexed only by the next rebuild)", dropped)
			}
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}

// watchStorage checks every storageCheckInterval whether the data
// directory takes writes, and on each change logs it, keeps the reason for
// /readyz and tells the admin channel: once when writes start failing, once
// when they work again. Failed polls are retried on their schedule and
// deliveries keep their rows, so space coming back is all it takes.
func (d *Daemon) watchStorage(ctx context.Context) {
	t := time.NewTicker(storageCheckInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		problem := d.Bot.StorageProblem()
		d.storageProblem.Store(&problem)
		switch {
		case problem != "" && !failing:
			failing = true
			d.Logger.Error("data directory does not take writes; polls are retried and alerts wait", "problem", problem)
			d.notifyStorage(ctx, fmt.Sprintf("⚠ policywire cannot write to its data directory %s: %s. Nothing stored is lost: polls are retried on their schedule and alerts wait in the outbox. Free space on that disk; policywire resumes by itself.", d.dataDir(), problem))
		case problem == "" && failing:
			failing = false
			d.Logger.Info("data directory takes writes again")
			d.notifyStorage(ctx, fmt.Sprintf("✓ policywire can write to its data directory %s again; polling and delivery have resumed.", d.dataDir()))
		}
	}
}

func (d *Daemon) notifyStorage(ctx context.Context, text string) {
	if err := d.Bot.Notify(ctx, text); err != nil && ctx.Err() == nil {
		d.Logger.Error("admin notice not delivered", "err", err)
	}
}

func (d *Daemon) dataDir() string { return filepath.Dir(d.Bot.opts.Store.Path()) }

// Problem is why the daemon is not ready, "" when it is.
func (d *Daemon) Problem() string {
	if !d.Ready() {
		return "the schedule is not set"
	}
	if p := d.storageProblem.Load(); p != nil {
		return *p
	}
	return ""
}
