package summary

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

const farmText = `Agriculture ministers discussed the market situation for dairy products and the effects of drought on harvests. ` +
	`They also exchanged views on the state of fish stocks in the Baltic Sea and the fishing opportunities for next year. ` +
	`Several delegations asked for more flexibility in the use of rural development funds. ` +
	`Under other business, the Council approved conclusions on digital diplomacy and on the EU's technology partnerships. ` +
	`The presidency informed ministers about the forest strategy.`

func TestExtractiveKeepsWholeSentencesInOrderWithinLimit(t *testing.T) {
	for _, max := range []int{120, 200, 300, 400, 1000} {
		got := Extractive(farmText, nil, max)
		assertReadableSummary(t, got, farmText, max)
		// Sentences come out in the order of the text.
		all := SplitSentences(farmText)
		last := -1
		for _, s := range SplitSentences(got) {
			i := slices.Index(all, s)
			if i <= last {
				t.Errorf("max %d: sentence %q out of order in %q", max, s, got)
			}
			last = i
		}
	}
	if got := Extractive(farmText, nil, 1000); got != strings.Join(SplitSentences(farmText), " ") {
		t.Errorf("a text that fits should be kept whole, got %q", got)
	}
}

func TestExtractiveLeadAndTopicWords(t *testing.T) {
	lead := "Agriculture ministers discussed the market situation for dairy products and the effects of drought on harvests."
	digital := "Under other business, the Council approved conclusions on digital diplomacy and on the EU's technology partnerships."
	if got := Extractive(farmText, nil, 130); got != lead {
		t.Errorf("without topics, the lead should win: got %q", got)
	}
	if got := Extractive(farmText, []string{"digital", "diplomacy"}, 130); got != digital {
		t.Errorf("with topic words, the matching sentence should win: got %q", got)
	}
	// Topic words are folded and match as prefixes of words.
	if got := Extractive(farmText, []string{"DIPLOMA"}, 130); got != digital {
		t.Errorf("folded prefix topic: got %q", got)
	}
}

func TestExtractiveSkipsBoilerplateAndShortSentences(t *testing.T) {
	text := "Share this page\n\nWe use cookies to improve your experience on our website.\n\nTravelling to Berlin.\n\n" +
		"The Council adopted new rules on the export of dual-use goods, which strengthen controls on cyber-surveillance technology.\n\n" +
		"Is this page useful?"
	got := Extractive(text, nil, 400)
	want := "The Council adopted new rules on the export of dual-use goods, which strengthen controls on cyber-surveillance technology."
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestExtractiveFallsBackToShortSentences(t *testing.T) {
	if got := Extractive("Travelling to Berlin.", nil, 400); got != "Travelling to Berlin." {
		t.Errorf("got %q", got)
	}
	if got := Extractive("Next steps", nil, 400); got != "Next steps" {
		t.Errorf("got %q", got)
	}
	if got := Extractive("", nil, 400); got != "" {
		t.Errorf("empty text gave %q", got)
	}
}

func TestExtractiveDoesNotRepeatSentences(t *testing.T) {
	text := "The Council approved the conclusions on digital diplomacy today.\n\nThe Council approved the conclusions on digital diplomacy today.\n\nThey will be published in the Official Journal."
	got := Extractive(text, nil, 400)
	want := "The Council approved the conclusions on digital diplomacy today. They will be published in the Official Journal."
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestExtractiveCutsAnOverlongSentenceAtAWord(t *testing.T) {
	long := "The Council approved conclusions on the EU's digital diplomacy which call for a stronger presence in technology hubs, " +
		"closer coordination between member states and institutions, and a network of digital diplomats in all EU delegations around the world."
	for _, max := range []int{40, 57, 100, 150} {
		got := Extractive(long, nil, max)
		if n := utf8.RuneCountInString(got); n > max {
			t.Errorf("max %d: %d runes: %q", max, n, got)
		}
		if !strings.HasSuffix(got, "…") {
			t.Errorf("max %d: no ellipsis: %q", max, got)
		}
		body := strings.TrimSuffix(got, "…")
		if !strings.HasPrefix(long, body) {
			t.Fatalf("max %d: %q is not a prefix of the sentence", max, body)
		}
		if next := long[len(body)]; next != ' ' && next != ',' {
			t.Errorf("max %d: cut inside a word: %q (next %q)", max, got, next)
		}
		if strings.HasSuffix(body, ",") || strings.HasSuffix(body, " ") {
			t.Errorf("max %d: dangling punctuation: %q", max, got)
		}
	}
}

func TestExtractiveDefaultLength(t *testing.T) {
	text := strings.Repeat("The Council discussed the digital diplomacy agenda with partners in Asia and Africa. ", 20)
	text += strings.Repeat("Ministers reviewed the progress made on the connectivity partnerships this year. ", 20)
	got := Extractive(text, nil, 0)
	if n := utf8.RuneCountInString(got); n > DefaultMaxChars || n < DefaultMaxChars/4 {
		t.Errorf("default length: %d runes: %q", n, got)
	}
}

// assertReadableSummary checks what a reader would accept: whole sentences of
// the text, nothing cut, no furniture, within the length.
func assertReadableSummary(t *testing.T, summary, text string, max int) {
	t.Helper()
	if summary == "" {
		t.Fatalf("empty summary")
	}
	if n := utf8.RuneCountInString(summary); n > max {
		t.Errorf("summary has %d runes, over %d: %q", n, max, summary)
	}
	if !endsWithPunctuation(summary) {
		t.Errorf("summary does not end with sentence punctuation: %q", summary)
	}
	if strings.Contains(summary, "…") {
		t.Errorf("summary has a cut sentence: %q", summary)
	}
	first, _ := utf8.DecodeRuneInString(summary)
	if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZ\"“(", first) {
		t.Errorf("summary does not start a sentence: %q", summary)
	}
	lower := strings.ToLower(summary)
	for _, bad := range []string{"cookie", "share", "print", "newsletter", "subscribe", "useful", "skip to", "breadcrumb", "related links", "press contact", "+32", "@"} {
		if strings.Contains(lower, bad) {
			t.Errorf("summary contains furniture %q: %q", bad, summary)
		}
	}
	sentences := SplitSentences(text)
	for _, s := range SplitSentences(summary) {
		if !slices.Contains(sentences, s) {
			t.Errorf("summary sentence %q is not a whole sentence of the text", s)
		}
	}
}
