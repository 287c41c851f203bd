package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
	"github.com/policywire/policywire/store"
)

// ingestFixture is what the ingest measurement feeds to the store: the
// parsed batches of the first n sources of the world, and the router.
type ingestFixture struct {
	batches []store.Batch
	items   int
	router  *bot.Router
}

var (
	ingestFixtureOnce sync.Once
	ingestFixtureVal  ingestFixture
	ingestFixtureErr  error
)

// benchIngestSources is how many sources BenchmarkIngest ingests per op:
// 200, or BENCH_INGEST_SOURCES (1000 is the full bench's figure).
func benchIngestSources() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_INGEST_SOURCES")); err == nil && n > 0 {
		return n
	}
	return 200
}

func loadIngestFixture() (ingestFixture, error) {
	ingestFixtureOnce.Do(func() {
		r := &runner{opts: FullOptions(), epoch: time.Now().Truncate(time.Second)}
		n := benchIngestSources()
		srcs, bodies := r.feedBodies(n)
		cfg := benchConfig(n, 8, "http://127.0.0.1", "")
		f := &ingestFixtureVal
		for i, body := range bodies {
			src := cfg.Sources[i]
			its, err := sources.Parse(wiring.Source(src), body, src.URL, contentType(srcs[i]), time.UTC)
			if err != nil {
				ingestFixtureErr = fmt.Errorf("parse %s: %w", src.ID, err)
				return
			}
			f.items += len(its)
			f.batches = append(f.batches, store.Batch{Source: src.ID, SourceName: src.Name, Items: its,
				State: store.SourceState{Source: src.ID, FirstPollDone: true}})
		}
		f.router, ingestFixtureErr = bot.NewRouter(cfg, nil)
	})
	return ingestFixtureVal, ingestFixtureErr
}

// BenchmarkIngest is the ingest step of the bench alone: every item of
// the first sources of the world, new, into a fresh store, one batch per
// source.
func BenchmarkIngest(b *testing.B) {
	f, err := loadIngestFixture()
	if err != nil {
		b.Fatal(err)
	}
	var elapsed, cpu time.Duration
	alerts := 0
	for i := range b.N {
		b.StopTimer()
		st, err := store.Open(filepath.Join(b.TempDir(), fmt.Sprintf("ingest-%d.db", i)), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		// BENCH_NOSYNC=1 leaves out the fsyncs, to tell CPU cost from disk cost.
		if os.Getenv("BENCH_NOSYNC") != "" {
			st.DB().NoSync = true
		}
		b.StartTimer()
		start, cpu0 := time.Now(), processCPU()
		for _, batch := range f.batches {
			res, err := st.Ingest(batch, f.router.Route)
			if err != nil {
				b.Fatal(err)
			}
			alerts += len(res.Alerts)
		}
		elapsed += time.Since(start)
		cpu += processCPU().sub(cpu0).total()
		b.StopTimer()
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*f.items)/elapsed.Seconds(), "items/s")
	b.ReportMetric(float64(b.N*f.items)/cpu.Seconds(), "items/cpu-s")
	b.ReportMetric(float64(alerts)/float64(b.N*f.items), "alerts/item")
}

// BenchmarkRoute is the router alone over the same items.
func BenchmarkRoute(b *testing.B) {
	f, err := loadIngestFixture()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	n := 0
	for range b.N {
		for _, batch := range f.batches {
			for _, it := range batch.Items {
				f.router.Route(it)
				n++
			}
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "items/s")
}
