// Package bench measures policywire end to end, offline: it serves
// thousands of synthetic RSS and Atom sources from a loopback fixture
// server (in a child process, so the figures are the pipeline's alone),
// runs the real bot pipeline over them — fetcher, parser, summarizer,
// store, router, search index, outbox dispatcher and the real Slack sender
// posting to a loopback sink that speaks chat.postMessage — and reports
// wall time, CPU time, memory, ingest throughput, change-to-message
// latency, the gofeed parsing floor and search latencies. It asserts
// nothing about speed, but it fails when the pipeline misbehaves: an alert
// missing at the sink or posted twice, a 304 cycle that alerts, a source
// that fails. It owns no product behaviour and nothing in the product
// depends on it.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"
)

// Options choose what the bench measures. Zero fields take the full run's
// values; QuickOptions gives the reduced run.
type Options struct {
	// Runs are the pipeline runs: a number of synthetic sources and a
	// fetch.concurrency each. CrossRuns makes them from lists.
	Runs []RunSpec
	// ChangedShare is the share of sources that publish in the changed cycle.
	ChangedShare float64
	// IngestSources is how many sources' items go through the ingest
	// measurement; FloorSources how many bodies gofeed parses for the floor.
	IngestSources int
	FloorSources  int
	// SearchSizes are the archive sizes searched, built one after the
	// other in the same index; SearchQueries how many searches each runs.
	SearchSizes   []int
	SearchQueries int
	// SearchBudget stops growing the archive when the next size would
	// take longer to build than what is left of it (0: no limit).
	SearchBudget time.Duration
	// Seed makes the synthetic world; the same seed gives the same bodies.
	Seed uint64
	// Spawn starts the fixture server in another process (nil: in this
	// process, which then counts the server's CPU time and memory too).
	Spawn Spawner
	// Dir holds the databases and indexes (a temporary directory if empty;
	// removed at the end either way).
	Dir string
	// Progress receives one line per step (nil: none).
	Progress io.Writer
	// CPUProfile and MemProfile, when set, receive pprof profiles of the
	// whole run (the heap profile is taken at the end).
	CPUProfile io.Writer
	MemProfile io.Writer
	// HeapProfile, when set, receives the in-use heap as it was near the
	// run's highest anonymous memory.
	HeapProfile io.Writer
	// Exe is the policywire binary whose whole-process figures are taken
	// (run --once and the daemon, as children); "" skips them.
	Exe string
	// ProcessSources are the numbers of sources the whole-process figures
	// are taken over; DaemonPeriod is the daemon's schedule for its steady
	// and changed cycles, longer than one cycle takes.
	ProcessSources []int
	DaemonPeriod   time.Duration
	// ProcessOnly skips everything but the whole-process figures.
	ProcessOnly bool
	// Quick marks the report as the reduced run.
	Quick bool
	// Command is the command line shown in the report.
	Command string
}

// RunSpec is one pipeline run.
type RunSpec struct {
	Sources     int `json:"sources"`
	Concurrency int `json:"concurrency"`
}

// CrossRuns is every number of sources with every concurrency.
func CrossRuns(sources, concurrency []int) []RunSpec {
	var out []RunSpec
	for _, n := range sources {
		for _, c := range concurrency {
			out = append(out, RunSpec{Sources: n, Concurrency: c})
		}
	}
	return out
}

// FullOptions are the figures BENCHMARKS.md reports.
func FullOptions() Options {
	return Options{
		// Concurrency 32 runs at 1,000 sources only: on two cores the
		// pipeline is CPU-bound well before 8 fetches at a time, and a
		// second cold poll of 10,000 sources would double the run's length.
		Runs:          []RunSpec{{1000, 8}, {1000, 32}, {10000, 8}},
		ChangedShare:  0.10,
		IngestSources: 1000,
		FloorSources:  1000,
		SearchSizes:   []int{10_000, 100_000, 1_000_000},
		SearchQueries: 400,
		SearchBudget:  15 * time.Minute,
		Seed:          20260101,
		// The table is per 1,000 sources; the daemon's cycles
		// are a period apart, and a steady cycle of 1,000 sources takes a
		// few seconds even on a loaded machine.
		ProcessSources: []int{1000},
		DaemonPeriod:   30 * time.Second,
	}
}

// QuickOptions run in well under a minute on two cores, for CI.
func QuickOptions() Options {
	o := FullOptions()
	o.Runs = []RunSpec{{200, 8}}
	o.IngestSources = 200
	o.FloorSources = 200
	o.SearchSizes = []int{2_000, 10_000}
	o.SearchQueries = 200
	o.SearchBudget = 0
	// Only that the whole-process measurement works: its cold poll waits
	// for the Slack sender's pacing of one post a second per channel.
	o.ProcessSources = []int{50}
	o.DaemonPeriod = 6 * time.Second
	o.Quick = true
	return o
}

func (o *Options) fill() {
	d := FullOptions()
	if len(o.Runs) == 0 {
		o.Runs = d.Runs
	}
	if o.ChangedShare <= 0 {
		o.ChangedShare = d.ChangedShare
	}
	if o.IngestSources <= 0 {
		o.IngestSources = d.IngestSources
	}
	if o.FloorSources <= 0 {
		o.FloorSources = d.FloorSources
	}
	if o.SearchQueries <= 0 {
		o.SearchQueries = d.SearchQueries
	}
	if o.Seed == 0 {
		o.Seed = d.Seed
	}
	if o.DaemonPeriod <= 0 {
		o.DaemonPeriod = d.DaemonPeriod
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// ErrMisbehaved is wrapped by the error Run returns when the pipeline did
// something wrong; the report lists what.
var ErrMisbehaved = errors.New("bench: the pipeline misbehaved")

// Run measures everything opts asks for and returns the report. The error
// wraps ErrMisbehaved when a check failed (the report is complete then),
// and is another error when the bench itself could not run.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts.fill()
	started := time.Now()
	rep := &Report{
		Command:     opts.Command,
		Quick:       opts.Quick,
		ProcessOnly: opts.ProcessOnly,
		Machine:     describeMachine(),
		Targets:     Targets(),
		Started:     started.UTC(),
		Fixtures:    "in-process",
	}
	if opts.Spawn != nil {
		rep.Fixtures = "child process"
	}
	dir := opts.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "policywire-bench-")
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		dir = tmp
		defer os.RemoveAll(tmp)
	}
	if opts.CPUProfile != nil {
		if err := pprof.StartCPUProfile(opts.CPUProfile); err != nil {
			return nil, fmt.Errorf("bench: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	rss := startRSSSampler(20*time.Millisecond, opts.HeapProfile != nil)
	defer rss.stop()
	r := &runner{opts: opts, dir: dir, rss: rss, rep: rep, epoch: started.Truncate(time.Second)}

	steps := []struct {
		name string
		run  func(context.Context) error
	}{{"pipeline", r.pipelines}, {"process", r.processes}, {"ingest", r.ingest}, {"floor", r.floor}, {"search", r.search}, {"encrypt", r.encrypt}}
	for _, step := range steps {
		if opts.ProcessOnly && step.name != "process" {
			continue
		}
		var err error
		// A CPU profile of the run can be cut by step: -tagfocus phase=ingest.
		pprof.Do(ctx, pprof.Labels("phase", step.name), func(ctx context.Context) { err = step.run(ctx) })
		if err != nil {
			return rep, err
		}
		settle()
	}
	rep.MaxRSSBytes = maxRSS()
	rep.Machine.LoadEnd = loadAverage()
	rep.Seconds = time.Since(started).Seconds()
	if opts.MemProfile != nil {
		runtime.GC()
		if err := pprof.Lookup("allocs").WriteTo(opts.MemProfile, 0); err != nil {
			return rep, fmt.Errorf("bench: memory profile: %w", err)
		}
	}
	if opts.HeapProfile != nil {
		heap, anon := rss.heapAtPeak()
		if _, err := opts.HeapProfile.Write(heap); err != nil {
			return rep, fmt.Errorf("bench: heap profile: %w", err)
		}
		r.progress("heap profile taken at %s of anonymous memory", mib(anon))
	}
	if len(rep.Failures) > 0 {
		return rep, fmt.Errorf("%w: %s", ErrMisbehaved, strings.Join(rep.Failures, "; "))
	}
	return rep, nil
}

// runner carries one Run's state.
type runner struct {
	opts  Options
	dir   string
	rss   *rssSampler
	rep   *Report
	epoch time.Time
}

// spawn starts a fixture server.
func (r *runner) spawn(ctx context.Context, cfg FixtureConfig) (string, func() (time.Duration, error), error) {
	if r.opts.Spawn != nil {
		return r.opts.Spawn(ctx, cfg)
	}
	return inProcess(ctx, cfg)
}

func (r *runner) progress(format string, args ...any) {
	fmt.Fprintf(r.opts.Progress, "bench: "+format+"\n", args...)
}

func (r *runner) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.rep.Failures = append(r.rep.Failures, msg)
	r.progress("FAILED: %s", msg)
}

// scratch makes a fresh directory for one measurement.
func (r *runner) scratch(name string) (string, error) {
	d := filepath.Join(r.dir, name)
	if err := os.RemoveAll(d); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	if err := os.MkdirAll(d, 0o750); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	return d, nil
}

// settle returns freed memory to the system so that the next step's
// resident-size samples are its own.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
}

// walkSize adds up size(fi) over the regular files under dir.
func walkSize(dir string, size func(os.FileInfo) int64) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			n += size(fi)
		}
		return nil
	})
	return n
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
