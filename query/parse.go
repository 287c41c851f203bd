package query

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits that keep a hostile query from costing much: chat users type them.
const (
	// MaxQueryChars is the longest query, in characters.
	MaxQueryChars = 8000
	// MinPrefixChars is the shortest prefix before a "*": a shorter one
	// matches so many words that its search scans much of the index.
	MinPrefixChars = 3
	maxQueryRunes  = MaxQueryChars
	maxDepth       = 100
)

// Query is a parsed query. It is immutable and safe for concurrent use.
type Query struct {
	root Node // nil for a query of time filters alone, which matches every item
	time []timeFilter
	str  string
	m    matcher
}

// Parse parses a query of the language of SPEC section 3:
//
//	word         the whole word, ignoring case and accents ("5G", "2023" are words)
//	word*        a word starting so
//	"a phrase"   words next to each other, in order, within one field
//	a b, a AND b both
//	a OR b       either; AND binds tighter, so "a OR b c" is "a OR (b AND c)"
//	NOT a, -a    not; binds tighter than AND
//	( ... )      grouping
//	title:  summary:  source:  lang:  ref:   limit a word, phrase or group to a field
//	since: after: before: date: sort:         narrow or order the whole query (see time.go)
//
// OR, AND and NOT are operators only in upper case. A word written with
// punctuation inside, such as digital-diplomacy, is the phrase of its words.
// The values of source:, lang: and ref: are exact, case-insensitive values
// that run to the next space, so ref:2023/0212(COD) needs no quotes; a
// quoted value may hold spaces (ref:"COM(2023) 123 final"), and a trailing *
// makes a value a prefix. A lone "-" (followed by a space, a closing
// parenthesis or the end) is an error, not a word, as it most often is a
// NOT with a stray space.
//
// The text is read as Clean makes it, and at most MaxQueryChars characters
// long. A term with no letters or digits (an emoji, a lone symbol) is left
// out rather than refused; a prefix needs MinPrefixChars characters before
// its "*".
//
// A query that does not parse gives a *SyntaxError whose Pos is the 1-based
// column, in characters of Clean(s), of the problem.
func Parse(s string) (*Query, error) {
	if !utf8.ValidString(s) {
		off := 0
		for off < len(s) {
			r, size := utf8.DecodeRuneInString(s[off:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			off += size
		}
		return nil, &SyntaxError{Pos: utf8.RuneCountInString(s[:off]) + 1, Msg: "the query is not valid UTF-8"}
	}
	s = Clean(s)
	if n := utf8.RuneCountInString(s); n > maxQueryRunes {
		return nil, &SyntaxError{Pos: maxQueryRunes + 1, Msg: fmt.Sprintf("the query is longer than %d characters", maxQueryRunes)}
	}
	if strings.TrimSpace(s) == "" {
		return nil, &SyntaxError{Pos: 1, Msg: "the query is empty"}
	}
	p := &parser{src: s}
	root, err := p.parseOr("", 0)
	if err != nil {
		return nil, err
	}
	t, err := p.peek("")
	if err != nil {
		return nil, err
	}
	if t.kind != tEOF {
		// parseOr stops only at the end or at a ")" it cannot close.
		return nil, p.errAt(t.off, "this ) has no ( to close")
	}
	root, filters, err := takeTimeFilters(root)
	if err != nil {
		return nil, err
	}
	if root == nil && len(filters) == 0 {
		return nil, &SyntaxError{Pos: 1, Msg: "the query has no letters or digits to search for"}
	}
	q := &Query{root: root, time: filters, str: format(root)}
	if root != nil {
		q.m = compile(root)
	}
	for _, f := range filters {
		if q.str != "" {
			q.str += " "
		}
		q.str += f.String()
	}
	return q, nil
}

// MustParse is Parse for queries known to be valid, such as constants in
// tests; it panics on a syntax error.
func MustParse(s string) *Query {
	q, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return q
}

// String returns the canonical form of the query; Parse(q.String()) gives
// the same query.
func (q *Query) String() string { return q.str }

// Root returns a copy of the query's tree, for compiling it to another query
// language.
func (q *Query) Root() Node { return cloneNode(q.root) }

// Words returns the positive words of the query, for weighting summaries and
// highlighting: the words and phrases that are not under a NOT, in text fields
// only, in order of first appearance and without repeats. Each entry is a
// folded word, a prefix written with its trailing "*" ("cyber*"), or a phrase
// with its words joined by one space ("digital diplomacy").
func Words(q *Query) []string {
	var out []string
	seen := map[string]bool{}
	add := func(w string) {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	var walk func(n Node, negated bool)
	walk = func(n Node, negated bool) {
		switch n := n.(type) {
		case And:
			for _, k := range n.Children {
				walk(k, negated)
			}
		case Or:
			for _, k := range n.Children {
				walk(k, negated)
			}
		case Not:
			walk(n.Child, !negated)
		case Term:
			if !negated && !IsExactField(n.Field) {
				if n.Prefix {
					add(n.Word + "*")
				} else {
					add(n.Word)
				}
			}
		case Phrase:
			if !negated {
				add(strings.Join(n.Words, " "))
			}
		}
	}
	walk(q.root, false)
	return out
}

type tokKind int

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tOr
	tAnd
	tNot   // the word NOT
	tMinus // a "-" directly before a term
	tField // name: — text holds the lower-case name
	tPhrase
	tWord
)

type token struct {
	kind tokKind
	off  int    // byte offset of the first character
	end  int    // byte offset after the token
	text string // field name, phrase content or word without its star
	// prefix is set for a word ending in "*", and for a quoted exact value
	// directly followed by "*"; star is the byte offset of that "*".
	prefix bool
	star   int
}

func (k tokKind) String() string {
	switch k {
	case tEOF:
		return "the end"
	case tLParen:
		return "("
	case tRParen:
		return ")"
	case tOr:
		return "OR"
	case tAnd:
		return "AND"
	case tNot:
		return "NOT"
	case tMinus:
		return "-"
	}
	return "a term"
}

type parser struct {
	src string
	off int // where the next token starts (possibly white space first)
}

func (p *parser) errAt(off int, msg string) error {
	return &SyntaxError{Pos: utf8.RuneCountInString(p.src[:off]) + 1, Msg: msg}
}

// peek lexes the next token without consuming it. field is the field in
// force, which decides how a bare value is read.
func (p *parser) peek(field string) (token, error) {
	off := p.off
	for off < len(p.src) {
		r, size := utf8.DecodeRuneInString(p.src[off:])
		if !unicode.IsSpace(r) {
			break
		}
		off += size
	}
	return p.lex(off, field, false)
}

// lex reads the token at off. afterField is set right after "name:", where
// a value is read as it stands: no operator or field is recognized in it.
func (p *parser) lex(off int, field string, afterField bool) (token, error) {
	s := p.src
	if off >= len(s) {
		return token{kind: tEOF, off: off, end: off}, nil
	}
	switch s[off] {
	case '(':
		return token{kind: tLParen, off: off, end: off + 1}, nil
	case ')':
		return token{kind: tRParen, off: off, end: off + 1}, nil
	case '"':
		return p.lexQuoted(off, field)
	case '-':
		next, _ := utf8.DecodeRuneInString(s[off+1:])
		if off+1 >= len(s) || unicode.IsSpace(next) || next == ')' {
			return token{}, p.errAt(off, `a lone "-" negates nothing: write -word, or NOT with a space`)
		}
		return token{kind: tMinus, off: off, end: off + 1}, nil
	}
	if !afterField {
		if name, end, ok := fieldAt(s, off); ok {
			lower := strings.ToLower(name)
			if !knownField(lower) && !isTimeField(lower) {
				return token{}, p.errAt(off, fmt.Sprintf("unknown field %q: the fields are title:, summary:, source:, lang: and ref:, and since:, after:, before:, date: and sort: for time", name+":"))
			}
			return token{kind: tField, off: off, end: end, text: lower}, nil
		}
	}
	end := bareEnd(s, off, IsExactField(field))
	raw := s[off:end]
	if !afterField {
		switch raw {
		case "OR":
			return token{kind: tOr, off: off, end: end}, nil
		case "AND":
			return token{kind: tAnd, off: off, end: end}, nil
		case "NOT":
			return token{kind: tNot, off: off, end: end}, nil
		}
	}
	t := token{kind: tWord, off: off, end: end, text: raw}
	if i := strings.IndexByte(raw, '*'); i >= 0 {
		if i == 0 {
			return token{}, p.errAt(off+i, `"*" must end a word, as in cyber*`)
		}
		if i != len(raw)-1 {
			return token{}, p.errAt(off+i, `"*" may only end a word, as in cyber*`)
		}
		t.text, t.prefix, t.star = raw[:i], true, off+i
	}
	return t, nil
}

// lexQuoted reads a quoted phrase or exact value starting at the quote.
func (p *parser) lexQuoted(off int, field string) (token, error) {
	s := p.src
	closing := strings.IndexByte(s[off+1:], '"')
	if closing < 0 {
		return token{}, p.errAt(off, "this quote is never closed")
	}
	inner := s[off+1 : off+1+closing]
	t := token{kind: tPhrase, off: off, end: off + closing + 2, text: inner}
	if IsExactField(field) {
		// Inside quotes an exact value is literal; a "*" right after the
		// closing quote makes it a prefix.
		if t.end < len(s) && s[t.end] == '*' {
			t.prefix, t.star = true, t.end
			t.end++
		}
		return t, nil
	}
	if i := strings.IndexByte(inner, '*'); i >= 0 {
		return token{}, p.errAt(off+1+i, `"*" cannot be used inside a phrase`)
	}
	return t, nil
}

// fieldAt reports whether s[off:] starts with ASCII letters and a colon.
func fieldAt(s string, off int) (name string, end int, ok bool) {
	i := off
	for i < len(s) && ('a' <= s[i] && s[i] <= 'z' || 'A' <= s[i] && s[i] <= 'Z') {
		i++
	}
	if i == off || i >= len(s) || s[i] != ':' {
		return "", 0, false
	}
	return s[off:i], i + 1, true
}

// bareEnd returns where a bare word or value starting at off ends. A word
// ends at white space, a quote or a parenthesis. An exact value keeps
// balanced parentheses, as in 2023/0212(COD), and ends at white space, a
// quote or a ")" it did not open.
func bareEnd(s string, off int, exact bool) int {
	depth := 0
	for i := off; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r) || r == '"':
			return i
		case r == '(':
			if !exact {
				return i
			}
			depth++
		case r == ')':
			if !exact || depth == 0 {
				return i
			}
			depth--
		}
		i += size
	}
	return len(s)
}

// startsTerm reports whether a token can begin a term.
func startsTerm(k tokKind) bool {
	switch k {
	case tEOF, tRParen, tOr, tAnd:
		return false
	}
	return true
}

// parseOr reads and-expressions joined by OR, up to the end or a ")".
func (p *parser) parseOr(field string, depth int) (Node, error) {
	first, err := p.parseAnd(field, depth)
	if err != nil {
		return nil, err
	}
	kids := appendFlat(nil, first, true)
	for {
		t, err := p.peek(field)
		if err != nil {
			return nil, err
		}
		if t.kind != tOr {
			break
		}
		p.off = t.end
		if err := p.expectTerm(t, field); err != nil {
			return nil, err
		}
		n, err := p.parseAnd(field, depth)
		if err != nil {
			return nil, err
		}
		kids = appendFlat(kids, n, true)
	}
	switch len(kids) {
	case 0:
		return nil, nil
	case 1:
		return kids[0], nil
	}
	return Or{Children: kids}, nil
}

// parseAnd reads unary terms side by side or joined by AND.
func (p *parser) parseAnd(field string, depth int) (Node, error) {
	first, err := p.parseUnary(field, depth)
	if err != nil {
		return nil, err
	}
	kids := appendFlat(nil, first, false)
	for {
		t, err := p.peek(field)
		if err != nil {
			return nil, err
		}
		switch t.kind {
		case tEOF, tRParen, tOr:
			switch len(kids) {
			case 0:
				return nil, nil
			case 1:
				return kids[0], nil
			}
			return And{Children: kids}, nil
		case tAnd:
			p.off = t.end
			if err := p.expectTerm(t, field); err != nil {
				return nil, err
			}
		}
		n, err := p.parseUnary(field, depth)
		if err != nil {
			return nil, err
		}
		kids = appendFlat(kids, n, false)
	}
}

// expectTerm checks that a term follows the operator op.
func (p *parser) expectTerm(op token, field string) error {
	t, err := p.peek(field)
	if err != nil {
		return err
	}
	if !startsTerm(t.kind) {
		return p.errAt(op.off, fmt.Sprintf("%s needs a term after it", op.kind))
	}
	return nil
}

func (p *parser) parseUnary(field string, depth int) (Node, error) {
	t, err := p.peek(field)
	if err != nil {
		return nil, err
	}
	if t.kind != tNot && t.kind != tMinus {
		return p.parsePrimary(field, depth)
	}
	if depth >= maxDepth {
		return nil, p.errAt(t.off, "the query is nested too deeply")
	}
	p.off = t.end
	if t.kind == tNot {
		if err := p.expectTerm(t, field); err != nil {
			return nil, err
		}
	} else if next, err := p.lex(p.off, field, false); err != nil {
		return nil, err
	} else if !startsTerm(next.kind) {
		return nil, p.errAt(t.off, `"-" needs a term right after it`)
	}
	child, err := p.parseUnary(field, depth+1)
	if err != nil || child == nil {
		return nil, err
	}
	return Not{Child: child}, nil
}

func (p *parser) parsePrimary(field string, depth int) (Node, error) {
	t, err := p.peek(field)
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case tField:
		if field != "" {
			return nil, p.errAt(t.off, fmt.Sprintf("%s: cannot be used inside %s:", t.text, field))
		}
		p.off = t.end
		if isTimeField(t.text) {
			return p.parseTimeFilter(t)
		}
		return p.parseFieldValue(t, depth)
	case tLParen:
		return p.parseGroup(t, field, depth)
	case tPhrase, tWord:
		p.off = t.end
		return p.leaf(t, field)
	case tOr, tAnd:
		return nil, p.errAt(t.off, fmt.Sprintf("%s needs a term before it", t.kind))
	case tRParen:
		return nil, p.errAt(t.off, "this ) has no ( to close")
	}
	return nil, p.errAt(t.off, "a term is missing here")
}

// parseTimeFilter reads the value after since:, after:, before:, date: or
// sort:, a bare word right after the colon.
func (p *parser) parseTimeFilter(f token) (Node, error) {
	t, err := p.lex(p.off, f.text, true)
	if err != nil {
		return nil, err
	}
	if t.kind != tWord || t.end == t.off || t.prefix {
		return nil, p.errAt(f.off, fmt.Sprintf("%s: needs a value right after the colon, as in since:7d, date:2026-11 or sort:date", f.text))
	}
	p.off = t.end
	pos := utf8.RuneCountInString(p.src[:f.off]) + 1
	tf, msg := newTimeFilter(f.text, t.text, pos)
	if msg != "" {
		return nil, p.errAt(t.off, msg)
	}
	return timeNode{f: tf}, nil
}

// parseFieldValue reads what follows "name:": a group, a phrase, a word or
// value, or a negation, with no space in between.
func (p *parser) parseFieldValue(f token, depth int) (Node, error) {
	t, err := p.lex(p.off, f.text, true)
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case tLParen:
		return p.parseGroup(t, f.text, depth)
	case tPhrase, tWord:
		if t.kind == tWord && t.end == t.off {
			break // white space, a quote or ")" right after the colon
		}
		p.off = t.end
		return p.leaf(t, f.text)
	case tMinus:
		return p.parseUnary(f.text, depth)
	}
	return nil, p.errAt(f.off, fmt.Sprintf("%s: needs a word, a phrase or a group right after the colon", f.text))
}

func (p *parser) parseGroup(open token, field string, depth int) (Node, error) {
	if depth >= maxDepth {
		return nil, p.errAt(open.off, "the query is nested too deeply")
	}
	p.off = open.end
	t, err := p.peek(field)
	if err != nil {
		return nil, err
	}
	if t.kind == tRParen {
		return nil, p.errAt(open.off, "empty parentheses")
	}
	if t.kind == tEOF {
		return nil, p.errAt(open.off, "this ( is never closed")
	}
	n, err := p.parseOr(field, depth+1)
	if err != nil {
		return nil, err
	}
	t, err = p.peek(field)
	if err != nil {
		return nil, err
	}
	if t.kind != tRParen {
		return nil, p.errAt(open.off, "this ( is never closed")
	}
	p.off = t.end
	return n, nil
}

// leaf turns a word or quoted token into a Term or Phrase of field.
func (p *parser) leaf(t token, field string) (Node, error) {
	if IsExactField(field) {
		v := normalizeKeyword(field, t.text)
		if v == "" {
			return nil, p.errAt(t.off, fmt.Sprintf("%s: needs a value", field))
		}
		return Term{Field: field, Word: v, Prefix: t.prefix}, nil
	}
	words := Tokens(t.text)
	switch {
	case len(words) == 0:
		// Emoji and symbols are not searched for; the rest of the query is.
		return nil, nil
	case len(words) == 1:
		if t.prefix && utf8.RuneCountInString(words[0]) < MinPrefixChars {
			return nil, p.errAt(t.off, fmt.Sprintf("%q is too short a prefix: write at least %d letters before the \"*\"", t.text+"*", MinPrefixChars))
		}
		return Term{Field: field, Word: words[0], Prefix: t.prefix}, nil
	case t.prefix:
		return nil, p.errAt(t.star, `"*" can only end a single word, not `+fmt.Sprintf("%q", t.text))
	}
	return Phrase{Field: field, Words: words}, nil
}

// appendFlat appends n to kids, splicing in the children of a nested node of
// the same kind, so that (a OR b) OR c is one Or of three.
func appendFlat(kids []Node, n Node, or bool) []Node {
	if n == nil {
		return kids // a term with nothing to search for
	}
	if or {
		if o, ok := n.(Or); ok {
			return append(kids, o.Children...)
		}
		return append(kids, n)
	}
	if a, ok := n.(And); ok {
		return append(kids, a.Children...)
	}
	return append(kids, n)
}
