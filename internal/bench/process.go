package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// The whole-process figures run the policywire binary itself as a child —
// `run --once` three times, then the daemon `run` for three cycles —
// against the same loopback fixtures, and read its cost from outside:
// CPU time from /proc/PID/stat (or the child's rusage once it exited) and
// the resident high-water mark VmHWM from /proc/PID/status (ru_maxrss).
// They count everything a user pays for: start-up, opening the database
// and the index, the Go runtime, the real Slack sender's pacing of one
// post per second per channel (wall time only), the index merging after
// the last poll.

// ProcessRun is the figures of one command over one number of sources.
type ProcessRun struct {
	Command string         `json:"command"` // "run --once" or "run"
	Sources int            `json:"sources"`
	Cycles  []ProcessCycle `json:"cycles"`
	// Period is the daemon's schedule during its steady and changed cycles.
	PeriodSeconds float64 `json:"period_seconds,omitempty"`
}

// ProcessCycle is one cycle of the child, measured from outside.
type ProcessCycle struct {
	Name string `json:"name"`
	// WallSeconds runs from the start of the cycle (the process's start
	// for run --once and the daemon's first poll) until the process exited
	// or was idle again.
	WallSeconds float64 `json:"wall_seconds"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	CPUPer1000  float64 `json:"cpu_seconds_per_1000_sources"`
	// PeakRSSBytes is VmHWM: the highest resident set size, mapped files
	// included, during the cycle.
	PeakRSSBytes int64 `json:"vmhwm_bytes"`
	Polls        int   `json:"polls"`
	Fetched      int   `json:"fetched"`
	NotModified  int   `json:"not_modified"`
	NewItems     int   `json:"new_items"`
	Alerts       int   `json:"alerts"`
	Delivered    int   `json:"delivered"`
}

// processWorld is the config and fixtures the child runs against.
type processWorld struct {
	exe      string
	dir      string
	cfgPath  string
	sources  int
	base     string
	fixtures fixtureClient
}

func (r *runner) processes(ctx context.Context) error {
	if r.opts.Exe == "" {
		return nil
	}
	for _, n := range r.opts.ProcessSources {
		if n <= 0 {
			return fmt.Errorf("bench: whole-process runs need at least one source, not %d", n)
		}
		for _, daemon := range []bool{false, true} {
			run, err := r.processRun(ctx, n, daemon)
			if err != nil {
				return err
			}
			r.rep.Processes = append(r.rep.Processes, run)
		}
	}
	return nil
}

// processRun measures run --once or the daemon over n sources on a fresh
// data directory and fixture server.
func (r *runner) processRun(ctx context.Context, n int, daemon bool) (ProcessRun, error) {
	run := ProcessRun{Command: "run --once", Sources: n}
	if daemon {
		run.Command = "run"
	}
	r.progress("whole process: policywire %s, %d sources", run.Command, n)
	dir, err := r.scratch(fmt.Sprintf("process-%d-%t", n, daemon))
	if err != nil {
		return run, err
	}
	base, stopFixtures, err := r.spawn(ctx, FixtureConfig{Sources: n, Seed: r.opts.Seed, Epoch: r.epoch})
	if err != nil {
		return run, err
	}
	defer func() { _, _ = stopFixtures() }()
	w := &processWorld{
		exe: r.opts.Exe, dir: dir, cfgPath: filepath.Join(dir, "config.yaml"), sources: n, base: base,
		fixtures: fixtureClient{base: base, hc: &http.Client{Timeout: time.Minute}},
	}
	// A cold poll takes minutes at 1,000 sources; the daemon's schedule
	// during it is long, so that only its first poll at start runs.
	if err := w.writeConfig("@every 24h"); err != nil {
		return run, err
	}
	if daemon {
		run.PeriodSeconds = r.opts.DaemonPeriod.Seconds()
		run.Cycles, err = r.daemonCycles(ctx, w)
	} else {
		run.Cycles, err = r.onceCycles(ctx, w)
	}
	for _, c := range run.Cycles {
		r.progress("  %-16s wall %7.2fs  cpu %7.2fs  VmHWM %s  fetched %d, 304 %d, new items %d, alerts %d, delivered %d",
			c.Name, c.WallSeconds, c.CPUSeconds, mib(c.PeakRSSBytes), c.Fetched, c.NotModified, c.NewItems, c.Alerts, c.Delivered)
	}
	return run, err
}

// writeConfig writes the child's config: the in-process pipeline's, with
// every source on schedule.
func (w *processWorld) writeConfig(schedule string) error {
	cfg := benchConfig(w.sources, 8, w.base, filepath.Join(w.dir, "data"))
	var b strings.Builder
	q := strconv.Quote
	fmt.Fprintf(&b, "data_dir: %s\ntimezone: UTC\nlog:\n  level: info\n  format: json\nhttp:\n  listen: \"\"\n", q(cfg.DataDir))
	fmt.Fprintf(&b, "fetch:\n  timeout: 60s\n  max_bytes: 10MiB\n  concurrency: %d\n  host_delay: 0s\n  allow_private: true\n", cfg.Fetch.Concurrency)
	fmt.Fprintf(&b, "defaults:\n  schedule: %s\n  backfill: 72h\n", q(schedule))
	b.WriteString("summary:\n  max_chars: 400\n  fetch_article: auto\ntopics:\n")
	for _, t := range cfg.Topics {
		fmt.Fprintf(&b, "  %s:\n    query: %s\n", t.ID, q(t.Query))
	}
	fmt.Fprintf(&b, "slack:\n  bot_token: xoxb-bench\n  api_url: %s\nchannels:\n", q(cfg.Slack.APIURL))
	for _, ch := range cfg.Channels {
		fmt.Fprintf(&b, "  - id: %s\n    slack: %s\n    topics: [%s]\n", ch.ID, ch.Slack, strings.Join(ch.Topics, ", "))
	}
	b.WriteString("sources:\n")
	for _, s := range cfg.Sources {
		fmt.Fprintf(&b, "  - id: %s\n    name: %s\n    url: %s\n", s.ID, q(s.Name), q(s.URL))
	}
	// Written whole and renamed, so that the daemon's watcher never reads
	// half a file.
	tmp := w.cfgPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := os.Rename(tmp, w.cfgPath); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// onceCycles runs `run --once` on an empty data directory (cold), again
// with nothing new (steady), and after a share of the sources changed.
func (r *runner) onceCycles(ctx context.Context, w *processWorld) ([]ProcessCycle, error) {
	var out []ProcessCycle
	for _, name := range []string{"cold", "steady (all 304)", fmt.Sprintf("%.0f%% changed", 100*r.opts.ChangedShare)} {
		var change *Change
		if len(out) == 2 {
			ch, err := w.fixtures.change(ctx, r.opts.ChangedShare)
			if err != nil {
				return out, err
			}
			change = &ch
		}
		c, err := r.onceCycle(ctx, w, name)
		if err != nil {
			return out, err
		}
		r.checkProcessCycle(w, "run --once", c, len(out), change)
		out = append(out, c)
	}
	return out, nil
}

func (r *runner) onceCycle(ctx context.Context, w *processWorld, name string) (ProcessCycle, error) {
	c := ProcessCycle{Name: name}
	cmd := exec.CommandContext(ctx, w.exe, "run", "--once", "--config", w.cfgPath, "--drain-timeout", "30m")
	logs := &pollLog{}
	cmd.Stderr = logs
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return c, fmt.Errorf("bench: policywire run --once (%s): %w", name, err)
	}
	// VmHWM is read while the child runs: the rusage of a child that ran
	// exec counts the parent's resident size at the fork, which for a
	// bench that has run its pipeline is larger than the child's own.
	// VmHWM only grows, so the last reading holds the peak until then.
	var hwm int64
	sampled := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if v := childHWM(cmd.Process.Pid); v > 0 {
				hwm = v
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	close(stopSampling)
	<-sampled
	c.WallSeconds = time.Since(started).Seconds()
	if err != nil {
		return c, fmt.Errorf("bench: policywire run --once (%s): %w: %s", name, err, logs.tail())
	}
	cpu, maxrss := childUsage(cmd.ProcessState)
	if hwm == 0 {
		hwm = maxrss
	}
	c.CPUSeconds, c.PeakRSSBytes = cpu.Seconds(), hwm
	c.CPUPer1000 = c.CPUSeconds / (float64(w.sources) / 1000)
	logs.fill(&c, 0)
	sink, err := w.fixtures.deliveries(ctx)
	if err != nil {
		return c, err
	}
	c.Delivered = len(sink)
	return c, nil
}

// daemonCycles starts `policywire run` and measures its first poll at
// start (cold), then switches its schedule to a short period and measures
// the next tick (steady) and the one after a share of the sources changed.
func (r *runner) daemonCycles(ctx context.Context, w *processWorld) ([]ProcessCycle, error) {
	var out []ProcessCycle
	cmd := exec.Command(w.exe, "run", "--config", w.cfgPath)
	logs := &pollLog{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start policywire run: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	child := &childProcess{pid: cmd.Process.Pid, exited: exited, logs: logs}
	started := time.Now()
	sampler := child.sample(ctx, 20*time.Millisecond)
	defer sampler.stop()

	cold, err := r.daemonCycle(ctx, w, child, sampler, "cold", started, cpuUsage{}, 0)
	if err != nil {
		return out, err
	}
	r.checkProcessCycle(w, "run", cold, 0, nil)
	out = append(out, cold)

	// The new schedule takes effect on reload, its first tick one period on.
	reloads := logs.count("config reloaded")
	if err := w.writeConfig(fmt.Sprintf("@every %s", r.opts.DaemonPeriod)); err != nil {
		return out, err
	}
	if err := child.waitFor(ctx, time.Minute, func() bool { return logs.count("config reloaded") > reloads }); err != nil {
		// The file watcher may be unavailable; SIGHUP reloads too.
		_ = cmd.Process.Signal(syscall.SIGHUP)
		if err := child.waitFor(ctx, time.Minute, func() bool { return logs.count("config reloaded") > reloads }); err != nil {
			return out, fmt.Errorf("bench: the daemon did not reload its config: %w: %s", err, logs.tail())
		}
	}
	for k, name := range []string{"steady (all 304)", fmt.Sprintf("%.0f%% changed", 100*r.opts.ChangedShare)} {
		var change *Change
		if k == 1 {
			ch, err := w.fixtures.change(ctx, r.opts.ChangedShare)
			if err != nil {
				return out, err
			}
			change = &ch
		}
		before := logs.polls()
		if err := child.waitFor(ctx, 2*r.opts.DaemonPeriod+time.Minute, func() bool { return logs.polls() > before }); err != nil {
			return out, fmt.Errorf("bench: the daemon's %s cycle did not start: %w", name, err)
		}
		// The cycle began when its first poll did: the sample taken just
		// before that poll's start is the cycle's starting CPU.
		first := logs.firstPollAfter(before)
		from, cpu0 := sampler.before(first.start)
		c, err := r.daemonCycle(ctx, w, child, sampler, name, from, cpu0, before)
		if err != nil {
			return out, err
		}
		r.checkProcessCycle(w, "run", c, len(out), change)
		out = append(out, c)
	}
	if logs.polls() != 3*w.sources {
		r.fail("daemon over %d sources: %d polls in three cycles; cycles overlapped (the period of %s is too short for this machine)",
			w.sources, logs.polls(), r.opts.DaemonPeriod)
	}
	return out, nil
}

// daemonCycle waits until every source was polled once more than before
// (polls counted in the log), every alert of those polls reached the sink,
// and the process is idle; the cycle's CPU runs from cpu0 to then.
func (r *runner) daemonCycle(ctx context.Context, w *processWorld, child *childProcess, s *childSampler, name string, from time.Time, cpu0 cpuUsage, before int) (ProcessCycle, error) {
	c := ProcessCycle{Name: name}
	want := before + w.sources
	delivered := 0
	limit := 30*time.Minute + time.Duration(w.sources)*time.Second
	err := child.waitFor(ctx, limit, func() bool {
		if child.logs.polls() < want {
			return false
		}
		alerts := child.logs.alertsIn(before, want)
		if delivered < alerts {
			sink, err := w.fixtures.deliveries(ctx)
			if err != nil {
				return false
			}
			delivered += len(sink)
		}
		return delivered >= alerts
	})
	if err != nil {
		return c, fmt.Errorf("bench: daemon %s cycle: %w: %s", name, err, child.logs.tail())
	}
	cpu1, at, err := child.idle(ctx)
	if err != nil {
		return c, err
	}
	c.WallSeconds = at.Sub(from).Seconds()
	c.CPUSeconds = cpu1.sub(cpu0).total().Seconds()
	c.CPUPer1000 = c.CPUSeconds / (float64(w.sources) / 1000)
	c.PeakRSSBytes = childHWM(child.pid)
	resetChildHWM(child.pid)
	child.logs.fill(&c, before)
	c.Delivered = delivered
	return c, nil
}

// checkProcessCycle records how a child's cycle misbehaved; k is the
// cycle's place (0 cold, 1 steady, 2 changed).
func (r *runner) checkProcessCycle(w *processWorld, command string, c ProcessCycle, k int, change *Change) {
	where := fmt.Sprintf("policywire %s, %s cycle (%d sources)", command, c.Name, w.sources)
	if c.Polls != w.sources {
		r.fail("%s: %d polls logged for %d sources", where, c.Polls, w.sources)
	}
	if c.Delivered != c.Alerts {
		r.fail("%s: %d alerts written, %d messages at the sink", where, c.Alerts, c.Delivered)
	}
	switch k {
	case 0:
		if c.Fetched != w.sources || c.Alerts == 0 {
			r.fail("%s: %d sources answered with a body and %d alerts", where, c.Fetched, c.Alerts)
		}
	case 1:
		if c.NotModified != w.sources || c.NewItems != 0 {
			r.fail("%s: %d sources answered 304 and %d items were new", where, c.NotModified, c.NewItems)
		}
	default:
		if change != nil && c.Fetched != len(change.Added) {
			r.fail("%s: %d sources changed, %d answered with a body", where, len(change.Added), c.Fetched)
		}
	}
}

// childProcess is a running daemon watched from outside.
type childProcess struct {
	pid    int
	exited chan struct{}
	logs   *pollLog
}

// waitFor checks cond every 20 ms until it holds, the child exits, or
// limit passes.
func (p *childProcess) waitFor(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.exited:
			return errors.New("the process exited")
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", limit)
		}
	}
	return nil
}

// idle waits until the child used under 5 ms of CPU in each of two 100 ms
// windows while its anonymous memory no longer fell by a mebibyte a
// window (as quiesce does for the bench's own process), and returns its
// CPU time when the first quiet window began and that moment.
func (p *childProcess) idle(ctx context.Context) (cpuUsage, time.Time, error) {
	const window, idle, shrinking = 100 * time.Millisecond, 5 * time.Millisecond, 1 << 20
	deadline := time.Now().Add(5 * time.Minute)
	quiet := 0
	prev, prevAt := childCPU(p.pid), time.Now()
	_, prevAnon := childRSS(p.pid)
	var quietCPU cpuUsage
	var quietAt time.Time
	for quiet < 2 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return prev, prevAt, ctx.Err()
		case <-p.exited:
			return prev, prevAt, errors.New("bench: the daemon exited")
		case <-time.After(window):
		}
		now, at := childCPU(p.pid), time.Now()
		_, anon := childRSS(p.pid)
		if now.sub(prev).total() < idle && prevAnon-anon < shrinking {
			if quiet == 0 {
				quietCPU, quietAt = prev, prevAt
			}
			quiet++
		} else {
			quiet = 0
		}
		prev, prevAt, prevAnon = now, at, anon
	}
	if quiet < 2 {
		return prev, prevAt, nil
	}
	return quietCPU, quietAt, nil
}

// childSampler keeps the child's CPU time every interval, so that a
// cycle's starting CPU can be looked up once its first poll is seen.
type childSampler struct {
	mu      sync.Mutex
	samples []cpuSample
	cancel  context.CancelFunc
	done    chan struct{}
}

type cpuSample struct {
	at  time.Time
	cpu cpuUsage
}

func (p *childProcess) sample(ctx context.Context, interval time.Duration) *childSampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &childSampler{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			smp := cpuSample{at: time.Now(), cpu: childCPU(p.pid)}
			s.mu.Lock()
			// A minute of samples is enough to look back to a poll's start.
			if len(s.samples) > 6000 {
				s.samples = append(s.samples[:0], s.samples[len(s.samples)-3000:]...)
			}
			s.samples = append(s.samples, smp)
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// before is the last sample taken before t.
func (s *childSampler) before(t time.Time) (time.Time, cpuUsage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.samples) - 1; i >= 0; i-- {
		if s.samples[i].at.Before(t) {
			return s.samples[i].at, s.samples[i].cpu
		}
	}
	if len(s.samples) > 0 {
		return s.samples[0].at, s.samples[0].cpu
	}
	return t, cpuUsage{}
}

func (s *childSampler) stop() {
	s.cancel()
	<-s.done
}

// pollLog reads the child's JSON log lines as they are written: one
// "poll" line per poll with its outcome, new items and alerts.
type pollLog struct {
	mu      sync.Mutex
	partial []byte
	entries []pollEntry
	msgs    map[string]int
	last    []string
}

type pollEntry struct {
	outcome     string
	new, alerts int
	start       time.Time // when the poll began, from its line's time and duration
}

func (l *pollLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := strings.IndexByte(string(l.partial), '\n')
		if i < 0 {
			break
		}
		l.line(l.partial[:i])
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *pollLog) line(b []byte) {
	if len(l.last) >= 20 {
		l.last = l.last[1:]
	}
	l.last = append(l.last, string(b))
	var rec struct {
		Time     time.Time `json:"time"`
		Msg      string    `json:"msg"`
		Outcome  string    `json:"outcome"`
		New      int       `json:"new"`
		Alerts   int       `json:"alerts"`
		Duration int64     `json:"duration"` // slog writes a duration in nanoseconds
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return
	}
	if l.msgs == nil {
		l.msgs = map[string]int{}
	}
	l.msgs[rec.Msg]++
	if rec.Msg != "poll" {
		return
	}
	l.entries = append(l.entries, pollEntry{outcome: rec.Outcome, new: rec.New, alerts: rec.Alerts, start: rec.Time.Add(-time.Duration(rec.Duration))})
}

func (l *pollLog) polls() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

func (l *pollLog) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msgs[msg]
}

func (l *pollLog) firstPollAfter(k int) pollEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := l.entries[k]
	for _, e := range l.entries[k:] {
		if e.start.Before(first.start) {
			first = e
		}
	}
	return first
}

func (l *pollLog) alertsIn(from, to int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.entries[from:min(to, len(l.entries))] {
		n += e.alerts
	}
	return n
}

// fill adds up the polls from the from-th on into c.
func (l *pollLog) fill(c *ProcessCycle, from int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.entries[min(from, len(l.entries)):] {
		c.Polls++
		c.NewItems += e.new
		c.Alerts += e.alerts
		switch e.outcome {
		case "not-modified":
			c.NotModified++
		case "new", "unchanged":
			c.Fetched++
		}
	}
}

// tail is the child's last log lines, for an error.
func (l *pollLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(append(l.last, string(l.partial)), "\n")
}

var _ io.Writer = (*pollLog)(nil)

// processTarget is the goal for one whole-process figure: CPU-s
// per 1,000 sources, and VmHWM.
func processTarget(command string, cycle int, floor float64) float64 {
	switch cycle {
	case 0:
		if floor > 0 {
			return 3 * floor
		}
		return 7.8
	case 1:
		if command == "run" {
			return 0.1
		}
		return 0.3
	default:
		return 0.6
	}
}

// hwmTarget is the highest VmHWM the issue allows at n sources: 150 MiB at
// 1,000 and 300 MiB at 10,000; 0 below 1,000, where it sets none.
func hwmTarget(n int) int64 {
	switch {
	case n >= 10000:
		return 300 << 20
	case n >= 1000:
		return 150 << 20
	}
	return 0
}

// writeProcessTable writes the whole-process figures beside the
// in-process ones of the same number of sources.
func (rep *Report) writeProcessTable(b io.Writer) {
	if len(rep.Processes) == 0 {
		return
	}
	fmt.Fprintf(b, "\nWhole process: the policywire binary as a child over the same fixtures, measured from outside\n"+
		"(CPU-s from /proc/PID/stat or its rusage, per 1,000 sources; VmHWM from /proc/PID/status):\n\n")
	tw := tabwriter.NewWriter(b, 0, 0, 1, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "sources\tcommand\tcycle\twall s\tCPU s/1k\ttarget\tin-process CPU s/1k\tVmHWM\ttarget\tfetched\t304\tnew items\talerts\tverdict\t")
	for _, p := range rep.Processes {
		for k, c := range p.Cycles {
			in := "-"
			for _, pr := range rep.Pipeline {
				if pr.Sources == p.Sources && pr.Concurrency == 8 && k < len(pr.Cycles) {
					in = fmt.Sprintf("%.3f", pr.Cycles[k].CPUPer1000)
				}
			}
			goal := processTarget(p.Command, k, rep.Floor.GofeedCPUPer1000)
			hwmGoal, hwmShown := hwmTarget(p.Sources), "-"
			if hwmGoal > 0 {
				hwmShown = mib(hwmGoal)
			}
			verdict := "met"
			switch {
			case c.CPUPer1000 > goal && hwmGoal > 0 && c.PeakRSSBytes > hwmGoal:
				verdict = "MISSED (CPU, memory)"
			case c.CPUPer1000 > goal:
				verdict = "MISSED (CPU)"
			case hwmGoal > 0 && c.PeakRSSBytes > hwmGoal:
				verdict = "MISSED (memory)"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%.2f\t%.3f\t%.2f\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t\n", p.Sources, p.Command, c.Name,
				c.WallSeconds, c.CPUPer1000, goal, in, mib(c.PeakRSSBytes), hwmShown, c.Fetched, c.NotModified, c.NewItems, c.Alerts, verdict)
		}
	}
	tw.Flush()
	fmt.Fprintf(b, "Wall time includes the Slack sender's pacing of one post a second per channel; below 1,000 sources the\n"+
		"per-1,000 CPU figures carry each process's start-up many times over and no memory target applies.\n")
}
