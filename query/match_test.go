package query

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/policywire/policywire"
)

// Items in the shape the source adapters produce them.
var (
	councilFR = policywire.Item{
		Source:     "council-press",
		Title:      "Sécurité de l'UE : le Conseil adopte une position",
		Summary:    "Le Conseil a adopté sa position sur la cybersécurité des produits connectés.",
		Language:   "fr",
		Categories: []string{"Sécurité et défense", "Numérique"},
		References: []string{"2023/0212(COD)"},
	}
	eeasEN = policywire.Item{
		Source:     "eeas-press",
		Title:      "EU and Japan deepen digital diplomacy",
		Summary:    "The High Representative met the tech ambassador of Japan. Digital, diplomacy and trade were discussed.",
		Content:    "Both sides agreed on Cyber-Security cooperation and 5G supply chains. COVID-19 recovery was also on the agenda.",
		Language:   "en",
		Categories: []string{"Asia", "Digital diplomacy"},
		References: []string{"IP/26/301"},
	}
	commissionDE = policywire.Item{
		Source:     "commission-de",
		Title:      "Außenpolitik: Kommission legt Strategie vor",
		Summary:    "Die Kommission veröffentlicht ihren Vorschlag COM(2023) 123 final zur Cyberabwehr.",
		Language:   "de",
		References: []string{"COM (2023) 123 Final"},
	}
	pressOnlyTitle = policywire.Item{
		Source:  "parliament",
		Title:   "Digital-diplomacy hearing: war or peace?",
		Summary: "Members questioned the G7 envoy.",
		Content: "The envoy declined to comment on security matters.",
	}
)

func TestMatch(t *testing.T) {
	tests := []struct {
		name  string
		query string
		item  policywire.Item
		want  bool
	}{
		// Accents and case, both ways.
		{"unaccented query matches accented text", "securite", councilFR, true},
		{"accented query matches unaccented text", "Sécurité", policywire.Item{Title: "Securite nationale"}, true},
		{"upper case query", "SÉCURITÉ", councilFR, true},
		{"german sharp s", "aussenpolitik", commissionDE, true},
		{"german sharp s in the query", "Außenpolitik", policywire.Item{Title: "AUSSENPOLITIK heute"}, true},
		{"whole words only", "secur", councilFR, false},
		{"whole words only, longer", "cyber", eeasEN, true},
		{"word inside a compound is not a word", "abwehr", commissionDE, false},

		// Prefixes.
		{"prefix matches a longer word", "cybersec*", councilFR, true},
		{"prefix matches a hyphenated word", "cyber*", eeasEN, true},
		{"prefix matches the word itself", "japan*", eeasEN, true},
		{"prefix with no word", "quantum*", eeasEN, false},
		{"prefix matches folded text", "cyberab*", commissionDE, true},

		// Phrases.
		{"phrase in order", `"digital diplomacy"`, eeasEN, true},
		{"phrase across a comma", `"digital diplomacy and trade"`, eeasEN, true},
		{"phrase across a hyphen", `"digital diplomacy"`, pressOnlyTitle, true},
		{"hyphenated query is a phrase", "digital-diplomacy", eeasEN, true},
		{"phrase out of order", `"diplomacy digital"`, eeasEN, false},
		{"phrase words apart", `"tech japan"`, eeasEN, false},
		{"phrase does not run from summary into content", `"discussed both"`, eeasEN, false},
		{"phrase does not run from title into summary", `"diplomacy the"`, eeasEN, false},
		{"phrase does not run across categories", `"asia digital"`, eeasEN, false},
		{"phrase within a category", `"securite et defense"`, councilFR, true},
		{"phrase in content", `"supply chains"`, eeasEN, true},
		{"phrase with numbers", `"com 2023 123"`, commissionDE, true},

		// Numbers and mixed tokens.
		{"5G is a word", "5G", eeasEN, true},
		{"G7 is a word", "g7", pressOnlyTitle, true},
		{"COVID-19 as a phrase", "COVID-19", eeasEN, true},
		{"a number", "2023", commissionDE, true},

		// Fields.
		{"title field", "title:diplomacy", eeasEN, true},
		{"title field does not look at the summary", "title:ambassador", eeasEN, false},
		{"summary field looks at the summary", "summary:ambassador", eeasEN, true},
		{"summary field looks at the content", "summary:cooperation", eeasEN, true},
		{"summary field does not look at the title", "summary:deepen", eeasEN, false},
		{"default field looks at categories", "numerique", councilFR, true},
		{"title phrase", `title:"digital diplomacy"`, eeasEN, true},
		{"title phrase not in the title", `title:"tech ambassador"`, eeasEN, false},
		{"title group", "title:(japan OR china)", eeasEN, true},
		{"title group, no match", "title:(korea OR china)", eeasEN, false},
		{"title prefix", "title:dipl*", eeasEN, true},
		{"source", "source:eeas-press", eeasEN, true},
		{"source is case-insensitive", "source:EEAS-Press", eeasEN, true},
		{"source is exact", "source:eeas", eeasEN, false},
		{"source prefix", "source:eeas*", eeasEN, true},
		{"source group", "source:(council-press OR eeas-press)", councilFR, true},
		{"lang", "lang:fr", councilFR, true},
		{"lang is exact", "lang:fr", eeasEN, false},
		{"lang upper case", "lang:DE", commissionDE, true},
		{"lang of an item without one", "lang:en", pressOnlyTitle, false},
		{"ref unquoted", "ref:2023/0212(COD)", councilFR, true},
		{"ref lower case", "ref:2023/0212(cod)", councilFR, true},
		{"ref quoted with spaces", `ref:"COM(2023) 123 final"`, commissionDE, true},
		{"ref spacing differs from the item", `ref:"COM(2023)  123  FINAL"`, commissionDE, true},
		{"ref is exact", "ref:2023/0212", councilFR, false},
		{"ref prefix", "ref:2023/*", councilFR, true},
		{"ref of another item", "ref:IP/26/301", councilFR, false},
		{"ref inside a group", "(ref:IP/26/301 OR ref:2023/0212(COD)) securite", councilFR, true},
		{"references are not default text", "cod", councilFR, false},

		// Boolean logic and precedence.
		{"implicit and, both", "digital japan", eeasEN, true},
		{"implicit and, one missing", "digital korea", eeasEN, false},
		{"or, one", "korea OR japan", eeasEN, true},
		{"or, none", "korea OR china", eeasEN, false},
		{"a OR b c: a alone is enough", "japan OR korea china", eeasEN, true},
		{"a OR b c: b without c is not", "korea OR japan china", eeasEN, false},
		{"a OR b c: b and c", "korea OR japan digital", eeasEN, true},
		{"parentheses: (a OR b) c", "(korea OR japan) china", eeasEN, false},
		{"not", "NOT japan", eeasEN, false},
		{"not, absent", "NOT korea", eeasEN, true},
		{"minus", "digital -japan", eeasEN, false},
		{"minus, absent", "digital -korea", eeasEN, true},
		{"not binds tighter than and", "NOT korea japan", eeasEN, true},
		{"not of a group", "-(korea OR japan)", eeasEN, false},
		{"not of a phrase", `diplomacy -"tech ambassador"`, eeasEN, false},
		{"not with a field", "diplomacy -source:eeas-press", eeasEN, false},
		{"lower-case or is a word", "war or peace", pressOnlyTitle, true},
		{"lower-case or is a word that must be there", "war or peace", eeasEN, false},
		{"spec topic 1", `"digital diplomacy" OR "cyber diplomacy" OR "tech ambassador"`, eeasEN, true},
		{"spec topic 1, other item", `"digital diplomacy" OR "cyber diplomacy" OR "tech ambassador"`, councilFR, false},
		{"spec topic 2", "cyber* AND (security OR resilience OR attack)", eeasEN, true},
		{"spec topic 2, cyber without security", "cyber* AND (security OR resilience OR attack)", commissionDE, false},
		{"empty item", "anything", policywire.Item{}, false},
		{"empty item, negated", "-anything", policywire.Item{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse(tc.query)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.query, err)
			}
			if got := q.MatchItem(tc.item); got != tc.want {
				t.Errorf("%q matching %q = %v, want %v", tc.query, tc.item.Title, got, tc.want)
			}
			// The canonical form means the same thing.
			if got := MustParse(q.String()).MatchItem(tc.item); got != tc.want {
				t.Errorf("canonical %q matching %q = %v, want %v", q.String(), tc.item.Title, got, tc.want)
			}
		})
	}
}

// TestMatchAgreesWithScan checks the indexed lookups against the plain
// definition (scan the field's words) for every word of a few items.
func TestMatchAgreesWithScan(t *testing.T) {
	items := []policywire.Item{councilFR, eeasEN, commissionDE, pressOnlyTitle}
	for _, it := range items {
		d := Prepare(it)
		text := Tokens(it.Title + " " + it.Summary + " " + it.Content)
		for _, c := range it.Categories {
			text = append(text, Tokens(c)...)
		}
		for _, w := range append(text, "zz", "a", "0") {
			scan := false
			for _, x := range text {
				if x == w {
					scan = true
				}
			}
			if got := MustParse(w).Match(d); got != scan {
				t.Errorf("%q in %q: Match = %v, scan = %v", w, it.Title, got, scan)
			}
			if len(w) < MinPrefixChars {
				continue
			}
			prefix := w[:MinPrefixChars] + "*"
			scanPrefix := false
			for _, x := range text {
				if strings.HasPrefix(x, w[:MinPrefixChars]) {
					scanPrefix = true
				}
			}
			if got := MustParse(prefix).Match(d); got != scanPrefix {
				t.Errorf("%q in %q: Match = %v, scan = %v", prefix, it.Title, got, scanPrefix)
			}
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	d := Prepare(eeasEN)
	q := MustParse(`("digital diplomacy" OR cyber* OR title:japan) -source:council-press lang:en ref:IP/26/*`)
	if !q.Match(d) {
		t.Fatal("the query should match")
	}
	if n := testing.AllocsPerRun(100, func() { q.Match(d) }); n != 0 {
		t.Fatalf("Match allocates %v times per call", n)
	}
}

func TestMatchConcurrently(t *testing.T) {
	q := MustParse("cyber* AND (security OR resilience) -lang:de")
	docs := []*Doc{Prepare(councilFR), Prepare(eeasEN), Prepare(commissionDE)}
	want := []bool{false, true, false}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				for j, d := range docs {
					if got := q.Match(d); got != want[j] {
						errs <- fmt.Sprintf("doc %d: %v", j, got)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestMatchLongDocument covers a text with many distinct words: absent words
// that land on a taken slot of the word table must still not match.
func TestMatchLongDocument(t *testing.T) {
	lex := newTextGen(9).lexicon
	it := policywire.Item{Title: "Long read", Content: strings.Join(lex[:2500], ", ")}
	d := Prepare(it)
	collided := 0
	for i, w := range lex[2500:4999] {
		w = Fold(w)
		if slices.Contains(lex[:2500], w) {
			continue // the made-up lexicon repeats some words
		}
		if d.table[wordHash(w)&uint64(len(d.table)-1)] != 0 {
			collided++
		}
		if MustParse(w).Match(d) {
			t.Fatalf("%q is not in the text but matches", w)
		}
		if present := Fold(lex[i]); !MustParse(present).Match(d) {
			t.Fatalf("%q is in the text but does not match", present)
		}
		if phrase := fmt.Sprintf("%q", lex[i]+" "+lex[i+1]); !MustParse(phrase).Match(d) {
			t.Fatalf("%s is in the text but does not match", phrase)
		}
	}
	if collided == 0 {
		t.Fatal("no absent word landed on a taken slot; the test does not reach the comparisons")
	}
}
