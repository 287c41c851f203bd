package query

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/policywire/policywire"
)

// foldReference folds the whole string through foldUnicode at once, which
// Fold does piece by piece.
func foldReference(s string) string { return foldUnicode(s) }

// tokensReference splits foldReference(s) into words rune by rune.
func tokensReference(s string) []string {
	return strings.FieldsFunc(foldReference(s), func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r))
	})
}

// oracleDoc is an item as the query language describes it: fields made of
// parts (a phrase stays within a part), each part a list of words.
type oracleDoc struct {
	title, summary, categories [][]string
	source, lang               string
	refs                       []string
}

func newOracleDoc(it policywire.Item) oracleDoc {
	d := oracleDoc{
		title:   [][]string{tokensReference(it.Title)},
		summary: [][]string{tokensReference(it.Summary)},
		source:  strings.Join(strings.Fields(foldReference(it.Source)), " "),
		lang:    strings.Join(strings.Fields(foldReference(it.Language)), " "),
	}
	if it.Content != "" {
		d.summary = append(d.summary, tokensReference(it.Content))
	}
	for _, c := range it.Categories {
		d.categories = append(d.categories, tokensReference(c))
	}
	for _, r := range it.References {
		d.refs = append(d.refs, NormalizeRef(r))
	}
	return d
}

func (d oracleDoc) parts(field string) [][]string {
	switch field {
	case FieldTitle:
		return d.title
	case FieldSummary:
		return d.summary
	}
	return slices.Concat(d.title, d.summary, d.categories)
}

func oracleValue(v, w string, prefix bool) bool {
	if prefix {
		return strings.HasPrefix(v, w)
	}
	return v == w
}

func (d oracleDoc) match(n Node) bool {
	switch n := n.(type) {
	case And:
		for _, k := range n.Children {
			if !d.match(k) {
				return false
			}
		}
		return true
	case Or:
		return slices.ContainsFunc(n.Children, d.match)
	case Not:
		return !d.match(n.Child)
	case Term:
		switch n.Field {
		case FieldSource:
			return oracleValue(d.source, n.Word, n.Prefix)
		case FieldLang:
			return oracleValue(d.lang, n.Word, n.Prefix)
		case FieldRef:
			return slices.ContainsFunc(d.refs, func(r string) bool { return r != "" && oracleValue(r, n.Word, n.Prefix) })
		}
		for _, part := range d.parts(n.Field) {
			if slices.ContainsFunc(part, func(w string) bool { return oracleValue(w, n.Word, n.Prefix) }) {
				return true
			}
		}
		return false
	case Phrase:
		for _, part := range d.parts(n.Field) {
			for i := 0; i+len(n.Words) <= len(part); i++ {
				if slices.Equal(part[i:i+len(n.Words)], n.Words) {
					return true
				}
			}
		}
		return false
	}
	panic(fmt.Sprintf("unknown node %T", n))
}

// oracleItems are generated items with accents, upper case, combining
// marks and the odd invalid byte mixed in.
func oracleItems(n int) []policywire.Item {
	items := benchItems(n)
	r := rand.New(rand.NewPCG(11, 12))
	spice := []string{"Sécurité", "AUSSENPOLITIK", "Außenpolitik", "Œuvre", "ÆRØ", "Łódź", "İstanbul", "ıi",
		"Ελληνικά ΟΔΟΣ", "se\u0301curite\u0301", "e\u0301\u0327", "\u0301x", "naïve", "a\xffb", "ǅemal", "Ωﬁ",
		"Кириллица", "नमस्ते", "ẞ", "x\u0345\u0301y", "Zürich—Kraków", "l'Union européenne", "5G/G7", "Å\u030a"}
	for i := range items {
		it := &items[i]
		for range r.IntN(4) {
			s := spice[r.IntN(len(spice))]
			switch r.IntN(4) {
			case 0:
				it.Title += " " + s
			case 1:
				it.Summary = s + " " + it.Summary
			case 2:
				it.Content += " " + s + " " + it.Title
			default:
				it.Categories = append(it.Categories, s)
			}
		}
	}
	return items
}

// oracleQueries are queries made from the words of the items, so that
// many of them match: words, prefixes, phrases and fields.
func oracleQueries(items []policywire.Item, n int) []*Query {
	r := rand.New(rand.NewPCG(13, 14))
	pick := func() (string, []string) {
		it := items[r.IntN(len(items))]
		texts := []string{it.Title, it.Summary, it.Content, strings.Join(it.Categories, " ")}
		words := Tokens(texts[r.IntN(len(texts))])
		if len(words) == 0 {
			return "nothing", []string{"nothing"}
		}
		i := r.IntN(len(words))
		return words[i], words[i:min(len(words), i+2+r.IntN(3))]
	}
	fields := []string{"", "", "title:", "summary:"}
	qs := benchTopics(100)
	for len(qs) < n {
		var parts []string
		for range 1 + r.IntN(4) {
			w, phrase := pick()
			f := fields[r.IntN(len(fields))]
			switch r.IntN(5) {
			case 0, 1:
				parts = append(parts, f+w)
			case 2:
				if utf8.RuneCountInString(w) < MinPrefixChars {
					parts = append(parts, f+w)
					break
				}
				cut := []rune(w)[:MinPrefixChars+r.IntN(utf8.RuneCountInString(w)-MinPrefixChars+1)]
				parts = append(parts, f+string(cut)+"*")
			case 3:
				parts = append(parts, f+`"`+strings.Join(phrase, " ")+`"`)
			default:
				parts = append(parts, "-"+f+w)
			}
		}
		q, err := Parse(strings.Join(parts, []string{" ", " OR "}[r.IntN(2)]))
		if err != nil {
			continue
		}
		qs = append(qs, q)
	}
	return qs
}

// TestMatchAgreesWithOracle matches generated items against generated
// queries and compares with the plain reading of the query language.
func TestMatchAgreesWithOracle(t *testing.T) {
	items := oracleItems(400)
	queries := oracleQueries(items, 600)
	matched := 0
	for _, it := range items {
		d, o := Prepare(it), newOracleDoc(it)
		for _, q := range queries {
			got, want := q.Match(d), o.match(q.Root())
			if got != want {
				t.Fatalf("%s on %+v: Match %v, oracle %v", q, it, got, want)
			}
			if got {
				matched++
			}
		}
	}
	if matched < len(items)*len(queries)/50 {
		t.Fatalf("only %d matches: the test says little", matched)
	}
}

// TestFoldAgreesWithReference folds generated text and odd strings both
// ways.
func TestFoldAgreesWithReference(t *testing.T) {
	var inputs []string
	for _, it := range oracleItems(300) {
		inputs = append(inputs, it.Title, it.Summary, it.Content)
		inputs = append(inputs, it.Categories...)
	}
	r := rand.New(rand.NewPCG(15, 16))
	runes := []rune{'a', 'Z', ' ', '-', 'é', 'É', 'ß', 'ẞ', 'İ', 'ı', 'Σ', 'ς', 'Å', 'ǅ', 'ﬁ', 'K',
		0x301, 0x327, 0x308, 0x345, 0x34f, 0x1d165, 0x0915, 0x094d, utf8.RuneError, 0x1e9e, 0x2c65, 0x23a}
	for range 3000 {
		var b strings.Builder
		for range r.IntN(40) {
			if r.IntN(30) == 0 {
				b.WriteByte(0x80 + byte(r.IntN(0x7f)))
				continue
			}
			if r.IntN(4) == 0 {
				b.WriteRune(rune(0x80 + r.IntN(0x700)))
				continue
			}
			b.WriteRune(runes[r.IntN(len(runes))])
		}
		inputs = append(inputs, b.String())
	}
	for _, s := range inputs {
		if got, want := Fold(s), foldReference(s); got != want {
			t.Fatalf("Fold(%q) = %q, want %q", s, got, want)
		}
		if got, want := Tokens(s), tokensReference(s); !slices.Equal(got, want) && len(got)+len(want) > 0 {
			t.Fatalf("Tokens(%q) = %q, want %q", s, got, want)
		}
	}
}
