package bench

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
)

// Floor is what parsing alone costs: gofeed over the bodies of the cold
// poll, one after the other, and the same bodies through sources.Parse
// (gofeed plus normalization into items).
type Floor struct {
	Sources           int     `json:"sources"`
	BodyBytes         int64   `json:"body_bytes"`
	Items             int     `json:"items"`
	GofeedCPUSeconds  float64 `json:"gofeed_cpu_seconds"`
	GofeedCPUPer1000  float64 `json:"gofeed_cpu_seconds_per_1000_sources"`
	ParseCPUSeconds   float64 `json:"parse_cpu_seconds"`
	ParseCPUPer1000   float64 `json:"parse_cpu_seconds_per_1000_sources"`
	ColdOverGofeed    float64 `json:"cold_over_gofeed"` // cold-poll CPU per 1,000 sources (first run) over the gofeed floor
	ColdPipelineLabel string  `json:"cold_pipeline"`
}

func (r *runner) floor(ctx context.Context) error {
	n := r.opts.FloorSources
	r.progress("floor: gofeed over the bodies of %d sources", n)
	srcs, bodies := r.feedBodies(n)
	var f Floor
	f.Sources = n
	for _, b := range bodies {
		f.BodyBytes += int64(len(b))
	}
	settle()
	cpu0 := processCPU()
	for i, b := range bodies {
		if i%100 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		feed, err := gofeed.NewParser().Parse(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("bench: gofeed on %s: %w", srcs[i].id, err)
		}
		f.Items += len(feed.Items)
	}
	f.GofeedCPUSeconds = processCPU().sub(cpu0).total().Seconds()
	cfg := benchConfig(n, 8, "http://127.0.0.1", "")
	settle()
	cpu0 = processCPU()
	for i, b := range bodies {
		src := wiring.Source(cfg.Sources[i])
		if _, err := sources.Parse(src, b, src.URL, contentType(srcs[i]), time.UTC); err != nil {
			return fmt.Errorf("bench: parse %s: %w", src.ID, err)
		}
	}
	f.ParseCPUSeconds = processCPU().sub(cpu0).total().Seconds()
	per := float64(n) / 1000
	f.GofeedCPUPer1000, f.ParseCPUPer1000 = f.GofeedCPUSeconds/per, f.ParseCPUSeconds/per
	for _, p := range r.rep.Pipeline {
		if len(p.Cycles) > 0 && f.GofeedCPUPer1000 > 0 {
			f.ColdOverGofeed = p.Cycles[0].CPUPer1000 / f.GofeedCPUPer1000
			f.ColdPipelineLabel = fmt.Sprintf("%d sources, concurrency %d", p.Sources, p.Concurrency)
			break
		}
	}
	r.progress("  %.1f MB: gofeed %.2f CPU-s, sources.Parse %.2f CPU-s", float64(f.BodyBytes)/1e6, f.GofeedCPUSeconds, f.ParseCPUSeconds)
	r.rep.Floor = f
	return nil
}
