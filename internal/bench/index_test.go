package bench

import (
	"testing"

	"github.com/policywire/policywire/store/index"
)

// BenchmarkIndexItems is what the search index costs a first poll: the
// items of 40 synthetic sources (full articles of about 3 KB) written in
// batches of about a megabyte of text, as the poller's batches are, into a
// fresh index. One op is the whole set; items per CPU-second are reported.
func BenchmarkIndexItems(b *testing.B) {
	items := benchItems(b, 40)
	b.ResetTimer()
	var cpu float64
	for b.Loop() {
		b.StopTimer()
		idx, err := index.Open(b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu0 := processCPU()
		for start := 0; start < len(items); {
			end, text := start, 0
			for end < len(items) && text < 1<<20 {
				text += len(items[end].Title) + len(items[end].Summary) + len(items[end].Content)
				end++
			}
			if err := idx.Index(items[start:end]); err != nil {
				b.Fatal(err)
			}
			start = end
		}
		if err := idx.Close(); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU().sub(cpu0).total().Seconds()
	}
	b.ReportMetric(float64(len(items)*b.N)/cpu, "items/CPU-s")
	b.ReportMetric(float64(len(items)), "items/op")
}
