package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
	"github.com/policywire/policywire/store"
)

// IngestResult is the throughput of store.Ingest with the bench router
// (20 topics, 10 channels) over items parsed beforehand, one batch per
// source as a poll makes it.
type IngestResult struct {
	Items   int `json:"items"`
	Batches int `json:"batches"`
	// New: every item is new (dedup lookups, clustering, archive, outbox).
	// Per second of wall time: each batch is one write transaction, and
	// its commit waits for the disk (two fdatasync calls).
	NewItemsPerSecond    float64 `json:"new_items_per_second"`
	NewItemsPerCPUSecond float64 `json:"new_items_per_cpu_second"`
	NewCPUSeconds        float64 `json:"new_cpu_seconds"`
	Alerts               int     `json:"alerts"`
	// Known: the same batches again, as a poll of unchanged feeds without
	// validators would bring them: all dedup, no write but the state.
	KnownItemsPerSecond    float64 `json:"known_items_per_second"`
	KnownItemsPerCPUSecond float64 `json:"known_items_per_cpu_second"`
	KnownCPUSeconds        float64 `json:"known_cpu_seconds"`
}

// feedBodies renders the first n sources of the world as the fixture
// server serves them before any change.
func (r *runner) feedBodies(n int) ([]feedSource, [][]byte) {
	srcs := make([]feedSource, n)
	bodies := make([][]byte, n)
	for i := range n {
		srcs[i] = newFeedSource(r.opts.Seed, i)
		bodies[i] = srcs[i].render(r.opts.Seed, initialState(srcs[i], r.epoch), r.epoch, "http://127.0.0.1")
	}
	return srcs, bodies
}

func (r *runner) ingest(ctx context.Context) error {
	n := r.opts.IngestSources
	r.progress("ingest: items of %d sources", n)
	srcs, bodies := r.feedBodies(n)
	cfg := benchConfig(n, 8, "http://127.0.0.1", "")
	batches := make([]store.Batch, 0, n)
	items := 0
	for i, body := range bodies {
		src := cfg.Sources[i]
		its, err := sources.Parse(wiring.Source(src), body, src.URL, contentType(srcs[i]), time.UTC)
		if err != nil {
			return fmt.Errorf("bench: parse %s: %w", src.ID, err)
		}
		items += len(its)
		batches = append(batches, store.Batch{Source: src.ID, SourceName: src.Name, Items: its,
			State: store.SourceState{Source: src.ID, FirstPollDone: true}})
	}
	bodies = nil
	router, err := bot.NewRouter(cfg, nil)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	dir, err := r.scratch("ingest")
	if err != nil {
		return err
	}
	st, err := store.Open(filepath.Join(dir, "policywire.db"), store.Options{})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer st.Close()

	res := IngestResult{Items: items, Batches: len(batches)}
	pass := func(count func(store.IngestResult)) (time.Duration, time.Duration, error) {
		cpu0, wall0 := processCPU(), time.Now()
		for _, b := range batches {
			if err := ctx.Err(); err != nil {
				return 0, 0, err
			}
			ir, err := st.Ingest(b, router.Route)
			if err != nil {
				return 0, 0, fmt.Errorf("bench: %w", err)
			}
			count(ir)
		}
		return time.Since(wall0), processCPU().sub(cpu0).total(), nil
	}
	newItems := 0
	wall, cpu, err := pass(func(ir store.IngestResult) {
		newItems += ir.New
		res.Alerts += len(ir.Alerts)
	})
	if err != nil {
		return err
	}
	res.NewItemsPerSecond, res.NewCPUSeconds = float64(items)/wall.Seconds(), cpu.Seconds()
	res.NewItemsPerCPUSecond = float64(items) / max(cpu.Seconds(), 1e-6)
	known := 0
	wall, cpu, err = pass(func(ir store.IngestResult) { known += ir.Unchanged })
	if err != nil {
		return err
	}
	res.KnownItemsPerSecond, res.KnownCPUSeconds = float64(items)/wall.Seconds(), cpu.Seconds()
	res.KnownItemsPerCPUSecond = float64(items) / max(cpu.Seconds(), 1e-6)
	r.progress("  %d items: %.0f new items/s (%.0f per CPU-second), %.0f known items/s, %d alerts",
		items, res.NewItemsPerSecond, res.NewItemsPerCPUSecond, res.KnownItemsPerSecond, res.Alerts)
	if newItems != items {
		r.fail("ingest: %d items, %d counted new on the first pass", items, newItems)
	}
	if known != items {
		r.fail("ingest: %d items, %d counted unchanged on the second pass", items, known)
	}
	if res.Alerts == 0 {
		r.fail("ingest: no item was routed to any channel")
	}
	r.rep.Ingest = res
	return nil
}

func contentType(s feedSource) string {
	if s.atom {
		return "application/atom+xml; charset=utf-8"
	}
	return "application/rss+xml; charset=utf-8"
}
