package summary

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// isBoilerplateByRegexps is isBoilerplate without the cheap tests in front
// of the regexps: what the tests must never change.
func isBoilerplateByRegexps(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return true
	}
	if len([]rune(s)) > boilerplateMaxRunes {
		return false
	}
	f := strings.Join(strings.Fields(fold(s)), " ")
	for _, p := range boilerplatePatterns {
		if p.re.MatchString(f) {
			return true
		}
	}
	return false
}

// fixtureTexts returns every line of the fixtures of real sources and
// article pages, and every sentence of those lines.
func fixtureTexts(t *testing.T) []string {
	t.Helper()
	var texts []string
	for _, dir := range []string{"testdata", filepath.Join("..", "sources", "testdata")} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for line := range strings.SplitSeq(string(b), "\n") {
				texts = append(texts, line)
				texts = append(texts, SplitSentences(line)...)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return texts
}

// furnitureLines has at least one line that each pattern matches, so that the
// comparison below covers every cheap test.
var furnitureLines = []string{
	"We use cookies to collect information about how you use GOV.UK.",
	"Cookies help us to improve the website.",
	"Accept all cookies",
	"Cookie settings",
	"You've rejected additional cookies.",
	"Share this page:",
	"Share on Mastodon",
	"Accessibility statement",
	"Share this article with colleagues",
	"Skip to main content",
	"Was this page useful?",
	"Don't include personal or financial information like your National Insurance number.",
	"Sign up for our newsletter to get updates.",
	"Newsletter: subscribe here",
	"© European Union, 2024",
	"Copyright information",
	"Please enable JavaScript to view this page.",
	"Last updated 4 March 2025",
	"Part of: Cyber security",
	"The following statement is attributed to the Spokesperson.",
	"Updates to this page",
	"18 July 2022 15:20",
	"September 4, 2022",
	"Press contact: Jane Doe, jane.doe@example.eu",
	"Phone: +32 2 281 61 11",
	"press@consilium.europa.eu",
	"Watch the press conference",
}

// TestBoilerplateCheapTestsChangeNothing compares isBoilerplate with the
// regexps alone over the furniture lines above and every sentence and line of the
// fixtures of real sources and article pages.
func TestBoilerplateCheapTestsChangeNothing(t *testing.T) {
	texts := append(append([]string(nil), furnitureLines...), fixtureTexts(t)...)
	if len(texts) < 3000 {
		t.Fatalf("only %d texts to compare; the fixtures moved?", len(texts))
	}
	hit := make([]bool, len(boilerplatePatterns))
	for _, s := range texts {
		if got, want := isBoilerplate(s), isBoilerplateByRegexps(s); got != want {
			t.Errorf("isBoilerplate(%q) = %v, the regexps alone say %v", s, got, want)
		}
		f := strings.Join(strings.Fields(fold(strings.TrimSpace(s))), " ")
		for i, p := range boilerplatePatterns {
			if p.re.MatchString(f) {
				hit[i] = true
				if !p.mayMatch(f) {
					t.Errorf("pattern %d matches %q but its cheap test says it cannot", i, f)
				}
			}
		}
	}
	for i, ok := range hit {
		if !ok {
			t.Errorf("no text matches pattern %d (%s): add a furniture line for it", i, boilerplatePatterns[i].re)
		}
	}
}

func FuzzBoilerplateCheapTests(f *testing.F) {
	for _, s := range furnitureLines {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isBoilerplate(s), isBoilerplateByRegexps(s); got != want {
			t.Errorf("isBoilerplate(%q) = %v, the regexps alone say %v", s, got, want)
		}
	})
}
