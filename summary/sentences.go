package summary

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// paragraphBreak separates blocks of text; a sentence never spans two.
var paragraphBreak = regexp.MustCompile(`\n[ \t\r\f\v]*\n\s*`)

// alwaysAbbrev are abbreviations whose period never ends a sentence, compared
// case-sensitively because several are also ordinary words in another case
// ("Me" is Maître in French, "me" is not an abbreviation).
var alwaysAbbrev = setOf(
	// English titles and references.
	"Mr", "Mrs", "Ms", "Mx", "Dr", "Prof", "St", "Hon", "Rt", "Sen", "Rep", "Gov",
	"Gen", "Col", "Lt", "Capt", "Sgt", "Amb", "Pres", "Rev", "Jr", "Sr", "Messrs",
	"No", "Nos", "Art", "Arts", "Vol", "Vols", "Ref", "Reg", "Para", "Paras",
	"Fig", "Figs", "Sec", "Sect", "Ch", "Ed", "Eds",
	"p", "pp", "para", "paras", "art", "arts", "vol", "cf", "Cf", "vs", "viz",
	"approx", "Approx", "ca", "al", "ibid", "Ibid", "op", "cit", "incl", "esp",
	// French.
	"M", "MM", "Mme", "Mmes", "Mlle", "Mlles", "Me", "Dr", "Pr", "av", "bd",
	"env", "n", "Nº", "nº", "chap",
	// German.
	"Nr", "Abs", "Hr", "Hrn", "Fr", "bzw", "usw", "ggf", "vgl", "Vgl", "inkl",
	"evtl", "sog", "Mio", "Mrd", "bspw", "z", "d", "u", "S", "ff", "Ziff", "lit",
	"Tel", "Str", "geb",
)

// foldedAbbrev are dotted abbreviations compared case-insensitively, given
// without their last period.
var foldedAbbrev = setOf("e.g", "i.e", "z.b", "d.h", "u.a", "p.ex", "c.-à-d", "c.à.d", "n.b", "o.ä", "s.o", "u.ä", "v.a")

// monthAbbrev end a sentence only when no day or year follows them.
var monthAbbrev = setOf(
	"Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
	"janv", "févr", "avr", "juil", "sept", "oct", "nov", "déc",
	"Jän", "Febr", "Okt", "Dez",
)

// monthNames follow German and French ordinal days ("18. Juli 2022").
var monthNames = setOf(
	"januar", "jänner", "februar", "märz", "april", "mai", "juni", "juli", "august",
	"september", "oktober", "november", "dezember",
	"january", "february", "march", "may", "june", "july", "october", "december",
	"janvier", "février", "mars", "avril", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)

var dottedAcronym = regexp.MustCompile(`^(?:\p{L}{1,2}\.)+\p{L}{1,2}$`)

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// SplitSentences splits plain text into sentences. A blank line always ends
// a sentence; otherwise a sentence ends at ".", "?", "!" or "…" (with any
// closing quotes or brackets) followed by white space and a word that does not
// start in lower case. Abbreviations (U.S., e.g., Art., No., Mr., z. B., M.
// Dupont, Jan. 5), initials, German ordinal dates ("18. Juli"), decimals and
// domains do not end a sentence. The sentences come back trimmed, with runs
// of white space collapsed to one space.
func SplitSentences(text string) []string {
	var out []string
	for _, para := range paragraphBreak.Split(text, -1) {
		para = strings.Join(strings.Fields(para), " ")
		if para == "" {
			continue
		}
		out = append(out, splitParagraph(para)...)
	}
	return out
}

func splitParagraph(p string) []string {
	var out []string
	start := 0
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRuneInString(p[i:])
		if !isTerminator(r) {
			i += size
			continue
		}
		termStart := i
		// A run of terminators ("?!", "...") counts as one.
		end := i + size
		for end < len(p) {
			r2, s2 := utf8.DecodeRuneInString(p[end:])
			if !isTerminator(r2) {
				break
			}
			end += s2
		}
		end = skipClosers(p, end)
		if end >= len(p) {
			break
		}
		if p[end] != ' ' {
			i = end
			continue
		}
		next := nextWord(p[end+1:])
		if endsSentence(p[start:termStart], p[termStart:end], next) {
			if s := strings.TrimSpace(p[start:end]); s != "" {
				out = append(out, s)
			}
			start = end + 1
		}
		i = end
	}
	if s := strings.TrimSpace(p[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

func isTerminator(r rune) bool {
	return r == '.' || r == '?' || r == '!' || r == '…'
}

func isCloser(r rune) bool {
	switch r {
	case '"', '\'', '”', '’', '»', ')', ']', '}', '›':
		return true
	}
	return false
}

func isOpener(r rune) bool {
	switch r {
	case '"', '\'', '“', '‘', '«', '(', '[', '{', '„', '‹', '¿', '¡':
		return true
	}
	return false
}

// skipClosers moves past closing quotes and brackets after a terminator,
// including the French " »" with its space.
func skipClosers(p string, i int) int {
	for i < len(p) {
		r, size := utf8.DecodeRuneInString(p[i:])
		if isCloser(r) {
			i += size
			continue
		}
		if r == ' ' || r == '\u00a0' || r == '\u202f' {
			r2, s2 := utf8.DecodeRuneInString(p[i+size:])
			if r2 == '»' {
				i += size + s2
				continue
			}
		}
		break
	}
	return i
}

// nextWord returns the word that follows, without opening quotes/brackets.
func nextWord(rest string) string {
	rest = strings.TrimLeftFunc(rest, isOpener)
	if i := strings.IndexByte(rest, ' '); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// endsSentence decides whether terminator term, after the text before it,
// ends a sentence when next is the following word.
func endsSentence(before, term, next string) bool {
	first, _ := utf8.DecodeRuneInString(next)
	if first == utf8.RuneError || unicode.IsLower(first) {
		return false
	}
	if !strings.HasPrefix(term, ".") || strings.HasPrefix(term, "..") {
		return true
	}
	token := before
	if i := strings.LastIndexByte(token, ' '); i >= 0 {
		token = token[i+1:]
	}
	token = strings.TrimLeftFunc(token, isOpener)
	if token == "" {
		return true
	}
	if alwaysAbbrev[token] || foldedAbbrev[strings.ToLower(token)] {
		return false
	}
	if utf8.RuneCountInString(token) == 1 {
		r, _ := utf8.DecodeRuneInString(token)
		// An initial: "J. Smith", "M. Dupont", "z. B.".
		return !unicode.IsLetter(r)
	}
	if monthAbbrev[token] && unicode.IsDigit(first) {
		return false
	}
	// "EU-U.S." and "EU/U.S." end in an acronym too.
	if i := strings.LastIndexAny(token, "-/–"); i >= 0 && i+1 < len(token) {
		token = token[i+1:]
	}
	if dottedAcronym.MatchString(token) {
		// U.S., E.U., U.K. are mostly followed by a noun; a.m. and p.m. often
		// end a sentence.
		return !isUpperWord(token)
	}
	if isDigits(token) && len(token) <= 2 && monthNames[strings.ToLower(strings.TrimRight(next, ",;:"))] {
		return false
	}
	return true
}

func isUpperWord(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) && !unicode.IsUpper(r) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
