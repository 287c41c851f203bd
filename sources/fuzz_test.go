package sources

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/policywire/policywire"
)

// fuzzSeedFixtures adds every fixture whose name ends in one of exts.
func fuzzSeedFixtures(f *testing.F, exts ...string) {
	f.Helper()
	fuzzSeedDir(f, "fixtures", exts...)
}

// fuzzSeedDir adds every file of testdata/dir whose name ends in one of exts.
func fuzzSeedDir(f *testing.F, dir string, exts ...string) {
	f.Helper()
	names, err := os.ReadDir(filepath.Join("testdata", dir))
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range names {
		for _, ext := range exts {
			if strings.HasSuffix(n.Name(), ext) {
				b, err := os.ReadFile(filepath.Join("testdata", dir, n.Name()))
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b)
			}
		}
	}
}

// fuzzCheck asserts what must hold of any parse, whatever the input.
func fuzzCheck(t *testing.T, src Source, items []policywire.Item, err error) {
	t.Helper()
	if err != nil {
		if KindOf(err) == "" {
			t.Fatalf("error is not a *sources.Error: %v", err)
		}
		if len(items) != 0 {
			t.Fatalf("%d items with an error", len(items))
		}
		return
	}
	for _, it := range items {
		if it.Title == "" || !utf8.ValidString(it.Title) || !utf8.ValidString(it.Summary) || !utf8.ValidString(it.Content) {
			t.Fatalf("bad title or text: %q / %q", it.Title, it.Summary)
		}
		if utf8.RuneCountInString(it.Title) > MaxTitleRunes || strings.ContainsAny(it.Title, "\n\r\t\x00\u202e\u200b") {
			t.Fatalf("title not clean: %q", it.Title)
		}
		if it.Source != src.ID || it.ID != policywire.Identity(it) {
			t.Fatalf("source %q, ID %q, identity %q", it.Source, it.ID, policywire.Identity(it))
		}
		if it.CanonicalURL != "" {
			again, err := CanonicalURL(it.CanonicalURL)
			if err != nil || again != it.CanonicalURL {
				t.Fatalf("canonical URL %q not stable: %q, %v", it.CanonicalURL, again, err)
			}
		}
		if it.URL != "" && !strings.HasPrefix(it.URL, "http://") && !strings.HasPrefix(it.URL, "https://") {
			t.Fatalf("URL %q is not an absolute http(s) URL", it.URL)
		}
	}
}

func FuzzFeed(f *testing.F) {
	fuzzSeedFixtures(f, ".rss", ".atom", ".html")
	for _, s := range []string{
		`<rss version="2.0"><channel><item><title>a</title><link>/rel</link></item></channel></rss>`,
		"<rss version=\"2.0\"><channel><item><title>\x01\xff\u202e</title><link>https://example.org/a#x</link></item></channel></rss>",
		`<feed xmlns="http://www.w3.org/2005/Atom" xml:base="//x/"><entry><title type="html">&lt;b&gt;x</title><link href="../a"/><updated>2026-99-99</updated></entry></feed>`,
		`{"version":"https://jsonfeed.org/version/1.1","items":[{"id":"1","url":"javascript:x","title":"t","date_published":"x"}]}`,
		`<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><item><title>t</title></item></rdf:RDF>`,
		`<rss version="2.0"><channel><item><title>` + strings.Repeat("<x>", 1200) + `</title></item></channel></rss>`,
		`<rss><channel><item><title>CELEX:1: </title><link>https://www.gov.uk/a</link></item></channel></rss>`,
	} {
		f.Add([]byte(s))
	}
	// The shapes of the reading fixtures: other encodings, bodies cut
	// short, broken items, JSON Feeds of the wrong shapes.
	fuzzSeedDir(f, "feeds", ".rss", ".atom", ".rdf", ".json")
	for _, s := range []string{
		"\xff\xfe<\x00r\x00s\x00s\x00>\x00",
		"\x00\x00\x00<\x00\x00\x00r",
		"<?xml version=\"1.0\" encoding=\"utf-16\"?><rss><channel><item><title>a</title></item></channel></rss>",
		"<rss version=\"2.0\"><channel><item><title>\x93q\x94 \xa3</title></item><item><title>cut",
		`<rss version="2.0"><channel><item><title>a < b &#1;</title></item><item><title>b</title><x y="1"" /></item></channel></rss>`,
		`<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="text">&lt;b&gt;</title><id>http://x/#1</id><content mode="base64" type="text/html">PGI+</content></entry><entry><title>`,
		`{"version":"https://jsonfeed.org/version/1","items":[{"content_text":"x. y"},3,{"title":{"a":1},"authors":"z"},{"id":`,
	} {
		f.Add([]byte(s))
	}
	src := Source{ID: "fuzz", Type: TypeFeed, URL: "https://example.org/feed.xml", Language: "en"}
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := Parse(src, body, src.URL, "", time.UTC)
		fuzzCheck(t, src, items, err)
		// A charset in the Content-Type is honoured before the body's own.
		items, rep, err := ParseReport(src, body, src.URL, "text/xml; charset=windows-1251", time.UTC)
		fuzzCheck(t, src, items, err)
		for _, d := range rep.Dropped {
			if d.Position < 1 || d.Reason == "" {
				t.Fatalf("dropped %+v", d)
			}
		}
	})
}

func FuzzHTML(f *testing.F) {
	fuzzSeedFixtures(f, ".html")
	for _, s := range []string{
		`<ul><li class="gsc-excerpt-item"><a class="gsc-excerpt-item__link" href="?a=1#b"><span class="gsc-excerpt-item__title">t</span></a><time datetime="13/45/2026 99:00 PM"></time></li></ul>`,
		"<html lang=\"\xff\"><li class=gsc-excerpt-item><a class=gsc-excerpt-item__link href=\"javascript:1\"><span class=gsc-excerpt-item__title>\x00</span></a></li>",
		`<base href="//evil"><li class="gsc-excerpt-item"><a class="gsc-excerpt-item__link" href="x"><span class="gsc-excerpt-item__title">x</span></a></li>`,
		strings.Repeat("<div>", 600),
		`<title>Just a moment...</title>`,
	} {
		f.Add([]byte(s))
	}
	src := Source{ID: "fuzz", Type: TypeHTML, URL: "https://www.consilium.europa.eu/en/press/press-releases/", HTML: &HTMLOptions{
		Item: "li.gsc-excerpt-item", Title: "span.gsc-excerpt-item__title", Link: "a.gsc-excerpt-item__link@href",
		Date: "time@datetime", Summary: "p",
	}}
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := Parse(src, body, src.URL, "text/html", time.UTC)
		fuzzCheck(t, src, items, err)
	})
}

func FuzzJSON(f *testing.F) {
	fuzzSeedFixtures(f, ".json")
	for _, s := range []string{
		`{"results":[{"title":"t","link":"/a","public_timestamp":1e300}]}`,
		`{"results":[{"title":["a",{"b":1}],"link":{"x":1},"public_timestamp":-1}]}`,
		`{"results":[{"title":"\u0000\ud800","link":"//x","description":"<script>x</script>"}]}`,
		`{"results":{"0":1}}`,
		`[1,2,3]`,
		`null`,
		strings.Repeat(`[`, 20000),
	} {
		f.Add([]byte(s))
	}
	src := Source{ID: "fuzz", Type: TypeJSON, URL: "https://www.gov.uk/api/search.json", JSON: &JSONOptions{
		Items: "results", Title: "title", Link: "link", BaseURL: "https://www.gov.uk", Date: "public_timestamp", Summary: "description", GUID: "_id",
	}}
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := Parse(src, body, src.URL, "application/json", time.UTC)
		fuzzCheck(t, src, items, err)
	})
}

func FuzzCanonicalURL(f *testing.F) {
	for _, s := range []string{
		"https://www.consilium.europa.eu/en/press/press-releases/2026/10/20/x/",
		"HTTPS://EUR-LEX.europa.eu:443/./legal-content/EN/TXT/?uri=CELEX:32026R2145&utm_source=rss#top",
		"http://[::1]:80/a/../b//c/.",
		"https://Bücher.example/café?q=%e2%80%93&&fbclid=1",
		"https://example.org/%2e%2e/%2F?a=%zz",
		"https://user:pa%20ss@example.org:0443",
		"https://example.org/a b",
		"https://example.org?",
		"http:/x",
		"//example.org/a",
		"https://xn--a.example/",
		"https://example.org/\u202e",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := CanonicalURL(raw)
		if err != nil {
			return
		}
		if !strings.HasPrefix(c, "http://") && !strings.HasPrefix(c, "https://") {
			t.Fatalf("CanonicalURL(%q) = %q: not http(s)", raw, c)
		}
		again, err := CanonicalURL(c)
		if err != nil {
			t.Fatalf("CanonicalURL(%q) = %q, which is refused: %v", raw, c, err)
		}
		if again != c {
			t.Fatalf("not idempotent: %q → %q → %q", raw, c, again)
		}
	})
}
