package query

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// dump writes a tree as an S-expression that shows every field, so that a
// golden file pins the tree itself and not only its canonical text.
func dump(n Node) string {
	switch n := n.(type) {
	case nil:
		return "(all)"

	case And:
		return "(and " + dumpAll(n.Children) + ")"
	case Or:
		return "(or " + dumpAll(n.Children) + ")"
	case Not:
		return "(not " + dump(n.Child) + ")"
	case Term:
		kind := "term"
		if n.Prefix {
			kind = "prefix"
		}
		return fmt.Sprintf("(%s %s %q)", kind, fieldName(n.Field), n.Word)
	case Phrase:
		return fmt.Sprintf("(phrase %s %q)", fieldName(n.Field), n.Words)
	}
	return fmt.Sprintf("(unknown %T)", n)
}

func dumpAll(ns []Node) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = dump(n)
	}
	return strings.Join(parts, " ")
}

func fieldName(f string) string {
	if f == FieldDefault {
		return "*"
	}
	return f
}

func TestParseCanonical(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"word", "security", "security"},
		{"word is folded", "Sécurité", "securite"},
		{"german sharp s", "Außenpolitik", "aussenpolitik"},
		{"number", "2023", "2023"},
		{"5G is a word", "5G", "5g"},
		{"prefix", "cyber*", "cyber*"},
		{"phrase", `"Digital  Diplomacy"`, `"digital diplomacy"`},
		{"one word phrase is a word", `"diplomacy"`, "diplomacy"},
		{"punctuated word is a phrase", "digital-diplomacy", `"digital diplomacy"`},
		{"implicit and", "a b", "a AND b"},
		{"explicit and", "a AND b", "a AND b"},
		{"or", "a OR b", "a OR b"},
		{"and binds tighter than or", "a OR b c", "a OR (b AND c)"},
		{"and binds tighter than or, left", "a b OR c", "(a AND b) OR c"},
		{"parentheses override", "(a OR b) c", "(a OR b) AND c"},
		{"nested groups flatten", "((a OR b) OR (c OR d))", "a OR b OR c OR d"},
		{"and groups flatten", "a (b c) AND d", "a AND b AND c AND d"},
		{"not", "NOT a", "NOT a"},
		{"minus", "a -b", "a AND NOT b"},
		{"not binds tighter than and", "NOT a b", "NOT a AND b"},
		{"not of a group", "-(a OR b) c", "NOT (a OR b) AND c"},
		{"not of a phrase", `-"a b"`, `NOT "a b"`},
		{"double negation kept", "NOT -a", "NOT NOT a"},
		{"lower-case or is a word", "war or peace", "war AND or AND peace"},
		{"lower-case and not are words", "not and", "not AND and"},
		{"title field", "title:security", "title:security"},
		{"symbols and emoji left out", `a & b 🚀 "" -✨ (🇪🇺) c`, "a AND b AND c"},
		{"emoji inside a word splits it", "digital🚀diplomacy", `"digital diplomacy"`},
		{"full-width folded", "ｃｙｂｅｒ　ＯＲ　ｔｅｃｈ＊", "cyber OR tech*"},
		{"zero-width and soft hyphen dropped", "cy​ber­‍", "cyber"},
		{"field name is case-insensitive", "Title:Security", "title:security"},
		{"field on a phrase", `title:"digital diplomacy"`, `title:"digital diplomacy"`},
		{"field on a group", "title:(a OR b)", "title:(a OR b)"},
		{"field on a group with not", "title:(a -b)", "title:(a AND NOT b)"},
		{"same field written twice groups", "title:a title:b", "title:(a AND b)"},
		{"mixed fields", "title:a summary:b", "title:a AND summary:b"},
		{"field on a negation", "title:-a b", "NOT title:a AND b"},
		{"field on a negated group", "NOT title:(a OR b)", "NOT title:(a OR b)"},
		{"summary field", "summary:cyber*", "summary:cyber*"},
		{"source", "source:Council-Press", "source:council-press"},
		{"source prefix", "source:eu*", "source:eu*"},
		{"source group", "source:(eeas-press OR council-press)", "source:eeas-press OR source:council-press"},
		{"lang", "lang:FR", "lang:fr"},
		{"ref unquoted with parentheses", "ref:2023/0212(COD)", "ref:2023/0212(cod)"},
		{"ref in a group keeps its parentheses", "(ref:2023/0212(COD) OR x)", "ref:2023/0212(cod) OR x"},
		{"ref quoted", `ref:"COM(2023)  123 Final"`, `ref:"com(2023) 123 final"`},
		{"ref spaces around parentheses", `ref:"COM (2023) 123"`, `ref:"com(2023) 123"`},
		{"ref quoted prefix", `ref:"COM(2023) 12"*`, `ref:"com(2023) 12"*`},
		{"ref group", "ref:(IP/26/301 OR 2023/0212(COD))", "ref:ip/26/301 OR ref:2023/0212(cod)"},
		{"ref literal star in quotes", `ref:"a*"`, `ref:"a*"`},
		{"words around a colon that is no field", "10:30", `"10 30"`},
		{"operators after a colon are values", "title:OR", "title:or"},
		{"spec topic 1", `"digital diplomacy" OR "cyber diplomacy" OR "tech ambassador"`, `"digital diplomacy" OR "cyber diplomacy" OR "tech ambassador"`},
		{"spec topic 2", "cyber* AND (security OR resilience OR attack)", "cyber* AND (security OR resilience OR attack)"},
		{"white space everywhere", "  a\tOR\n( b  c )  ", "a OR (b AND c)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got := q.String(); got != tc.want {
				t.Errorf("Parse(%q).String() = %q, want %q", tc.in, got, tc.want)
			}
			again, err := Parse(q.String())
			if err != nil {
				t.Fatalf("Parse(%q) (the canonical form): %v", q.String(), err)
			}
			if dump(again.Root()) != dump(q.Root()) {
				t.Errorf("round trip changed the tree:\n  %s\n  %s", dump(q.Root()), dump(again.Root()))
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		pos      int
		msg      string // a part of the message
	}{
		{"empty", "", 1, "empty"},
		{"blank", "   ", 1, "empty"},
		{"unclosed paren", "a (b OR c", 3, "( is never closed"},
		{"unclosed nested paren", "((a) b", 1, "( is never closed"},
		{"paren open at end", "a (", 3, "( is never closed"},
		{"stray close paren", "a b) c", 4, ") has no ("},
		{"close paren first", ") a", 1, ") has no ("},
		{"empty parens", "a () b", 3, "empty parentheses"},
		{"empty parens with space", "( )", 1, "empty parentheses"},
		{"unterminated quote", `a "digital diplomacy`, 3, "quote is never closed"},
		{"phrase of punctuation alone", `" , "`, 1, "no letters or digits"},
		{"emoji alone", "🚀 ✨", 1, "no letters or digits"},
		{"short prefix", "a OR cy*", 6, `"cy*" is too short a prefix`},
		{"short prefix after zero-width space", "a​​ OR c*", 6, "too short a prefix"},
		{"full-width short prefix", "ｃｙ＊", 1, "too short a prefix"},
		{"star inside phrase", `"cyber sec*"`, 11, "inside a phrase"},
		{"unknown field", "a foo:bar", 3, `unknown field "foo:"`},
		{"url is an unknown field", "https://example.eu", 1, `unknown field "https:"`},
		{"field without value", "title: security", 1, "right after the colon"},
		{"field at end", "a title:", 3, "right after the colon"},
		{"field before close paren", "(title:)", 2, "right after the colon"},
		{"field inside field", "title:(a summary:b)", 10, "cannot be used inside title:"},
		{"empty source", `source:""`, 8, "source: needs a value"},
		{"dangling or", "a OR", 3, "OR needs a term after it"},
		{"leading or", "OR a", 1, "OR needs a term before it"},
		{"double or", "a OR OR b", 3, "OR needs a term after it"},
		{"or before close paren", "(a OR) b", 4, "OR needs a term after it"},
		{"dangling and", "a AND", 3, "AND needs a term after it"},
		{"leading and", "AND a", 1, "AND needs a term before it"},
		{"and then or", "a AND OR b", 3, "AND needs a term after it"},
		{"dangling not", "a NOT", 3, "NOT needs a term after it"},
		{"not then or", "NOT OR a", 1, "NOT needs a term after it"},
		{"lone minus before space", "a - b", 3, `lone "-"`},
		{"lone minus at end", "a -", 3, `lone "-"`},
		{"minus before close paren", "(a -)", 4, `lone "-"`},
		{"minus before or", "a -OR b", 3, `"-" needs a term`},
		{"star alone", "*", 1, `"*" must end a word`},
		{"star alone after word", "cyber *", 7, `"*" must end a word`},
		{"star first", "*cyber", 1, `"*" must end a word`},
		{"star inside word", "cy*ber", 3, `"*" may only end a word`},
		{"double star", "cyber**", 6, `"*" may only end a word`},
		{"star after phrase", `"a b"*`, 6, `"*" must end a word`},
		{"star on several words", "cyber-sec*", 10, "single word"},
		{"positions count characters", "sécurité (", 10, "( is never closed"},
		{"positions count characters in errors later on", "été OR", 5, "OR needs a term after it"},
		{"invalid utf-8", "ab\xffc", 3, "not valid UTF-8"},
		{"too deep", strings.Repeat("(", maxDepth+1) + "a" + strings.Repeat(")", maxDepth+1), maxDepth + 1, "nested too deeply"},
		{"too many nots", strings.Repeat("NOT ", maxDepth+1) + "a", 4*maxDepth + 1, "nested too deeply"},
		{"too long", strings.Repeat("a ", maxQueryRunes), maxQueryRunes + 1, "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", tc.in, q)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %v is a %T, want *SyntaxError", tc.in, err, err)
			}
			if se.Pos != tc.pos || !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("Parse(%q) = column %d %q, want column %d containing %q", tc.in, se.Pos, se.Msg, tc.pos, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("query: column %d: ", tc.pos)) {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		r := recover()
		var se *SyntaxError
		if err, ok := r.(error); !ok || !errors.As(err, &se) {
			t.Fatalf("MustParse(\"a OR\") panicked with %v, want a *SyntaxError", r)
		}
	}()
	MustParse("a OR")
}

func TestRootIsACopy(t *testing.T) {
	q := MustParse(`"digital diplomacy" OR cyber`)
	root := q.Root().(Or)
	root.Children[0].(Phrase).Words[0] = "changed"
	root.Children[1] = Term{Word: "changed"}
	if got := q.String(); got != `"digital diplomacy" OR cyber` {
		t.Fatalf("changing Root() changed the query: %q", got)
	}
	if dump(q.Root()) != `(or (phrase * ["digital" "diplomacy"]) (term * "cyber"))` {
		t.Fatalf("Root() = %s", dump(q.Root()))
	}
}

func TestWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`"digital diplomacy" OR "cyber diplomacy" OR "tech ambassador"`, []string{"digital diplomacy", "cyber diplomacy", "tech ambassador"}},
		{"cyber* AND (security OR resilience OR attack)", []string{"cyber*", "security", "resilience", "attack"}},
		{"Sécurité -sport NOT (football OR -tennis)", []string{"securite", "tennis"}},
		{"title:ai source:eeas lang:fr ref:2023/0212(COD) ai", []string{"ai"}},
	}
	for _, tc := range tests {
		if got := Words(MustParse(tc.in)); !slices.Equal(got, tc.want) {
			t.Errorf("Words(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestParseGolden pins the trees of testdata/parse.input in
// testdata/parse.golden; rewrite it with go test ./query -update.
func TestParseGolden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "parse.input"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(string(in), "\n"), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fmt.Fprintf(&b, "query:  %s\n", line)
		q, err := Parse(line)
		if err != nil {
			fmt.Fprintf(&b, "error:  %v\n\n", err)
			continue
		}
		fmt.Fprintf(&b, "string: %s\ntree:   %s\n\n", q, dump(q.Root()))
	}
	golden := filepath.Join("testdata", "parse.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("parse output differs from %s (run go test ./query -update and review the diff):\n%s", golden, b.String())
	}
}
