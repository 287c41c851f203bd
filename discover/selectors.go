package discover

import (
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/net/html"

	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/sources"
)

// Proposing selectors for a listing page: elements that repeat (same tag
// and classes) and that each hold a link with a title-like text and a
// date are the items. The selectors for title, link, date and summary are
// the shortest ones that find the same element in nearly every item.

const (
	minItems      = 3
	minTitleRunes = 12
	maxProposals  = 3
)

// group is the elements sharing one selector.
type group struct {
	sel     string
	members []*goquery.Selection
	depth   int
	good    int // members with a title link and a date
}

// volatileClass matches classes that differ between items of one list
// (views-row-1, odd, is-active), which must not be part of the selector.
var volatileClass = regexp.MustCompile(`(?i)(\d|^(odd|even|first|last|active|is-active|current|selected|clearfix|contextual-region)$)`)

func classesOf(n *html.Node) []string {
	for _, a := range n.Attr {
		if a.Key == "class" {
			var out []string
			for _, c := range strings.Fields(a.Val) {
				if !volatileClass.MatchString(c) && cssIdent.MatchString(c) {
					out = append(out, c)
				}
			}
			sort.Strings(out)
			return out
		}
	}
	return nil
}

var cssIdent = regexp.MustCompile(`^-?[_a-zA-Z][_a-zA-Z0-9-]*$`)

// simpleSelector is tag.class1.class2 for an element.
func simpleSelector(n *html.Node) string {
	s := n.Data
	for _, c := range classesOf(n) {
		s += "." + c
	}
	return s
}

func proposeSelectors(p *page) []*config.HTMLSource {
	groups := map[string]*group{}
	var walk func(n *html.Node, depth int)
	walk = func(n *html.Node, depth int) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode {
				continue
			}
			switch c.Data {
			case "script", "style", "head", "noscript", "svg", "template":
				continue
			}
			sel := simpleSelector(c)
			if !strings.Contains(sel, ".") && n.Type == html.ElementNode {
				sel = simpleSelector(n) + " > " + c.Data
			}
			g := groups[sel]
			if g == nil {
				g = &group{sel: sel, depth: depth}
				groups[sel] = g
			}
			g.members = append(g.members, goquery.NewDocumentFromNode(c).Selection)
			walk(c, depth+1)
		}
	}
	walk(p.doc.Get(0), 0)

	var ranked []*group
	for _, g := range groups {
		if len(g.members) < minItems || strings.HasPrefix(g.sel, "a") || strings.HasPrefix(g.sel, "html") || g.sel == "body" {
			continue
		}
		links := 0
		for _, m := range g.members {
			n := titleLinks(m)
			links += n
			if n > 0 && memberDate(m) != "" {
				g.good++
			}
		}
		// A list of lists (a region holding many items) is not one item.
		if g.good < minItems || float64(links) > 1.5*float64(len(g.members)) || float64(g.good) < 0.6*float64(len(g.members)) {
			continue
		}
		ranked = append(ranked, g)
	}
	sort.Slice(ranked, func(i, j int) bool {
		a, b := ranked[i], ranked[j]
		if a.good != b.good {
			return a.good > b.good
		}
		ra, rb := float64(a.good)/float64(len(a.members)), float64(b.good)/float64(len(b.members))
		if ra != rb {
			return ra > rb
		}
		if a.depth != b.depth {
			return a.depth < b.depth // the outer element keeps the date and summary beside the title
		}
		return a.sel < b.sel
	})
	var out []*config.HTMLSource
	for _, g := range ranked {
		if h := selectorsFor(g); h != nil {
			out = append(out, h)
			if len(out) == maxProposals {
				break
			}
		}
	}
	return out
}

// titleLinks counts the links of an element whose text reads like a title.
func titleLinks(s *goquery.Selection) int {
	n := 0
	s.Find("a[href]").Each(func(_ int, a *goquery.Selection) {
		if isTitleLink(a) {
			n++
		}
	})
	if s.Is("a[href]") && isTitleLink(s) {
		n++
	}
	return n
}

func isTitleLink(a *goquery.Selection) bool {
	href := strings.TrimSpace(a.AttrOr("href", ""))
	if href == "" || strings.HasPrefix(href, "#") || strings.HasPrefix(strings.ToLower(href), "javascript:") || strings.HasPrefix(href, "mailto:") {
		return false
	}
	return len([]rune(strings.Join(strings.Fields(a.Text()), " "))) >= minTitleRunes
}

// memberDate is the date an item shows, as written, or "".
func memberDate(s *goquery.Selection) string {
	if v, ok := s.Find("time[datetime]").First().Attr("datetime"); ok && parses(v) {
		return v
	}
	var found string
	s.Find("*").EachWithBreak(func(_ int, e *goquery.Selection) bool {
		if e.Children().Length() > 0 || e.Is("a") {
			return true
		}
		t := strings.TrimSpace(e.Text())
		if len(t) > 0 && len(t) < 60 && parses(t) {
			found = t
			return false
		}
		return true
	})
	return found
}

func parses(v string) bool {
	t, err := sources.ParseDate(v, "", time.UTC)
	return err == nil && !t.IsZero()
}

// selectorsFor works out title, link, date and summary selectors inside
// the items of g, or nil when no title link is common to them.
func selectorsFor(g *group) *config.HTMLSource {
	h := &config.HTMLSource{Item: g.sel}
	link := commonSelector(g.members, linkCandidates, func(e *goquery.Selection) bool {
		return e.Is("a[href]") && isTitleLink(e)
	})
	if link == "" {
		return nil
	}
	h.Title, h.Link = link, link+"@href"
	// A date in <time datetime> is exact; otherwise the element whose text
	// is a date.
	timeCount := 0
	for _, m := range g.members {
		if _, ok := m.Find("time[datetime]").Attr("datetime"); ok {
			timeCount++
		}
	}
	if timeCount*10 >= len(g.members)*8 {
		h.Date = "time@datetime"
	} else {
		h.Date = commonSelector(g.members, leafCandidates, func(e *goquery.Selection) bool {
			t := strings.TrimSpace(e.Text())
			return len(t) < 80 && parses(t)
		})
	}
	h.Summary = commonSelector(g.members, leafCandidates, func(e *goquery.Selection) bool {
		if e.Find("a[href]").Length() > 0 || e.Is("a") || e.Closest("a").Length() > 0 || e.Is("time") {
			return false
		}
		t := strings.Join(strings.Fields(e.Text()), " ")
		return len([]rune(t)) >= 40
	})
	return h
}

// commonSelector finds, among the elements of each member that pass ok,
// the selector (from candidates) whose first match in a member passes ok
// in at least 90% of the members; see better for which one wins.
func commonSelector(members []*goquery.Selection, candidates func(*goquery.Selection, *goquery.Selection) []string, ok func(*goquery.Selection) bool) string {
	votes := map[string]int{}
	for _, m := range members {
		seen := map[string]bool{}
		m.Find("*").Each(func(_ int, e *goquery.Selection) {
			if !ok(e) {
				return
			}
			for _, c := range candidates(m, e) {
				if !seen[c] {
					seen[c] = true
					votes[c]++
				}
			}
		})
	}
	var best string
	for c, v := range votes {
		if v*10 < len(members)*9 {
			continue
		}
		hits := 0
		for _, m := range members {
			if first := m.Find(c).First(); first.Length() > 0 && ok(first) {
				hits++
			}
		}
		if hits*10 < len(members)*9 {
			continue
		}
		if best == "" || better(c, best) {
			best = c
		}
	}
	return best
}

// better prefers a selector naming a class (it survives a redesign of the
// page's other parts), then the shorter one.
func better(a, b string) bool {
	ca, cb := strings.Contains(a, "."), strings.Contains(b, ".")
	if ca != cb {
		return ca
	}
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// linkCandidates are selectors that may find the title link e inside an item.
func linkCandidates(item, e *goquery.Selection) []string {
	out := oneClassSelectors(e)
	if hd := e.Closest("h1, h2, h3, h4, h5, h6"); hd.Length() > 0 && within(item, hd) {
		for _, h := range oneClassSelectors(hd) {
			out = append(out, h+" a")
		}
	}
	if parent := e.Parent(); parent.Length() > 0 && within(item, parent) {
		ps := simpleSelector(parent.Get(0))
		if ps != goquery.NodeName(parent) {
			out = append(out, ps+" > a")
		}
	}
	return append(out, "a")
}

// leafCandidates are selectors that may find a date or summary element.
func leafCandidates(item, e *goquery.Selection) []string {
	out := oneClassSelectors(e)
	if parent := e.Parent(); parent.Length() > 0 && within(item, parent) {
		ps := simpleSelector(parent.Get(0))
		if ps != goquery.NodeName(parent) {
			out = append(out, ps+" "+goquery.NodeName(e))
		}
	}
	return out
}

// oneClassSelectors are tag.class for each class of e, its full
// tag.class1.class2 selector and its bare tag.
func oneClassSelectors(e *goquery.Selection) []string {
	n := e.Get(0)
	out := []string{n.Data}
	classes := classesOf(n)
	for _, c := range classes {
		out = append(out, n.Data+"."+c)
	}
	if len(classes) > 1 {
		out = append(out, simpleSelector(n))
	}
	return out
}

// within reports whether s is inside item (not item itself or above it).
func within(item, s *goquery.Selection) bool {
	for n := s.Get(0).Parent; n != nil; n = n.Parent {
		if n == item.Get(0) {
			return true
		}
	}
	return false
}
