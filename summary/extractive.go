package summary

import (
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultMaxChars is the length of a summary when the configuration gives none.
const DefaultMaxChars = 400

// minSentenceWords is the length below which a sentence says too little to
// stand in a summary ("Travelling to Berlin." is kept only when nothing
// better exists).
const minSentenceWords = 4

// Weights of the three signals a sentence is scored by.
const (
	leadWeight  = 1.2
	termWeight  = 1.0
	topicWeight = 1.0
)

// Sentence quality tiers: a summary is made from the best tier that has any
// sentence.
const (
	tierGood        = iota // a whole sentence of substance
	tierWeak               // too short, or a heading without final punctuation
	tierBoilerplate        // page furniture
)

type candidate struct {
	index int
	text  string
	runes int
	score float64
}

// Extractive returns the best whole sentences of text, in their original
// order, within maxChars characters (runes; DefaultMaxChars when maxChars <=
// 0). Sentences are scored by position (news puts the substance first), by
// the topic words they contain and by how frequent their content words are in
// the whole text; boilerplate, short and unterminated sentences are used only
// when nothing else exists. When even the best sentence is too long, it is cut
// at a word boundary and ends in "…".
func Extractive(text string, topicWords []string, maxChars int) string {
	if maxChars <= 0 {
		maxChars = DefaultMaxChars
	}
	sentences := SplitSentences(text)
	if len(sentences) == 0 {
		return ""
	}

	// Each sentence is folded and split into words once, for all the
	// signals below.
	tiers := make([]int, len(sentences))
	ws := make([][]string, len(sentences))
	best := tierBoilerplate
	for i, s := range sentences {
		folded := fold(s)
		ws[i] = words(folded)
		tiers[i] = sentenceTier(s, folded)
		best = min(best, tiers[i])
	}

	// Term weights come from all the text that is not furniture.
	freq := map[string]int{}
	maxFreq := 0
	for i := range sentences {
		if tiers[i] == tierBoilerplate && best != tierBoilerplate {
			continue
		}
		for _, w := range contentWordsOf(ws[i]) {
			freq[w]++
			maxFreq = max(maxFreq, freq[w])
		}
	}
	topics := foldTopics(topicWords)

	var cands []candidate
	seen := map[string]bool{}
	maxTerm := 0.0
	for i, s := range sentences {
		if tiers[i] != best {
			continue
		}
		key := strings.Join(ws[i], " ")
		if seen[key] {
			continue
		}
		seen[key] = true
		cands = append(cands, candidate{index: i, text: s, runes: utf8.RuneCountInString(s), score: termScore(contentWordsOf(ws[i]), freq, maxFreq)})
		maxTerm = math.Max(maxTerm, cands[len(cands)-1].score)
	}
	for k := range cands {
		c := &cands[k]
		term := 0.0
		if maxTerm > 0 {
			term = c.score / maxTerm
		}
		lead := 1 / (1 + 0.25*float64(c.index))
		c.score = leadWeight*lead + termWeight*term + topicWeight*topicScore(ws[c.index], topics)
	}

	ranked := make([]candidate, len(cands))
	copy(ranked, cands)
	sort.SliceStable(ranked, func(a, b int) bool { return ranked[a].score > ranked[b].score })

	var chosen []candidate
	used := 0
	for _, c := range ranked {
		need := c.runes
		if len(chosen) > 0 {
			need++ // the joining space
		}
		if used+need > maxChars {
			continue
		}
		chosen = append(chosen, c)
		used += need
	}
	if len(chosen) == 0 {
		return truncateAtWord(ranked[0].text, maxChars)
	}
	sort.Slice(chosen, func(a, b int) bool { return chosen[a].index < chosen[b].index })
	parts := make([]string, len(chosen))
	for k, c := range chosen {
		parts[k] = c.text
	}
	return strings.Join(parts, " ")
}

// sentenceTier rates sentence s, folded being fold(s).
func sentenceTier(s, folded string) int {
	if isFoldedBoilerplate(s, folded) {
		return tierBoilerplate
	}
	if len(strings.Fields(s)) < minSentenceWords || !endsWithPunctuation(s) {
		return tierWeak
	}
	return tierGood
}

// endsWithPunctuation reports whether s ends like a sentence, allowing
// closing quotes and brackets after the final mark.
func endsWithPunctuation(s string) bool {
	s = strings.TrimRightFunc(s, func(r rune) bool { return isCloser(r) || unicode.IsSpace(r) })
	r, _ := utf8.DecodeLastRuneInString(s)
	return isTerminator(r)
}

// termScore sums the relative frequency of a sentence's distinct content
// words ws, damped by its length so that long sentences do not win by size.
func termScore(ws []string, freq map[string]int, maxFreq int) float64 {
	if maxFreq == 0 {
		return 0
	}
	if len(ws) == 0 {
		return 0
	}
	seen := map[string]bool{}
	sum := 0.0
	for _, w := range ws {
		if seen[w] {
			continue
		}
		seen[w] = true
		sum += float64(freq[w]) / float64(maxFreq)
	}
	return sum / math.Sqrt(float64(len(ws)))
}

// foldTopics turns topic words and phrases into folded word sequences.
func foldTopics(topicWords []string) [][]string {
	var out [][]string
	for _, t := range topicWords {
		if ws := words(fold(t)); len(ws) > 0 {
			out = append(out, ws)
		}
	}
	return out
}

// topicScore is 0 for a sentence of words ws without topic words, and
// between 0.5 and 1 by the share of topic words it contains otherwise. A word
// matches a topic word that is its prefix ("diplomat" matches "diplomatic"),
// as query words are stems more often than not.
func topicScore(ws []string, topics [][]string) float64 {
	if len(topics) == 0 {
		return 0
	}
	found := 0
	for _, t := range topics {
		if containsPhrase(ws, t) {
			found++
		}
	}
	if found == 0 {
		return 0
	}
	return 0.5 + 0.5*float64(found)/float64(len(topics))
}

func containsPhrase(ws, phrase []string) bool {
	for i := 0; i+len(phrase) <= len(ws); i++ {
		match := true
		for j, p := range phrase {
			if !strings.HasPrefix(ws[i+j], p) {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// truncateAtWord cuts s to at most maxChars runes at a word boundary and adds
// "…"; a single word longer than the limit is the only thing ever cut inside.
func truncateAtWord(s string, maxChars int) string {
	r := []rune(s)
	if len(r) <= maxChars {
		return s
	}
	if maxChars < 2 {
		return ""
	}
	limit := maxChars - 1
	cut := limit
	if !unicode.IsSpace(r[limit]) {
		for cut > 0 && !unicode.IsSpace(r[cut-1]) {
			cut--
		}
		if cut == 0 {
			cut = limit
		}
	}
	out := strings.TrimRightFunc(string(r[:cut]), func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(",;:–—-([{\"“‘'/", r)
	})
	return out + "…"
}
