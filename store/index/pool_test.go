package index

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/query"
)

// scoredIDs runs a bleve query over every item and returns each found
// item's score.
func scoredIDs(t *testing.T, x *Index, q *boolQuery) map[string]float64 {
	t.Helper()
	req := bleve.NewSearchRequestOptions(q, 100000, 0, false)
	res, err := x.search(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]float64, len(res.Hits))
	for _, h := range res.Hits {
		out[h.ID] = h.Score
	}
	return out
}

// TestFilterKeepsScores: a filtered query finds the items of the query
// that the filter matches, with the scores the query gives them alone.
func TestFilterKeepsScores(t *testing.T) {
	c := newAgreementCorpus(t)
	dates := map[string]time.Time{}
	var sorted []time.Time
	for _, it := range c.items {
		if d := it.Date(); !d.IsZero() {
			dates[it.ID] = d
			sorted = append(sorted, d)
		}
	}
	slices.SortFunc(sorted, time.Time.Compare)
	g := newQueryGen(c.items, rand.New(rand.NewPCG(3, 9)))
	queries := []string{`council`, `digital diplomacy`, `cyber* -sanctions`, `"foreign affairs" OR fisheries`, `NOT digital`}
	for range 150 {
		queries = append(queries, g.query(0))
	}
	filtered := 0
	for i, s := range queries {
		q := query.MustParse(s)
		top := &boolQuery{Must: Compile(q), Should: relevance(q)}
		all := scoredIDs(t, c.x, top)
		cutoff := sorted[(i*37)%len(sorted)]
		top.Filter = since(cutoff)
		got := scoredIDs(t, c.x, top)
		want := 0
		for id, score := range all {
			d, dated := dates[id]
			if !dated || d.Before(cutoff) {
				if _, found := got[id]; found {
					t.Errorf("%s since %s: found %s, dated %s", s, cutoff, id, d)
				}
				continue
			}
			want++
			if g, found := got[id]; !found {
				t.Errorf("%s since %s: %s is not found", s, cutoff, id)
			} else if g != score {
				t.Errorf("%s since %s: %s scores %v, %v without the filter", s, cutoff, id, g, score)
			}
		}
		if len(got) != want {
			t.Errorf("%s since %s: %d found, want %d", s, cutoff, len(got), want)
		}
		if want > 0 && want < len(all) {
			filtered++
		}
	}
	if filtered < len(queries)/4 {
		t.Errorf("only %d of %d queries had some of their matches filtered out", filtered, len(queries))
	}
}

func x(c *agreementCorpus) *Index { return c.x }

// TestRankPool: a query with enough recent matches ranks only those, and
// finds items it matches; with fewer, it ranks all of them.
func TestRankPool(t *testing.T) {
	items := syntheticItems(3000)
	x := openWith(t, items)
	docs := make([]*query.Doc, len(items))
	for i, it := range items {
		docs[i] = query.Prepare(it)
	}
	oldPool, oldSpans, oldMin := rankPool, rankSpans, spanItemsMin
	t.Cleanup(func() { rankPool, rankSpans, spanItemsMin = oldPool, oldSpans, oldMin })
	rankSpans, spanItemsMin = rankSpans[:1], 1
	newest := x.newest()
	cutoff := newest.Add(-rankSpans[0])
	q := query.MustParse(`council OR conseil OR rat`)
	want := map[string]bool{}
	for _, id := range matchIDs(q, docs, items) {
		want[id] = true
	}
	recent := scoredIDs(t, x, &boolQuery{Must: Compile(q), Filter: since(cutoff)})
	const limit = 5
	if len(recent) < rankWindowMin || len(recent) >= len(want) {
		t.Fatalf("%d recent matches of %d: the pool is not tested", len(recent), len(want))
	}
	for _, pool := range []int{1, 1000} {
		rankPool = pool
		hits, err := x.Search(context.Background(), q, policywire.SearchOptions{Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != limit {
			t.Fatalf("pool %d: %d hits", pool, len(hits))
		}
		older := 0
		for _, h := range hits {
			if !want[h.Item.ID] {
				t.Errorf("pool %d: found %s, which the query does not match", pool, h.Item.ID)
			}
			if h.Item.Published.Before(cutoff) {
				older++
			}
		}
		if pool == 1 && older > 0 {
			t.Errorf("pool %d: %d hits older than the pool's span", pool, older)
		}
		if pool == 1000 && older == 0 {
			t.Errorf("pool %d: all hits within %s; the pool is not tested", pool, rankSpans[0])
		}
	}
}
