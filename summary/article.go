package summary

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"

	readability "codeberg.org/readeck/go-readability/v2"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"
)

// ErrNoArticle is returned by ExtractArticle when a page has no readable text.
var ErrNoArticle = errors.New("summary: no article text in page")

// maxFurnitureShare is the largest share of a page's text that an element
// may hold and still be removed as furniture because of its class or role:
// a wrapper named "has-sidebar" around the article must survive.
const maxFurnitureShare = 0.4

// nonTextTags never hold article text.
var nonTextTags = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true,
	atom.Svg: true, atom.Iframe: true, atom.Button: true, atom.Input: true,
	atom.Select: true, atom.Textarea: true, atom.Object: true, atom.Canvas: true,
}

// furnitureTags are page furniture unless they wrap the article (some
// ASP.NET pages put the whole body in one <form>).
var furnitureTags = map[atom.Atom]bool{
	atom.Nav: true, atom.Aside: true, atom.Footer: true, atom.Dialog: true,
	atom.Menu: true, atom.Form: true,
}

var furnitureRoles = setOf("navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog", "menu", "menubar", "toolbar")

// furnitureClassTokens are words of class and id attributes that name page
// furniture in the layouts of the EU institutions (ECL), GOV.UK (govuk-,
// gem-c-) and WordPress.
var furnitureClassTokens = setOf(
	"cookie", "cookies", "consent", "cck", "gdpr", "breadcrumb", "breadcrumbs",
	"share", "sharing", "sharethis", "addthis", "social", "newsletter", "subscribe",
	"subscription", "related", "feedback", "print", "skip", "skiplink", "sidebar",
	"nav", "navbar", "navigation", "menu", "footer", "pagination", "pager", "toolbar",
	"contextual", "metadata", "tags", "popup", "modal", "overlay", "survey", "advert",
	"ads", "promo", "rating", "disclaimer", "translations", "languages", "language",
)

// furnitureClassParts are compound class fragments matched anywhere.
var furnitureClassParts = []string{"cookie", "breadcrumb", "newsletter", "social-media", "share-", "sharing", "feedback", "skip-link", "back-to-top", "consent", "related-"}

// ExtractArticle returns the main text of an HTML page, as paragraphs
// separated by blank lines, without the page's furniture: navigation,
// breadcrumbs, cookie notices, sharing and printing widgets, related links,
// newsletter sign-ups and feedback forms. Furniture is removed twice: by the
// structure of the page before go-readability picks the main content, and by
// the wording of the remaining blocks after it.
func ExtractArticle(body []byte, pageURL string) (string, error) {
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("%PDF")) || bytes.IndexByte(body[:min(len(body), 1024)], 0) >= 0 {
		return "", fmt.Errorf("summary: %s is not an HTML page", pageURL)
	}
	u, err := url.Parse(pageURL)
	if err != nil {
		return "", fmt.Errorf("summary: page URL %q: %w", pageURL, err)
	}
	r, err := charset.NewReader(bytes.NewReader(body), "text/html")
	if err != nil {
		return "", fmt.Errorf("summary: decode %s: %w", pageURL, err)
	}
	doc, err := html.Parse(r)
	if err != nil {
		return "", fmt.Errorf("summary: parse %s: %w", pageURL, err)
	}
	removeFurniture(doc)

	parser := readability.NewParser()
	article, err := parser.ParseAndMutate(doc, u)
	var blocks []string
	if err == nil && article.Node != nil {
		blocks = textBlocks(article.Node)
	}
	if len(blocks) == 0 {
		// Readability found nothing it trusts; fall back to the main element.
		if main := findMain(doc); main != nil {
			blocks = textBlocks(main)
		}
	}
	title := ""
	if err == nil {
		title = normalizedWords(article.Title())
	}
	var kept []string
	for _, b := range blocks {
		if isBoilerplate(b) || (title != "" && normalizedWords(b) == title) {
			continue
		}
		kept = append(kept, b)
	}
	if len(kept) == 0 {
		return "", fmt.Errorf("%w %s", ErrNoArticle, pageURL)
	}
	return strings.Join(kept, "\n\n"), nil
}

func normalizedWords(s string) string {
	return strings.Join(words(fold(s)), " ")
}

// removeFurniture deletes from doc the elements that are page furniture by
// tag, role, hidden state or class/id.
func removeFurniture(doc *html.Node) {
	total := textLen(doc)
	var doomed []*html.Node
	var visit func(n *html.Node, inContent bool)
	visit = func(n *html.Node, inContent bool) {
		if n.Type == html.ElementNode {
			if isFurniture(n, inContent, total) {
				doomed = append(doomed, n)
				return
			}
			if n.DataAtom == atom.Main || n.DataAtom == atom.Article {
				inContent = true
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			visit(c, inContent)
		}
	}
	visit(doc, false)
	for _, n := range doomed {
		if n.Parent != nil {
			n.Parent.RemoveChild(n)
		}
	}
}

func isFurniture(n *html.Node, inContent bool, total int) bool {
	switch n.DataAtom {
	case atom.Html, atom.Head, atom.Body, atom.Main, atom.Article, atom.Title, atom.Meta:
		return false
	}
	if nonTextTags[n.DataAtom] {
		return true
	}
	var class, id, role, aria, style string
	hidden := false
	for _, a := range n.Attr {
		switch strings.ToLower(a.Key) {
		case "class":
			class = strings.ToLower(a.Val)
		case "id":
			id = strings.ToLower(a.Val)
		case "role":
			role = strings.ToLower(strings.TrimSpace(a.Val))
		case "aria-label":
			aria = strings.ToLower(a.Val)
		case "style":
			style = strings.ToLower(strings.ReplaceAll(a.Val, " ", ""))
		case "hidden":
			hidden = true
		case "aria-hidden":
			hidden = hidden || strings.EqualFold(a.Val, "true")
		}
	}
	if hidden || strings.Contains(style, "display:none") || strings.Contains(style, "visibility:hidden") {
		return true
	}
	named := furnitureTags[n.DataAtom] ||
		// A site header is furniture; an article's own header holds its title.
		(n.DataAtom == atom.Header && !inContent) ||
		furnitureRoles[role] || furnitureName(class) || furnitureName(id) ||
		strings.Contains(aria, "breadcrumb") || strings.Contains(aria, "share") || strings.Contains(aria, "cookie")
	if !named {
		return false
	}
	// Never remove what holds the article itself.
	if containsAtom(n, atom.Main) || containsAtom(n, atom.Article) || containsAtom(n, atom.H1) {
		return false
	}
	return total == 0 || float64(textLen(n)) <= maxFurnitureShare*float64(total)
}

func furnitureName(s string) bool {
	if s == "" {
		return false
	}
	for _, part := range furnitureClassParts {
		if strings.Contains(s, part) {
			return true
		}
	}
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool {
		return !('a' <= r && r <= 'z' || '0' <= r && r <= '9')
	}) {
		if furnitureClassTokens[tok] {
			return true
		}
	}
	return false
}

func containsAtom(n *html.Node, a atom.Atom) bool {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && (c.DataAtom == a || containsAtom(c, a)) {
			return true
		}
	}
	return false
}

func textLen(n *html.Node) int {
	if n.Type == html.TextNode {
		return len(strings.TrimSpace(n.Data))
	}
	if n.Type == html.ElementNode && (n.DataAtom == atom.Script || n.DataAtom == atom.Style) {
		return 0
	}
	total := 0
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		total += textLen(c)
	}
	return total
}

// findMain returns the element most likely to hold the article when
// readability gives up: <main>, else <article>, else <body>.
func findMain(doc *html.Node) *html.Node {
	for _, a := range []atom.Atom{atom.Main, atom.Article, atom.Body} {
		if n := findFirst(doc, a); n != nil {
			return n
		}
	}
	return nil
}

func findFirst(n *html.Node, a atom.Atom) *html.Node {
	if n.Type == html.ElementNode && n.DataAtom == a {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := findFirst(c, a); f != nil {
			return f
		}
	}
	return nil
}

// blockTags start a new block of text.
var blockTags = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Section: true, atom.Article: true, atom.Main: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Ul: true, atom.Ol: true, atom.Li: true, atom.Dl: true, atom.Dt: true, atom.Dd: true,
	atom.Blockquote: true, atom.Pre: true, atom.Table: true, atom.Tr: true, atom.Td: true,
	atom.Th: true, atom.Figure: true, atom.Figcaption: true, atom.Header: true, atom.Footer: true,
	atom.Br: true, atom.Hr: true, atom.Address: true, atom.Details: true, atom.Summary: true,
}

// textBlocks renders n as plain text blocks, one per paragraph-like element,
// with white space collapsed.
func textBlocks(n *html.Node) []string {
	var blocks []string
	var cur strings.Builder
	flush := func() {
		if t := strings.Join(strings.Fields(cur.String()), " "); t != "" {
			blocks = append(blocks, t)
		}
		cur.Reset()
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			cur.WriteString(n.Data)
			return
		case html.ElementNode:
			if nonTextTags[n.DataAtom] || furnitureTags[n.DataAtom] {
				return
			}
			if blockTags[n.DataAtom] {
				flush()
				defer flush()
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	flush()
	return blocks
}
