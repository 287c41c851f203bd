package index

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/query"
)

func TestSnippetMarks(t *testing.T) {
	cases := []struct {
		name, query, text, want string
	}{
		{"words", `digital diplomacy`,
			"The Council approved conclusions on EU digital diplomacy.",
			"The Council approved conclusions on EU «digital» «diplomacy»."},
		{"phrase is one run", `"digital diplomacy"`,
			"Digital policy and digital diplomacy, in that order.",
			"Digital policy and «digital diplomacy», in that order."},
		{"phrase written with a hyphen", `"digital diplomacy"`,
			"A digital-diplomacy network.",
			"A «digital-diplomacy» network."},
		{"accents and case folded", `cybersecurite`,
			"La CYBERSÉCURITÉ des infrastructures: la cybersécurité d'abord.",
			"La «CYBERSÉCURITÉ» des infrastructures: la «cybersécurité» d'abord."},
		{"sharp s", `aussenminister`,
			"Der Außenminister reist nach Kiew.",
			"Der «Außenminister» reist nach Kiew."},
		{"prefix", `cyber*`,
			"Sanctions against cyber-attacks; Cybersicherheit.",
			"Sanctions against «cyber»-attacks; «Cybersicherheit»."},
		{"negated words are not marked", `fisheries -council NOT ministers`,
			"Council of fisheries ministers.",
			"Council of «fisheries» ministers."},
		{"exact fields are not marked", `source:council lang:en ref:ip council`,
			"The Council, source of the en IP.",
			"The «Council», source of the en IP."},
		{"nothing matches", `zebra`,
			"Ministers   met\nin Brussels.",
			"Ministers met in Brussels."},
		{"empty", `zebra`, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := newHighlighter(query.MustParse(tc.query)).snippet(tc.text, SnippetMaxChars)
			if got != tc.want {
				t.Errorf("snippet(%q, %q)\n got %q\nwant %q", tc.query, tc.text, got, tc.want)
			}
		})
	}
}

func TestSnippetLongText(t *testing.T) {
	filler := strings.Repeat("The ministers discussed the market situation in detail. ", 8)
	text := filler + "They adopted conclusions on digital diplomacy and cyber resilience. " + filler
	got := newHighlighter(query.MustParse(`"digital diplomacy"`)).snippet(text, SnippetMaxChars)

	if !strings.Contains(got, "«digital diplomacy»") {
		t.Fatalf("snippet %q does not mark the phrase", got)
	}
	plain := strings.NewReplacer("«", "", "»", "").Replace(got)
	if n := utf8.RuneCountInString(plain); n > SnippetMaxChars {
		t.Errorf("snippet has %d characters, want at most %d: %q", n, SnippetMaxChars, got)
	}
	if !strings.HasPrefix(plain, "…") || !strings.HasSuffix(plain, "…") {
		t.Errorf("snippet cut on both sides should say so with …: %q", got)
	}
	inner := strings.TrimSuffix(strings.TrimPrefix(plain, "…"), "…")
	i := strings.Index(text, inner)
	if i < 0 {
		t.Fatalf("snippet %q is not a piece of the text", inner)
	}
	if isWordByte(text, i-1) || !isWordByte(text, i) || isWordByte(text, i+len(inner)) {
		t.Errorf("snippet %q does not start and end at whole words", inner)
	}

	// A match near the start keeps the start.
	got = newHighlighter(query.MustParse(`ministers`)).snippet(text, SnippetMaxChars)
	if !strings.HasPrefix(got, "The «ministers»") || !strings.HasSuffix(got, "…") {
		t.Errorf("snippet = %q, want the start of the text, cut at the end", got)
	}
}

func isWordByte(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	c := s[i]
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// TestSearchSnippet: a search hit's snippet marks the words of the query
// in the item's summary, and a phrase found only in the content (not
// stored) gives the summary's start unmarked.
func TestSearchSnippet(t *testing.T) {
	x := openWith(t, corpusItems(t))
	hits, err := x.Search(context.Background(), query.MustParse(`Cyberdiplomatie Völkerrecht`), policywire.SearchOptions{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 {
		t.Fatalf("%d hits, want 1", len(hits))
	}
	want := "Vertreterinnen und Vertreter aus mehr als vierzig Staaten beraten in Berlin, wie das «Völkerrecht» im Cyberraum angewendet wird und welche Rolle die «Cyberdiplomatie» bei der Abschreckung spielt."
	if hits[0].Snippet != want {
		t.Errorf("snippet\n got %q\nwant %q", hits[0].Snippet, want)
	}

	hits, err = x.Search(context.Background(), query.MustParse(`"new tech ambassador"`), policywire.SearchOptions{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || strings.Contains(hits[0].Snippet, "«") || !strings.HasPrefix(hits[0].Snippet, "The Foreign Secretary") {
		t.Errorf("hits for a phrase of the content: %+v", hits)
	}
}
