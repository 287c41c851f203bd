package sources

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"

	"github.com/policywire/policywire"
)

// parseHTML reads a listing page with the selectors of src.HTML. Selectors
// may end in "@attr" to take an attribute instead of the text; "@attr"
// alone takes the attribute of the item element itself. The HTML parser
// refuses pages nested deeper than 512 elements, so a hostile page fails
// fast as a parse error.
func parseHTML(d document) ([]policywire.Item, error) {
	cfg := d.src.HTML
	if cfg == nil || strings.TrimSpace(cfg.Item) == "" {
		return nil, fmt.Errorf("sources: source %q: html.item selector is not set", d.src.ID)
	}
	root, err := parseHTMLDocument(d.body, d.contentType)
	if err != nil {
		return nil, &Error{Kind: KindParse, URL: d.url, Err: err}
	}
	page := goquery.NewDocumentFromNode(root)
	base := d.base
	if href, ok := page.Find("base[href]").First().Attr("href"); ok && base != nil {
		if b, err := base.Parse(strings.TrimSpace(href)); err == nil {
			base = b
		}
	}
	lang, _ := page.Find("html").First().Attr("lang")

	itemSel, err := compileSelector(cfg.Item)
	if err != nil {
		return nil, fmt.Errorf("sources: source %q: html.item: %w", d.src.ID, err)
	}
	title, err := parseSelectorSpec("title", cfg.Title)
	if err != nil {
		return nil, fmt.Errorf("sources: source %q: %w", d.src.ID, err)
	}
	link, err := parseSelectorSpec("link", cfg.Link)
	if err != nil {
		return nil, fmt.Errorf("sources: source %q: %w", d.src.ID, err)
	}
	date, err := parseSelectorSpec("date", cfg.Date)
	if err != nil {
		return nil, fmt.Errorf("sources: source %q: %w", d.src.ID, err)
	}
	summary, err := parseSelectorSpec("summary", cfg.Summary)
	if err != nil {
		return nil, fmt.Errorf("sources: source %q: %w", d.src.ID, err)
	}

	found := page.FindMatcher(itemSel)
	if found.Length() == 0 {
		if t, ok := challengePage(page, d.body); ok {
			return nil, &Error{Kind: KindUnexpected, URL: d.url, Title: t}
		}
		return nil, nil
	}
	var items []policywire.Item
	found.Each(func(_ int, s *goquery.Selection) {
		it := policywire.Item{
			Title:   title.text(s),
			Summary: summary.html(s),
		}
		if link.set() {
			it.URL = link.text(s)
		} else {
			it.URL = defaultLink(s, title)
		}
		if strings.TrimSpace(it.Title) == "" || strings.TrimSpace(it.URL) == "" {
			return
		}
		it.Published = htmlDate(s, date, cfg.DateFormat, d)
		if n, ok := normalizeItem(d.src, it, base, lang); ok && n.URL != "" {
			items = append(items, n)
		}
	})
	return items, nil
}

// parseHTMLDocument parses a page in the charset its Content-Type or meta
// tags declare.
func parseHTMLDocument(body []byte, contentType string) (*html.Node, error) {
	r, err := charset.NewReader(bytes.NewReader(body), contentType)
	if err != nil {
		r = bytes.NewReader(body)
	}
	n, err := html.Parse(r)
	if err != nil {
		return nil, fmt.Errorf("parse HTML: %w", err)
	}
	return n, nil
}

// selectorSpec is "css", "css@attr" or "@attr" (the item element itself).
type selectorSpec struct {
	sel  goquery.Matcher // nil: the item element itself
	attr string
	spec string
}

var attrSuffix = regexp.MustCompile(`@([A-Za-z_:][-A-Za-z0-9_:.]*)$`)

func parseSelectorSpec(field, spec string) (selectorSpec, error) {
	spec = strings.TrimSpace(spec)
	s := selectorSpec{spec: spec}
	if spec == "" {
		return s, nil
	}
	css := spec
	if m := attrSuffix.FindStringSubmatchIndex(spec); m != nil && outsideBrackets(spec, m[0]) {
		css = strings.TrimSpace(spec[:m[0]])
		s.attr = spec[m[2]:m[3]]
	}
	if css != "" {
		sel, err := compileSelector(css)
		if err != nil {
			return s, fmt.Errorf("html.%s: %w", field, err)
		}
		s.sel = sel
	}
	return s, nil
}

// outsideBrackets reports whether position i of a selector is outside any
// [attribute] test or quoted string, so "a[href$='@x']" keeps its "@".
func outsideBrackets(s string, i int) bool {
	depth, quote := 0, byte(0)
	for j := 0; j < i; j++ {
		c := s[j]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[':
			depth++
		case c == ']':
			depth--
		}
	}
	return depth == 0 && quote == 0
}

func compileSelector(css string) (goquery.Matcher, error) {
	sel, err := cascadia.Compile(css)
	if err != nil {
		return nil, fmt.Errorf("bad CSS selector %q: %w", css, err)
	}
	return sel, nil
}

func (s selectorSpec) set() bool { return s.spec != "" }

// nodes are the elements the spec points at inside item.
func (s selectorSpec) nodes(item *goquery.Selection) *goquery.Selection {
	if s.sel == nil {
		return item
	}
	return item.FindMatcher(s.sel)
}

// text is the attribute or the plain text of the first match that has one.
func (s selectorSpec) text(item *goquery.Selection) string {
	if !s.set() {
		return ""
	}
	var out string
	s.nodes(item).EachWithBreak(func(_ int, n *goquery.Selection) bool {
		if s.attr != "" {
			v, ok := n.Attr(s.attr)
			out = v
			return !ok || strings.TrimSpace(v) == ""
		}
		h, _ := goquery.OuterHtml(n)
		out = PlainText(h)
		return out == ""
	})
	return out
}

// html is like text but keeps the markup of an element, for summaries that
// PlainText turns into lines.
func (s selectorSpec) html(item *goquery.Selection) string {
	if !s.set() || s.attr != "" {
		return s.text(item)
	}
	var parts []string
	s.nodes(item).Each(func(_ int, n *goquery.Selection) {
		if h, err := goquery.OuterHtml(n); err == nil {
			parts = append(parts, h)
		}
	})
	return strings.Join(parts, "\n")
}

// defaultLink is the href of the title element when it is a link, else of
// the first link of the item.
func defaultLink(item *goquery.Selection, title selectorSpec) string {
	if title.set() && title.attr == "" {
		if n := title.nodes(item).First(); n.Length() > 0 {
			if href, ok := n.Attr("href"); ok {
				return href
			}
			if href, ok := n.Closest("a[href]").Attr("href"); ok {
				return href
			}
			if href, ok := n.Find("a[href]").First().Attr("href"); ok {
				return href
			}
		}
	}
	if href, ok := item.Attr("href"); ok {
		return href
	}
	href, _ := item.Find("a[href]").First().Attr("href")
	return href
}

// htmlDate reads the date of one item: the configured selector first, then
// any <time datetime> in the item.
func htmlDate(item *goquery.Selection, date selectorSpec, layout string, d document) time.Time {
	if date.set() {
		if v := date.text(item); v != "" {
			if p, err := ParseDate(v, layout, d.loc); err == nil {
				return p
			}
		}
		if date.sel != nil && date.attr == "" {
			if v, ok := date.nodes(item).Find("time[datetime]").First().Attr("datetime"); ok {
				if p, err := ParseDate(v, layout, d.loc); err == nil {
					return p
				}
			}
		}
	}
	if v, ok := item.Find("time[datetime]").First().Attr("datetime"); ok {
		if p, err := ParseDate(v, layout, d.loc); err == nil {
			return p
		}
	}
	return time.Time{}
}

// challengeTitles are words in the <title> of pages that WAFs, bot
// managers and broken back ends serve with status 200.
var challengeTitles = []string{
	"just a moment", "attention required", "access denied", "technical difficulties",
	"checking your browser", "please wait", "request rejected", "forbidden", "captcha",
	"security check", "bot verification", "are you a robot", "are you human",
	"pardon our interruption", "ddos-guard", "service unavailable", "temporarily unavailable",
	"site maintenance", "under maintenance", "unusual traffic", "too many requests",
	"page not found", "404 not found", "error 5", "internal server error", "bad gateway",
}

// challengeMarkers are strings in the body of such pages.
var challengeMarkers = []string{
	"challenge-form", "cf-challenge", "_cf_chl_opt", "cf-browser-verification", "cf_chl_",
	"/cdn-cgi/challenge-platform", "incapsula incident", "_incapsula_resource",
	"the requested url was rejected", "your support id is", "g-recaptcha", "h-captcha",
	"hcaptcha.com", "perimeterx", "px-captcha", "datadome", "awswaf", "akamai bot manager",
	"reference&#32;&#35;", "reference #",
}

// challengePage reports whether a page whose items could not be found is
// an error or challenge page rather than a listing that happens to be
// empty, and returns its title.
func challengePage(page *goquery.Document, body []byte) (string, bool) {
	title := PageTitle(body)
	lt := strings.ToLower(title)
	for _, w := range challengeTitles {
		if strings.Contains(lt, w) {
			return title, true
		}
	}
	head := body
	if len(head) > 256<<10 {
		head = head[:256<<10]
	}
	lb := strings.ToLower(string(head))
	for _, m := range challengeMarkers {
		if strings.Contains(lb, m) {
			return title, true
		}
	}
	if page.Find("form[action*='chl'], form#challenge-form, form[id*='captcha'], form[action*='captcha']").Length() > 0 {
		return title, true
	}
	return "", false
}
