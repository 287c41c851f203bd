package query

import (
	"strings"
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
	for j := i; j < len(s); j++ {
		if s[j] >= utf8.RuneSelf {
			return foldUnicode(s)
		}
	}
	b := []byte(s)
	for j := i; j < len(b); j++ {
		if 'A' <= b[j] && b[j] <= 'Z' {
			b[j] += 'a' - 'A'
		}
	}
	return string(b)
}

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
	start := -1
	for i, r := range f {
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			dst = append(dst, f[start:i])
			start = -1
		}
	}
	if start >= 0 {
		dst = append(dst, f[start:])
	}
	return dst
}

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
