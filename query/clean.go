package query

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Clean returns a query as people type it made plain: compatibility forms
// folded (Unicode NFKC: full-width ｃｙｂｅｒ is cyber, a no-break or
// ideographic space a space) and the invisible characters dropped
// (zero-width spaces and joiners, soft hyphens, direction marks, variation
// selectors). Parse reads the cleaned text, and a SyntaxError's column counts
// the characters of Clean(s), which is the text to show under a caret.
// Invalid UTF-8 is returned as it is, for Parse to report.
func Clean(s string) string {
	if !utf8.ValidString(s) {
		return s
	}
	plain := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	s = norm.NFKC.String(s)
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if invisible(r) {
			continue
		}
		out = append(out, r)
	}
	return string(out)
}

// invisible reports a character that takes no room and means nothing to a
// query: format characters (zero-width space, joiner, soft hyphen, marks of
// direction, byte-order mark, emoji tags) and variation selectors.
func invisible(r rune) bool {
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r)
}
