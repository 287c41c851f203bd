package sources

import (
	"bytes"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	ext "github.com/mmcdole/gofeed/extensions"
	"github.com/mmcdole/gofeed/rss"

	"github.com/policywire/policywire"
)

// parseFeed reads an RSS 0.9x/1.0/2.0, Atom or JSON Feed body. The body
// is first made UTF-8 (see decodeBody). A body whose markup breaks is
// repaired where the break is local (an unescaped "<", a character XML
// forbids), loses only the item that breaks where it is not, and keeps
// every complete item when it is cut short; each is told in d.report.
func parseFeed(d document) ([]policywire.Item, error) {
	body, repairs := decodeBody(d.body, d.contentType)
	for _, r := range repairs {
		d.report.repair(0, "%s", r)
	}
	if isJSONBody(body) {
		return parseJSONFeed(d, body)
	}
	if deep, err := xmlTooDeep(body, MaxXMLDepth); deep {
		return nil, &Error{Kind: KindParse, URL: d.url, Err: err}
	}
	feed, raw, err := gofeedParse(body)
	var lost []int // positions of the items recovery dropped
	if err != nil && !errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
		if fixed, dropped, ok := recoverXML(body, d.report); ok {
			// A body of which no item survives is broken, not short.
			if f, r, ferr := gofeedParse(fixed); ferr == nil && len(f.Items) > 0 {
				feed, raw, err, body, lost = f, r, nil, fixed, dropped
			}
		}
	}
	if err != nil {
		if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
			if LooksLikeHTML(body) {
				return nil, d.unexpected()
			}
			return nil, &Error{Kind: KindUnexpected, URL: d.url, Err: errors.New("the body is neither RSS, Atom nor JSON Feed")}
		}
		return nil, &Error{Kind: KindParse, URL: d.url, Err: err}
	}
	feedLang := feed.Language
	if feedLang == "" && feed.DublinCoreExt != nil && len(feed.DublinCoreExt.Language) > 0 {
		feedLang = feed.DublinCoreExt.Language[0]
	}
	rawItems := rawFeedItems(raw, len(feed.Items))
	extras := scanItemExtras(body, feed, raw)
	items := make([]policywire.Item, 0, len(feed.Items))
	pos := 0
	for i, fi := range feed.Items {
		pos = nextPosition(pos, lost)
		if fi == nil {
			continue
		}
		var x itemExtras
		if i < len(extras) {
			x = extras[i]
		}
		it := policywire.Item{
			GUID:       fi.GUID,
			Title:      feedTitle(fi.Title, raw, x),
			Summary:    fi.Description,
			Content:    fi.Content,
			Categories: fi.Categories,
			Published:  feedDate(fi.Published, fi.PublishedParsed, d.loc),
			Updated:    feedDate(fi.Updated, fi.UpdatedParsed, d.loc),
		}
		if x.base64 {
			it.Content = decodeBase64Content(it.Content)
		}
		if it.Content == "" && x.xhtmlBody != "" {
			it.Content = x.xhtmlBody
		}
		if it.GUID == "" && x.about != "" {
			// RSS 1.0 names each item by its rdf:about, which the
			// channel's rdf:Seq lists: the item's identifier.
			it.GUID = x.about
		}
		if fi.DublinCoreExt != nil && len(fi.DublinCoreExt.Language) > 0 {
			it.Language = fi.DublinCoreExt.Language[0]
		}
		rssDates(&it, fi.Extensions, d.loc)
		if it.Published.IsZero() {
			// .NET feeds (the Council's) carry only a10:updated.
			it.Published = it.Updated
		}
		if it.Published.Equal(it.Updated) {
			it.Updated = time.Time{}
		}
		link, idLink := feedItemLink(fi, rawItems[i], x)
		it.URL = link
		it.Title, it.Categories, it.References = titlePrefixes(it.Title, it.URL, it.Categories)
		n, ok := d.finish(pos, it, feedLang)
		if !ok {
			continue
		}
		if idLink && n.CanonicalURL != "" {
			// An Atom id is an identifier, compared character by character
			// (RFC 4287 §4.2.6), not a link to canonicalise: two ids that
			// differ only by a fragment or the case of the host are two
			// entries. It stays the link to show, and the item is known by
			// its id, under which the store already indexed it.
			n.CanonicalURL = ""
			n.ID = policywire.Identity(n)
		}
		items = append(items, n)
	}
	return items, nil
}

// finish normalizes an item of a feed and tells the report when it is
// dropped for having nothing to show or given a title from its content.
func (d document) finish(pos int, it policywire.Item, lang string) (policywire.Item, bool) {
	titled := strings.TrimSpace(it.Title) != "" || strings.TrimSpace(it.Summary) != ""
	n, ok := normalizeItem(d.src, it, d.base, lang)
	if !ok {
		d.report.drop(pos, "nothing to show: no title, summary or content")
		return n, false
	}
	if !titled {
		d.report.repair(pos, "no title: %q taken from the content", n.Title)
	}
	n.Summary = trimWordpressTrailer(n.Summary)
	n.Content = trimWordpressTrailer(n.Content)
	return n, true
}

// nextPosition is the position of the item after pos, skipping those
// recovery dropped.
func nextPosition(pos int, lost []int) int {
	pos++
	for slices.Contains(lost, pos) {
		pos++
	}
	return pos
}

// isJSONBody reports a body whose first character is that of a JSON value
// a feed can be.
func isJSONBody(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// rawKeeper is the translator gofeed is given: it keeps the format's own
// parse (*rss.Feed, *atom.Feed), which holds what the universal one
// forgets (a guid's isPermaLink, an entry id's origin).
type rawKeeper struct {
	gofeed.Translator
	raw any
}

func (k *rawKeeper) Translate(feed any) (*gofeed.Feed, error) {
	k.raw = feed
	return k.Translator.Translate(feed)
}

// gofeedParse parses an XML feed, returning the format's own parse too.
func gofeedParse(body []byte) (*gofeed.Feed, any, error) {
	fp := gofeed.NewParser()
	rss := &rawKeeper{Translator: &gofeed.DefaultRSSTranslator{}}
	atom := &rawKeeper{Translator: &gofeed.DefaultAtomTranslator{}}
	fp.RSSTranslator, fp.AtomTranslator = rss, atom
	feed, err := fp.Parse(bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if rss.raw != nil {
		return feed, rss.raw, nil
	}
	return feed, atom.raw, nil
}

// rawFeedItems lines the RSS items of the format's parse up with the
// universal ones (nil entries where there are none).
func rawFeedItems(raw any, n int) []*rss.Item {
	out := make([]*rss.Item, n)
	if f, ok := raw.(*rss.Feed); ok && len(f.Items) == n {
		copy(out, f.Items)
	}
	return out
}

// feedItemLink is the item's link: FeedBurner's feedburner:origLink (the
// publisher's own URL, where <link> is a redirect through FeedBurner),
// else <link>, else an atom:link of RSS, else its first other link, else
// its id when that is a URL: an RSS guid that is a permalink (not one with
// isPermaLink="false", which by RSS 2.0 is no link), or an Atom id. idLink
// is true when the link is an Atom id.
func feedItemLink(fi *gofeed.Item, ri *rss.Item, x itemExtras) (link string, idLink bool) {
	if l := extValue(fi.Extensions, "feedburner", "origLink"); isHTTPURL(l) {
		return l, false
	}
	if l := strings.TrimSpace(fi.Link); l != "" {
		return l, false
	}
	if l := rssAtomLink(fi.Extensions); l != "" {
		return l, false
	}
	for _, l := range fi.Links {
		if l = strings.TrimSpace(l); l != "" {
			return l, false
		}
	}
	if x.aboutLink {
		return x.about, false
	}
	g := strings.TrimSpace(fi.GUID)
	if !isHTTPURL(g) {
		return "", false
	}
	if ri != nil {
		if ri.GUID != nil && strings.EqualFold(strings.TrimSpace(ri.GUID.IsPermalink), "false") {
			return "", false
		}
		return g, false
	}
	return g, true
}

func isHTTPURL(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// extValue is the text of the first extension element prefix:name.
func extValue(exts ext.Extensions, prefix, name string) string {
	if es := exts[prefix][name]; len(es) > 0 {
		return strings.TrimSpace(es[0].Value)
	}
	return ""
}

// rssAtomLink is the href of an atom:link of an RSS item that is the
// item's page (rel "alternate" or none).
func rssAtomLink(exts ext.Extensions) string {
	for _, prefix := range []string{"atom", "atom10", "atom03"} {
		for _, e := range exts[prefix]["link"] {
			if rel := strings.ToLower(strings.TrimSpace(e.Attrs["rel"])); rel != "" && rel != "alternate" {
				continue
			}
			if h := strings.TrimSpace(e.Attrs["href"]); h != "" {
				return h
			}
		}
	}
	return ""
}

// rssDates reads the Dublin Core terms dates gofeed leaves in extensions:
// dcterms:issued, created, available or date for the publication,
// dcterms:modified for the update, where the item has no other.
func rssDates(it *policywire.Item, exts ext.Extensions, loc *time.Location) {
	if it.Published.IsZero() {
		for _, name := range []string{"issued", "created", "available", "date"} {
			if v := extValue(exts, "dcterms", name); v != "" {
				if t, err := ParseDate(v, "", loc); err == nil {
					it.Published = t
					break
				}
			}
		}
	}
	if it.Updated.IsZero() {
		if v := extValue(exts, "dcterms", "modified"); v != "" {
			if t, err := ParseDate(v, "", loc); err == nil {
				it.Updated = t
			}
		}
	}
}

// WordPress ends feed texts with "The post <title> appeared first on
// <site>.", which says nothing about the item.
const (
	wordpressPost     = "The post "
	wordpressAppeared = " appeared first on "
)

// trimWordpressTrailer drops the WordPress trailer and the spaces before it
// from the end of s: "The post ", a title of 1 to 600 runes, " appeared
// first on ", a site of 1 to 200 runes and an optional ".", all on the last
// line. It does what the regular expression
//
//	\s*The post .{1,600}? appeared first on [^\n]{1,200}?\.?$
//
// does, without running one over every item.
func trimWordpressTrailer(s string) string {
	last := s[strings.LastIndexByte(s, '\n')+1:]
	if !strings.Contains(last, wordpressAppeared) {
		return s
	}
	offset := len(s) - len(last)
	for i := 0; ; i++ {
		k := strings.Index(last[i:], wordpressPost)
		if k < 0 {
			return s
		}
		i += k
		if isWordpressTrailer(last[i+len(wordpressPost):]) {
			start := offset + i
			for start > 0 && isRegexpSpace(s[start-1]) {
				start--
			}
			return s[:start]
		}
	}
}

// isWordpressTrailer reports whether rest, the last line after "The post ",
// is a title, " appeared first on " and a site, with the rune counts the
// trailer allows.
func isWordpressTrailer(rest string) bool {
	for i := 1; i < len(rest); i++ {
		k := strings.Index(rest[i:], wordpressAppeared)
		if k < 0 {
			return false
		}
		i += k
		title := utf8.RuneCountInString(rest[:i])
		if title > 600 {
			return false
		}
		// The site's final "." is optional, so it may be the 201st rune.
		site := rest[i+len(wordpressAppeared):]
		n := utf8.RuneCountInString(site)
		if n >= 1 && (n <= 200 || n == 201 && strings.HasSuffix(site, ".")) {
			return true
		}
	}
	return false
}

// isRegexpSpace is \s of Go's regular expressions: ASCII spaces only.
func isRegexpSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

var (
	celexPrefix = regexp.MustCompile(`^CELEX:\s*([0-9A-Z()_.-]+)\s*:\s*`)
	// GOV.UK puts the document type before the title in organisation
	// feeds ("Press release: …") and not in its search feeds; the type is
	// kept as a category so that the same story reads the same from both.
	govukPrefix = regexp.MustCompile(`^(Press release|News story|World news story|Speech|Statement to Parliament|` +
		`Oral statement to Parliament|Written statement to Parliament|Policy paper|Guidance|Detailed guide|` +
		`Correspondence|Government response|Notice|Open consultation|Closed consultation|Consultation outcome|` +
		`Corporate report|Research and analysis|Independent report|Transparency data|Official Statistics|` +
		`National statistics|Statistics|Case study|Decision|Authored article|Fatality notice|Collection|` +
		`Promotional material|Form|Impact assessment|International treaty|Policy statement): `)
)

// titlePrefixes moves the prefixes some publishers put in front of titles
// into categories: EUR-Lex's "CELEX:32026R1234: " and GOV.UK's document type.
// The CELEX number is kept as a policy reference too.
func titlePrefixes(title, link string, cats []string) (string, []string, []string) {
	t := strings.TrimSpace(title)
	if m := celexPrefix.FindStringSubmatch(t); m != nil {
		return t[len(m[0]):], append(cats, "CELEX:"+m[1]), []string{"CELEX:" + m[1]}
	}
	if strings.Contains(link, "www.gov.uk/") {
		if m := govukPrefix.FindStringSubmatch(t); m != nil {
			return t[len(m[0]):], append(cats, m[1]), nil
		}
	}
	return title, cats, nil
}
