package sources

import (
	"regexp"
	"strings"
	"testing"
)

// wordpressTrailerSpec is the regular expression trimWordpressTrailer
// stands for.
var wordpressTrailerSpec = regexp.MustCompile(`\s*The post .{1,600}? appeared first on [^\n]{1,200}?\.?$`)

var wordpressTrailerCases = []string{
	"",
	"Text.\nThe post Title appeared first on Site.",
	"Text. \n\t The post Title appeared first on Site",
	"The post Title appeared first on Site.",
	"Text.\nThe post Title appeared first on Site.\nMore.",
	"The post  appeared first on Site.",
	"The post T appeared first on .",
	"The post T appeared first on ",
	"Text. The post ",
	"The post T appeared first on appeared first on S.",
	"The post T appeared first on  appeared first on ",
	"x The post a The post b appeared first on c.",
	"The post é appeared first on " + strings.Repeat("é", 200) + ".",
	"The post é appeared first on " + strings.Repeat("é", 201) + ".",
	"The post é appeared first on " + strings.Repeat("é", 201),
	"The post " + strings.Repeat("t", 600) + " appeared first on S.",
	"The post " + strings.Repeat("t", 601) + " appeared first on S.",
	"The post " + strings.Repeat("t", 590) + " appeared first on " + strings.Repeat("x", 20) + " appeared first on S",
	"The post \xff appeared first on \xfe.",
	"a\r\fThe post T appeared first on S.",
	"a\vThe post T appeared first on S.",
}

func TestTrimWordpressTrailerIsTheRegexp(t *testing.T) {
	for _, s := range wordpressTrailerCases {
		if got, want := trimWordpressTrailer(s), wordpressTrailerSpec.ReplaceAllString(s, ""); got != want {
			t.Errorf("trimWordpressTrailer(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzTrimWordpressTrailer(f *testing.F) {
	for _, s := range wordpressTrailerCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := trimWordpressTrailer(s), wordpressTrailerSpec.ReplaceAllString(s, ""); got != want {
			t.Errorf("trimWordpressTrailer(%q) = %q, want %q", s, got, want)
		}
	})
}
