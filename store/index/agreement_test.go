package index

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/query"
)

// agreementCorpus is every item of the source fixtures and of the relevance
// corpus, indexed, with each item prepared for query.Match.
type agreementCorpus struct {
	x     *Index
	items []policywire.Item
	docs  []*query.Doc
}

func newAgreementCorpus(t *testing.T) *agreementCorpus {
	t.Helper()
	items := append(fixtureItems(t), corpusItems(t)...)
	c := &agreementCorpus{x: openWith(t, items), items: items}
	for _, it := range items {
		c.docs = append(c.docs, query.Prepare(it))
	}
	n, err := c.x.Count()
	if err != nil {
		t.Fatal(err)
	}
	if n != uint64(len(items)) {
		t.Fatalf("index holds %d items, want %d", n, len(items))
	}
	return c
}

// check reports whether a search finds exactly the items query.Match
// accepts, and describes the difference when it does not.
func (c *agreementCorpus) check(t *testing.T, q *query.Query) (matched int, ok bool) {
	t.Helper()
	got := searchIDs(t, c.x, q)
	want := matchIDs(q, c.docs, c.items)
	if slices.Equal(got, want) {
		return len(want), true
	}
	var missing, extra []string
	for _, id := range want {
		if _, found := slices.BinarySearch(got, id); !found {
			missing = append(missing, id)
		}
	}
	for _, id := range got {
		if _, found := slices.BinarySearch(want, id); !found {
			extra = append(extra, id)
		}
	}
	t.Errorf("query %s (canonical %s): search found %d items, Match accepts %d\n  not found: %s\n  found but not matched: %s",
		q, q.String(), len(got), len(want), clipList(missing), clipList(extra))
	return len(want), false
}

func clipList(ids []string) string {
	if len(ids) > 5 {
		return strings.Join(ids[:5], ", ") + fmt.Sprintf(" and %d more", len(ids)-5)
	}
	return strings.Join(ids, ", ")
}

func TestSearchAgreesWithMatch(t *testing.T) {
	c := newAgreementCorpus(t)
	cases := []struct {
		name, query string
		// nonEmpty says the corpus was written to give this query matches,
		// so that an empty agreement cannot pass unnoticed.
		nonEmpty bool
	}{
		{"word", `diplomacy`, true},
		{"two words", `digital diplomacy`, true},
		{"phrase", `"digital diplomacy"`, true},
		{"accented word", `Cybersécurité`, true},
		{"accents left out", `cybersecurite`, true},
		{"upper case", `CYBERSÉCURITÉ`, true},
		{"german umlaut", `Künstliche Intelligenz`, true},
		{"umlaut left out", `kunstliche`, true},
		{"sharp s", `Außenminister`, true},
		{"sharp s spelled out", `aussenminister`, true},
		{"prefix", `cyber*`, true},
		{"topic of the spec", `cyber* AND (security OR resilience OR attack)`, true},
		{"phrases or", `"cyber diplomacy" OR "tech ambassador"`, true},
		{"phrase in content only", `"new tech ambassador"`, true},
		{"phrase across summary and content", `"cables the new"`, false},
		{"phrase across two categories", `"digital foreign"`, false},
		{"phrase within one category", `"foreign affairs"`, true},
		{"category phrase and word", `"digital diplomacy" asia`, true},
		{"word with punctuation is a phrase", `digital-diplomacy`, true},
		{"elided article", `d'État`, true},
		{"hyphenated", `e-commerce`, true},
		{"currency glued to a number", `€193`, true},
		{"title field prefix", `title:cyber*`, true},
		{"summary field phrase", `summary:"digital diplomacy"`, true},
		{"summary field reaches content", `summary:undersea`, true},
		{"title field group minus", `title:(digital OR cyber) -sanctions`, true},
		{"summary prefix not in title", `summary:cyber* NOT title:cyber*`, true},
		{"title phrase minus word", `title:"main results" -december`, true},
		{"pure not", `NOT digital`, true},
		{"several nots", `-cyber -digital -fisheries`, true},
		{"not of a group", `NOT (fisheries OR agriculture) council`, true},
		{"or binds looser than and", `fisheries OR budget council`, true},
		{"parentheses", `(fisheries OR budget) council`, true},
		{"not binds tighter than and", `NOT fisheries council`, true},
		{"year", `2026`, true},
		{"source", `source:council-press`, true},
		{"source any case", `source:COUNCIL-PRESS fisheries`, true},
		{"source prefix", `source:europarl*`, true},
		{"language", `lang:fr`, true},
		{"language and word", `lang:de Fischerei`, true},
		{"languages or", `lang:fr OR lang:de`, true},
		{"not a language", `-lang:en -lang:fr`, true},
		{"reference", `ref:2022/0272(COD)`, true},
		{"reference with spaces", `ref:"2022/0272 (COD)"`, true},
		{"reference quoted", `ref:"com(2025) 300 FINAL"`, true},
		{"reference prefix", `ref:IP/26*`, true},
		{"reference prefix years", `ref:2021*`, true},
		{"unknown prefix", `zzqx*`, false},
		{"unknown prefix and not", `zzqx* -council`, false},
		{"not an unknown prefix", `-zzqx* fisheries`, true},
		{"unknown prefix or word", `zzqx* OR fisheries`, true},
		{"unknown word and not", `zzqx -council`, false},
		{"unknown source prefix and not", `source:zz* -digital`, false},
		{"nested", `(cyber* OR digital) AND NOT (sanctions OR "digital services") AND (lang:en OR lang:de)`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, err := query.Parse(tc.query)
			if err != nil {
				t.Fatalf("parse %s: %v", tc.query, err)
			}
			n, ok := c.check(t, q)
			if ok && tc.nonEmpty && n == 0 {
				t.Errorf("query %s matches nothing in the corpus; the case tests nothing", tc.query)
			}
			if ok && n == len(c.items) {
				t.Errorf("query %s matches every item; the case tests nothing", tc.query)
			}
		})
	}
}

// TestSearchAgreesWithMatchRandom checks the agreement on random queries
// made of the corpus's own words, phrases, fields and operators.
func TestSearchAgreesWithMatchRandom(t *testing.T) {
	c := newAgreementCorpus(t)
	g := newQueryGen(c.items, rand.New(rand.NewPCG(7, 42)))
	const n = 400
	nonEmpty, failures := 0, 0
	for range n {
		s := g.query(0)
		q, err := query.Parse(s)
		if err != nil {
			t.Fatalf("generated query %q does not parse: %v", s, err)
		}
		m, ok := c.check(t, q)
		if !ok {
			failures++
			if failures > 10 {
				t.Fatal("too many disagreements")
			}
		}
		if m > 0 {
			nonEmpty++
		}
	}
	// The generator must make queries that find something, or the test
	// shows little.
	if nonEmpty < n/4 {
		t.Errorf("only %d of %d random queries matched anything", nonEmpty, n)
	}
}

// queryGen makes random queries from a corpus.
type queryGen struct {
	r       *rand.Rand
	items   []policywire.Item
	words   []string // folded words of titles and summaries
	sources []string
	langs   []string
	refs    []string
}

func newQueryGen(items []policywire.Item, r *rand.Rand) *queryGen {
	g := &queryGen{r: r, items: items}
	seen := map[string]bool{}
	add := func(list *[]string, v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			*list = append(*list, v)
		}
	}
	for _, it := range items {
		for _, w := range query.Tokens(it.Title + " " + it.Summary) {
			add(&g.words, w)
		}
		add(&g.sources, it.Source)
		add(&g.langs, "lang="+it.Language)
		for _, ref := range it.References {
			add(&g.refs, ref)
		}
	}
	for i, l := range g.langs {
		g.langs[i] = strings.TrimPrefix(l, "lang=")
	}
	return g
}

func (g *queryGen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

// phrase takes two or three words that follow each other in some item.
func (g *queryGen) phrase() string {
	it := g.items[g.r.IntN(len(g.items))]
	toks := query.Tokens(it.Title)
	if g.r.IntN(2) == 0 || len(toks) < 3 {
		toks = query.Tokens(it.Summary)
	}
	if len(toks) < 3 {
		return `"` + g.pick(g.words) + " " + g.pick(g.words) + `"`
	}
	n := 2 + g.r.IntN(2)
	i := g.r.IntN(len(toks) - n + 1)
	return `"` + strings.Join(toks[i:i+n], " ") + `"`
}

func (g *queryGen) leaf() string {
	switch k := g.r.IntN(20); {
	case k < 7:
		return g.pick(g.words)
	case k < 9:
		w := g.pick(g.words)
		if len([]rune(w)) < query.MinPrefixChars {
			return w
		}
		return string([]rune(w)[:min(len([]rune(w)), query.MinPrefixChars+g.r.IntN(4))]) + "*"
	case k < 12:
		return g.phrase()
	case k < 14:
		field := "title:"
		if g.r.IntN(2) == 0 {
			field = "summary:"
		}
		if g.r.IntN(3) == 0 {
			return field + g.phrase()
		}
		return field + g.pick(g.words)
	case k < 16:
		s := g.pick(g.sources)
		if g.r.IntN(3) == 0 {
			return "source:" + s[:min(len(s), 3+g.r.IntN(5))] + "*"
		}
		return "source:" + s
	case k < 18:
		return "lang:" + g.pick(g.langs)
	default:
		ref := g.pick(g.refs)
		if p := ref[:min(len(ref), 2+g.r.IntN(6))]; g.r.IntN(3) == 0 && !strings.ContainsAny(p, "( ") {
			return "ref:" + p + "*"
		}
		return `ref:"` + ref + `"`
	}
}

func (g *queryGen) query(depth int) string {
	if depth > 2 {
		return g.leaf()
	}
	switch g.r.IntN(8) {
	case 0, 1:
		return g.leaf()
	case 2, 3:
		return g.query(depth+1) + " " + g.query(depth+1)
	case 4:
		return g.query(depth+1) + " OR " + g.query(depth+1)
	case 5:
		return "NOT " + g.query(depth+1)
	case 6:
		return "-" + g.leaf()
	default:
		return "(" + g.query(depth+1) + " OR " + g.query(depth+1) + ") " + g.query(depth+1)
	}
}
