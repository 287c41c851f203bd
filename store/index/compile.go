package index

import (
	"context"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	bleveQuery "github.com/blevesearch/bleve/v2/search/query"
	"github.com/blevesearch/bleve/v2/search/searcher"
	bleveIndex "github.com/blevesearch/bleve_index_api"

	"github.com/policywire/policywire/query"
)

// Boosts of the exact text fields: a word in the title says more about an
// item than the same word in its body.
const (
	boostTitle      = 3.0
	boostSummary    = 1.0
	boostCategories = 1.5
	// boostStemmed weighs the language-aware copy, which only ranks.
	boostStemmed = 0.5
)

// Compile turns a query of the query language into a bleve query over the
// exact fields of the index, matching the same items as query.Match: a word
// is a term, a prefix a prefix query, a phrase a phrase query over the
// positions the index keeps, the default field the disjunction of title,
// summary (with content) and categories, and NOT a must-not clause under a
// match-all. It ranks nothing beyond bleve's scores of those clauses.
// A query of time filters alone has no tree and matches every item; its
// time filters are for CompileAt.
func Compile(q *query.Query) bleveQuery.Query {
	root := q.Root()
	if root == nil {
		return bleveQuery.NewMatchAllQuery()
	}
	return compileNode(root)
}

// CompileAt is Compile with the query's time filters resolved against now
// (see query.TimeRange) as a filter on the item's date, which scores
// nothing.
func CompileAt(q *query.Query, now time.Time) bleveQuery.Query {
	exact := Compile(q)
	r, ok := q.TimeRange(now)
	if !ok {
		return exact
	}
	if r.Empty() {
		return bleveQuery.NewMatchNoneQuery()
	}
	inclusive, exclusive := true, false
	dates := bleveQuery.NewDateRangeInclusiveQuery(r.From, r.To, &inclusive, &exclusive)
	dates.SetField(fieldDate)
	return bleveQuery.NewConjunctionQuery([]bleveQuery.Query{exact, &unscoredQuery{dates}})
}

func compileNode(n query.Node) bleveQuery.Query {
	switch n := n.(type) {
	case query.And:
		var must, mustNot []bleveQuery.Query
		for _, k := range n.Children {
			if not, ok := k.(query.Not); ok {
				mustNot = append(mustNot, compileNode(not.Child))
				continue
			}
			must = append(must, compileNode(k))
		}
		if len(mustNot) == 0 {
			return bleveQuery.NewConjunctionQuery(must)
		}
		return &boolQuery{Must: conjunction(must), MustNot: disjunction(mustNot)}
	case query.Or:
		kids := make([]bleveQuery.Query, len(n.Children))
		for i, k := range n.Children {
			kids[i] = compileNode(k)
		}
		return bleveQuery.NewDisjunctionQuery(kids)
	case query.Not:
		return &boolQuery{Must: bleveQuery.NewMatchAllQuery(), MustNot: compileNode(n.Child)}
	case query.Term:
		return compileTerm(n)
	case query.Phrase:
		return compilePhrase(n)
	}
	// Parse produces no other node; a query that matches nothing is the
	// safe answer to one it might grow.
	return bleveQuery.NewMatchNoneQuery()
}

// conjunction returns the one query of qs, or a match-all for none, or
// their conjunction.
func conjunction(qs []bleveQuery.Query) bleveQuery.Query {
	switch len(qs) {
	case 0:
		return bleveQuery.NewMatchAllQuery()
	case 1:
		return qs[0]
	}
	return bleveQuery.NewConjunctionQuery(qs)
}

func disjunction(qs []bleveQuery.Query) bleveQuery.Query {
	if len(qs) == 1 {
		return qs[0]
	}
	return bleveQuery.NewDisjunctionQuery(qs)
}

func compileTerm(t query.Term) bleveQuery.Query {
	switch t.Field {
	case query.FieldSource:
		return &unscoredQuery{termOrPrefix(fieldSource, t.Word, t.Prefix, 1)}
	case query.FieldLang:
		return &unscoredQuery{termOrPrefix(fieldLang, t.Word, t.Prefix, 1)}
	case query.FieldRef:
		return &unscoredQuery{termOrPrefix(fieldRef, t.Word, t.Prefix, 1)}
	case query.FieldTitle:
		return termOrPrefix(fieldTitle, t.Word, t.Prefix, boostTitle)
	case query.FieldSummary:
		return termOrPrefix(fieldSummary, t.Word, t.Prefix, boostSummary)
	}
	return bleveQuery.NewDisjunctionQuery([]bleveQuery.Query{
		termOrPrefix(fieldTitle, t.Word, t.Prefix, boostTitle),
		termOrPrefix(fieldSummary, t.Word, t.Prefix, boostSummary),
		termOrPrefix(fieldCategories, t.Word, t.Prefix, boostCategories),
	})
}

func termOrPrefix(field, word string, prefix bool, boost float64) bleveQuery.Query {
	if prefix {
		q := bleveQuery.NewPrefixQuery(word)
		q.SetField(field)
		q.SetBoost(boost)
		return q
	}
	q := bleveQuery.NewTermQuery(word)
	q.SetField(field)
	q.SetBoost(boost)
	return q
}

func compilePhrase(p query.Phrase) bleveQuery.Query {
	phrase := func(field string, boost float64) bleveQuery.Query {
		q := bleveQuery.NewPhraseQuery(append([]string(nil), p.Words...), field)
		q.SetBoost(boost)
		return q
	}
	switch p.Field {
	case query.FieldTitle:
		return phrase(fieldTitle, boostTitle)
	case query.FieldSummary:
		return phrase(fieldSummary, boostSummary)
	}
	return bleveQuery.NewDisjunctionQuery([]bleveQuery.Query{
		phrase(fieldTitle, boostTitle),
		phrase(fieldSummary, boostSummary),
		phrase(fieldCategories, boostCategories),
	})
}

// relevance is the query that only ranks: the positive words of q matched
// against the language-aware copy of each item's text, with each field's own
// stemming analyzer. It is used as a should clause, so it never changes
// which items a search finds. Prefixes are left out, since a stem is not a
// prefix of anything in particular.
func relevance(q *query.Query) bleveQuery.Query {
	var words []string
	for _, w := range query.Words(q) {
		if !strings.HasSuffix(w, "*") {
			words = append(words, w)
		}
	}
	if len(words) == 0 {
		return nil
	}
	text := strings.Join(words, " ")
	kids := make([]bleveQuery.Query, len(stemFields))
	for i, s := range stemFields {
		m := bleveQuery.NewMatchQuery(text)
		m.SetField(s.field)
		m.SetBoost(boostStemmed)
		kids[i] = m
	}
	return bleveQuery.NewDisjunctionQuery(kids)
}

// boolQuery is a boolean query with bleve's BooleanQuery semantics minus
// its shortcuts: BooleanQuery drops a must clause whose searcher is a
// MatchNoneSearcher (an empty conjunction, a match query whose words are all
// stop words), and then matches everything but the must-not clause, or
// everything the should clause matches. Here a must clause that matches
// nothing makes the whole query match nothing, and Should only ever adds to
// the score, whatever it is. Must is required.
type boolQuery struct {
	Must    bleveQuery.Query
	Should  bleveQuery.Query // optional, scoring only
	MustNot bleveQuery.Query // optional
	// Filter, optional, keeps only the items it matches without scoring
	// them or changing the scores of the others: the same items get the
	// same scores as without it. Unlike a conjunction, which weighs its
	// clauses together, it leaves the query norm alone.
	Filter bleveQuery.Query
}

func (q *boolQuery) Searcher(ctx context.Context, r bleveIndex.IndexReader, m mapping.IndexMapping, options search.SearcherOptions) (search.Searcher, error) {
	must, err := q.Must.Searcher(ctx, r, m, options)
	if err != nil {
		return nil, err
	}
	if _, none := must.(*searcher.MatchNoneSearcher); none {
		return must, nil
	}
	var should, mustNot search.Searcher
	closeAll := func() {
		for _, s := range []search.Searcher{must, should, mustNot} {
			if s != nil {
				_ = s.Close()
			}
		}
	}
	if q.Filter != nil {
		filter, err := (&unscoredQuery{q.Filter}).Searcher(ctx, r, m, options)
		if err != nil {
			closeAll()
			return nil, err
		}
		if _, none := filter.(*searcher.MatchNoneSearcher); none {
			_ = must.Close()
			return filter, nil
		}
		must = &filteredSearcher{Searcher: must, filter: filter}
	}
	if q.MustNot != nil {
		mustNot, err = q.MustNot.Searcher(ctx, r, m, options)
		if err != nil {
			closeAll()
			return nil, err
		}
		if _, none := mustNot.(*searcher.MatchNoneSearcher); none {
			_ = mustNot.Close()
			mustNot = nil
		}
	}
	if q.Should != nil && options.Score != "none" {
		should, err = q.Should.Searcher(ctx, r, m, options)
		if err != nil {
			closeAll()
			return nil, err
		}
		if _, none := should.(*searcher.MatchNoneSearcher); none {
			_ = should.Close()
			should = nil
		}
	}
	if should == nil && mustNot == nil {
		return must, nil
	}
	bs, err := searcher.NewBooleanSearcher(ctx, r, must, should, mustNot, options)
	if err != nil {
		closeAll()
		return nil, err
	}
	return bs, nil
}

// unscoredQuery runs a query without scoring it. A source, a language or a
// reference says whether an item is wanted, not how well it matches, and
// bleve evaluates an unscored prefix of many values (ref:2025*) as one
// bitmap union instead of scoring each value.
type unscoredQuery struct{ Query bleveQuery.Query }

func (q *unscoredQuery) Searcher(ctx context.Context, r bleveIndex.IndexReader, m mapping.IndexMapping, options search.SearcherOptions) (search.Searcher, error) {
	options.Score = "none"
	options.IncludeTermVectors = false
	options.Explain = false
	return q.Query.Searcher(ctx, r, m, options)
}

// filteredSearcher finds the documents of its Searcher that filter finds
// too, leaping each over the other, with the Searcher's scores and weight.
type filteredSearcher struct {
	search.Searcher
	filter search.Searcher
	at     *search.DocumentMatch // the filter's current document
	done   bool
}

func (s *filteredSearcher) Next(ctx *search.SearchContext) (*search.DocumentMatch, error) {
	if s.done {
		return nil, nil
	}
	m, err := s.Searcher.Next(ctx)
	if err != nil {
		return nil, err
	}
	return s.agree(ctx, m)
}

func (s *filteredSearcher) Advance(ctx *search.SearchContext, id bleveIndex.IndexInternalID) (*search.DocumentMatch, error) {
	if s.done {
		return nil, nil
	}
	m, err := s.Searcher.Advance(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.agree(ctx, m)
}

// agree moves both searchers on from m, the Searcher's current match,
// until they stand on the same document, which it returns.
func (s *filteredSearcher) agree(ctx *search.SearchContext, m *search.DocumentMatch) (*search.DocumentMatch, error) {
	var err error
	for m != nil {
		if s.at == nil || s.at.IndexInternalID.Compare(m.IndexInternalID) < 0 {
			ctx.DocumentMatchPool.Put(s.at)
			if s.at, err = s.filter.Advance(ctx, m.IndexInternalID); err != nil || s.at == nil {
				break
			}
		}
		if s.at.IndexInternalID.Equals(m.IndexInternalID) {
			return m, nil
		}
		ctx.DocumentMatchPool.Put(m)
		if m, err = s.Searcher.Advance(ctx, s.at.IndexInternalID); err != nil {
			return nil, err
		}
	}
	ctx.DocumentMatchPool.Put(m)
	s.done = true
	return nil, err
}

func (s *filteredSearcher) Count() uint64 { return min(s.Searcher.Count(), s.filter.Count()) }

func (s *filteredSearcher) Size() int { return s.Searcher.Size() + s.filter.Size() }

func (s *filteredSearcher) DocumentMatchPoolSize() int {
	return s.Searcher.DocumentMatchPoolSize() + s.filter.DocumentMatchPoolSize() + 1
}

func (s *filteredSearcher) Close() error {
	err := s.Searcher.Close()
	if ferr := s.filter.Close(); err == nil {
		err = ferr
	}
	return err
}
