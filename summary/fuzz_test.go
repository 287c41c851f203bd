package summary

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzSplitSentences(f *testing.F) {
	for _, s := range []string{
		"The U.S. Department of State launched a bureau. It reports.",
		"Am 18. Juli 2022 billigte der Rat z. B. die Schlussfolgerungen. Sie sind wichtig.",
		"Il a dit « Nous sommes prêts. » Puis il est parti.",
		"Next steps\n\nThe Commission will report by Jan. 5!? \"Yes.\" (See Annex.)",
		"…... ?! . .",
	} {
		f.Add(s, 120)
	}
	f.Fuzz(func(t *testing.T, text string, max int) {
		if !utf8.ValidString(text) {
			return
		}
		sentences := SplitSentences(text)
		if got, want := strings.Join(sentences, " "), strings.Join(strings.Fields(text), " "); got != want {
			t.Fatalf("sentences lose or add text:\n got %q\nwant %q", got, want)
		}
		for _, s := range sentences {
			if s == "" || s != strings.TrimSpace(s) {
				t.Fatalf("untrimmed or empty sentence %q", s)
			}
		}
		if max < 2 || max > 2000 {
			return
		}
		summary := Extractive(text, []string{"council"}, max)
		if n := utf8.RuneCountInString(summary); n > max {
			t.Fatalf("summary of %d runes over %d: %q", n, max, summary)
		}
		References(text)
	})
}

func FuzzExtractArticle(f *testing.F) {
	f.Add([]byte(`<html><body><main><h1>T</h1><p>The Council met today in Brussels to discuss the budget.</p></main></body></html>`))
	f.Add([]byte(`<div class="cookie"><p>We use cookies to improve your experience.</p></div><article><p>Text. More text.</p></article>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		text, err := ExtractArticle(body, "https://example.eu/page")
		if err == nil && strings.TrimSpace(text) == "" {
			t.Fatal("no error and no text")
		}
	})
}
