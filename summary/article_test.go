package summary

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// articleFixture is a saved page as its site serves it.
type articleFixture struct {
	name   string // file under testdata/articles, without .html
	url    string
	topics []string
	// first and last are the first and last body sentences, which the
	// extracted text must hold.
	first, last string
	// references the page's text holds.
	references []string
}

var articleFixtures = []articleFixture{
	{
		name:       "council-digital-diplomacy",
		url:        "https://www.consilium.europa.eu/en/press/press-releases/2022/07/18/digital-diplomacy-council-approves-conclusions/",
		topics:     []string{"digital", "diplomacy"},
		first:      "The Council today approved conclusions on EU digital diplomacy,",
		last:       "They build on the joint communication on the Global Gateway, JOIN(2021) 30 final.",
		references: []string{"ST 11406/22", "JOIN(2021) 30 final"},
	},
	{
		name:   "eeas-san-francisco",
		url:    "https://www.eeas.europa.eu/eeas/eu-opens-office-digital-diplomacy-san-francisco_en",
		topics: []string{"digital", "diplomacy", "san francisco"},
		first:  "The European Union today opened a new office in San Francisco",
		last:   "will continue to cooperate with the United States in the EU-U.S. Trade and Technology Council.",
	},
	{
		name:   "govuk-tech-envoy",
		url:    "https://www.gov.uk/government/news/uk-appoints-new-technology-envoy-to-strengthen-tech-diplomacy",
		topics: []string{"tech", "envoy"},
		first:  "The Foreign Secretary has appointed Dr. Helen Achterberg as the UK’s new Technology Envoy.",
		last:   "The Envoy works alongside the network of science and innovation officers in more than 40 countries.",
	},
	{
		name:   "state-cyberspace-bureau",
		url:    "https://www.state.gov/establishment-of-the-bureau-of-cyberspace-and-digital-policy/",
		topics: []string{"cyberspace", "digital"},
		first:  "The U.S. Department of State today launched the Bureau of Cyberspace and Digital Policy (CDP)",
		last:   "It reflects the growing importance of technology in every aspect of U.S. foreign policy.",
	},
}

// furniture is text of the saved pages that is not the article.
var furniture = []string{
	"cookie", "Skip to", "Share this page", "Share on", "Twitter", "Facebook", "Print",
	"Related links", "Related content", "Related Articles", "Is this page useful", "Did you find this page useful",
	"Was this page useful", "Report a problem", "Help us improve", "Sign up", "Subscribe", "Newsletter",
	"Press contacts", "+32", "@", "Home", "Press releases", "Legal notice", "Privacy", "©", "Crown copyright",
	"Menu", "Search", "Tags", "Here's how you know", "The following is attributed to", "Updates to this page",
	"From:", "Published 6 March 2026", "Visit the meeting page", "English", "Deutsch",
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", "articles", name+".html"))
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./summary/... -update to create it)", err)
	}
	if got != strings.TrimSuffix(string(want), "\n") {
		t.Errorf("%s differs from the golden file:\n got: %s\nwant: %s", name, got, want)
	}
}

func TestExtractArticleFromRealLayouts(t *testing.T) {
	for _, f := range articleFixtures {
		t.Run(f.name, func(t *testing.T) {
			text, err := ExtractArticle(readFixture(t, f.name), f.url)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, f.name+".article.txt", text)
			if !strings.HasPrefix(text, f.first) && !strings.Contains(text, "\n\n"+f.first) {
				t.Errorf("article text does not have the first body paragraph %q", f.first)
			}
			if !strings.HasSuffix(text, f.last) && !strings.Contains(text, f.last+"\n\n") {
				t.Errorf("article text does not have the last body sentence %q", f.last)
			}
			for _, bad := range furniture {
				if strings.Contains(text, bad) {
					t.Errorf("article text holds page furniture %q", bad)
				}
			}
			for _, ref := range f.references {
				if !strings.Contains(strings.Join(References(text), "|"), ref) {
					t.Errorf("reference %q not found in the article text", ref)
				}
			}
		})
	}
}

func TestSummariesOfRealLayouts(t *testing.T) {
	for _, f := range articleFixtures {
		t.Run(f.name, func(t *testing.T) {
			text, err := ExtractArticle(readFixture(t, f.name), f.url)
			if err != nil {
				t.Fatal(err)
			}
			for _, max := range []int{400, 250} {
				summary := Extractive(text, f.topics, max)
				assertReadableSummary(t, summary, text, max)
				if max == DefaultMaxChars {
					golden(t, f.name+".txt", summary)
					if n := len(SplitSentences(summary)); n < 2 {
						t.Errorf("a 400-character summary of a press release should have at least two sentences, got %d: %q", n, summary)
					}
				}
			}
		})
	}
}

func TestExtractArticleKeepsContentInAWrapperNamedLikeFurniture(t *testing.T) {
	page := `<html><head><title>Budget talks</title></head><body>
<nav class="menu"><a href="/">Home</a></nav>
<div class="layout has-sidebar"><main><h1>Budget talks</h1>
<p>The Council and Parliament reached a provisional agreement on the 2027 budget after talks that lasted through the night in Brussels.</p>
<p>The agreement keeps funding for research and for the digital transition at the level the Commission proposed in June.</p>
</main><div class="sidebar">Share this page</div></div></body></html>`
	text, err := ExtractArticle([]byte(page), "https://example.eu/budget")
	if err != nil {
		t.Fatal(err)
	}
	want := "The Council and Parliament reached a provisional agreement on the 2027 budget after talks that lasted through the night in Brussels.\n\n" +
		"The agreement keeps funding for research and for the digital transition at the level the Commission proposed in June."
	if text != want {
		t.Errorf("got %q\nwant %q", text, want)
	}
}

func TestExtractArticleRefusesWhatIsNotAnArticle(t *testing.T) {
	if _, err := ExtractArticle([]byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), "https://eur-lex.europa.eu/doc.pdf"); err == nil || !strings.Contains(err.Error(), "not an HTML page") {
		t.Errorf("PDF: err = %v", err)
	}
	empty := `<html><body><nav>Home</nav><div class="cookie-banner">We use cookies to improve your experience.</div><footer>© 2026</footer></body></html>`
	if _, err := ExtractArticle([]byte(empty), "https://example.eu/empty"); !errors.Is(err, ErrNoArticle) {
		t.Errorf("furniture-only page: err = %v, want ErrNoArticle", err)
	}
	if _, err := ExtractArticle([]byte("<p>x</p>"), "://bad url"); err == nil {
		t.Error("bad page URL accepted")
	}
}

func TestExtractArticleDecodesDeclaredCharset(t *testing.T) {
	// "Réunion du Conseil" in ISO-8859-1.
	page := []byte("<html><head><meta charset=\"iso-8859-1\"><title>R\xe9union</title></head><body><article>" +
		"<p>La r\xe9union du Conseil a approuv\xe9 les conclusions sur la diplomatie num\xe9rique de l'Union europ\xe9enne.</p>" +
		"<p>Les ministres ont salu\xe9 l'ouverture d'un bureau \xe0 San Francisco pour renforcer la pr\xe9sence de l'Union.</p></article></body></html>")
	text, err := ExtractArticle(page, "https://example.eu/fr")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "La réunion du Conseil a approuvé les conclusions sur la diplomatie numérique") {
		t.Errorf("charset not decoded: %q", text)
	}
}
