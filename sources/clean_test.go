package sources

import "testing"

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
