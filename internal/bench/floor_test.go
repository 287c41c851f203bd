package bench

import (
	"bytes"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
)

// BenchmarkFloor compares sources.Parse with gofeed alone on the same
// bodies, as the bench's floor step does. Each iteration runs both, one
// after the other, and reports the CPU time of each: on a busy machine
// process CPU time is steadier than wall time, and the ratio of the two,
// measured side by side, steadier still.
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
	b.SetBytes(size)
	var gofeedCPU, parseCPU time.Duration
	for b.Loop() {
		cpu0 := processCPU()
		for _, body := range bodies {
			if _, err := gofeed.NewParser().Parse(bytes.NewReader(body)); err != nil {
				b.Fatal(err)
			}
		}
		cpu1 := processCPU()
		for i, body := range bodies {
			src := wiring.Source(cfg.Sources[i])
			if _, err := sources.Parse(src, body, src.URL, contentType(srcs[i]), time.UTC); err != nil {
				b.Fatal(err)
			}
		}
		gofeedCPU += cpu1.sub(cpu0).total()
		parseCPU += processCPU().sub(cpu1).total()
	}
	b.ReportMetric(float64(gofeedCPU.Nanoseconds())/float64(b.N), "gofeed-cpu-ns/op")
	b.ReportMetric(float64(parseCPU.Nanoseconds())/float64(b.N), "parse-cpu-ns/op")
	b.ReportMetric(parseCPU.Seconds()/gofeedCPU.Seconds(), "parse/gofeed")
}
