package bot

import (
	"context"
	"time"
)

// Pruner is an index that can forget old items with the database.
type Pruner interface {
	Prune(ctx context.Context, before time.Time) (int, error)
}

// Prune applies defaults.retention: archived items older than it are
// dropped from the database and the search index. Their identities stay,
// so an old item that reappears in a feed is never alerted again.
func (b *Bot) Prune(ctx context.Context) (int, error) {
	keep := b.Config().Defaults.Retention
	if keep <= 0 {
		return 0, nil
	}
	now := time.Now()
	if b.opts.Now != nil {
		now = b.opts.Now()
	}
	before := now.Add(-keep)
	n, err := b.opts.Store.Prune(before)
	if err != nil {
		b.logger.Error("retention: prune failed", "err", err)
		return n, err
	}
	if p, ok := b.opts.Index.(Pruner); ok && n > 0 {
		if _, err := p.Prune(ctx, before); err != nil {
			// The index is rebuilt from the database when its count differs.
			b.logger.Warn("retention: search index not pruned", "err", err)
		}
	}
	if n > 0 {
		b.logger.Info("retention: old items pruned", "items", n, "before", before.Format(time.DateOnly))
	}
	return n, nil
}
