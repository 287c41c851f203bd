package query

import (
	"bytes"
	"cmp"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/policywire/policywire"
)

// Doc is an item prepared for matching: its text folded and tokenized once,
// so that many queries can be matched against it cheaply. A Doc is read-only
// after Prepare and safe for concurrent use.
type Doc struct {
	// words are the distinct words of title, summary, content and
	// categories, in the order they first occur; first[i] is the first
	// byte of words[i], and in[i] says which fields it occurs in.
	words []string
	first []byte
	in    []fieldSet
	// table finds a word by its wordHash: open addressing, each slot the
	// high half of the hash and 1 + the word's index (0: empty slot).
	table []uint64
	// toks are the words of the text in order, as indexes into words, with
	// noWord after each part a phrase must not run across: title, summary,
	// content, every category. The title is toks[:titleEnd], summary and
	// content toks[titleEnd:summaryEnd], the categories the rest.
	toks                 []int32
	titleEnd, summaryEnd int32
	// The positions in toks of words[i] are pos[start[i]:start[i+1]],
	// ascending.
	start []int32
	pos   []int32

	source string
	lang   string
	refs   []string // distinct references in NormalizeRef form, sorted
	// date is the item's date for time filters, zero when it has none or
	// one the search index cannot hold either.
	date time.Time
}

// fieldSet is a set of text fields.
type fieldSet uint8

const (
	inTitle fieldSet = 1 << iota
	inSummary
	inCategories
	inAny = inTitle | inSummary | inCategories
)

// noWord ends a part of the text in Doc.toks.
const noWord = -1

// Prepare folds and tokenizes an item once for matching. Title, summary,
// content and categories are the text fields; source, language and
// references are kept whole.
func Prepare(it policywire.Item) *Doc {
	d := &Doc{
		source: normalizeKeyword(FieldSource, it.Source),
		lang:   normalizeKeyword(FieldLang, it.Language),
	}
	if dt := it.Date(); dt.Year() > 1677 && dt.Year() < 2262 {
		d.date = dt
	}
	// Every part is folded into one string, which the words are cut from.
	n := len(it.Title) + len(it.Summary) + len(it.Content)
	for _, c := range it.Categories {
		n += len(c)
	}
	var b strings.Builder
	b.Grow(n)
	var partsBuf [8]textPart
	parts := partsBuf[:0]
	add := func(s string, f fieldSet) {
		foldTo(&b, s)
		parts = append(parts, textPart{end: b.Len(), field: f})
	}
	add(it.Title, inTitle)
	add(it.Summary, inSummary)
	if it.Content != "" {
		add(it.Content, inSummary)
	}
	for _, c := range it.Categories {
		add(c, inCategories)
	}
	d.index(b.String(), parts)

	for _, r := range it.References {
		if n := NormalizeRef(r); n != "" {
			d.refs = append(d.refs, n)
		}
	}
	slices.Sort(d.refs)
	d.refs = slices.Compact(d.refs)
	return d
}

// textPart is where a part of the folded text ends, and its field.
type textPart struct {
	end   int
	field fieldSet
}

// index tokenizes the folded text, part by part, and builds the word
// table and the positions.
func (d *Doc) index(text string, parts []textPart) {
	// About one word in six bytes of text, half of them distinct.
	est := len(text)/6 + len(parts)
	d.toks = make([]int32, 0, est)
	d.words = make([]string, 0, est/2+1)
	d.first = make([]byte, 0, cap(d.words))
	d.in = make([]fieldSet, 0, cap(d.words))
	size := 16
	for size < est {
		size *= 2
	}
	d.table = make([]uint64, size)
	begin := 0
	for _, p := range parts {
		for i := begin; ; {
			s, e := nextWord(text[:p.end], i)
			if s < 0 {
				break
			}
			id := d.intern(text[s:e])
			d.in[id] |= p.field
			d.toks = append(d.toks, id)
			i = e
		}
		d.toks = append(d.toks, noWord)
		begin = p.end
		switch p.field {
		case inTitle:
			d.titleEnd = int32(len(d.toks))
			d.summaryEnd = d.titleEnd
		case inSummary:
			d.summaryEnd = int32(len(d.toks))
		}
	}
	// Positions by word, in text order: a counting sort of the tokens.
	start := make([]int32, len(d.words)+2)
	for _, t := range d.toks {
		if t != noWord {
			start[t+2]++
		}
	}
	for i := 2; i < len(start); i++ {
		start[i] += start[i-1]
	}
	d.pos = make([]int32, start[len(start)-1])
	for p, t := range d.toks {
		if t != noWord {
			d.pos[start[t+1]] = int32(p)
			start[t+1]++
		}
	}
	d.start = start[:len(d.words)+1]
}

// intern returns the index of a word in d.words, adding it if new.
func (d *Doc) intern(w string) int32 {
	h := wordHash(w)
	mask := uint64(len(d.table) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := d.table[i]
		if e == 0 {
			id := int32(len(d.words))
			d.words = append(d.words, w)
			d.first = append(d.first, w[0])
			d.in = append(d.in, 0)
			d.table[i] = h>>32<<32 | uint64(id+1)
			if 2*len(d.words) > len(d.table) {
				d.grow()
			}
			return id
		}
		if e>>32 == h>>32 && d.words[uint32(e)-1] == w {
			return int32(uint32(e) - 1)
		}
	}
}

// grow doubles the word table.
func (d *Doc) grow() {
	old := d.table
	d.table = make([]uint64, 2*len(old))
	mask := uint64(len(d.table) - 1)
	for _, e := range old {
		if e == 0 {
			continue
		}
		h := wordHash(d.words[uint32(e)-1])
		i := h & mask
		for d.table[i] != 0 {
			i = (i + 1) & mask
		}
		d.table[i] = e
	}
}

// lookup returns the index of a word in d.words, or -1; h is its wordHash.
func (d *Doc) lookup(w string, h uint64) int32 {
	mask := uint64(len(d.table) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := d.table[i]
		if e == 0 {
			return -1
		}
		if e>>32 == h>>32 && d.words[uint32(e)-1] == w {
			return int32(uint32(e) - 1)
		}
	}
}

// hasWord reports whether a word occurs in one of the fields; h is its
// wordHash.
func (d *Doc) hasWord(w string, h uint64, fields fieldSet) bool {
	id := d.lookup(w, h)
	return id >= 0 && d.in[id]&fields != 0
}

// hasPrefix reports whether a word of one of the fields starts with p.
func (d *Doc) hasPrefix(p string, fields fieldSet) bool {
	if p == "" {
		return slices.ContainsFunc(d.in, func(in fieldSet) bool { return in&fields != 0 })
	}
	for i := 0; ; i++ {
		j := bytes.IndexByte(d.first[i:], p[0])
		if j < 0 {
			return false
		}
		i += j
		if d.in[i]&fields != 0 && strings.HasPrefix(d.words[i], p) {
			return true
		}
	}
}

// hasPhrase reports whether words occur next to each other, in order,
// starting within toks[lo:hi]; hashes are their wordHash.
func (d *Doc) hasPhrase(words []string, hashes []uint64, lo, hi int32) bool {
	id := d.lookup(words[0], hashes[0])
	if id < 0 {
		return false
	}
	for i := 1; i < len(words); i++ {
		if d.lookup(words[i], hashes[i]) < 0 {
			return false
		}
	}
	for _, p := range d.pos[d.start[id]:d.start[id+1]] {
		if p < lo {
			continue
		}
		if p >= hi || int(p)+len(words) > len(d.toks) {
			return false // positions ascend: no later one fits either
		}
		if d.followedBy(p, words[1:]) {
			return true
		}
	}
	return false
}

// followedBy reports whether the tokens after position p are words.
func (d *Doc) followedBy(p int32, words []string) bool {
	for k, w := range words {
		t := d.toks[int(p)+1+k]
		if t == noWord || d.words[t] != w {
			return false
		}
	}
	return true
}

// Match reports whether the prepared item matches the query, with its time
// filters resolved against the clock; MatchAt takes the time instead.
func (q *Query) Match(d *Doc) bool { return q.MatchAt(d, time.Now()) }

// MatchItem prepares the item and matches it. To match one item against
// many queries, Prepare it once and call Match instead.
func (q *Query) MatchItem(it policywire.Item) bool { return q.Match(Prepare(it)) }

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
		return m.matchTerm(d)
	case opPhrase:
		switch m.field {
		case fTitle:
			return d.hasPhrase(m.words, m.hashes, 0, d.titleEnd)
		case fSummary:
			return d.hasPhrase(m.words, m.hashes, d.titleEnd, d.summaryEnd)
		}
		return d.hasPhrase(m.words, m.hashes, 0, int32(len(d.toks)))
	}
	return false
}

func (m *matcher) matchTerm(d *Doc) bool {
	fields := inAny
	switch m.field {
	case fTitle:
		fields = inTitle
	case fSummary:
		fields = inSummary
	case fSource:
		return hasValue(d.source, m.word, m.prefix)
	case fLang:
		return hasValue(d.lang, m.word, m.prefix)
	case fRef:
		return hasWord(d.refs, m.word, m.prefix)
	}
	if m.prefix {
		return d.hasPrefix(m.word, fields)
	}
	return d.hasWord(m.word, m.hashes[0], fields)
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

// wordHash is the hash words are looked up by in a Doc: a multiply-mix of
// the word's bytes read eight, four or one at a time, cheaper than a byte by
// byte hash on the few bytes a word has.
func wordHash(w string) uint64 {
	const k0, k1, k2 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db, 0x8ebc6af09c88c6e3
	n := len(w)
	var a, b uint64
	switch {
	case n > 8:
		h := uint64(n) ^ k0
		for s := w; len(s) > 8; s = s[8:] {
			h = mix(h^le64(s), k1)
		}
		a, b = h, le64(w[n-8:]) // the last eight bytes, overlapping
	case n >= 4:
		a = uint64(le32(w))<<32 | uint64(le32(w[n-4:]))
	case n > 0:
		a = uint64(w[0])<<16 | uint64(w[n>>1])<<8 | uint64(w[n-1])
	}
	return mix(a^k1, b^k2^uint64(n))
}

// mix folds the 128-bit product of a and b to 64 bits.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func le32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}
