package index

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/policywire/policywire/query"
)

// The snippet is computed here from the stored summary rather than by
// bleve's highlighter: the summary is stored anyway for display, the
// index then needs no term vectors beyond the positions phrases use, and
// the words are marked by the same folding and word splitting as the
// query language, so that exactly the words that match are marked.

// highlighter marks the positive words of a query (query.Words) in text.
type highlighter struct {
	words    map[string]bool
	prefixes []string
	phrases  [][]string
}

func newHighlighter(q *query.Query) *highlighter {
	h := &highlighter{words: map[string]bool{}}
	for _, w := range query.Words(q) {
		switch {
		case strings.HasSuffix(w, "*"):
			h.prefixes = append(h.prefixes, strings.TrimSuffix(w, "*"))
		case strings.Contains(w, " "):
			h.phrases = append(h.phrases, strings.Fields(w))
		default:
			h.words[w] = true
		}
	}
	return h
}

// span is one word of the text: its bytes and its folded form.
type span struct {
	start, end int
	word       string
	group      int // > 0: marked, with the words of the same match
}

// wordSpans splits text into words the way query.Tokens does (runs of
// letters, digits and marks), keeping where each word is in text.
func wordSpans(text string) []span {
	var out []span
	start := -1
	for i, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			out = append(out, span{start: start, end: i, word: query.Fold(text[start:i])})
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, span{start: start, end: len(text), word: query.Fold(text[start:])})
	}
	return out
}

// mark sets the group of every word that a positive word, prefix or phrase
// of the query matches; the words of one phrase occurrence share a group.
func (h *highlighter) mark(spans []span) {
	group := 0
	for _, p := range h.phrases {
	next:
		for i := 0; i+len(p) <= len(spans); i++ {
			for j, w := range p {
				if spans[i+j].word != w || spans[i+j].group != 0 {
					continue next
				}
			}
			group++
			for j := range p {
				spans[i+j].group = group
			}
			i += len(p) - 1
		}
	}
	for i := range spans {
		if spans[i].group != 0 || spans[i].word == "" {
			continue
		}
		hit := h.words[spans[i].word]
		for _, p := range h.prefixes {
			hit = hit || strings.HasPrefix(spans[i].word, p)
		}
		if hit {
			group++
			spans[i].group = group
		}
	}
}

// snippet returns at most maxChars characters of text (white space made
// single spaces), cut at whole words around the first matched word, with
// "…" where text was cut and every matched word between « and ». A phrase
// is marked as one run: «digital diplomacy».
func (h *highlighter) snippet(text string, maxChars int) string {
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		return ""
	}
	spans := wordSpans(text)
	if len(spans) == 0 {
		return clipRunes(text, maxChars)
	}
	h.mark(spans)

	from, to := 0, len(text)
	if utf8.RuneCountInString(text) > maxChars {
		first := 0
		for i, s := range spans {
			if s.group != 0 {
				first = i
				break
			}
		}
		// Up to a third of the room goes to the words before the first
		// match, so that it reads in context.
		lead := maxChars / 3
		startIdx := first
		for startIdx > 0 && utf8.RuneCountInString(text[spans[startIdx-1].start:spans[first].end]) <= lead {
			startIdx--
		}
		if startIdx > 0 && startIdx <= 2 {
			startIdx = 0 // a word or two of lead-in: start at the beginning
		}
		room := maxChars - 2 // the two ellipses
		endIdx := h.window(text, spans, startIdx, room)
		if endIdx < first {
			startIdx = first
			endIdx = h.window(text, spans, startIdx, room)
		}
		from = spans[startIdx].start
		if startIdx == 0 {
			from = 0
		}
		to = spans[endIdx].end
		if endIdx == len(spans)-1 && utf8.RuneCountInString(text[from:]) <= room+1 {
			to = len(text) // keep the closing punctuation
		}
	}

	var b strings.Builder
	if from > 0 {
		b.WriteString("…")
	}
	pos, open := from, 0
	for i, s := range spans {
		if s.end <= from || s.start >= to {
			continue
		}
		if s.group != open {
			if open != 0 {
				b.WriteString(text[pos:spans[i-1].end])
				b.WriteString("»")
				pos = spans[i-1].end
				open = 0
			}
			if s.group != 0 {
				b.WriteString(text[pos:s.start])
				b.WriteString("«")
				pos = s.start
				open = s.group
			}
		}
	}
	if open != 0 {
		last := pos
		for _, s := range spans {
			if s.group == open && s.end <= to {
				last = s.end
			}
		}
		b.WriteString(text[pos:last])
		b.WriteString("»")
		pos = last
	}
	b.WriteString(text[pos:to])
	if to < len(text) {
		b.WriteString("…")
	}
	return b.String()
}

// window returns the index of the last word that fits in room characters
// from the start of word startIdx (at least startIdx itself).
func (h *highlighter) window(text string, spans []span, startIdx, room int) int {
	from := spans[startIdx].start
	if startIdx == 0 {
		from = 0
	}
	endIdx := startIdx
	for endIdx+1 < len(spans) && utf8.RuneCountInString(text[from:spans[endIdx+1].end]) <= room {
		endIdx++
	}
	return endIdx
}

// clipRunes cuts s to at most n characters, ending with "…" when cut.
func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
