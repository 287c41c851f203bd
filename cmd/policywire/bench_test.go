package main

import (
	"encoding/json"
	"testing"

	"github.com/policywire/policywire/internal/bench"
)

// TestBenchWholeProcess runs the whole-process part of the bench: the
// binary's run --once and daemon as children over loopback fixtures. The
// figures must be read from the children (CPU time and VmHWM), and every
// cycle must have polled every source with the outcome it should have.
func TestBenchWholeProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary as a daemon for three cycles")
	}
	const sources = 10
	rep := runBench(t, "--quick", "--process-only", "--process-sources", "10")
	if len(rep.Processes) != 2 || rep.Processes[0].Command != "run --once" || rep.Processes[1].Command != "run" {
		t.Fatalf("whole-process runs: %+v", rep.Processes)
	}
	for _, p := range rep.Processes {
		if len(p.Cycles) != 3 {
			t.Fatalf("%s: cycles %+v", p.Command, p.Cycles)
		}
		cold, steady, changed := p.Cycles[0], p.Cycles[1], p.Cycles[2]
		if cold.Fetched != sources || cold.NewItems == 0 || cold.Alerts == 0 || cold.Delivered != cold.Alerts {
			t.Errorf("%s cold: %+v", p.Command, cold)
		}
		if steady.NotModified != sources || steady.NewItems != 0 || steady.Alerts != 0 {
			t.Errorf("%s steady: %+v", p.Command, steady)
		}
		// 10% of ten sources changed: one.
		if changed.Fetched != 1 || changed.NotModified != sources-1 || changed.NewItems == 0 {
			t.Errorf("%s changed: %+v", p.Command, changed)
		}
		for _, c := range p.Cycles {
			// A Go process that opened a database holds more than 10 MiB,
			// and any poll takes some CPU time.
			if c.CPUSeconds <= 0 || c.PeakRSSBytes < 10<<20 {
				t.Errorf("%s %s: CPU %.3f s, VmHWM %d bytes", p.Command, c.Name, c.CPUSeconds, c.PeakRSSBytes)
			}
		}
	}
}

// A size of 0 in --search-sizes means no search figures, as 0 in
// --process-sources means no whole-process ones: it must not search an
// archive it never built and report a failure of the index.
func TestBenchSearchSizeZeroSkipsSearch(t *testing.T) {
	rep := runBench(t, "--quick", "--sources", "5", "--process-sources", "0", "--search-sizes", "0")
	if len(rep.Search) != 0 {
		t.Fatalf("search figures for --search-sizes 0: %+v", rep.Search)
	}
}

// runBench runs policywire bench with args and --json, and returns its
// report after checking that it exited 0 and found nothing wrong.
func runBench(t *testing.T, args ...string) bench.Report {
	t.Helper()
	res := runBinary(t, t.TempDir(), nil, append(append([]string{"bench"}, args...), "--json")...)
	if res.code != 0 {
		t.Fatalf("bench exited %d\nstderr:\n%s", res.code, res.stderr)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, res.stdout)
	}
	if len(rep.Failures) != 0 {
		t.Fatalf("failures: %v", rep.Failures)
	}
	return rep
}
