package bench

import (
	"bytes"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/policywire/policywire/sources"
)

// BenchmarkFloor compares sources.Parse with gofeed alone on the same
// bodies, as the bench's floor step does; the ratio of the two is the
// figure to watch, since absolute times vary with the machine's load.
// cpu-ns/op is the process's CPU time, which other processes on a busy
// machine stretch less than wall time.
//
//	go test -run '^$' -bench Floor -cpu 1 -count 5 ./internal/bench/
func BenchmarkFloor(b *testing.B) {
	const n = 40
	r := &runner{opts: FullOptions(), epoch: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	srcs, bodies := r.feedBodies(n)
	cfg := benchConfig(n, 8, "http://127.0.0.1", "")
	var size int64
	for _, body := range bodies {
		size += int64(len(body))
	}
	b.Run("gofeed", func(b *testing.B) {
		b.SetBytes(size)
		defer reportCPU(b, processCPU())
		for b.Loop() {
			for _, body := range bodies {
				if _, err := gofeed.NewParser().Parse(bytes.NewReader(body)); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.SetBytes(size)
		defer reportCPU(b, processCPU())
		for b.Loop() {
			for i, body := range bodies {
				src := cfg.Sources[i]
				if _, err := sources.Parse(src, body, src.URL, contentType(srcs[i]), time.UTC); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// reportCPU reports the CPU time used since cpu0 per iteration.
func reportCPU(b *testing.B, cpu0 cpuUsage) {
	b.ReportMetric(float64(processCPU().sub(cpu0).total().Nanoseconds())/float64(b.N), "cpu-ns/op")
}
