package sources

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/policywire/policywire"
)

// feedByURL indexes parsed items by their canonical URL.
func feedByURL(t *testing.T, items []policywire.Item) map[string]policywire.Item {
	t.Helper()
	m := map[string]policywire.Item{}
	for _, it := range items {
		if _, dup := m[it.CanonicalURL]; dup {
			t.Fatalf("two items with canonical URL %q", it.CanonicalURL)
		}
		m[it.CanonicalURL] = it
	}
	return m
}

func TestFeedCouncilDateFromA10Updated(t *testing.T) {
	items := fixtureItems(t, "council-press.rss", "council-press")
	if len(items) != 6 {
		t.Fatalf("%d items, want 6", len(items))
	}
	it := items[2]
	if it.GUID != "190298" {
		t.Errorf("GUID = %q, want the numeric guid 190298", it.GUID)
	}
	want := time.Date(2026, 10, 20, 11, 45, 0, 0, time.FixedZone("CEST", 2*3600))
	if !it.Published.Equal(want) {
		t.Errorf("Published = %s, want %s from a10:updated", it.Published, want)
	}
	if !strings.HasPrefix(it.ID, "u:https://www.consilium.europa.eu/en/press/press-releases/2026/10/20/digital-diplomacy") {
		t.Errorf("ID = %q: a non-permalink guid must not win over the URL", it.ID)
	}
}

func TestFeedEURLexQuirks(t *testing.T) {
	items := fixtureItems(t, "eurlex.rss", "eurlex")
	if len(items) != 4 {
		t.Fatalf("%d items, want 4", len(items))
	}
	for _, it := range items {
		if strings.Contains(it.CanonicalURL, "/./") {
			t.Errorf("canonical URL %q keeps /./", it.CanonicalURL)
		}
		if !strings.HasPrefix(it.CanonicalURL, "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:") {
			t.Errorf("canonical URL %q", it.CanonicalURL)
		}
		if strings.HasPrefix(it.Title, "CELEX") {
			t.Errorf("title %q keeps the CELEX prefix", it.Title)
		}
		if len(it.References) != 1 || !strings.HasPrefix(it.References[0], "CELEX:3") && !strings.HasPrefix(it.References[0], "CELEX:5") {
			t.Errorf("references %q, want the CELEX number", it.References)
		}
		if it.Summary != "" {
			t.Errorf("summary %q from an empty description", it.Summary)
		}
	}
	if got := items[0].Title; got != "Council Decision (CFSP) 2026/2212 of 5 November 2026 amending Decision (CFSP) 2019/797 concerning restrictive measures against cyber-attacks threatening the Union or its Member States" {
		t.Errorf("title = %q", got)
	}
}

func TestFeedGovUKIDChurnKeepsIdentity(t *testing.T) {
	v1 := feedByURL(t, fixtureItems(t, "govuk-fcdo.atom", "govuk-fcdo"))
	v2 := feedByURL(t, fixtureItems(t, "govuk-fcdo-v2.atom", "govuk-fcdo"))
	if len(v1) != 4 || len(v2) != 5 {
		t.Fatalf("v1 %d items, v2 %d items", len(v1), len(v2))
	}
	churned := 0
	for u, a := range v1 {
		b, ok := v2[u]
		if !ok {
			t.Errorf("item %s gone from v2", u)
			continue
		}
		if a.ID != b.ID {
			t.Errorf("item %s: ID changed from %q to %q", u, a.ID, b.ID)
		}
		if a.GUID != b.GUID {
			churned++
		}
	}
	if churned != 2 {
		t.Errorf("%d entries changed their Atom id, want 2 (the fixture is meant to churn)", churned)
	}
	envoy := v1["https://www.gov.uk/government/news/uk-appoints-first-technology-envoy-to-the-gulf"]
	if envoy.Title != "UK appoints first Technology Envoy to the Gulf" {
		t.Errorf("title %q keeps the document type", envoy.Title)
	}
	if len(envoy.Categories) != 1 || envoy.Categories[0] != "Press release" {
		t.Errorf("categories %q, want the document type", envoy.Categories)
	}
	if want := time.Date(2026, 10, 22, 14, 30, 11, 0, time.UTC); !envoy.Published.Equal(want) {
		t.Errorf("published %s, want %s from <updated>", envoy.Published, want)
	}
}

func TestFeedSameStoryAcrossGovUKSources(t *testing.T) {
	const u = "https://www.gov.uk/government/news/uk-appoints-first-technology-envoy-to-the-gulf"
	org := feedByURL(t, fixtureItems(t, "govuk-fcdo.atom", "govuk-fcdo"))[u]
	search := feedByURL(t, fixtureItems(t, "govuk-search.atom", "govuk-search"))[u]
	api := feedByURL(t, fixtureItems(t, "govuk-search-api.json", "govuk-search-api"))[u]
	if org.ID == "" || org.ID != search.ID || org.ID != api.ID {
		t.Errorf("IDs differ: org %q, search %q, api %q", org.ID, search.ID, api.ID)
	}
	if org.Title != search.Title || search.Title != api.Title {
		t.Errorf("titles differ: %q, %q, %q", org.Title, search.Title, api.Title)
	}
	if !strings.HasPrefix(search.GUID, "tag:www.gov.uk,2005:/") {
		t.Errorf("search GUID %q", search.GUID)
	}
	if !strings.Contains(search.Summary, "tech diplomacy") || strings.Contains(search.Summary, "<") || strings.Contains(search.Summary, "&#") {
		t.Errorf("html summary not made plain: %q", search.Summary)
	}
}

func TestFeedStateDepartmentWordPress(t *testing.T) {
	items := fixtureItems(t, "state-press.rss", "state-press")
	if len(items) != 4 {
		t.Fatalf("%d items, want 4", len(items))
	}
	it := items[1]
	if it.Title != "Deputy Secretary’s Remarks at the Tech Diplomacy Forum – San Francisco" {
		t.Errorf("title %q: entities not decoded", it.Title)
	}
	if strings.Contains(it.Summary, "&#8211;") || !strings.Contains(it.Summary, "California – Thank you") {
		t.Errorf("summary %q: &#8211; inside CDATA not decoded", it.Summary)
	}
	if strings.Contains(it.Summary, "appeared first on") || strings.Contains(it.Content, "appeared first on") {
		t.Errorf("WordPress trailer kept: %q / %q", it.Summary, it.Content)
	}
	if strings.Contains(it.Content, "wpEmbed") || !strings.Contains(it.Content, "\n") {
		t.Errorf("content %q: script kept or paragraphs lost", it.Content)
	}
	if it.Language != "en" {
		t.Errorf("language %q, want en from en-US", it.Language)
	}
	if it.GUID != "https://www.state.gov/?p=154087" || it.CanonicalURL == "https://www.state.gov/?p=154087" {
		t.Errorf("GUID %q, canonical %q", it.GUID, it.CanonicalURL)
	}
	if len(it.Categories) != 2 || it.Categories[0] != "Bureau of Cyberspace and Digital Policy" {
		t.Errorf("categories %q", it.Categories)
	}
}

func TestFeedCommissionRSSAndAPIAgree(t *testing.T) {
	rss := feedByURL(t, fixtureItems(t, "commission-presscorner.rss", "commission-presscorner"))
	api := feedByURL(t, fixtureItems(t, "commission-presscorner-api.json", "commission-presscorner-api"))
	for _, u := range []string{
		"https://ec.europa.eu/commission/presscorner/detail/en/ip_26_2110",
		"https://ec.europa.eu/commission/presscorner/detail/en/statement_26_2001",
	} {
		a, b := rss[u], api[u]
		if a.ID == "" || a.ID != b.ID {
			t.Errorf("%s: RSS ID %q, API ID %q", u, a.ID, b.ID)
		}
	}
	anti := rss["https://ec.europa.eu/commission/presscorner/detail/en/ip_26_2054"]
	if len(anti.Categories) != 1 || anti.Categories[0] != "POLICY_AREA=COMPETY,ANTITRUST" {
		t.Errorf("categories %q", anti.Categories)
	}
}

func TestFeedLanguages(t *testing.T) {
	for _, tc := range []struct{ file, source, want string }{
		{"diplomatie.rss", "diplomatie", "fr"},
		{"europarl-press-de.rss", "europarl-press-de", "de"},
		{"govuk-fcdo.atom", "govuk-fcdo", "en"}, // xml:lang="en-GB"
	} {
		for _, it := range fixtureItems(t, tc.file, tc.source) {
			if it.Language != tc.want {
				t.Errorf("%s: %q has language %q, want %q", tc.file, it.Title, it.Language, tc.want)
			}
		}
	}
	// Item dc:language wins over the channel, the channel over the source.
	body := `<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title><language>fr-FR</language>
<item><title>un</title><link>https://example.org/1</link></item>
<item><title>zwei</title><link>https://example.org/2</link><dc:language>de</dc:language></item></channel></rss>`
	items, err := Parse(Source{ID: "x", Language: "en"}, []byte(body), "https://example.org/feed", "", time.UTC)
	if err != nil || len(items) != 2 {
		t.Fatalf("%v, %d items", err, len(items))
	}
	if items[0].Language != "fr" || items[1].Language != "de" {
		t.Errorf("languages %q, %q", items[0].Language, items[1].Language)
	}
	items, err = Parse(Source{ID: "x", Language: "pt-BR"}, []byte(`<rss version="2.0"><channel><item><title>um</title><link>https://example.org/1</link></item></channel></rss>`), "https://example.org/feed", "", time.UTC)
	if err != nil || len(items) != 1 || items[0].Language != "pt" {
		t.Errorf("source language fallback: %v %+v", err, items)
	}
}

func TestFeedRelativeLinks(t *testing.T) {
	src := Source{ID: "rel", URL: "https://www.example.org/news/feed.xml"}
	for _, tc := range []struct{ name, body, want string }{
		{"rss root-relative", `<rss version="2.0"><channel><item><title>a</title><link>/press/2026/10/a</link></item></channel></rss>`, "https://www.example.org/press/2026/10/a"},
		{"rss path-relative", `<rss version="2.0"><channel><item><title>a</title><link>items/a?id=3#top</link></item></channel></rss>`, "https://www.example.org/news/items/a?id=3#top"},
		{"atom relative", `<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>a</title><link rel="alternate" href="../a.html"/><updated>2026-10-01T10:00:00Z</updated></entry></feed>`, "https://www.example.org/a.html"},
		{"atom xml:base", `<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://cdn.example.net/base/"><entry><title>a</title><link href="c/d"/><updated>2026-10-01T10:00:00Z</updated></entry></feed>`, "https://cdn.example.net/base/c/d"},
		{"json feed", `{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[{"id":"1","url":"/j/1","title":"a","date_published":"2026-10-01T10:00:00+02:00"}]}`, "https://www.example.org/j/1"},
		{"permalink guid only", `<rss version="2.0"><channel><item><title>a</title><guid>https://www.example.org/g/1</guid></item></channel></rss>`, "https://www.example.org/g/1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, err := Parse(src, []byte(tc.body), src.URL, "", time.UTC)
			if err != nil || len(items) != 1 {
				t.Fatalf("%v, %d items", err, len(items))
			}
			if items[0].URL != tc.want {
				t.Errorf("URL = %q, want %q", items[0].URL, tc.want)
			}
		})
	}
}

func TestFeedFormats(t *testing.T) {
	loc := fixtureBrussels(t)
	src := Source{ID: "f", URL: "https://example.org/feed"}
	for _, tc := range []struct {
		name, body string
		want       time.Time
	}{
		{"rss 0.91", `<rss version="0.91"><channel><title>t</title><item><title>a</title><link>https://example.org/a</link><pubDate>Mon, 02 Nov 2026 09:00:00 GMT</pubDate></item></channel></rss>`,
			time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)},
		{"rss 1.0", `<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel rdf:about="https://example.org/"><title>t</title></channel><item rdf:about="https://example.org/a"><title>a</title><link>https://example.org/a</link><dc:date>2026-11-02T10:00:00+01:00</dc:date></item></rdf:RDF>`,
			time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)},
		{"atom published and updated", `<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>a</title><link href="https://example.org/a"/><published>2026-11-02T10:00:00+01:00</published><updated>2026-11-03T10:00:00+01:00</updated></entry></feed>`,
			time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)},
		{"json feed", `{"version":"https://jsonfeed.org/version/1","title":"t","items":[{"id":"a","url":"https://example.org/a","title":"a","content_html":"<p>x</p>","date_modified":"2026-11-02T09:00:00Z"}]}`,
			time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)},
		{"dc:date without zone is local", `<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><item><title>a</title><link>https://example.org/a</link><dc:date>2026-11-02T10:00:00</dc:date></item></channel></rss>`,
			time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)},
		{"dotted pubDate gofeed cannot read", `<rss version="2.0"><channel><item><title>a</title><link>https://example.org/a</link><pubDate>02.11.2026</pubDate></item></channel></rss>`,
			time.Date(2026, 11, 1, 23, 0, 0, 0, time.UTC)},
		{"no date at all", `<rss version="2.0"><channel><item><title>a</title><link>https://example.org/a</link></item></channel></rss>`,
			time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, err := Parse(src, []byte(tc.body), src.URL, "", loc)
			if err != nil || len(items) != 1 {
				t.Fatalf("%v, %d items", err, len(items))
			}
			if !items[0].Published.Equal(tc.want) {
				t.Errorf("published %s, want %s", items[0].Published, tc.want)
			}
			if tc.want.IsZero() && !items[0].Published.IsZero() {
				t.Errorf("published %s for an undated item", items[0].Published)
			}
		})
	}
}

func TestFeedBodiesThatAreNotFeeds(t *testing.T) {
	src := Source{ID: "f", URL: "https://example.org/feed"}
	for _, tc := range []struct {
		name, body string
		kind       ErrorKind
		title      string
	}{
		{"html page", "<!DOCTYPE html><html><head><title>Welcome &amp; hello</title></head><body>hi</body></html>", KindUnexpected, "Welcome & hello"},
		{"plain text", "Service temporarily unavailable", KindUnexpected, ""},
		{"truncated rss", `<rss version="2.0"><channel><item><title>a</title><link>x</link>`, KindParse, ""},
		{"broken markup outside the items", `<?xml version="1.0"?><rss version="2.0"><channel><title x="1"">a</title><item><title>a</title></item></channel></rss>`, KindParse, ""},
		{"broken json feed", `{"version":"https://jsonfeed.org/version/1.1","items":[{"id":"1",}]}`, KindParse, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(src, []byte(tc.body), src.URL, "", time.UTC)
			se := fetchWantKind(t, err, tc.kind)
			if se.Title != tc.title {
				t.Errorf("title %q, want %q", se.Title, tc.title)
			}
			if se.URL != src.URL {
				t.Errorf("URL %q", se.URL)
			}
		})
	}
}

func TestFeedHostileInput(t *testing.T) {
	src := Source{ID: "h", URL: "https://example.org/feed"}
	t.Run("control characters and invalid UTF-8", func(t *testing.T) {
		body := "<rss version=\"2.0\"><channel><item><title>Cyber\x01 \xff\xfediplomacy\u200b \u202eupdate\x7f</title><link>https://example.org/a</link>" +
			"<description>ok \x0b text\xc3</description></item></channel></rss>"
		items, err := Parse(src, []byte(body), src.URL, "", time.UTC)
		if err != nil || len(items) != 1 {
			t.Fatalf("%v, %d items", err, len(items))
		}
		// Bytes that are not UTF-8 are read as windows-1252 (what old CMSs
		// send), not dropped; controls and invisible characters are.
		if items[0].Title != "Cyber ÿþdiplomacy update" {
			t.Errorf("title %q", items[0].Title)
		}
		if !utf8.ValidString(items[0].Summary) || items[0].Summary != "ok textÃ" {
			t.Errorf("summary %q", items[0].Summary)
		}
	})
	t.Run("latin-1 feed is decoded, not stripped", func(t *testing.T) {
		body := "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><item><title>S\xe9curit\xe9</title><link>https://example.org/a</link></item></channel></rss>"
		items, err := Parse(src, []byte(body), src.URL, "", time.UTC)
		if err != nil || len(items) != 1 || items[0].Title != "Sécurité" {
			t.Fatalf("%v %+v", err, items)
		}
	})
	t.Run("nesting 100000 deep", func(t *testing.T) {
		body := `<rss version="2.0"><channel><item><title>a</title>` + strings.Repeat("<x>", 100000) + strings.Repeat("</x>", 100000) + `</item></channel></rss>`
		start := time.Now()
		_, err := Parse(src, []byte(body), src.URL, "", time.UTC)
		fetchWantKind(t, err, KindParse)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %s", d)
		}
	})
	t.Run("nesting under the limit parses", func(t *testing.T) {
		body := `<rss version="2.0"><channel><item><title>a</title><link>https://example.org/a</link>` + strings.Repeat("<x a='>'>", 900) + strings.Repeat("</x>", 900) + `<!-- <y><y><y> --><![CDATA[<z><z>]]></item></channel></rss>`
		items, err := Parse(src, []byte(body), src.URL, "", time.UTC)
		if err != nil || len(items) != 1 {
			t.Fatalf("%v, %d items", err, len(items))
		}
	})
	t.Run("long title", func(t *testing.T) {
		body := `<rss version="2.0"><channel><item><title>` + strings.Repeat("digital diplomacy ", 100) + `</title><link>https://example.org/a</link></item></channel></rss>`
		items, err := Parse(src, []byte(body), src.URL, "", time.UTC)
		if err != nil || len(items) != 1 {
			t.Fatalf("%v, %d items", err, len(items))
		}
		if n := utf8.RuneCountInString(items[0].Title); n > MaxTitleRunes || !strings.HasSuffix(items[0].Title, "diplomacy…") && !strings.HasSuffix(items[0].Title, "digital…") {
			t.Errorf("title of %d runes: ...%q", n, items[0].Title[len(items[0].Title)-30:])
		}
	})
}

func TestXMLTooDeep(t *testing.T) {
	for _, tc := range []struct {
		body string
		deep bool
	}{
		{strings.Repeat("<a>", 11), true},
		{strings.Repeat("<a>", 10), false},
		{strings.Repeat("<a/>", 50), false},
		{strings.Repeat("<a></a>", 50), false},
		{"<a>" + strings.Repeat("<!-- <b> -->", 30) + "</a>", false},
		{"<a>" + strings.Repeat("<![CDATA[<b>]]>", 30) + "</a>", false},
		{`<?xml version="1.0"?><!DOCTYPE rss><a>` + strings.Repeat(`<b c="/>">`, 9) + `</a>`, false},
		{`<a>` + strings.Repeat(`<b c="/>">`, 10) + `</a>`, true},
		// An unescaped "<" in text opens nothing.
		{"<a>" + strings.Repeat("<t>x < 5 <= 6 <3</t>", 30) + "</a>", false},
	} {
		if deep, _ := xmlTooDeep([]byte(tc.body), 10); deep != tc.deep {
			t.Errorf("xmlTooDeep(%.40q…) = %v, want %v", tc.body, deep, tc.deep)
		}
	}
}
