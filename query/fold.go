package query

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Fold returns s lower-cased and without accents, so that "Sécurité",
// "SECURITE" and "securite" become the same string. It decomposes the text
// (Unicode NFD), drops the non-spacing marks and maps the letters that do not
// decompose to their usual ASCII spelling: ß→ss, œ→oe, æ→ae, ø→o, ł→l, ı→i,
// đ/ð→d, þ→th, ſ→s; final sigma becomes sigma. Everything else, punctuation
// included, is kept. Fold is idempotent, and the search index folds with it
// too, so that matching and searching agree. Invalid UTF-8 becomes U+FFFD.
func Fold(s string) string {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			break
		}
	}
	if i == len(s) {
		return s // already folded: the common case costs no allocation
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	foldTo(&b, s[i:])
	return b.String()
}

// foldTo writes Fold(s) to b. Folding works rune by rune except where
// decomposition reorders combining marks, which never happens across a
// character that decomposes to one starting with a base character (ASCII
// ones included): the text is folded in pieces cut there, ASCII directly,
// common letters from a table, and only the rest through foldUnicode.
func foldTo(b *strings.Builder, s string) {
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] < utf8.RuneSelf && (s[j] < 'A' || s[j] > 'Z') {
			j++
		}
		b.WriteString(s[i:j])
		if j == len(s) {
			return
		}
		if s[j] < utf8.RuneSelf {
			b.WriteByte(s[j] + 'a' - 'A')
			i = j + 1
			continue
		}
		k := j + 1
		for k < len(s) && s[k] >= utf8.RuneSelf {
			k++
		}
		foldNonASCII(b, s[j:k])
		i = k
	}
}

// foldNonASCII folds a run of non-ASCII characters.
func foldNonASCII(b *strings.Builder, s string) {
	table := foldedRunes()
	for _, r := range s {
		if r >= foldTableEnd || !table[r-utf8.RuneSelf].ok {
			b.WriteString(foldUnicode(s))
			return
		}
	}
	for _, r := range s {
		b.WriteString(table[r-utf8.RuneSelf].s)
	}
}

// foldTableEnd is where the table of folded characters ends: Latin, Greek
// and Cyrillic are below it.
const foldTableEnd = 0x500

type foldedRune struct {
	s  string // foldUnicode of the character alone
	ok bool   // its decomposition starts with a base character
}

var foldedRunes = sync.OnceValue(func() []foldedRune {
	t := make([]foldedRune, foldTableEnd-utf8.RuneSelf)
	for r := rune(utf8.RuneSelf); r < foldTableEnd; r++ {
		s := string(r)
		t[r-utf8.RuneSelf] = foldedRune{
			s:  foldUnicode(s),
			ok: norm.NFD.PropertiesString(strings.ToLower(s)).LeadCCC() == 0,
		}
	}
	return t
})

func foldUnicode(s string) string {
	// Lower-casing first means the decomposition sees the lower-case letter,
	// so a letter whose lower case is precomposed still loses its accent.
	d := norm.NFD.String(strings.ToLower(s))
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		if r < utf8.RuneSelf {
			b.WriteByte(byte(r))
			continue
		}
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		switch r {
		case 'ß':
			b.WriteString("ss")
		case 'œ':
			b.WriteString("oe")
		case 'æ':
			b.WriteString("ae")
		case 'ø':
			b.WriteByte('o')
		case 'ł':
			b.WriteByte('l')
		case 'ı':
			b.WriteByte('i')
		case 'đ', 'ð':
			b.WriteByte('d')
		case 'þ':
			b.WriteString("th")
		case 'ſ':
			b.WriteByte('s')
		case 'ς':
			b.WriteRune('σ')
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// Tokens returns the folded words of s in order: runs of letters, digits and
// combining marks, split on everything else. "Cyber-Security, 5G" gives
// ["cyber" "security" "5g"]. Match and the search index both tokenize with it.
func Tokens(s string) []string {
	return appendTokens(nil, Fold(s))
}

// appendTokens appends the words of an already folded string; the words are
// substrings of f, so tokenizing costs one slice, not one string per word.
func appendTokens(dst []string, f string) []string {
	for i := 0; ; {
		s, e := nextWord(f, i)
		if s < 0 {
			return dst
		}
		dst = append(dst, f[s:e])
		i = e
	}
}

// nextWord returns the bounds of the first word of f at or after byte i,
// or -1, -1 when there is none.
func nextWord(f string, i int) (start, end int) {
	start = -1
	for i < len(f) {
		c, size := f[i], 1
		var word bool
		if c < utf8.RuneSelf {
			word = asciiWord[c]
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(f[i:])
			word = isWordRune(r)
		}
		switch {
		case word && start < 0:
			start = i
		case !word && start >= 0:
			return start, i
		}
		i += size
	}
	if start < 0 {
		return -1, -1
	}
	return start, len(f)
}

// asciiWord says which ASCII characters are word characters.
var asciiWord = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = isWordRune(rune(c))
	}
	return t
}()

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// NormalizeRef returns the form in which policy references are compared:
// folded, runs of white space made one space, and no space before '(', ')'
// or '/', nor after '(' or '/'. "COM (2023) 123  Final" and
// "com(2023) 123 final" are the same reference, and so are "2023/0212 (COD)"
// and "2023/0212(COD)". The search index stores references in this form.
func NormalizeRef(s string) string {
	f := Fold(s)
	var b strings.Builder
	b.Grow(len(f))
	pendingSpace := false
	for _, r := range f {
		if unicode.IsSpace(r) {
			pendingSpace = true
			continue
		}
		if pendingSpace && b.Len() > 0 && !spaceDroppedBefore(r) && !spaceDroppedAfter(lastRune(b.String())) {
			b.WriteByte(' ')
		}
		pendingSpace = false
		b.WriteRune(r)
	}
	return b.String()
}

func spaceDroppedBefore(r rune) bool { return r == '(' || r == ')' || r == '/' }

func spaceDroppedAfter(r rune) bool { return r == '(' || r == '/' }

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

// normalizeKeyword returns the comparable form of a value of an exact field
// (source, lang, ref).
func normalizeKeyword(field, v string) string {
	if field == FieldRef {
		return NormalizeRef(v)
	}
	return strings.Join(strings.Fields(Fold(v)), " ")
}
