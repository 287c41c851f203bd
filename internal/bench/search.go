package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/query"
	"github.com/policywire/policywire/store/index"
)

// SearchRun is the search index at one archive size: how fast it was built
// (from the previous size), its size on disk, and search latencies.
type SearchRun struct {
	Items            int     `json:"items"`
	BuildItems       int     `json:"build_items"` // items added to reach this size
	BuildSeconds     float64 `json:"build_seconds"`
	BuildCPUSeconds  float64 `json:"build_cpu_seconds"`
	BuildItemsPerSec float64 `json:"build_items_per_second"`
	IndexBytes       int64   `json:"index_bytes"`
	Searches         int     `json:"searches"`
	Latency          Latency `json:"latency"`
	PeakRSSBytes     int64   `json:"peak_rss_bytes"`
	PeakAnonRSSBytes int64   `json:"peak_anon_rss_bytes"`
	Skipped          string  `json:"skipped,omitempty"`
	AverageHits      float64 `json:"average_hits"`
}

// searchQueries are what people type in chat: words, prefixes, phrases,
// fields and boolean combinations, in the three languages of the corpus.
var searchQueries = []string{
	`cyber*`,
	`"digital diplomacy"`,
	`sanctions Russia`,
	`title:budget`,
	`Rohstoffe OR "raw materials" OR "matières premières"`,
	`lang:fr pêche`,
	`lang:de Datenschutz`,
	`"artificial intelligence" -consultation`,
	`migration AND asylum`,
	`Council conclusions`,
	`ref:"IP/24/1234"`,
	`Mercosur OR trade`,
	`semiconductor* OR Halbleiter`,
	`"rule of law" OR Rechtsstaatlichkeit`,
	`hydrogen`,
	`title:(Commission AND consultation)`,
	`humanitar* Sudan`,
	`"Western Balkans" enlargement`,
	`Kommission Bericht`,
	`Conseil accord`,
	`energy -prices`,
	`space*`,
	`"public health" preparedness`,
	`Tokyo`,
	`source:archive-042`,
	`wine`,
	`"online platforms" OR "plateformes en ligne"`,
	`Luxemburg OR Luxembourg`,
	`tech ambassadors`,
	`climat* OR Klima*`,
}

func (r *runner) search(ctx context.Context) error {
	sizes := append([]int(nil), r.opts.SearchSizes...)
	sort.Ints(sizes)
	if len(sizes) == 0 {
		return nil
	}
	r.progress("search: archives of %v items", sizes)
	dir, err := r.scratch("search")
	if err != nil {
		return err
	}
	idx, err := index.Open(filepath.Join(dir, "index"), discardLogger())
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer idx.Close()
	queries := make([]*query.Query, len(searchQueries))
	for i, s := range searchQueries {
		if queries[i], err = query.Parse(s); err != nil {
			return fmt.Errorf("bench: search query %q: %w", s, err)
		}
	}
	start := time.Now()
	seed := r.opts.Seed ^ 0xa7c41e
	have := 0
	rate := 0.0
	r.rss.takePeak()
	for _, size := range sizes {
		run := SearchRun{Items: size, BuildItems: size - have}
		if r.opts.SearchBudget > 0 && rate > 0 {
			need := time.Duration(float64(size-have) / rate * float64(time.Second))
			if left := r.opts.SearchBudget - time.Since(start); need > left {
				run.Skipped = fmt.Sprintf("building %d more items at %.0f items/s would take about %s, more than the %s left of the search budget",
					size-have, rate, need.Round(time.Second), left.Round(time.Second))
				r.progress("  %d items: skipped: %s", size, run.Skipped)
				r.rep.Search = append(r.rep.Search, run)
				continue
			}
		}
		cpu0, wall0 := processCPU(), time.Now()
		const chunk = 2000
		batch := make([]policywire.Item, 0, chunk)
		for i := have; i < size; i++ {
			batch = append(batch, archiveItem(seed, i, r.epoch))
			if len(batch) == chunk || i == size-1 {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := idx.Index(batch); err != nil {
					return fmt.Errorf("bench: %w", err)
				}
				batch = batch[:0]
			}
		}
		wall := time.Since(wall0)
		run.BuildSeconds, run.BuildCPUSeconds = wall.Seconds(), processCPU().sub(cpu0).total().Seconds()
		run.BuildItemsPerSec = float64(run.BuildItems) / wall.Seconds()
		rate = run.BuildItemsPerSec
		have = size
		if count, err := idx.Count(); err != nil {
			return fmt.Errorf("bench: %w", err)
		} else if int(count) != size {
			r.fail("search: %d items indexed, the index counts %d", size, count)
		}
		run.IndexBytes = diskUsage(filepath.Join(dir, "index"))

		lat := make([]time.Duration, 0, r.opts.SearchQueries)
		hits := 0
		for k := range r.opts.SearchQueries {
			q := queries[k%len(queries)]
			t0 := time.Now()
			res, err := idx.Search(ctx, q, policywire.SearchOptions{Limit: 5, Newest: k%7 == 3})
			lat = append(lat, time.Since(t0))
			if err != nil {
				return fmt.Errorf("bench: search %q: %w", q, err)
			}
			hits += len(res)
		}
		run.Searches = len(lat)
		run.Latency = summarize(lat)
		run.AverageHits = float64(hits) / float64(len(lat))
		r.checkSearch(ctx, idx, seed, size)
		peak := r.rss.takePeak()
		run.PeakRSSBytes, run.PeakAnonRSSBytes = peak.total, peak.anon
		r.progress("  %d items: built at %.0f items/s, %.1f MB on disk, search p50 %.1f ms, p99 %.1f ms, peak VmRSS %s (anonymous %s)",
			size, run.BuildItemsPerSec, float64(run.IndexBytes)/1e6, run.Latency.P50, run.Latency.P99, mib(peak.total), mib(peak.anon))
		r.rep.Search = append(r.rep.Search, run)
	}
	return nil
}

// checkSearch makes sure the index finds what it was given: the newest
// item of the archive, by the words of its title, first when newest first.
func (r *runner) checkSearch(ctx context.Context, idx *index.Index, seed uint64, size int) {
	newest := archiveItem(seed, 0, r.epoch)
	q, err := query.Parse(fmt.Sprintf("title:%q", newest.Title))
	if err != nil {
		r.fail("search: the query for %q does not parse: %v", newest.Title, err)
		return
	}
	hits, err := idx.Search(ctx, q, policywire.SearchOptions{Limit: 5, Newest: true})
	if err != nil {
		r.fail("search: %v", err)
		return
	}
	if len(hits) == 0 || hits[0].Item.ID != newest.ID {
		r.fail("search at %d items: the newest item %q is not the first hit of its own title", size, newest.Title)
	}
}
