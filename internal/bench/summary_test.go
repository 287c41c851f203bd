package bench

import (
	"context"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
	"github.com/policywire/policywire/summary"
)

// benchItems parses the bodies of the first n synthetic sources, as a cold
// poll reads them.
func benchItems(tb testing.TB, n int) []policywire.Item {
	tb.Helper()
	r := &runner{opts: Options{Seed: 20260101}, epoch: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	srcs, bodies := r.feedBodies(n)
	cfg := benchConfig(n, 8, "http://127.0.0.1", "")
	var items []policywire.Item
	for i, b := range bodies {
		its, err := sources.Parse(wiring.Source(cfg.Sources[i]), b, cfg.Sources[i].URL, contentType(srcs[i]), time.UTC)
		if err != nil {
			tb.Fatal(err)
		}
		items = append(items, its...)
	}
	return items
}

// BenchmarkReferences is what archiving an item costs beyond storing it:
// looking for policy references in its title, summary and the lead of its
// content. One op is one item.
func BenchmarkReferences(b *testing.B) {
	items := benchItems(b, 40)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		it := items[i%len(items)]
		summary.References(it.Title + "\n" + it.Summary + "\n" + it.Content)
	}
}

// BenchmarkSummarize is what a posted item costs in summaries: the
// extractive summary of its own text and its references. One op is one
// item.
func BenchmarkSummarize(b *testing.B) {
	items := benchItems(b, 40)
	s := summary.New(summary.Options{})
	topics := []string{"cyber", "digital", "sanctions"}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Summarize(ctx, items[i%len(items)], topics); err != nil {
			b.Fatal(err)
		}
	}
}
