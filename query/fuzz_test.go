package query

import (
	"testing"

	"github.com/policywire/policywire"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`"digital diplomacy" OR "cyber diplomacy" OR "tech ambassador"`,
		"cyber* AND (security OR resilience OR attack)",
		"a OR b c", "NOT a -b", "-(a OR b)", "title:(a -b) summary:c*",
		`source:eeas-press lang:fr ref:"COM(2023) 123 final"`,
		"ref:2023/0212(COD)", `(ref:a(b) OR ref:"x y"*)`, "Außenpolitik Sécurité",
		"a (", `"x`, "foo:bar", "*", "()", "a - b", "title:", "10:30", "source:\u0301-x*",
		"ref:a(b*", `ref:"(x"`, "--a", "NOT NOT a", "a\xffb",
	} {
		f.Add(s)
	}
	item := policywire.Item{
		Source: "eeas-press", Title: "Digital diplomacy: a tech ambassador", Summary: "Cyber-security and resilience.",
		Language: "fr", Categories: []string{"Asia"}, References: []string{"COM(2023) 123 final", "2023/0212(COD)"},
	}
	doc, oracle := Prepare(item), newOracleDoc(item)
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("Parse(%q) error %T %v, want *SyntaxError", s, err, err)
			}
			return
		}
		again, err := Parse(q.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", s, q.String(), err)
		}
		if again.String() != q.String() {
			t.Fatalf("Parse(%q) = %q, which parses to %q", s, q.String(), again.String())
		}
		if dump(again.Root()) != dump(q.Root()) {
			t.Fatalf("Parse(%q): tree %s, after round trip %s", s, dump(q.Root()), dump(again.Root()))
		}
		if q.Match(doc) != again.Match(doc) {
			t.Fatalf("Parse(%q) and its canonical form %q disagree on a match", s, q.String())
		}
		if q.Match(doc) != oracle.match(q.Root()) {
			t.Fatalf("Parse(%q): Match says %v, the plain reading of the query the opposite", s, q.Match(doc))
		}
		_ = Words(q)
	})
}

func FuzzFold(f *testing.F) {
	for _, s := range []string{"Sécurité", "Außenpolitik", "İı", "ẞ", "a\xffb", "ǅ", "Ωﬁ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		folded := Fold(s)
		if want := foldReference(s); folded != want {
			t.Fatalf("Fold(%q) = %q, want %q", s, folded, want)
		}
		if Fold(folded) != folded {
			t.Fatalf("Fold(%q) = %q, but Fold of that is %q", s, folded, Fold(folded))
		}
		for _, w := range Tokens(s) {
			if got := Tokens(w); len(got) != 1 || got[0] != w {
				t.Fatalf("token %q of %q tokenizes to %q", w, s, got)
			}
		}
		if n := NormalizeRef(s); NormalizeRef(n) != n {
			t.Fatalf("NormalizeRef(%q) = %q, but again %q", s, n, NormalizeRef(n))
		}
	})
}
