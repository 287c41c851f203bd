package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/sources"
	"github.com/policywire/policywire/store"
	"github.com/policywire/policywire/summary"
)

// Options are the parts a Bot is made of; cmd builds them.
type Options struct {
	Config     *config.Config
	Store      *store.Store
	Fetcher    *sources.Fetcher
	Summarizer *summary.Summarizer
	Senders    map[string]Sender
	Index      Indexer
	Logger     *slog.Logger
	Now        func() time.Time
	// MaxAttempts bounds delivery attempts per row (run --once); 0 is unlimited.
	MaxAttempts int
	// OnPoll and OnDelivery, when set, observe polls and deliveries (metrics).
	OnPoll     func(PollResult, *sources.ReadResult)
	OnDelivery func(DeliveryEvent)
}

// Bot ties polling, routing and delivery together.
type Bot struct {
	opts       Options
	cfg        atomic.Pointer[config.Config]
	router     atomic.Pointer[Router]
	Poller     *Poller
	Dispatcher *Dispatcher
	logger     *slog.Logger
	indexer    *batchIndexer
	// directChannels are the direct messages of the people with watches;
	// onChannels, set by a running daemon, restarts its delivery workers
	// when they change.
	directChannels atomic.Pointer[[]config.Channel]
	onChannels     atomic.Pointer[func()]

	// parkNoticed holds the (channel, reason) pairs the admin channel was
	// told about, so that a channel whose every row parks for one reason
	// sends one notice, not one per row.
	parkMu      sync.Mutex
	parkNoticed map[string]bool
}

// noticeParked tells the admin channel, once per channel and reason in
// this process, that alerts were set aside.
func (b *Bot) noticeParked(ctx context.Context, channel, title, reason string) {
	b.parkMu.Lock()
	key := channel + "\x00" + reason
	seen := b.parkNoticed[key]
	if b.parkNoticed == nil {
		b.parkNoticed = map[string]bool{}
	}
	b.parkNoticed[key] = true
	b.parkMu.Unlock()
	if seen {
		return
	}
	text := fmt.Sprintf("⚠ Alerts for channel %s are parked: %s (first: %q). The rest of the channel goes on; parked alerts are tried again at the next start or reload.",
		channel, reason, clip(title, 200))
	if err := b.Notify(context.WithoutCancel(ctx), text); err != nil {
		b.logger.Error("admin notice not delivered", "err", err)
	}
}

// FlushIndex writes the items waiting for the search index, so that a
// search sees everything archived so far.
func (b *Bot) FlushIndex() error {
	if b.indexer == nil {
		return nil
	}
	return b.indexer.Flush()
}

// Close stops the bot's background work and writes what waits for the
// search index. The store and the index stay open: they are the caller's.
func (b *Bot) Close() error {
	if b.indexer == nil {
		return nil
	}
	return b.indexer.Close()
}

// New builds a bot and compiles its routes. Rows of channels that are no
// longer configured are parked, and rows parked earlier get another try,
// since a new config may have fixed what parked them.
func New(o Options) (*Bot, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Bot{opts: o, logger: o.Logger}
	b.cfg.Store(o.Config)
	b.Poller = &Poller{
		Config: b.Config, Store: o.Store, Fetcher: o.Fetcher,
		Summarizer: o.Summarizer,
		Router:     b.Router, Logger: o.Logger, Now: o.Now, Observe: o.OnPoll,
	}
	b.Dispatcher = &Dispatcher{
		Store: o.Store, Senders: o.Senders, Logger: o.Logger, Now: o.Now,
		MaxAttempts: o.MaxAttempts, Observe: o.OnDelivery,
		OnPark: b.noticeParked,
	}
	// Rows enqueued before this process began may have been in flight when
	// an earlier one died; run --once never calls Start, so mark it here.
	b.Dispatcher.started = b.Dispatcher.now()
	if err := b.RebuildRouter(); err != nil {
		return nil, err
	}
	if err := b.settleOutbox(o.Config); err != nil {
		return nil, err
	}
	if o.Index != nil {
		b.indexer = newBatchIndexer(o.Index, o.Logger)
		b.Poller.Index = b.indexer
	}
	return b, nil
}

// Config is the config in force.
func (b *Bot) Config() *config.Config { return b.cfg.Load() }

// Router is the router in force.
func (b *Bot) Router() *Router { return b.router.Load() }

// RebuildRouter recompiles topics and subscriptions (after a subscribe,
// an unsubscribe or a reload).
func (b *Bot) RebuildRouter() error {
	subs, err := b.opts.Store.Subscriptions("")
	if err != nil {
		return fmt.Errorf("bot: subscriptions: %w", err)
	}
	r, err := NewRouter(b.Config(), subs)
	if err != nil {
		return err
	}
	r.Now = b.opts.Now
	watches, err := b.opts.Store.Watches("", "")
	if err != nil {
		return fmt.Errorf("bot: watches: %w", err)
	}
	dms := r.addWatches(watches)
	mutes, err := b.opts.Store.Mutes("")
	if err != nil {
		return fmt.Errorf("bot: mutes: %w", err)
	}
	r.addMutes(mutes)
	b.directChannels.Store(&dms)
	b.router.Store(r)
	return nil
}

// SetConfig puts a new, already validated config in force.
func (b *Bot) SetConfig(ctx context.Context, cfg *config.Config) error {
	old := b.cfg.Swap(cfg)
	if err := b.RebuildRouter(); err != nil {
		b.cfg.Store(old)
		return err
	}
	if err := b.settleOutbox(cfg); err != nil {
		return err
	}
	return nil
}

func (b *Bot) settleOutbox(cfg *config.Config) error {
	known := map[string]bool{}
	for _, ch := range b.deliveryChannels(cfg) {
		known[ch.ID] = true
	}
	chans, err := b.opts.Store.OutboxChannels()
	if err != nil {
		return fmt.Errorf("bot: outbox: %w", err)
	}
	for _, ch := range chans {
		if known[ch] {
			continue
		}
		n, err := b.opts.Store.ParkChannel(ch, "channel removed from the config")
		if err != nil {
			return fmt.Errorf("bot: park removed channel %s: %w", ch, err)
		}
		if n > 0 {
			b.logger.Warn("alerts of a removed channel parked", "channel", ch, "rows", n)
		}
	}
	for _, ch := range cfg.Channels {
		n, err := b.opts.Store.Unpark(ch.ID)
		if err != nil {
			return fmt.Errorf("bot: unpark %s: %w", ch.ID, err)
		}
		if n > 0 {
			b.logger.Info("parked alerts retried under the current config", "channel", ch.ID, "rows", n)
		}
	}
	return nil
}

// PollAll polls every source once, at most fetch.concurrency at a time
// (the fetcher also bounds concurrency and spaces requests to one host).
func (b *Bot) PollAll(ctx context.Context) ([]PollResult, error) {
	cfg := b.Config()
	limit := max(cfg.Fetch.Concurrency, 1)
	sem := make(chan struct{}, limit)
	results := make([]PollResult, len(cfg.Sources))
	errs := make([]error, len(cfg.Sources))
	var wg sync.WaitGroup
	for i, src := range cfg.Sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			results[i], errs[i] = b.Poller.PollRecovered(ctx, src)
		}()
	}
	wg.Wait()
	return results, errors.Join(errs...)
}

// Undelivered is a channel whose alerts could not all be delivered.
type Undelivered struct {
	Channel string
	Pending int
	Parked  int
	Reason  string
}

// OnceReport is what run --once did.
type OnceReport struct {
	Polls       []PollResult
	Undelivered []Undelivered
}

// RunOnce polls every source, then delivers everything due and waits for
// the outbox to drain, its retries to run out, or the deadline to pass.
func (b *Bot) RunOnce(ctx context.Context, drainTimeout time.Duration) (OnceReport, error) {
	var rep OnceReport
	polls, err := b.PollAll(ctx)
	rep.Polls = polls
	if err != nil {
		return rep, err
	}
	if err := b.Drain(ctx, drainTimeout); err != nil {
		return rep, err
	}
	if err := b.FlushIndex(); err != nil {
		b.logger.Warn("search index update failed; reindex rebuilds it", "err", err)
	}
	if _, err := b.Prune(ctx); err != nil {
		return rep, err
	}
	rep.Undelivered, err = b.undelivered()
	return rep, err
}

// Drain delivers the instant rows of every channel until none is left, the
// remaining ones ran out of attempts, or drainTimeout passed.
func (b *Bot) Drain(ctx context.Context, drainTimeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, drainTimeout)
	defer cancel()
	channels := b.deliveryChannels(b.Config())
	var wg sync.WaitGroup
	errs := make([]error, len(channels))
	for i, ch := range channels {
		if ch.Digest != "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next, err := b.Dispatcher.stepRecovered(ctx, ch)
				if errors.Is(err, ErrGaveUp) {
					return
				}
				if err != nil {
					errs[i] = err
					return
				}
				if next.IsZero() || ctx.Err() != nil {
					return
				}
				t := time.NewTimer(time.Until(next))
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (b *Bot) undelivered() ([]Undelivered, error) {
	var out []Undelivered
	for _, ch := range b.Config().Channels {
		rows, err := b.opts.Store.Outbox(ch.ID, true, 0)
		if err != nil {
			return nil, fmt.Errorf("bot: outbox %s: %w", ch.ID, err)
		}
		u := Undelivered{Channel: ch.ID}
		reasons := map[string]bool{}
		for _, r := range rows {
			if ch.Digest != "" && !r.Parked {
				continue // waits for its digest time: due later, not undelivered
			}
			if r.Parked {
				u.Parked++
				reasons[r.ParkReason] = true
			} else {
				u.Pending++
				if r.LastError != "" {
					reasons[r.LastError] = true
				}
			}
		}
		if u.Pending+u.Parked == 0 {
			continue
		}
		var rs []string
		for r := range reasons {
			rs = append(rs, r)
		}
		sort.Strings(rs)
		u.Reason = strings.Join(rs, "; ")
		out = append(out, u)
	}
	return out, nil
}
