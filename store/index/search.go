package index

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	bleveQuery "github.com/blevesearch/bleve/v2/search/query"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/query"
)

// DefaultLimit is the number of hits when SearchOptions.Limit is zero.
const DefaultLimit = 10

// Ranking by relevance and recency: bleve's score of the best
// window×Limit candidates (drawn from a pool of recent matches when there
// are many: see searchRelevant) is multiplied by a weight that halves every
// recencyHalfLife of age, measured from the newest candidate rather than
// from the wall clock (so that an archive searched long after its last item
// ranks the same), and never falls below recencyFloor, so that a much more
// relevant older item can still come first.
const (
	rankWindow      = 5
	rankWindowMin   = 50
	rankWindowExtra = 1000
	recencyHalfLife = 30 * 24 * time.Hour
	recencyFloor    = 0.3
)

// SnippetMaxChars bounds a hit's snippet, in characters.
const SnippetMaxChars = 200

// Search finds the items matching q: exactly those query.Match accepts.
// They come best first (relevance weighed by recency), or newest first with
// o.Newest, at most o.Limit of them (DefaultLimit when zero). Each hit
// carries the item's ID, title, URL, source, language, date and summary,
// and a snippet of the summary with the matched words between « and ».
func (x *Index) Search(ctx context.Context, q *query.Query, o policywire.SearchOptions) ([]policywire.SearchHit, error) {
	if q == nil {
		return nil, errors.New("index: search: no query")
	}
	if err := x.repair(); err != nil {
		return nil, err
	}
	limit := o.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	// A later page is the tail of a longer first one.
	offset := max(o.Offset, 0)
	limit += offset
	// A query without words of text (only sources, languages, references
	// and negations) gives every match the same score: recency alone
	// ranks, and the newest-first search finds the newest among all the
	// matches rather than among a window of equal scores.
	byDate := o.Newest || q.SortByDate() || len(query.Words(q)) == 0
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	exact := CompileAt(q, now)
	var res *bleve.SearchResult
	var err error
	if byDate {
		res, err = x.searchNewest(ctx, exact, limit)
	} else {
		res, err = x.searchRelevant(ctx, q, exact, limit)
	}
	if err != nil {
		return nil, err
	}
	hits := make([]policywire.SearchHit, 0, len(res.Hits))
	for _, h := range res.Hits {
		hits = append(hits, policywire.SearchHit{Item: hitItem(h), Score: h.Score})
	}
	if !byDate {
		rerank(hits)
	}
	if len(hits) > limit {
		hits = hits[:limit]
	}
	hits = hits[min(offset, len(hits)):]
	hl := newHighlighter(q)
	for i := range hits {
		hits[i].Snippet = hl.snippet(hits[i].Item.Summary, SnippetMaxChars)
	}
	return hits, nil
}

// searchRelevant finds the best-scored window of matches for q, the
// candidates that rerank orders.
//
// Scoring costs for every item a search finds, so that a query whose
// words are in a large share of a big archive would take long (about a
// tenth of a second for "Council conclusions" in a million items). In a
// large archive the candidates are therefore drawn from a pool of recent
// matches: the matches of a span of time back from the newest item (see
// poolSpan), when it holds at least rankPool times the window of them, or
// else of all matches. This is the one way the ranking differs from
// ranking all matches, and a deliberate one: a pool that large holds items
// of about the best score the query gives, and an item older than the
// span weighs at most the recency weight of that span (0.65 after 30
// days, the floor after a year), so an item left out would have needed a
// score well above the pool's best to come first. An item without a date
// counts as older than any span. Which items match is the same either way
// (a pool holds rankPool times more matches than the window, so a search
// whose limit could take every match never uses one); only the order of
// the best few can differ, and only for queries with many recent matches.
func (x *Index) searchRelevant(ctx context.Context, q *query.Query, exact bleveQuery.Query, limit int) (*bleve.SearchResult, error) {
	window := min(max(limit*rankWindow, rankWindowMin), limit+rankWindowExtra)
	top := &boolQuery{Must: exact}
	if rel := relevance(q); rel != nil {
		top.Should = rel
	}
	if newest := x.newest(); !newest.IsZero() {
		if span, ok := x.poolSpan(ctx, newest, window*rankPool); ok {
			// The span is searched without the stored fields, which are
			// read only if it is the pool.
			top.Filter = since(newest.Add(-span))
			res, err := x.search(ctx, bleve.NewSearchRequestOptions(top, window, 0, false))
			if err != nil {
				return nil, err
			}
			if res.Total >= uint64(window*rankPool) {
				res.Hits, err = x.loadFields(ctx, res.Hits)
				return res, err
			}
			top.Filter = nil
		}
	}
	req := bleve.NewSearchRequestOptions(top, window, 0, false)
	req.Fields = storedFields
	return x.search(ctx, req)
}

// loadFields reads the stored fields of hits that a search found without
// them, leaving out any item deleted since.
func (x *Index) loadFields(ctx context.Context, hits search.DocumentMatchCollection) (search.DocumentMatchCollection, error) {
	if len(hits) == 0 {
		return hits, nil
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	req := bleve.NewSearchRequestOptions(bleveQuery.NewDocIDQuery(ids), len(ids), 0, false)
	req.Fields = storedFields
	req.Score = "none"
	res, err := x.search(ctx, req)
	if err != nil {
		return nil, err
	}
	fields := make(map[string]map[string]interface{}, len(res.Hits))
	for _, h := range res.Hits {
		fields[h.ID] = h.Fields
	}
	kept := hits[:0]
	for _, h := range hits {
		if f, ok := fields[h.ID]; ok {
			h.Fields = f
			kept = append(kept, h)
		}
	}
	return kept, nil
}

// rankSpans are the spans of time, back from the newest item, that a search
// by relevance may draw its pool of candidates from: 30 days for an
// archive that grows fast, a year for one that grows slowly.
var rankSpans = []time.Duration{30 * 24 * time.Hour, 365 * 24 * time.Hour}

// rankPool is how many times the ranking window a span must hold to be the
// pool (a variable for tests).
var rankPool = 10

// spanItemsMin is how many times the pool a span must hold in items to be
// worth searching first: a query must match one item in twenty of it to
// fill the pool, and rarer ones cost little to rank in full.
var spanItemsMin = 20

// spanSizes is how many items each of rankSpans held when the index had
// docs items and its newest was dated newest.
type spanSizes struct {
	docs   uint64
	newest time.Time
	items  []uint64
}

// poolSpan is the span a search for a pool of at least pool matches tries
// first: the longest of rankSpans that holds spanItemsMin times pool items
// and no more than half of the archive, since filtering a larger share of
// it saves less than a search of the span costs when it is not the pool.
// The spans' items are counted again when the archive has grown or shrunk
// by a tenth or its newest item is a day newer: the counts only choose
// what to try.
func (x *Index) poolSpan(ctx context.Context, newest time.Time, pool int) (time.Duration, bool) {
	docs, err := x.Count()
	if err != nil || docs < uint64(2*spanItemsMin*pool) {
		return 0, false
	}
	sz := x.spans.Load()
	if sz == nil || newest.Sub(sz.newest).Abs() > 24*time.Hour || docs > sz.docs+sz.docs/10 || docs < sz.docs-sz.docs/10 {
		sz = &spanSizes{docs: docs, newest: newest}
		for _, span := range rankSpans {
			req := bleve.NewSearchRequestOptions(since(newest.Add(-span)), 0, 0, false)
			req.Score = "none"
			res, err := x.search(ctx, req)
			if err != nil {
				return 0, false
			}
			sz.items = append(sz.items, res.Total)
		}
		x.spans.Store(sz)
	}
	for i := len(rankSpans) - 1; i >= 0; i-- {
		if n := sz.items[i]; n >= uint64(spanItemsMin*pool) && n <= docs/2 {
			return rankSpans[i], true
		}
	}
	return 0, false
}

// since matches the items dated at or after t.
func since(t time.Time) bleveQuery.Query {
	q := bleveQuery.NewDateRangeInclusiveQuery(t, time.Time{}, &[]bool{true}[0], nil)
	q.SetField(fieldDate)
	return q
}

// newest is the date of the newest item indexed, or zero when there is none
// or the index is closed.
func (x *Index) newest() time.Time {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return time.Time{}
	}
	return x.newestDate()
}

func (x *Index) search(ctx context.Context, req *bleve.SearchRequest) (*bleve.SearchResult, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return nil, errClosed
	}
	var res *bleve.SearchResult
	err := x.failed(func() error {
		var err error
		res, err = x.idx.SearchInContext(ctx, req)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("index: search: %w", err)
	}
	return res, nil
}

// newestWindows are the spans of time, back from the newest item, that a
// newest-first search tries in turn: sorting by date costs for every item
// found, so it looks among recent items first and widens only when they
// are fewer than asked for. The order is the same as one search over all.
var newestWindows = []time.Duration{30 * 24 * time.Hour, 365 * 24 * time.Hour}

func (x *Index) searchNewest(ctx context.Context, exact bleveQuery.Query, limit int) (*bleve.SearchResult, error) {
	sorted := func(q bleveQuery.Query) (*bleve.SearchResult, error) {
		req := bleve.NewSearchRequestOptions(q, limit, 0, false)
		req.SortByCustom(search.SortOrder{
			&search.SortField{Field: fieldDateSort, Desc: true, Type: search.SortFieldAsString, Missing: search.SortFieldMissingLast},
			&search.SortDocID{},
		})
		req.Score = "none"
		req.Fields = storedFields
		return x.search(ctx, req)
	}
	if newest := x.newest(); !newest.IsZero() {
		for _, w := range newestWindows {
			res, err := sorted(bleveQuery.NewConjunctionQuery([]bleveQuery.Query{exact, &unscoredQuery{since(newest.Add(-w))}}))
			if err != nil {
				return nil, err
			}
			if res.Total >= uint64(limit) {
				return res, nil
			}
		}
	}
	return sorted(exact)
}

// hitItem rebuilds the part of an item the index stores.
func hitItem(h *search.DocumentMatch) policywire.Item {
	str := func(field string) string {
		s, _ := h.Fields[field].(string)
		return s
	}
	it := policywire.Item{
		ID:       h.ID,
		Title:    str(fieldTitle),
		URL:      str(fieldStoredURL),
		Source:   str(fieldStoredSource),
		Summary:  str(fieldStoredSummary),
		Language: str(fieldStoredLang),
	}
	if d, err := time.Parse(time.RFC3339Nano, str(fieldStoredDate)); err == nil {
		it.Published = d
	}
	return it
}

// rerank orders hits by score weighed by recency; ties go to the newer
// item, then to the smaller ID, so that the order is stable.
func rerank(hits []policywire.SearchHit) {
	var newest time.Time
	for _, h := range hits {
		if d := h.Item.Published; d.After(newest) {
			newest = d
		}
	}
	for i := range hits {
		hits[i].Score *= recencyWeight(newest, hits[i].Item.Published)
	}
	slices.SortStableFunc(hits, func(a, b policywire.SearchHit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if c := b.Item.Published.Compare(a.Item.Published); c != 0 {
			return c
		}
		return cmp.Compare(a.Item.ID, b.Item.ID)
	})
}

func recencyWeight(newest, date time.Time) float64 {
	if date.IsZero() {
		return recencyFloor
	}
	age := newest.Sub(date)
	if age < 0 {
		age = 0
	}
	decay := math.Exp2(-float64(age) / float64(recencyHalfLife))
	return recencyFloor + (1-recencyFloor)*decay
}
