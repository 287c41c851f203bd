package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/store"
)

// Daemon runs a Bot for months: every source on its own schedule, digests
// at their times, the outbox drained continuously, source health watched.
type Daemon struct {
	Bot    *Bot
	Logger *slog.Logger
	// FailureThreshold is how many failed polls in a row warn the admin
	// channel; 0 means 3.
	FailureThreshold int

	ready   atomic.Bool
	mu      sync.Mutex
	cron    *cron.Cron
	retired []context.Context // Done when a schedule replaced by a reload has no job running
	ctx     context.Context
	stopped bool // shutdown began: no new schedule may start
	polling sync.WaitGroup
	// pollSlots bounds the polls in flight, fetch, parse and ingest
	// together, to fetch.concurrency, as run --once does. The fetcher alone
	// bounds only requests: at start every source is due within seconds,
	// and polls whose bodies had arrived queued for the store by the
	// hundred, each holding its body and parsed items, so that a first
	// poll's live heap sat above the soft memory limit and the collector
	// ran almost without pause.
	pollSlots atomic.Pointer[chan struct{}]

	storageProblem atomic.Pointer[string] // see watchStorage

	// inFlight holds the sources being polled: start-up, reload and the
	// schedules (the current one and any replaced one still running) all
	// go through pollSource, which polls a source only when no other
	// poll of it runs.
	inFlightMu sync.Mutex
	inFlight   map[string]bool
}

// setPollSlots sizes the bound on polls in flight for cfg; polls under
// way finish under the bound they started with.
func (d *Daemon) setPollSlots(cfg *config.Config) {
	slots := make(chan struct{}, max(cfg.Fetch.Concurrency, 1))
	d.pollSlots.Store(&slots)
}

// Ready reports whether the schedule is set (for /readyz).
func (d *Daemon) Ready() bool { return d.ready.Load() }

// Run schedules everything and blocks until ctx is cancelled; then it stops
// starting polls, lets the running ones finish within shutdownBound, lets
// deliveries in flight complete, and returns.
func (d *Daemon) Run(ctx context.Context, shutdownBound time.Duration) error {
	cfg := d.Bot.Config()
	c, err := d.newSchedule(ctx, cfg)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.ctx = ctx
	d.setPollSlots(cfg)
	d.Bot.Dispatcher.Start(ctx, d.Bot.InstantChannels(cfg))
	refresh := func() { d.Bot.Dispatcher.SetChannels(ctx, d.Bot.InstantChannels(d.Bot.Config())) }
	d.Bot.onChannels.Store(&refresh)
	d.cron = c
	c.Start()
	// Retention applies at start, then hourly.
	if cfg.Defaults.Retention > 0 {
		d.polling.Add(1)
		go func() {
			defer d.polling.Done()
			defer d.recoverPanic("retention")
			d.Bot.Prune(ctx)
		}()
	}
	// Every source once at start, spread over a few seconds.
	for _, src := range cfg.Sources {
		d.polling.Add(1)
		go func() {
			defer d.polling.Done()
			d.sleep(ctx, time.Duration(rand.Int64N(int64(startSpread(len(cfg.Sources)))+1)))
			d.pollSource(ctx, src.ID)
		}()
	}
	d.mu.Unlock()
	d.polling.Add(1)
	go func() {
		defer d.polling.Done()
		d.watchStorage(ctx)
	}()
	d.ready.Store(true)

	<-ctx.Done()
	d.ready.Store(false)
	// Under the lock, so that a reload either finished before (and its
	// polls are waited for) or sees stopped and starts nothing.
	d.mu.Lock()
	d.stopped = true
	c = d.cron
	retired := d.retired
	d.mu.Unlock()
	stopped := c.Stop()
	done := make(chan struct{})
	go func() {
		<-stopped.Done()
		for _, r := range retired {
			<-r.Done()
		}
		d.polling.Wait()
		d.Bot.Dispatcher.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(shutdownBound):
		return fmt.Errorf("bot: shutdown: work still running after %s, abandoned", shutdownBound)
	}
}

func startSpread(n int) time.Duration {
	return min(time.Duration(n)*50*time.Millisecond, 10*time.Second)
}

// Reload puts a new, validated config in force: the router is rebuilt, the
// schedule replaced, workers started for new channels and stopped for
// removed ones (whose rows are parked, not lost). New sources are polled now.
func (d *Daemon) Reload(cfg *config.Config) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	ctx := d.ctx
	if ctx == nil || d.stopped || ctx.Err() != nil {
		return errors.New("bot: reload: the daemon is not running")
	}
	c, err := d.newSchedule(ctx, cfg)
	if err != nil {
		return err
	}
	old := d.Bot.Config()
	if err := d.Bot.SetConfig(ctx, cfg); err != nil {
		return err
	}
	d.Bot.Dispatcher.SetChannels(ctx, d.Bot.InstantChannels(cfg))
	if cfg.Fetch.Concurrency != old.Fetch.Concurrency {
		d.setPollSlots(cfg)
	}
	// The jobs of the replaced schedule may still run: shutdown waits for
	// them, and pollSource keeps them from polling a source twice at once.
	d.retired = append(slices.DeleteFunc(d.retired, func(c context.Context) bool { return c.Err() != nil }), d.cron.Stop())
	d.cron = c
	c.Start()
	for _, src := range cfg.Sources {
		if prev, ok := old.SourceByID(src.ID); !ok || prev.URL != src.URL || prev.Type != src.Type {
			d.polling.Add(1)
			go func() {
				defer d.polling.Done()
				d.pollSource(ctx, src.ID)
			}()
		}
	}
	d.Bot.Dispatcher.Wake()
	return nil
}

// newSchedule builds, without starting it, a cron schedule with one entry
// per source and one per digest channel; its jobs stop with ctx.
func (d *Daemon) newSchedule(ctx context.Context, cfg *config.Config) (*cron.Cron, error) {
	logger := cronLogger{d.Logger}
	c := cron.New(cron.WithLocation(cfg.Location), cron.WithChain(cron.Recover(logger)))
	for _, src := range cfg.Sources {
		sched, err := cron.ParseStandard(src.Schedule)
		if err != nil {
			return nil, fmt.Errorf("bot: source %s: schedule %q: %w", src.ID, src.Schedule, err)
		}
		id := src.ID
		jitter := scheduleJitter(sched)
		// SkipIfStillRunning wraps each entry on its own: a slow source
		// skips its own next tick and never delays another source.
		c.Schedule(sched, cron.NewChain(cron.SkipIfStillRunning(logger)).Then(cron.FuncJob(func() {
			d.sleep(ctx, time.Duration(rand.Int64N(int64(jitter)+1)))
			d.pollSource(ctx, id)
		})))
	}
	for _, ch := range cfg.Channels {
		if ch.Digest == "" {
			continue
		}
		sched, err := cron.ParseStandard(ch.Digest)
		if err != nil {
			return nil, fmt.Errorf("bot: channel %s: digest %q: %w", ch.ID, ch.Digest, err)
		}
		chID := ch.ID
		c.Schedule(sched, cron.NewChain(cron.SkipIfStillRunning(logger)).Then(cron.FuncJob(func() {
			if ctx.Err() != nil {
				return
			}
			ch, ok := d.Bot.Config().ChannelByID(chID)
			if !ok {
				return
			}
			n, err := d.Bot.Dispatcher.FlushDigest(ctx, ch)
			if err != nil {
				d.Logger.Error("digest", "channel", chID, "err", err)
				return
			}
			if n > 0 {
				d.Logger.Info("digest delivered", "channel", chID, "items", n)
			} else {
				d.Logger.Debug("digest: nothing new", "channel", chID)
			}
		})))
	}
	if cfg.Defaults.Retention > 0 {
		// Pruning is cheap when there is little to prune; hourly keeps the
		// archive within a day of its retention.
		c.Schedule(cron.Every(time.Hour), cron.NewChain(cron.SkipIfStillRunning(logger)).Then(cron.FuncJob(func() {
			d.Bot.Prune(ctx)
		})))
	}
	return c, nil
}

// scheduleJitter is up to a tenth of the period, at most 30 s, so sources
// on one schedule do not all fire in the same second.
func scheduleJitter(s cron.Schedule) time.Duration {
	now := time.Now()
	first := s.Next(now)
	period := s.Next(first).Sub(first)
	return min(period/10, 30*time.Second)
}

func (d *Daemon) sleep(ctx context.Context, dur time.Duration) {
	if dur <= 0 {
		return
	}
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// pollSource polls one source unless it is in backoff, wakes the
// dispatcher, and tells the admin channel about a change of health.
func (d *Daemon) pollSource(ctx context.Context, id string) {
	if ctx.Err() != nil {
		return
	}
	src, ok := d.Bot.Config().SourceByID(id)
	if !ok {
		return
	}
	if !d.beginPoll(id) {
		d.Logger.Debug("poll skipped: the source is being polled already", "source", id)
		return
	}
	defer d.endPoll(id)
	st, err := d.Bot.opts.Store.SourceState(id)
	if err != nil {
		d.Logger.Error("source state", "source", id, "err", err)
		return
	}
	if now := d.Bot.Poller.now(); st.NextAllowed.After(now) {
		d.Logger.Debug("poll skipped: source in backoff", "source", id, "until", st.NextAllowed)
		return
	}
	slots := *d.pollSlots.Load()
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return
	}
	res, err := d.Bot.Poller.PollRecovered(ctx, src)
	<-slots
	if err != nil {
		if ctx.Err() == nil {
			d.Logger.Error("poll", "source", id, "err", err)
		}
		return
	}
	if res.Alerts > 0 || res.Edits > 0 {
		d.Bot.Dispatcher.Wake()
	}
	d.checkHealth(ctx, src)
}

// beginPoll marks a source as being polled; false when it already was.
func (d *Daemon) beginPoll(id string) bool {
	d.inFlightMu.Lock()
	defer d.inFlightMu.Unlock()
	if d.inFlight[id] {
		return false
	}
	if d.inFlight == nil {
		d.inFlight = make(map[string]bool)
	}
	d.inFlight[id] = true
	return true
}

func (d *Daemon) endPoll(id string) {
	d.inFlightMu.Lock()
	defer d.inFlightMu.Unlock()
	delete(d.inFlight, id)
}

// recoverPanic logs a panic of a background task, with its stack, and
// lets the daemon go on. Deferred at the top of the task's goroutine.
func (d *Daemon) recoverPanic(task string) {
	if r := recover(); r != nil {
		d.Logger.Error("background task panicked", "task", task, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	}
}

// checkHealth sends one warning when a source has failed FailureThreshold
// times in a row or stayed silent far longer than its usual cadence, and
// one notice when it recovers.
func (d *Daemon) checkHealth(ctx context.Context, src config.Source) {
	cfg := d.Bot.Config()
	st, err := d.Bot.opts.Store.SourceState(src.ID)
	if err != nil {
		return
	}
	threshold := d.FailureThreshold
	if threshold <= 0 {
		threshold = 3
	}
	now := d.Bot.Poller.now()
	var text string
	switch {
	case !st.Warned && st.ConsecutiveFailures >= threshold:
		text = fmt.Sprintf("⚠ Source %s (%s) has failed %d times in a row: %s. Next try after %s.",
			src.ID, sourceName(src), st.ConsecutiveFailures, st.LastError, st.NextAllowed.In(cfg.Location).Format(DateLayout))
		st.Warned = true
	case !st.Warned && st.ConsecutiveFailures == 0 && silentTooLong(st, now):
		text = fmt.Sprintf("⚠ Source %s (%s) has published nothing since %s, much longer than usual. Its page may have moved.",
			src.ID, sourceName(src), st.LastNewItem.In(cfg.Location).Format(DateLayout))
		st.Warned = true
	case st.Warned && st.ConsecutiveFailures == 0 && !silentTooLong(st, now):
		text = fmt.Sprintf("✓ Source %s (%s) has recovered.", src.ID, sourceName(src))
		st.Warned = false
	default:
		return
	}
	if err := d.Bot.opts.Store.PutSourceState(st); err != nil {
		d.Logger.Error("source state", "source", src.ID, "err", err)
		return
	}
	d.Logger.Warn("source health", "source", src.ID, "notice", text)
	if err := d.Bot.Notify(ctx, text); err != nil {
		d.Logger.Error("admin notice not delivered", "err", err)
	}
}

// silentTooLong learns a source's cadence from the gaps between its last
// new items: silence of more than four times the median gap (and at least
// two days) is unusual. Fewer than five samples teach nothing.
func silentTooLong(st store.SourceState, now time.Time) bool {
	if len(st.RecentNew) < 5 || st.LastNewItem.IsZero() {
		return false
	}
	times := append([]time.Time(nil), st.RecentNew...)
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	gaps := make([]time.Duration, 0, len(times)-1)
	for i := 1; i < len(times); i++ {
		gaps = append(gaps, times[i].Sub(times[i-1]))
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	limit := max(4*gaps[len(gaps)/2], 48*time.Hour)
	return now.Sub(st.LastNewItem) > limit
}

// Notify posts a notice to the admin channel, when one is configured.
func (b *Bot) Notify(ctx context.Context, text string) error {
	cfg := b.Config()
	if cfg.Admin == "" {
		return nil
	}
	ch, ok := cfg.ChannelByID(cfg.Admin)
	if !ok {
		return fmt.Errorf("bot: admin channel %q is not configured", cfg.Admin)
	}
	sender := b.opts.Senders[ch.Platform()]
	if s, ok := b.opts.Senders["*"]; ok {
		sender = s
	}
	if sender == nil {
		return fmt.Errorf("bot: no %s connection for the admin channel", ch.Platform())
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return sender.SendNotice(sctx, ch.Target(), text)
}

// cronLogger lets robfig/cron log through slog.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "err", err)...)
}

// parseSchedule parses a cron spec in a time zone.
func parseSchedule(spec string, loc *time.Location) (cron.Schedule, error) {
	if loc != nil && loc != time.UTC {
		spec = "CRON_TZ=" + loc.String() + " " + spec
	}
	return cron.ParseStandard(spec)
}
