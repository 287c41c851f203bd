package query

import (
	"cmp"
	"slices"
	"strings"

	"github.com/policywire/policywire"
)

// Doc is an item prepared for matching: its text folded and tokenized once,
// so that many queries can be matched against it cheaply. A Doc is read-only
// after Prepare and safe for concurrent use.
type Doc struct {
	title      textField // the title
	summary    textField // the summary, then the content
	categories textField // every category, one after the other
	// all holds the distinct words of title, summary, content and
	// categories, sorted: the default field for single words.
	all []string
	// sig is a Bloom filter of all: a word whose bits are not set is in no
	// text field, which settles most lookups without comparing strings.
	sig    signature
	source string
	lang   string
	refs   []string // distinct references in NormalizeRef form, sorted
}

// textField indexes the words of one field for exact, prefix and phrase
// lookups without scanning its text.
type textField struct {
	// tokens are the words in text order; an empty token separates parts a
	// phrase must not run across (summary and content, two categories).
	tokens []string
	words  []string // distinct words, sorted
	// The positions in tokens of words[i] are pos[start[i]:start[i+1]],
	// ascending.
	start []int32
	pos   []int32
}

// Prepare folds and tokenizes an item once for matching. Title, summary,
// content and categories are the text fields; source, language and
// references are kept whole.
func Prepare(it policywire.Item) *Doc {
	d := &Doc{
		source: normalizeKeyword(FieldSource, it.Source),
		lang:   normalizeKeyword(FieldLang, it.Language),
	}
	d.title = newTextField(appendTokens(nil, Fold(it.Title)))

	toks := appendTokens(nil, Fold(it.Summary))
	if it.Content != "" {
		toks = appendTokens(append(toks, ""), Fold(it.Content))
	}
	d.summary = newTextField(toks)

	toks = nil
	for i, c := range it.Categories {
		if i > 0 {
			toks = append(toks, "")
		}
		toks = appendTokens(toks, Fold(c))
	}
	d.categories = newTextField(toks)

	d.all = mergeUnique(nil, d.title.words, d.summary.words)
	if len(d.categories.words) > 0 {
		d.all = mergeUnique(nil, d.all, d.categories.words)
	}
	for _, w := range d.all {
		d.sig.add(wordHash(w))
	}

	for _, r := range it.References {
		if n := NormalizeRef(r); n != "" {
			d.refs = append(d.refs, n)
		}
	}
	slices.Sort(d.refs)
	d.refs = slices.Compact(d.refs)
	return d
}

// mergeUnique merges two sorted lists of distinct words into dst, keeping
// each word once. dst must not share memory with a or b.
func mergeUnique(dst, a, b []string) []string {
	if dst == nil {
		dst = make([]string, 0, len(a)+len(b))
	}
	for len(a) > 0 && len(b) > 0 {
		switch c := strings.Compare(a[0], b[0]); {
		case c < 0:
			dst, a = append(dst, a[0]), a[1:]
		case c > 0:
			dst, b = append(dst, b[0]), b[1:]
		default:
			dst, a, b = append(dst, a[0]), a[1:], b[1:]
		}
	}
	return append(append(dst, a...), b...)
}

func newTextField(tokens []string) textField {
	f := textField{tokens: tokens}
	order := make([]int32, 0, len(tokens))
	for i, t := range tokens {
		if t != "" {
			order = append(order, int32(i))
		}
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := strings.Compare(tokens[a], tokens[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	f.pos = order
	for i, p := range order {
		if i == 0 || tokens[p] != tokens[order[i-1]] {
			f.words = append(f.words, tokens[p])
			f.start = append(f.start, int32(i))
		}
	}
	f.start = append(f.start, int32(len(order)))
	return f
}

// Match reports whether the prepared item matches the query.
func (q *Query) Match(d *Doc) bool { return q.m.match(d) }

// MatchItem prepares the item and matches it. To match one item against
// many queries, Prepare it once and call Match instead.
func (q *Query) MatchItem(it policywire.Item) bool { return q.m.match(Prepare(it)) }

type op uint8

const (
	opAnd op = iota
	opOr
	opNot
	opTerm
	opPhrase
)

type fieldID uint8

const (
	fDefault fieldID = iota
	fTitle
	fSummary
	fSource
	fLang
	fRef
)

func fieldIDOf(name string) fieldID {
	switch name {
	case FieldTitle:
		return fTitle
	case FieldSummary:
		return fSummary
	case FieldSource:
		return fSource
	case FieldLang:
		return fLang
	case FieldRef:
		return fRef
	}
	return fDefault
}

// matcher is the tree Match walks: the AST with fields resolved to numbers,
// children held inline and cheap tests (exact fields, titles) tried first.
type matcher struct {
	op     op
	field  fieldID
	prefix bool
	cost   int // rough work of one match, to try cheap tests first
	word   string
	words  []string
	// hashes are the wordHash of word, or of each of words, for the text
	// fields' signature.
	hashes []uint64
	kids   []matcher
}

func compile(n Node) matcher {
	m := compileNode(n)
	m.cost = m.estimateCost()
	return m
}

func compileNode(n Node) matcher {
	switch n := n.(type) {
	case And:
		return matcher{op: opAnd, kids: compileKids(n.Children)}
	case Or:
		return matcher{op: opOr, kids: compileKids(n.Children)}
	case Not:
		return matcher{op: opNot, kids: []matcher{compile(n.Child)}}
	case Term:
		m := matcher{op: opTerm, field: fieldIDOf(n.Field), word: n.Word, prefix: n.Prefix}
		if !n.Prefix && !IsExactField(n.Field) {
			m.hashes = []uint64{wordHash(n.Word)}
		}
		return m
	case Phrase:
		m := matcher{op: opPhrase, field: fieldIDOf(n.Field), words: n.Words}
		for _, w := range n.Words {
			m.hashes = append(m.hashes, wordHash(w))
		}
		return m
	}
	panic("query: unknown node type")
}

func compileKids(ns []Node) []matcher {
	ms := make([]matcher, len(ns))
	for i, n := range ns {
		ms[i] = compile(n)
	}
	// AND and OR give the same answer in any order; the cheapest tests first
	// let them stop sooner.
	slices.SortStableFunc(ms, func(a, b matcher) int { return cmp.Compare(a.cost, b.cost) })
	return ms
}

// estimateCost ranks how much work a matcher does, from its children's costs.
func (m *matcher) estimateCost() int {
	switch m.op {
	case opTerm:
		switch m.field {
		case fSource, fLang, fRef:
			return 0
		case fTitle:
			return 1
		}
		return 2
	case opPhrase:
		return 3
	}
	c := 4
	for i := range m.kids {
		c += m.kids[i].cost
	}
	return c
}

func (m *matcher) match(d *Doc) bool {
	switch m.op {
	case opAnd:
		for i := range m.kids {
			if !m.kids[i].match(d) {
				return false
			}
		}
		return true
	case opOr:
		for i := range m.kids {
			if m.kids[i].match(d) {
				return true
			}
		}
		return false
	case opNot:
		return !m.kids[0].match(d)
	case opTerm:
		if len(m.hashes) > 0 && !d.sig.has(m.hashes[0]) {
			return false
		}
		return m.matchTerm(d)
	case opPhrase:
		for _, h := range m.hashes {
			if !d.sig.has(h) {
				return false
			}
		}
		switch m.field {
		case fTitle:
			return d.title.hasPhrase(m.words)
		case fSummary:
			return d.summary.hasPhrase(m.words)
		}
		return d.title.hasPhrase(m.words) || d.summary.hasPhrase(m.words) || d.categories.hasPhrase(m.words)
	}
	return false
}

func (m *matcher) matchTerm(d *Doc) bool {
	switch m.field {
	case fTitle:
		return hasWord(d.title.words, m.word, m.prefix)
	case fSummary:
		return hasWord(d.summary.words, m.word, m.prefix)
	case fSource:
		return hasValue(d.source, m.word, m.prefix)
	case fLang:
		return hasValue(d.lang, m.word, m.prefix)
	case fRef:
		return hasWord(d.refs, m.word, m.prefix)
	}
	return hasWord(d.all, m.word, m.prefix)
}

// hasWord looks w up in a sorted list, as a whole entry or as the start of one.
func hasWord(sorted []string, w string, prefix bool) bool {
	i, found := slices.BinarySearch(sorted, w)
	if found {
		return true
	}
	return prefix && i < len(sorted) && strings.HasPrefix(sorted[i], w)
}

func hasValue(v, w string, prefix bool) bool {
	if prefix {
		return strings.HasPrefix(v, w)
	}
	return v == w
}

// hasPhrase reports whether words occur next to each other, in order.
func (f *textField) hasPhrase(words []string) bool {
	i, found := slices.BinarySearch(f.words, words[0])
	if !found {
		return false
	}
	for _, p := range f.pos[f.start[i]:f.start[i+1]] {
		end := int(p) + len(words)
		if end > len(f.tokens) {
			return false // positions ascend: no later one fits either
		}
		if slices.Equal(f.tokens[int(p)+1:end], words[1:]) {
			return true
		}
	}
	return false
}

// signature is a 1024-bit Bloom filter with two bits per word.
type signature [16]uint64

func (s *signature) add(h uint64) {
	a, b := h&1023, (h>>32)&1023
	s[a>>6] |= 1 << (a & 63)
	s[b>>6] |= 1 << (b & 63)
}

func (s *signature) has(h uint64) bool {
	a, b := h&1023, (h>>32)&1023
	return s[a>>6]&(1<<(a&63)) != 0 && s[b>>6]&(1<<(b&63)) != 0
}

// wordHash is 64-bit FNV-1a.
func wordHash(w string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(w); i++ {
		h ^= uint64(w[i])
		h *= 1099511628211
	}
	return h
}
