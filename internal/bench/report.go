package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything one Run measured.
type Report struct {
	Command string `json:"command,omitempty"`
	Quick   bool   `json:"quick"`
	// ProcessOnly marks a report of the whole-process figures alone.
	ProcessOnly bool          `json:"process_only,omitempty"`
	Started     time.Time     `json:"started"`
	Seconds     float64       `json:"seconds"`
	Machine     Machine       `json:"machine"`
	Fixtures    string        `json:"fixtures"` // "child process" or "in-process"
	Pipeline    []PipelineRun `json:"pipeline"`
	// Processes are the whole-process figures of the policywire binary.
	Processes []ProcessRun  `json:"processes"`
	Ingest    IngestResult  `json:"ingest"`
	Floor     Floor         `json:"floor"`
	Search    []SearchRun   `json:"search"`
	Encrypt   EncryptResult `json:"encrypt"`
	// MaxRSSBytes is getrusage's peak resident size of the whole run.
	MaxRSSBytes int64          `json:"maxrss_bytes"`
	Targets     []Target       `json:"targets"`
	Results     []TargetResult `json:"target_results"`
	// Failures are the ways the pipeline misbehaved; empty on success.
	Failures []string `json:"failures"`
}

// Machine describes where the bench ran.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	MemoryMiB int64  `json:"memory_mib"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	// LoadStart and LoadEnd are /proc/loadavg when the run began and
	// ended: other work on the machine stretches wall times.
	LoadStart string `json:"load_start,omitempty"`
	LoadEnd   string `json:"load_end,omitempty"`
	// MemoryLimitMiB is the Go runtime's soft memory limit during the run
	// (policywire run sets the same; 0 when there is none).
	MemoryLimitMiB int64 `json:"memory_limit_mib"`
}

// Target is a figure the bench is compared against; none is asserted.
type Target struct {
	Name string `json:"name"`
	Goal string `json:"goal"`
}

// TargetResult is one target with the figure measured for it.
type TargetResult struct {
	Target
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
	Known    bool   `json:"known"` // false when the run did not measure it
}

// Targets are the figures policywire aims for on two cores.
func Targets() []Target {
	return []Target{
		{"cold poll CPU", "under 3x the gofeed floor"},
		{"304 cycle CPU", "under 0.3 CPU-s per 1,000 sources"},
		{"10% changed CPU", "under 1 CPU-s per 1,000 sources"},
		{"ingest", "over 20,000 items/s"},
		{"resident memory", "under 300 MB with 10,000 sources and 1,000,000 archived items"},
		{"search p99", "under 50 ms at 1,000,000 items"},
		{"change to message", "under 1 s beyond the schedule tick (poll-to-message p99)"},
		{"encryption per alert", "under 5 ms per alert to an encrypted Matrix room (p99)"},
	}
}

func (rep *Report) evaluate() {
	rep.Results = nil
	t := Targets()
	add := func(i int, known, met bool, format string, args ...any) {
		rep.Results = append(rep.Results, TargetResult{Target: t[i], Measured: fmt.Sprintf(format, args...), Met: known && met, Known: known})
	}
	worst := func(cycle int) (float64, string) {
		w, label := -1.0, ""
		for _, p := range rep.Pipeline {
			if cycle < len(p.Cycles) && p.Cycles[cycle].CPUPer1000 > w {
				w, label = p.Cycles[cycle].CPUPer1000, fmt.Sprintf("%d sources, conc %d", p.Sources, p.Concurrency)
			}
		}
		return w, label
	}
	cold, coldAt := worst(0)
	floor := rep.Floor.GofeedCPUPer1000
	add(0, cold >= 0 && floor > 0, cold < 3*floor, "%.2f CPU-s vs floor %.2f: %.1fx (worst: %s)", cold, floor, cold/max(floor, 1e-9), coldAt)
	steady, steadyAt := worst(1)
	add(1, steady >= 0, steady < 0.3, "%.3f CPU-s (worst: %s)", steady, steadyAt)
	changed, changedAt := worst(2)
	add(2, changed >= 0, changed < 1, "%.3f CPU-s (worst: %s)", changed, changedAt)
	add(3, rep.Ingest.Items > 0, rep.Ingest.NewItemsPerSecond > 20000, "%.0f new items/s (%.0f per CPU-second)", rep.Ingest.NewItemsPerSecond, rep.Ingest.NewItemsPerCPUSecond)

	// The peak of the whole run is the cold poll's, every source's whole
	// archive at once; the later cycles show what polling costs after it.
	var pipeRSS, pipeAnon, laterRSS, laterAnon int64
	big := 0
	for _, p := range rep.Pipeline {
		if p.Sources >= big {
			big = p.Sources
			pipeRSS, pipeAnon = max(pipeRSS, p.PeakRSSBytes), max(pipeAnon, p.PeakAnonRSSBytes)
			for _, c := range p.Cycles[min(1, len(p.Cycles)):] {
				laterRSS, laterAnon = max(laterRSS, c.PeakRSSBytes), max(laterAnon, c.PeakAnonRSSBytes)
			}
		}
	}
	var searchRSS, searchAnon int64
	largest := 0
	var largestRun SearchRun
	for _, s := range rep.Search {
		if s.Skipped == "" && s.Items >= largest {
			largest, largestRun = s.Items, s
		}
		searchRSS, searchAnon = max(searchRSS, s.PeakRSSBytes), max(searchAnon, s.PeakAnonRSSBytes)
	}
	add(4, big >= 10000 && largest >= 1_000_000, max(pipeRSS, searchRSS) < 300<<20,
		"peak VmRSS %s (anon %s) with %d sources, %s (anon %s) after the first poll; %s (anon %s) with %d archived items",
		mib(pipeRSS), mib(pipeAnon), big, mib(laterRSS), mib(laterAnon), mib(searchRSS), mib(searchAnon), largest)
	add(5, largest >= 1_000_000, largestRun.Latency.P99 < 50, "p99 %.1f ms at %d items", largestRun.Latency.P99, largest)
	var p99 float64
	for _, p := range rep.Pipeline {
		p99 = max(p99, p.PollToMessage.P99)
	}
	add(6, len(rep.Pipeline) > 0, p99 < 1000, "poll-to-message p99 %.0f ms (worst run)", p99)
	e := rep.Encrypt
	add(7, e.Alerts > 0, e.PerAlert.P99 < 5, "p99 %.2f ms, mean %.2f ms over %d alerts", e.PerAlert.P99, e.MeanMS, e.Alerts)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	rep.evaluate()
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteTable writes the report as readable tables (Markdown).
func (rep *Report) WriteTable(w io.Writer) error {
	rep.evaluate()
	var b bytes.Buffer
	m := rep.Machine
	kind := "full"
	if rep.Quick {
		kind = "quick"
	}
	fmt.Fprintf(&b, "policywire bench (%s run), %s, %.0f s\n", kind, rep.Started.Format("2006-01-02 15:04 MST"), rep.Seconds)
	fmt.Fprintf(&b, "machine: %d CPUs, %s, %d MiB, %s, %s; fixture server: %s\n", m.CPUs, m.CPUModel, m.MemoryMiB, m.GoVersion, m.OS, rep.Fixtures)
	limit := "none"
	if m.MemoryLimitMiB > 0 {
		limit = fmt.Sprintf("%d MiB", m.MemoryLimitMiB)
	}
	fmt.Fprintf(&b, "load average at start: %s; at end: %s; Go soft memory limit: %s\n\n", m.LoadStart, m.LoadEnd, limit)

	if rep.ProcessOnly {
		rep.writeProcessTable(&b)
		rep.writeChecks(&b)
		_, err := w.Write(b.Bytes())
		return err
	}
	b.WriteString("Pipeline, per 1,000 sources (fetch, parse, summarize, ingest, index, deliver to the sink):\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "sources\tconc\tcycle\twall s/1k\tCPU s/1k\tof which after last alert\tfetched\t304\tMB read\tnew items\talerts\tpeak VmRSS\tof it anon\t")
	for _, p := range rep.Pipeline {
		for _, c := range p.Cycles {
			per := float64(c.Sources) / 1000
			fmt.Fprintf(tw, "%d\t%d\t%s\t%.2f\t%.3f\t%.3f\t%d\t%d\t%.1f\t%d\t%d\t%s\t%s\t\n", p.Sources, p.Concurrency, c.Name,
				c.WallPer1000, c.CPUPer1000, c.BackgroundCPUSeconds/per, c.Fetched, c.NotModified, float64(c.BodyBytes)/1e6, c.NewItems, c.Alerts,
				mib(c.PeakRSSBytes), mib(c.PeakAnonRSSBytes))
		}
	}
	tw.Flush()

	b.WriteString("\nLatency of the changed cycle, and memory:\n\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 1, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "sources\tconc\talerts\tchange→msg p50\tp95\tp99\tpoll→msg p50\tp99\tpeak VmRSS\tof it anon\tmaxrss\tarchived\tdb\tindex\tfixture CPU s\t")
	for _, p := range rep.Pipeline {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.0f ms\t%.0f ms\t%.0f ms\t%.0f ms\t%.0f ms\t%s\t%s\t%s\t%d\t%s\t%s\t%.1f\t\n", p.Sources, p.Concurrency,
			p.ChangeToMessage.Count, p.ChangeToMessage.P50, p.ChangeToMessage.P95, p.ChangeToMessage.P99,
			p.PollToMessage.P50, p.PollToMessage.P99, mib(p.PeakRSSBytes), mib(p.PeakAnonRSSBytes), mib(p.MaxRSSBytes), p.ArchivedItems,
			mib(p.StoreBytes), mib(p.IndexBytes), p.FixtureCPUSeconds)
	}
	tw.Flush()

	rep.writeProcessTable(&b)

	in := rep.Ingest
	fmt.Fprintf(&b, "\nIngest (store.Ingest + bot.Router, 20 topics, 10 channels), %d items in %d batches of one source each:\n", in.Items, in.Batches)
	fmt.Fprintf(&b, "  new:   %.0f items/s, %.0f items per CPU-second, %d alerts written\n", in.NewItemsPerSecond, in.NewItemsPerCPUSecond, in.Alerts)
	fmt.Fprintf(&b, "  known: %.0f items/s, %.0f items per CPU-second\n", in.KnownItemsPerSecond, in.KnownItemsPerCPUSecond)
	f := rep.Floor
	fmt.Fprintf(&b, "Floor: gofeed alone over %d bodies (%.1f MB, %d items): %.2f CPU-s per 1,000 sources; sources.Parse %.2f; cold poll / gofeed = %.1fx (%s)\n",
		f.Sources, float64(f.BodyBytes)/1e6, f.Items, f.GofeedCPUPer1000, f.ParseCPUPer1000, f.ColdOverGofeed, f.ColdPipelineLabel)

	b.WriteString("\nSearch (limit 5, one search at a time):\n\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 1, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "items\tbuild items/s\tbuild CPU s\tindex on disk\tsearches\tp50\tp95\tp99\tmax\tpeak VmRSS\tof it anon\t")
	for _, s := range rep.Search {
		if s.Skipped != "" {
			fmt.Fprintf(tw, "%d\tskipped\t\t\t\t\t\t\t\t\t\t\n", s.Items)
			continue
		}
		fmt.Fprintf(tw, "%d\t%.0f\t%.1f\t%s\t%d\t%.1f ms\t%.1f ms\t%.1f ms\t%.1f ms\t%s\t%s\t\n", s.Items, s.BuildItemsPerSec, s.BuildCPUSeconds,
			mib(s.IndexBytes), s.Searches, s.Latency.P50, s.Latency.P95, s.Latency.P99, s.Latency.Max, mib(s.PeakRSSBytes), mib(s.PeakAnonRSSBytes))
	}
	tw.Flush()
	for _, s := range rep.Search {
		if s.Skipped != "" {
			fmt.Fprintf(&b, "%d items skipped: %s\n", s.Items, s.Skipped)
		}
	}
	e := rep.Encrypt
	if e.Skipped != "" {
		fmt.Fprintf(&b, "\nMatrix encryption: not measured: %s\n", e.Skipped)
	} else {
		fmt.Fprintf(&b, "\nMatrix encryption per alert (Megolm + the crypto store's write; rendering and sending are a plain room's too), %d alerts: mean %.2f ms, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
			e.Alerts, e.MeanMS, e.PerAlert.P50, e.PerAlert.P99, e.PerAlert.Max)
	}
	fmt.Fprintf(&b, "\nProcess peak resident size (getrusage maxrss): %s\n", mib(rep.MaxRSSBytes))

	b.WriteString("\nTargets (figures, not assertions):\n\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "target\tgoal\tmeasured\tverdict\t")
	for _, r := range rep.Results {
		verdict := "met"
		switch {
		case !r.Known:
			verdict = "not measured in this run"
		case !r.Met:
			verdict = "MISSED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", r.Name, r.Goal, r.Measured, verdict)
	}
	tw.Flush()
	rep.writeChecks(&b)
	_, err := w.Write(b.Bytes())
	return err
}

func (rep *Report) writeChecks(b *bytes.Buffer) {
	if len(rep.Failures) == 0 {
		b.WriteString("\nChecks: passed (every alert at the sink exactly once, 304 cycle silent, no source failed)\n")
	} else {
		fmt.Fprintf(b, "\nChecks: FAILED (%d):\n", len(rep.Failures))
		for _, f := range rep.Failures {
			fmt.Fprintf(b, "  - %s\n", f)
		}
	}
}

func describeMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
				m.MemoryMiB = kb / 1024
			}
		}
	}
	m.LoadStart = loadAverage()
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
		m.MemoryLimitMiB = limit >> 20
	}
	if m.CPUModel == "" {
		m.CPUModel = "unknown CPU"
	}
	return m
}

// loadAverage is the first three fields of /proc/loadavg, or "".
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
