package sources

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func TestCleanRunesKeepsTextAndDropsWhatIsNotText(t *testing.T) {
	for in, want := range map[string]string{
		"Digital diplomacy: Council":     "Digital diplomacy: Council",
		"sécurité, Außenpolitik, 日本":     "sécurité, Außenpolitik, 日本",
		"a\ue000b\U000F0001c\U00100001d": "abcd", // private use
		"left\u202eright\u200bend":       "leftrightend",
		"tab\there\x00\x1b[31m":          "tab here[31m",
		"bad \xff byte":                  "bad  byte",
		"line\r\nbreak\rx":               "line\nbreak\nx",
	} {
		if got := cleanRunes(in); got != want {
			t.Errorf("cleanRunes(%q) = %q, want %q", in, got, want)
		}
	}
}

// cleanTextSpec is what cleanText does in one pass: cleanRunes, then
// spaces collapsed line by line and blank lines dropped.
func cleanTextSpec(s string, lineBreak byte) string {
	var lines []string
	for _, l := range strings.Split(cleanRunes(s), "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, string(lineBreak))
}

var cleanTextCases = []string{
	"", " ", "\n", "a", " a ", "a  b", "a \n b", "\n\na\n\n\nb\n", "a\r\nb\rc",
	"a\u200b b", "a \u200b b", "a\u00a0\u3000b", "\t a\u2028b\u2029", "a\v\fb", "\xff a \xff",
	"é \u0085 日本", "x\x00\x1by", "a\ue000 \ufeffb", " \r\n ",
}

func TestCleanTextIsCleanRunesThenSpaces(t *testing.T) {
	for _, s := range cleanTextCases {
		for _, lb := range []byte{'\n', ' '} {
			if got, want := cleanText(s, lb), cleanTextSpec(s, lb); got != want {
				t.Errorf("cleanText(%q, %q) = %q, want %q", s, lb, got, want)
			}
		}
	}
}

func FuzzCleanText(f *testing.F) {
	for _, s := range cleanTextCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, lb := range []byte{'\n', ' '} {
			if got, want := cleanText(s, lb), cleanTextSpec(s, lb); got != want {
				t.Errorf("cleanText(%q, %q) = %q, want %q", s, lb, got, want)
			}
		}
	})
}

// TestPlainTextWithoutMarkupIsOneTextToken holds the shortcut for text
// without "<" to what the tokenizer makes of it: one text token.
func TestPlainTextWithoutMarkupIsOneTextToken(t *testing.T) {
	for _, s := range append(cleanTextCases, "a &amp; b", "&nbsp;x&nbspy", "&#13;\r\n&#10;z", "&notit; &amp",
		"&#x110000;&#0;&#xD800;", "\x00&amp;\x00", "&lt;p&gt;", "caf&eacute; &AElig", "&\xff;", ">") {
		z := html.NewTokenizer(strings.NewReader(s))
		var text []byte
		for z.Next() == html.TextToken {
			text = append(text, z.Text()...)
		}
		if got, want := PlainText(s), cleanLines(string(text)); got != want {
			t.Errorf("PlainText(%q) = %q, want %q", s, got, want)
		}
	}
}
