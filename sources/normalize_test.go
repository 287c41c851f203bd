package sources

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/policywire/policywire"
)

func TestCanonicalURL(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"already canonical", "https://www.consilium.europa.eu/en/press/", "https://www.consilium.europa.eu/en/press/"},
		{"upper-case scheme and host", "HTTPS://WWW.Consilium.Europa.EU/en/Press/", "https://www.consilium.europa.eu/en/Press/"},
		{"default https port", "https://www.gov.uk:443/government/news/x", "https://www.gov.uk/government/news/x"},
		{"default http port", "http://example.org:80/a", "http://example.org/a"},
		{"other port kept", "https://example.org:8443/a", "https://example.org:8443/a"},
		{"http port on https kept", "https://example.org:80/a", "https://example.org:80/a"},
		{"empty port", "https://example.org:/a", "https://example.org/a"},
		{"fragment dropped", "https://example.org/a#section-2", "https://example.org/a"},
		{"utm dropped, order kept", "https://example.org/a?b=2&utm_source=rss&a=1&utm_medium=feed&UTM_Campaign=x", "https://example.org/a?b=2&a=1"},
		{"click ids dropped", "https://example.org/a?fbclid=IwAR0&id=7&gclid=Cj0&mc_cid=1a&mc_eid=2b", "https://example.org/a?id=7"},
		{"only tracking", "https://example.org/a?utm_source=x#top", "https://example.org/a"},
		{"empty query", "https://example.org/a?", "https://example.org/a"},
		{"empty pairs", "https://example.org/a?&&x=1&&", "https://example.org/a?x=1"},
		{"EUR-Lex /./", "https://eur-lex.europa.eu/./legal-content/EN/TXT/?uri=CELEX:32026R2145", "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:32026R2145"},
		{"double slashes", "https://example.org//a//b/", "https://example.org/a/b/"},
		{"dot segments", "https://example.org/a/./b/../c", "https://example.org/a/c"},
		{"dot-dot above root", "https://example.org/../../a", "https://example.org/a"},
		{"trailing slash kept", "https://example.org/en/press/", "https://example.org/en/press/"},
		{"no trailing slash not added", "https://example.org/en/press", "https://example.org/en/press"},
		{"trailing /. keeps slash", "https://example.org/en/.", "https://example.org/en/"},
		{"empty path", "https://example.org", "https://example.org/"},
		{"empty path with query", "https://example.org?x=1", "https://example.org/?x=1"},
		{"escapes kept, hex upper-cased", "https://example.org/caf%c3%a9/a%2fb?q=%e2%80%93", "https://example.org/caf%C3%A9/a%2Fb?q=%E2%80%93"},
		{"unicode path escaped", "https://example.org/café", "https://example.org/caf%C3%A9"},
		{"IDN host to punycode", "https://Bücher.Example/x", "https://xn--bcher-kva.example/x"},
		{"punycode host lower-cased", "https://XN--BCHER-KVA.example/x", "https://xn--bcher-kva.example/x"},
		{"IPv6 with default port", "http://[2001:DB8::1]:80/a", "http://[2001:db8::1]/a"},
		{"spaces around", "  https://example.org/a \n", "https://example.org/a"},
		{"semicolon params kept", "https://example.org/a;jsessionid=1?x=1", "https://example.org/a;jsessionid=1?x=1"},
		{"user info kept", "https://user@example.org/a", "https://user@example.org/a"},
		{"leading zeros in port", "https://example.org:0443/a", "https://example.org/a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CanonicalURL(tc.in)
			if err != nil {
				t.Fatalf("CanonicalURL(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("CanonicalURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
			again, err := CanonicalURL(got)
			if err != nil || again != got {
				t.Errorf("not idempotent: %q → %q (%v)", got, again, err)
			}
		})
	}
}

func TestCanonicalURLRejects(t *testing.T) {
	for _, in := range []string{
		"", "   ", "/relative/path", "example.org/a", "mailto:press@consilium.europa.eu",
		"javascript:alert(1)", "ftp://example.org/a", "https://", "http:opaque", "https://example.org:http/a",
		"https://exa mple.org/", "https://xn--a.example/",
	} {
		if got, err := CanonicalURL(in); err == nil {
			t.Errorf("CanonicalURL(%q) = %q, want an error", in, got)
		} else if !strings.HasPrefix(err.Error(), "sources: ") {
			t.Errorf("error %q lacks the package prefix", err)
		}
	}
}

func TestResolveURL(t *testing.T) {
	base, _ := url.Parse("https://www.eeas.europa.eu/eeas/press-material_en?page=0")
	for ref, want := range map[string]string{
		"/eeas/a_en":          "https://www.eeas.europa.eu/eeas/a_en",
		"b_en":                "https://www.eeas.europa.eu/eeas/b_en",
		"?page=1":             "https://www.eeas.europa.eu/eeas/press-material_en?page=1",
		"//cdn.example.org/x": "https://cdn.example.org/x",
		"https://other.org/y": "https://other.org/y",
		"  ":                  "",
		"%zz":                 "",
	} {
		if got := ResolveURL(base, ref); got != want {
			t.Errorf("ResolveURL(%q) = %q, want %q", ref, got, want)
		}
	}
	if got := ResolveURL(nil, "/a"); got != "/a" {
		t.Errorf("without base: %q", got)
	}
}

func TestPlainText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "Council approves conclusions", "Council approves conclusions"},
		{"entities", "Remarks &#8211; San Francisco &amp; Silicon Valley &#x2019;26 &eacute;t&eacute; &nbsp;x", "Remarks – San Francisco & Silicon Valley ’26 été x"},
		{"tags dropped", "<p>The <strong>EU</strong> and <a href='x'>Japan</a> met.</p>", "The EU and Japan met."},
		{"paragraphs become lines", "<p>First.</p><p>Second.</p>", "First.\nSecond."},
		{"br", "line one<br>line two<br/>line three", "line one\nline two\nline three"},
		{"inline tags do not split words", "cyber<em>diplomacy</em>", "cyberdiplomacy"},
		{"script and style dropped", "<style>p{color:red}</style>Hello<script>alert('x<p>')</script> world", "Hello world"},
		{"noscript and comments dropped", "a<!-- hidden --><noscript>enable js</noscript> b", "a b"},
		{"whitespace collapsed", "  a \t\t b \n\n\n  c  ", "a b\nc"},
		{"blank lines removed", "<div><p>a</p>\n\n<p> </p><p>b</p></div>", "a\nb"},
		{"list items", "<ul><li>one</li><li>two</li></ul>", "one\ntwo"},
		{"table cells", "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"},
		{"control characters", "a\x00b\x07c\x1b d\r\ne", "abc d\ne"},
		{"invalid UTF-8", "caf\xc3 \xffok", "caf ok"},
		{"zero-width", "tech\u200bdiplo\u200cmacy\u2060\ufeff", "techdiplomacy"},
		{"bidi overrides", "\u202egnp.exe\u202c \u2066x\u2069 \u200fy", "gnp.exe x y"},
		{"soft hyphen", "diplo\u00admacy", "diplomacy"},
		{"unicode spaces", "a\u00a0b\u2003c\u3000d", "a b c d"},
		{"line separator", "a\u2028b", "a\nb"},
		{"double-escaped markup stays text", "&lt;b&gt;bold&lt;/b&gt;", "<b>bold</b>"},
		{"lone angle bracket", "a < b and c > d", "a < b and c > d"},
		{"unclosed tag", "text <a href='x", "text"},
		{"empty", "", ""},
		{"cdata-like", "<![CDATA[x]]>y", "y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PlainText(tc.in); got != tc.want {
				t.Errorf("PlainText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestCleanTitle(t *testing.T) {
	if got := CleanTitle("  <b>Press</b>\n release:\t\tEU &amp; Japan  "); got != "Press release: EU & Japan" {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("Cybersecurity ", 60) // 840 runes
	got := CleanTitle(long)
	if n := utf8.RuneCountInString(got); n > MaxTitleRunes || n < MaxTitleRunes-20 {
		t.Errorf("%d runes", n)
	}
	if !strings.HasSuffix(got, "Cybersecurity…") {
		t.Errorf("not cut at a word boundary: …%q", got[len(got)-20:])
	}
	noSpaces := strings.Repeat("é", 700)
	got = CleanTitle(noSpaces)
	if n := utf8.RuneCountInString(got); n != MaxTitleRunes || !strings.HasSuffix(got, "é…") {
		t.Errorf("%d runes, ends %q", n, got[len(got)-6:])
	}
	exact := strings.Repeat("a", MaxTitleRunes)
	if CleanTitle(exact) != exact {
		t.Error("a title of exactly the limit was cut")
	}
}

func TestNormalizeLanguage(t *testing.T) {
	for in, want := range map[string]string{
		"en": "en", "en-GB": "en", "EN-us": "en", "fr": "fr", "de_DE": "de", " fr-FR ": "fr",
		"pt-BR": "pt", "ast": "ast", "": "", "english": "", "e": "", "12": "", "fr;q=0.8": "fr",
	} {
		if got := NormalizeLanguage(in); got != want {
			t.Errorf("NormalizeLanguage(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeItem(t *testing.T) {
	base, _ := url.Parse("https://example.org/news/")
	src := Source{ID: "s", Language: "de"}
	it, ok := normalizeItem(src, policywire.Item{
		Title:      "  Title\u200b  ",
		Summary:    "<p>Title</p>",
		Content:    "Body &amp; more",
		URL:        "item?utm_source=x",
		Categories: []string{" Cyber ", "cyber", "", "<b>Digital</b>"},
		Published:  time.Date(2026, 10, 1, 12, 0, 0, 0, time.FixedZone("", 7200)),
	}, base, "")
	if !ok {
		t.Fatal("item dropped")
	}
	if it.Source != "s" || it.Title != "Title" || it.Summary != "" || it.Content != "Body & more" {
		t.Errorf("%+v", it)
	}
	if it.URL != "https://example.org/news/item?utm_source=x" || it.CanonicalURL != "https://example.org/news/item" || it.ID != "u:https://example.org/news/item" {
		t.Errorf("url %q canonical %q id %q", it.URL, it.CanonicalURL, it.ID)
	}
	if it.Language != "de" || it.Published.Location() != time.UTC || it.Published.Hour() != 10 {
		t.Errorf("language %q published %s", it.Language, it.Published)
	}
	if strings.Join(it.Categories, "|") != "Cyber|Digital" {
		t.Errorf("categories %q", it.Categories)
	}

	// No title: the summary gives one; neither: dropped.
	it, ok = normalizeItem(src, policywire.Item{Summary: "Only a summary here.", GUID: " 42 "}, nil, "")
	if !ok || it.Title != "Only a summary here." || it.GUID != "42" || it.ID != "g:s\x0042" {
		t.Errorf("%v %+v", ok, it)
	}
	if _, ok = normalizeItem(src, policywire.Item{URL: "https://example.org/x"}, nil, ""); ok {
		t.Error("item without title or summary kept")
	}
	// A link that is not http(s) is no link.
	it, _ = normalizeItem(src, policywire.Item{Title: "x", URL: "mailto:a@b.c"}, nil, "")
	if it.URL != "" || it.CanonicalURL != "" || !strings.HasPrefix(it.ID, "h:") {
		t.Errorf("%+v", it)
	}
}
