package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/policywire/policywire/bot"
	slacksender "github.com/policywire/policywire/bot/slack"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
	"github.com/policywire/policywire/store"
	"github.com/policywire/policywire/store/index"
	"github.com/policywire/policywire/summary"
)

// Cycle is one pass over every source.
type Cycle struct {
	Name        string  `json:"name"`
	Sources     int     `json:"sources"`
	WallSeconds float64 `json:"wall_seconds"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	// Per1000 figures divide by the number of sources over 1,000.
	WallPer1000 float64 `json:"wall_seconds_per_1000_sources"`
	CPUPer1000  float64 `json:"cpu_seconds_per_1000_sources"`
	Fetched     int     `json:"fetched"`      // 200 answers parsed
	NotModified int     `json:"not_modified"` // 304 answers
	Failed      int     `json:"failed"`
	BodyBytes   int64   `json:"body_bytes"`
	NewItems    int     `json:"new_items"`
	Alerts      int     `json:"alerts"`
	Delivered   int     `json:"delivered"`
	// BackgroundCPUSeconds is the part of CPUSeconds spent after the last
	// alert arrived, until the process went idle: the search index merging
	// its segments, the garbage collector.
	BackgroundCPUSeconds float64 `json:"background_cpu_seconds"`
	// The highest VmRSS and RssAnon sampled during the cycle: the cold
	// poll's burst apart from what polling costs once the archive exists.
	PeakRSSBytes     int64 `json:"peak_rss_bytes"`
	PeakAnonRSSBytes int64 `json:"peak_anon_rss_bytes"`
}

// Latency summarizes a set of durations in milliseconds.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// PipelineRun is a cold poll, a 304 cycle and a changed cycle over one
// number of sources at one concurrency, on a fresh database and index.
type PipelineRun struct {
	Sources     int     `json:"sources"`
	Concurrency int     `json:"concurrency"`
	Cycles      []Cycle `json:"cycles"`
	// ChangeToMessage runs from the moment the server made the changed
	// cycle's new items visible (the cycle starts then) to the sink
	// receiving each alert; PollToMessage from the start of the poll of
	// the alert's source.
	ChangeToMessage  Latency `json:"change_to_message"`
	PollToMessage    Latency `json:"poll_to_message"`
	PeakRSSBytes     int64   `json:"peak_rss_bytes"`      // highest VmRSS sampled during the run
	PeakAnonRSSBytes int64   `json:"peak_anon_rss_bytes"` // highest RssAnon: VmRSS without the mapped files
	MaxRSSBytes      int64   `json:"maxrss_bytes"`        // getrusage's peak for the process so far
	ArchivedItems    int     `json:"archived_items"`
	StoreBytes       int64   `json:"store_bytes"`
	IndexBytes       int64   `json:"index_bytes"`
	DeliveryRetries  int     `json:"delivery_retries"`
	// FixtureCPUSeconds is the CPU time of the fixture server's process
	// (0 when it ran inside the bench).
	FixtureCPUSeconds float64 `json:"fixture_cpu_seconds"`
}

func (r *runner) pipelines(ctx context.Context) error {
	for _, spec := range r.opts.Runs {
		if spec.Sources <= 0 || spec.Concurrency <= 0 {
			return fmt.Errorf("bench: a run needs at least one source and a concurrency of 1 or more, not %+v", spec)
		}
		run, err := r.pipeline(ctx, spec.Sources, spec.Concurrency)
		if err != nil {
			return err
		}
		r.rep.Pipeline = append(r.rep.Pipeline, run)
		settle()
	}
	return nil
}

// pollStats gathers what the fetcher saw during a cycle.
type pollStats struct {
	mu          sync.Mutex
	fetched     int
	notModified int
	bytes       int64
	delivered   int
	retries     int
}

func (p *pollStats) observePoll(_ bot.PollResult, read *sources.ReadResult) {
	if read == nil || read.Response == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if read.Response.NotModified {
		p.notModified++
		return
	}
	p.fetched++
	p.bytes += read.Response.Size
}

func (p *pollStats) observeDelivery(e bot.DeliveryEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Err == nil {
		if !e.Edit { // an edit of an alert already delivered is no delivery
			p.delivered++
		}
	} else if !e.Parked {
		p.retries++
	}
}

func (p *pollStats) snapshot() (fetched, notModified int, bytes int64, delivered, retries int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fetched, p.notModified, p.bytes, p.delivered, p.retries
}

// pipelineEnv is the bot and its parts for one run.
type pipelineEnv struct {
	cfg      *config.Config
	bot      *bot.Bot
	store    *store.Store
	index    *index.Index
	fetcher  *sources.Fetcher
	fixtures fixtureClient
	stats    *pollStats
	slackTo  map[string]string // Slack channel id → channel id
	seen     map[string]bool   // channel + alert id delivered so far
}

func (r *runner) pipeline(ctx context.Context, n, conc int) (PipelineRun, error) {
	run := PipelineRun{Sources: n, Concurrency: conc}
	r.progress("pipeline: %d sources, concurrency %d", n, conc)
	dir, err := r.scratch(fmt.Sprintf("pipeline-%d-%d", n, conc))
	if err != nil {
		return run, err
	}
	base, stopFixtures, err := r.spawn(ctx, FixtureConfig{Sources: n, Seed: r.opts.Seed, Epoch: r.epoch})
	if err != nil {
		return run, err
	}
	fixturesStopped := false
	defer func() {
		if !fixturesStopped {
			_, _ = stopFixtures()
		}
	}()

	env := &pipelineEnv{
		cfg:      benchConfig(n, conc, base, dir),
		fixtures: fixtureClient{base: base, hc: &http.Client{Timeout: time.Minute}},
		stats:    &pollStats{},
		slackTo:  map[string]string{},
		seen:     map[string]bool{},
	}
	for _, ch := range env.cfg.Channels {
		env.slackTo[ch.Slack] = ch.ID
	}
	r.rss.takePeak()
	if err := env.open(dir); err != nil {
		return run, err
	}
	defer env.close()

	dctx, stopDispatch := context.WithCancel(ctx)
	env.bot.Dispatcher.Start(dctx, env.cfg.Channels)
	defer func() {
		stopDispatch()
		env.bot.Dispatcher.Wait()
	}()

	// Each cycle takes the memory peak since the previous one; the run's
	// peak is the highest of them.
	var runPeak rssPeak
	cyclePeak := func(c *Cycle) {
		p := r.rss.takePeak()
		c.PeakRSSBytes, c.PeakAnonRSSBytes = p.total, p.anon
		runPeak.total, runPeak.anon = max(runPeak.total, p.total), max(runPeak.anon, p.anon)
	}
	cold, _, err := r.cycle(ctx, env, "cold", nil)
	if err != nil {
		return run, err
	}
	cyclePeak(&cold)
	steady, _, err := r.cycle(ctx, env, "steady (all 304)", nil)
	if err != nil {
		return run, err
	}
	cyclePeak(&steady)
	change, err := env.fixtures.change(ctx, r.opts.ChangedShare)
	if err != nil {
		return run, err
	}
	changed, deliveries, err := r.cycle(ctx, env, fmt.Sprintf("%.0f%% changed", 100*r.opts.ChangedShare), &change)
	if err != nil {
		return run, err
	}
	cyclePeak(&changed)
	run.Cycles = []Cycle{cold, steady, changed}
	run.ChangeToMessage, run.PollToMessage = deliveries.changeLatency, deliveries.pollLatency

	stopDispatch()
	env.bot.Dispatcher.Wait()
	peak := r.rss.takePeak()
	run.PeakRSSBytes, run.PeakAnonRSSBytes = max(runPeak.total, peak.total), max(runPeak.anon, peak.anon)
	run.MaxRSSBytes = maxRSS()
	if depth, err := env.store.OutboxDepth(); err != nil {
		return run, fmt.Errorf("bench: outbox: %w", err)
	} else {
		for ch, k := range depth {
			if k > 0 {
				r.fail("%d sources, concurrency %d: %d alerts of channel %s left in the outbox", n, conc, k, ch)
			}
		}
	}
	if count, err := env.store.ItemCount(); err == nil {
		run.ArchivedItems = count
	}
	_, _, _, _, run.DeliveryRetries = env.stats.snapshot()
	env.close()
	run.StoreBytes = diskUsage(filepath.Join(dir, "policywire.db"))
	run.IndexBytes = diskUsage(filepath.Join(dir, "index"))
	r.progress("  change→message p50 %.0f ms, p99 %.0f ms; poll→message p50 %.0f ms, p99 %.0f ms (%d alerts); peak VmRSS %s (anonymous %s), maxrss %s; %d items archived, db %s, index %s",
		run.ChangeToMessage.P50, run.ChangeToMessage.P99, run.PollToMessage.P50, run.PollToMessage.P99, run.PollToMessage.Count,
		mib(run.PeakRSSBytes), mib(run.PeakAnonRSSBytes), mib(run.MaxRSSBytes), run.ArchivedItems, mib(run.StoreBytes), mib(run.IndexBytes))
	cpu, err := stopFixtures()
	fixturesStopped = true
	run.FixtureCPUSeconds = cpu.Seconds()
	if err != nil {
		return run, err
	}
	return run, nil
}

// open builds the pipeline as `policywire run` wires it, with two
// differences the bench needs: the Slack sender paces posts 1 µs apart
// instead of Slack's 1 s per channel, and host_delay is 0.
func (env *pipelineEnv) open(dir string) error {
	st, err := store.Open(filepath.Join(dir, "policywire.db"), store.Options{})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	env.store = st
	idx, err := index.Open(filepath.Join(dir, "index"), discardLogger())
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	env.index = idx
	cfg := env.cfg
	fo := wiring.FetcherOptions(cfg.Fetch)
	env.fetcher = sources.NewFetcher(fo)
	full := summary.New(summary.Options{Config: cfg.Summary, Pages: env.fetcher, Cache: st})
	sender := slacksender.New(slacksender.Options{
		Token:        cfg.Slack.BotToken.Value(),
		APIURL:       cfg.Slack.APIURL,
		Location:     cfg.Location,
		PaceInterval: time.Microsecond,
	})
	b, err := bot.New(bot.Options{
		Config:     cfg,
		Store:      st,
		Fetcher:    env.fetcher,
		Summarizer: full,
		Senders:    map[string]bot.Sender{"slack": sender},
		Index:      idx,
		Logger:     discardLogger(),
		OnPoll:     env.stats.observePoll,
		OnDelivery: env.stats.observeDelivery,
	})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	env.bot = b
	return nil
}

func (env *pipelineEnv) close() {
	if env.bot != nil {
		// Writes what waits for the index; the dispatcher is stopped by
		// the caller.
		_ = env.bot.Close()
	}
	if env.fetcher != nil {
		env.fetcher.Close()
		env.fetcher = nil
	}
	if env.index != nil {
		_ = env.index.Close()
		env.index = nil
	}
	if env.store != nil {
		_ = env.store.Close()
		env.store = nil
	}
}

// cycleDeliveries is what the sink saw during a changed cycle.
type cycleDeliveries struct {
	changeLatency, pollLatency Latency
}

// cycle polls every source once, as the daemon does when their ticks come
// at the same time (each poll wakes the dispatcher when it wrote alerts),
// and waits until every alert is at the sink. change is the publication
// round made just before, or nil. The CPU and wall time run from the first
// poll to the last alert received.
func (r *runner) cycle(ctx context.Context, env *pipelineEnv, name string, change *Change) (Cycle, cycleDeliveries, error) {
	cfg := env.cfg
	n := len(cfg.Sources)
	c := Cycle{Name: name, Sources: n}
	var out cycleDeliveries
	fetched0, nm0, bytes0, delivered0, _ := env.stats.snapshot()
	results := make([]bot.PollResult, n)
	errs := make([]error, n)
	pollStart := make(map[string]int64, n)
	var startMu sync.Mutex

	if err := quiesce(ctx); err != nil {
		return c, out, err
	}
	cpu0, wall0 := processCPU(), time.Now()
	sem := make(chan struct{}, max(cfg.Fetch.Concurrency, 1))
	var wg sync.WaitGroup
	// The label lets a CPU profile of the run be cut by cycle (go tool
	// pprof -tagfocus cycle=cold); it follows the poll goroutines, not the
	// dispatcher's workers or the index's background merges.
	labels := pprof.Labels("cycle", name, "sources", strconv.Itoa(n), "concurrency", strconv.Itoa(cfg.Fetch.Concurrency))
	pprof.Do(ctx, labels, func(ctx context.Context) {
		for i, src := range cfg.Sources {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				startMu.Lock()
				pollStart[src.ID] = time.Now().UnixNano()
				startMu.Unlock()
				results[i], errs[i] = env.bot.Poller.Poll(ctx, src)
				if results[i].Alerts > 0 {
					env.bot.Dispatcher.Wake()
				}
			}()
		}
		wg.Wait()
	})
	if err := errors.Join(errs...); err != nil {
		return c, out, fmt.Errorf("bench: %s cycle: %w", name, err)
	}
	for _, res := range results {
		c.NewItems += res.New
		c.Alerts += res.Alerts
		if res.Outcome == bot.OutcomeFailed {
			c.Failed++
		}
	}
	// Wait for the dispatcher: every alert written in this cycle must be
	// acknowledged by the sink.
	deadline := time.Now().Add(time.Duration(10+c.Alerts/20) * time.Second)
	for {
		_, _, _, delivered, _ := env.stats.snapshot()
		if delivered-delivered0 >= c.Alerts {
			break
		}
		if time.Now().After(deadline) {
			r.fail("%s cycle (%d sources, concurrency %d): only %d of %d alerts delivered before the deadline",
				name, n, cfg.Fetch.Concurrency, delivered-delivered0, c.Alerts)
			break
		}
		select {
		case <-ctx.Done():
			return c, out, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	wall := time.Since(wall0)
	cpuDelivered := processCPU()
	// The items of the cycle that still wait for the search index belong
	// to its cost.
	if err := env.bot.FlushIndex(); err != nil {
		return c, out, fmt.Errorf("bench: %w", err)
	}
	if err := quiesce(ctx); err != nil {
		return c, out, err
	}
	cpu := processCPU().sub(cpu0)
	fetched, nm, bytes, delivered, _ := env.stats.snapshot()
	c.WallSeconds, c.CPUSeconds = wall.Seconds(), cpu.total().Seconds()
	c.BackgroundCPUSeconds = (cpu.total() - cpuDelivered.sub(cpu0).total()).Seconds()
	per := float64(n) / 1000
	c.WallPer1000, c.CPUPer1000 = c.WallSeconds/per, c.CPUSeconds/per
	c.Fetched, c.NotModified, c.BodyBytes, c.Delivered = fetched-fetched0, nm-nm0, bytes-bytes0, delivered-delivered0
	r.progress("  %-16s wall %7.2fs  cpu %7.2fs (%.2fs after the last alert)  fetched %d, 304 %d, new items %d, alerts %d",
		name, c.WallSeconds, c.CPUSeconds, c.BackgroundCPUSeconds, c.Fetched, c.NotModified, c.NewItems, c.Alerts)

	sink, err := env.fixtures.deliveries(ctx)
	if err != nil {
		return c, out, err
	}
	r.checkCycle(env, c, results, change, sink)
	if change != nil {
		var fromChange, fromPoll []time.Duration
		for _, d := range sink {
			fromChange = append(fromChange, time.Duration(d.At-change.VisibleAt))
			if t, ok := pollStart[d.Source]; ok {
				fromPoll = append(fromPoll, time.Duration(d.At-t))
			}
		}
		out.changeLatency, out.pollLatency = summarize(fromChange), summarize(fromPoll)
	}
	return c, out, nil
}

// checkCycle records every way the cycle misbehaved.
func (r *runner) checkCycle(env *pipelineEnv, c Cycle, results []bot.PollResult, change *Change, sink []Delivery) {
	where := fmt.Sprintf("%s cycle (%d sources, concurrency %d)", c.Name, c.Sources, env.cfg.Fetch.Concurrency)
	for _, res := range results {
		if res.Outcome == bot.OutcomeFailed {
			r.fail("%s: source %s failed: %v", where, res.Source, res.Err)
			break
		}
	}
	switch {
	case c.Name == "cold":
		if c.Fetched != c.Sources {
			r.fail("%s: %d of %d sources answered with a body", where, c.Fetched, c.Sources)
		}
		if c.Alerts == 0 {
			r.fail("%s: no alert at all; the routing or the backfill is broken", where)
		}
	case change == nil:
		if c.NotModified != c.Sources {
			r.fail("%s: %d of %d sources answered 304", where, c.NotModified, c.Sources)
		}
		if c.Alerts != 0 || c.NewItems != 0 || len(sink) != 0 {
			r.fail("%s: nothing changed, yet %d new items, %d alerts and %d messages", where, c.NewItems, c.Alerts, len(sink))
		}
	default:
		for _, res := range results {
			added, changed := change.Added[res.Source]
			switch {
			case changed && res.New != added:
				r.fail("%s: source %s published %d items, the poll found %d new", where, res.Source, added, res.New)
			case !changed && res.Outcome != bot.OutcomeNotModified:
				r.fail("%s: unchanged source %s was %s", where, res.Source, res.Outcome)
			}
		}
		for _, d := range sink {
			if _, ok := change.Added[d.Source]; !ok {
				r.fail("%s: alert %s came from source %q, which did not change", where, d.AlertID, d.Source)
				break
			}
		}
	}
	if len(sink) != c.Alerts {
		r.fail("%s: %d alerts written to the outbox, %d messages at the sink", where, c.Alerts, len(sink))
	}
	for _, d := range sink {
		ch, ok := env.slackTo[d.Channel]
		if !ok || d.AlertID == "" {
			r.fail("%s: message to unknown channel %q or without alert id (%q)", where, d.Channel, d.AlertID)
			continue
		}
		key := ch + "\x00" + d.AlertID
		if env.seen[key] {
			r.fail("%s: alert %s posted twice to %s", where, d.AlertID, ch)
			continue
		}
		env.seen[key] = true
		if ok, err := env.store.IsDelivered(ch, d.AlertID); err != nil || !ok {
			r.fail("%s: alert %s at the sink is not recorded as delivered to %s (err %v)", where, d.AlertID, ch, err)
		}
	}
}

// quiesce waits until the process is idle — under 5 ms of CPU in each of
// two 100 ms windows, while its anonymous memory no longer falls by a
// mebibyte a window — so that a cycle's figures include the background
// work it caused and none that an earlier step left. The memory condition
// lets the Go runtime hand back the memory a burst freed, as it does long
// before a daemon's next poll: under a soft memory limit, a cycle started
// at once would pay for the collector running near the limit. The CPU of
// the idle windows themselves is a few milliseconds. It gives up waiting
// after two minutes.
func quiesce(ctx context.Context) error {
	const window, idle, shrinking = 100 * time.Millisecond, 5 * time.Millisecond, 1 << 20
	deadline := time.Now().Add(2 * time.Minute)
	quiet := 0
	prev := processCPU()
	_, prevAnon := currentRSS()
	for quiet < 2 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(window):
		}
		now := processCPU()
		_, anon := currentRSS()
		if now.sub(prev).total() < idle && prevAnon-anon < shrinking {
			quiet++
		} else {
			quiet = 0
		}
		prev, prevAnon = now, anon
	}
	return nil
}

func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Latency{
		Count: len(ds),
		P50:   ms(percentile(ds, 0.50)),
		P95:   ms(percentile(ds, 0.95)),
		P99:   ms(percentile(ds, 0.99)),
		Max:   ms(ds[len(ds)-1]),
	}
}

// percentile of sorted ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	k := int(float64(len(ds))*p+0.999999) - 1
	return ds[min(max(k, 0), len(ds)-1)]
}
