package sources

import (
	"strings"
	"testing"
	"time"
)

func TestHTMLEEASDatesAndLinks(t *testing.T) {
	items := fixtureItems(t, "eeas-press.html", "eeas-press")
	if len(items) != 5 {
		t.Fatalf("%d items, want 5 (the promo card without a link is skipped)", len(items))
	}
	brussels := fixtureBrussels(t)
	want := time.Date(2026, 10, 16, 0, 0, 0, 0, brussels)
	it := items[3]
	if !it.Published.Equal(want) || it.Published.UTC().Format(time.RFC3339) != "2026-10-15T22:00:00Z" {
		t.Errorf("16.10.2026 read as %s, want midnight in Brussels (%s)", it.Published, want)
	}
	if it.URL != "https://www.eeas.europa.eu/eeas/eu-japan-digital-partnership-council-joint-statement-secure-connectivity-and-digital-diplomacy_en" {
		t.Errorf("relative link resolved to %q", it.URL)
	}
	for _, it := range items {
		if strings.Contains(it.Title, "Subscribe") {
			t.Errorf("promo card %q kept", it.Title)
		}
	}
}

func TestHTMLCouncilListingUSDates(t *testing.T) {
	items := fixtureItems(t, "council-press-listing.html", "council-press-listing")
	if len(items) != 6 {
		t.Fatalf("%d items, want 6", len(items))
	}
	last := items[5]
	if got := last.Published.UTC().Format(time.RFC3339); got != "2026-09-25T11:10:00Z" {
		t.Errorf(`datetime="9/25/2026 1:10:00 PM" read as %s, want 13:10 in Brussels`, got)
	}
	// The listing and the RSS feed are one site: same stories, same identities.
	rss := feedByURL(t, fixtureItems(t, "council-press.rss", "council-press"))
	for _, it := range items {
		r, ok := rss[it.CanonicalURL]
		if !ok {
			t.Errorf("listing item %s not in the RSS feed", it.CanonicalURL)
			continue
		}
		if r.ID != it.ID || !r.Published.Equal(it.Published) || r.Title != it.Title {
			t.Errorf("%s: RSS %q %s %q, listing %q %s %q", it.CanonicalURL, r.ID, r.Published, r.Title, it.ID, it.Published, it.Title)
		}
	}
}

func TestHTMLSharedStoryCouncilAndEEAS(t *testing.T) {
	const title = "EU-Japan Digital Partnership Council: joint statement on secure connectivity and digital diplomacy"
	find := func(file, source string) (found []string) {
		for _, it := range fixtureItems(t, file, source) {
			if it.Title == title {
				found = append(found, it.ID)
			}
		}
		return found
	}
	council, eeas := find("council-press.rss", "council-press"), find("eeas-press.html", "eeas-press")
	if len(council) != 1 || len(eeas) != 1 {
		t.Fatalf("story found %d times in the Council feed and %d times on the EEAS page", len(council), len(eeas))
	}
	if council[0] == eeas[0] {
		t.Errorf("the two publications have one identity %q; they have different URLs", council[0])
	}
}

func TestHTMLSelectors(t *testing.T) {
	loc := fixtureBrussels(t)
	page := `<!DOCTYPE html><html lang="de-DE"><head><title>Pressemitteilungen</title><base href="https://www.example.de/presse/"></head><body>
<main>
 <article class="teaser" data-href="/meldung/1" data-date="2026-10-05">
   <h2>Digitale Diplomatie: Botschafter für Technologie ernannt</h2>
   <p class="meta">Veröffentlicht am 25.09.2026</p>
   <a class="more" href="meldung-1.html">Mehr</a>
   <div class="lead"><p>Erster Absatz.</p><p>Zweiter Absatz mit <a href="x">Link</a>.</p><script>track()</script></div>
 </article>
 <article class="teaser" data-href="/meldung/2">
   <h2><a href="meldung-2.html?utm_source=rss#top">Fischerei &amp; Landwirtschaft</a></h2>
   <p class="meta"><time datetime="2026-10-07T09:30:00+02:00">7. Oktober 2026</time></p>
 </article>
 <article class="teaser"><h2>   </h2><a href="/leer">kein Titel</a></article>
 <article class="teaser"><h2>Ohne Link</h2></article>
</main></body></html>`
	for _, tc := range []struct {
		name  string
		cfg   HTMLOptions
		urls  []string
		dates []string
	}{
		{
			name:  "attribute of the item itself",
			cfg:   HTMLOptions{Item: "article.teaser", Title: "h2", Link: "@data-href", Date: "@data-date"},
			urls:  []string{"https://www.example.de/meldung/1", "https://www.example.de/meldung/2"},
			dates: []string{"2026-10-04T22:00:00Z", "2026-10-07T07:30:00Z"}, // the second from its <time datetime>
		},
		{
			name:  "date inside text, relative links against <base>",
			cfg:   HTMLOptions{Item: "article.teaser", Title: "h2", Link: "a@href", Date: "p.meta", Summary: ".lead"},
			urls:  []string{"https://www.example.de/presse/meldung-1.html", "https://www.example.de/presse/meldung-2.html?utm_source=rss#top"},
			dates: []string{"2026-09-24T22:00:00Z", "2026-10-06T22:00:00Z"}, // "7. Oktober 2026"
		},
		{
			name:  "link defaults to the title's anchor, else the item's first link",
			cfg:   HTMLOptions{Item: "article.teaser", Title: "h2", Date: "time@datetime"},
			urls:  []string{"https://www.example.de/presse/meldung-1.html", "https://www.example.de/presse/meldung-2.html?utm_source=rss#top"},
			dates: []string{"", "2026-10-07T07:30:00Z"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			src := Source{ID: "de", Type: TypeHTML, URL: "https://www.example.de/presse/liste", HTML: &cfg}
			items, err := Parse(src, []byte(page), src.URL, "text/html", loc)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != len(tc.urls) {
				t.Fatalf("%d items, want %d: %+v", len(items), len(tc.urls), items)
			}
			for i, it := range items {
				if it.URL != tc.urls[i] {
					t.Errorf("item %d URL %q, want %q", i, it.URL, tc.urls[i])
				}
				got := ""
				if !it.Published.IsZero() {
					got = it.Published.Format(time.RFC3339)
				}
				if got != tc.dates[i] {
					t.Errorf("item %d date %q, want %q", i, got, tc.dates[i])
				}
				if it.Language != "de" {
					t.Errorf("item %d language %q", i, it.Language)
				}
			}
			if items[1].Title != "Fischerei & Landwirtschaft" {
				t.Errorf("title %q", items[1].Title)
			}
			if c := items[1].CanonicalURL; strings.Contains(c, "utm_") || strings.Contains(c, "#") || !strings.HasPrefix(c, "https://www.example.de/") {
				t.Errorf("canonical %q", c)
			}
			if cfg.Summary != "" && items[0].Summary != "Erster Absatz.\nZweiter Absatz mit Link." {
				t.Errorf("summary %q", items[0].Summary)
			}
		})
	}
}

func TestHTMLZeroMatches(t *testing.T) {
	src := Source{ID: "x", Type: TypeHTML, URL: "https://example.org/news", HTML: &HTMLOptions{Item: ".card", Title: "h3"}}
	t.Run("ordinary page", func(t *testing.T) {
		items, err := Parse(src, []byte(`<html><head><title>News | Example</title></head><body><p>No news today.</p><form action="/search"><input name="q"></form></body></html>`), src.URL, "", time.UTC)
		if err != nil || len(items) != 0 {
			t.Errorf("%v, %d items", err, len(items))
		}
	})
	for _, tc := range []struct{ name, page, title string }{
		{"cloudflare", "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body>blocked</body></html>", "Attention Required! | Cloudflare"},
		{"akamai", "<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>You don't have permission to access this server.<P>Reference&#32;&#35;18.4f1d3b17</BODY></HTML>", "Access Denied"},
		{"technical difficulties", string(fixtureBody(t, "state-technical-difficulties.html")), "Technical Difficulties"},
		{"f5", string(fixtureBody(t, "europarl-antibot.html")), "Request Rejected"},
		{"challenge form, bland title", `<html><head><title>www.example.org</title></head><body><form id="challenge-form" action="/news?__cf_chl_f_tk=abc" method="POST"></form></body></html>`, "www.example.org"},
		{"captcha, no title", `<html><body><div class="g-recaptcha" data-sitekey="x"></div></body></html>`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(src, []byte(tc.page), src.URL, "", time.UTC)
			se := fetchWantKind(t, err, KindUnexpected)
			if se.Title != tc.title {
				t.Errorf("title %q, want %q", se.Title, tc.title)
			}
		})
	}
}

func TestHTMLConfigErrors(t *testing.T) {
	page := []byte("<html><body><div class=c><a href=/x>t</a></div></body></html>")
	for _, tc := range []struct {
		name string
		cfg  *HTMLOptions
		want string
	}{
		{"no html section", nil, "html.item"},
		{"bad item selector", &HTMLOptions{Item: "div[", Title: "a"}, "html.item"},
		{"bad title selector", &HTMLOptions{Item: "div", Title: "a:nth-child(x)"}, "html.title"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := Source{ID: "bad-src", Type: TypeHTML, URL: "https://example.org/", HTML: tc.cfg}
			_, err := Parse(src, page, "", "", time.UTC)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad-src") {
				t.Errorf("error %v, want one naming %s and the source", err, tc.want)
			}
		})
	}
}

func TestHTMLSelectorSpecs(t *testing.T) {
	for _, tc := range []struct{ spec, css, attr string }{
		{"a@href", "a", "href"},
		{"time@datetime", "time", "datetime"},
		{"@data-href", "", "data-href"},
		{"h3.card-title a @href", "h3.card-title a", "href"},
		{"a[href$='@example.org']", "a[href$='@example.org']", ""},
		{`a[title="x@y"]@href`, `a[title="x@y"]`, "href"},
		{".card-footer", ".card-footer", ""},
	} {
		s, err := parseSelectorSpec("link", tc.spec)
		if err != nil {
			t.Errorf("%q: %v", tc.spec, err)
			continue
		}
		if s.attr != tc.attr || (s.sel == nil) != (tc.css == "") {
			t.Errorf("%q: attr %q (selector set %v), want attr %q css %q", tc.spec, s.attr, s.sel != nil, tc.attr, tc.css)
		}
	}
}

func TestHTMLCharset(t *testing.T) {
	src := Source{ID: "fr", Type: TypeHTML, URL: "https://example.fr/", HTML: &HTMLOptions{Item: "li", Title: "a", Link: "a@href"}}
	page := []byte("<html><head><title>Actualit\xe9s</title></head><body><ul><li><a href=\"/a\">S\xe9curit\xe9 num\xe9rique</a></li></ul></body></html>")
	items, err := Parse(src, page, "", "text/html; charset=ISO-8859-1", time.UTC)
	if err != nil || len(items) != 1 || items[0].Title != "Sécurité numérique" {
		t.Fatalf("%v %+v", err, items)
	}
	meta := []byte("<html><head><meta charset=\"windows-1252\"></head><body><ul><li><a href=\"/a\">Caf\xe9 \x96 cr\xe8me</a></li></ul></body></html>")
	items, err = Parse(src, meta, "", "text/html", time.UTC)
	if err != nil || len(items) != 1 || items[0].Title != "Café – crème" {
		t.Fatalf("%v %+v", err, items)
	}
}

func TestHTMLHostileInput(t *testing.T) {
	src := Source{ID: "h", Type: TypeHTML, URL: "https://example.org/", HTML: &HTMLOptions{Item: "li", Title: "a", Link: "a@href"}}
	t.Run("nesting 100000 deep", func(t *testing.T) {
		for _, tag := range []string{"div", "b", "span"} {
			page := "<html><body><ul><li><a href=/a>x</a></li></ul>" + strings.Repeat("<"+tag+">", 100000) + "</body></html>"
			start := time.Now()
			items, err := Parse(src, []byte(page), "", "", time.UTC)
			if err == nil && len(items) > 1 {
				t.Errorf("%s: %d items", tag, len(items))
			}
			if err != nil {
				fetchWantKind(t, err, KindParse)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("%s: took %s", tag, d)
			}
		}
	})
	t.Run("control characters and invalid UTF-8", func(t *testing.T) {
		page := "<html><body><ul><li><a href=\"/a\">Tech\x00 \x1b[31mambassador\xff\u200d\u2066 named\u00ad</a></li></ul></body></html>"
		items, err := Parse(src, []byte(page), "", "text/html; charset=utf-8", time.UTC)
		if err != nil || len(items) != 1 {
			t.Fatalf("%v, %d items", err, len(items))
		}
		if items[0].Title != "Tech [31mambassador named" {
			t.Errorf("title %q", items[0].Title)
		}
	})
	t.Run("javascript link", func(t *testing.T) {
		page := `<html><body><ul><li><a href="javascript:alert(1)">x</a></li><li><a href="https://example.org/ok">ok</a></li></ul></body></html>`
		items, err := Parse(src, []byte(page), "", "", time.UTC)
		if err != nil || len(items) != 1 || items[0].URL != "https://example.org/ok" {
			t.Errorf("%v %+v", err, items)
		}
	})
}
