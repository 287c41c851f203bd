package sources

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"

	"github.com/policywire/policywire"
)

// parseFeed reads an RSS 0.9x/1.0/2.0, Atom or JSON Feed body.
func parseFeed(d document) ([]policywire.Item, error) {
	fp := gofeed.NewParser()
	feed, err := fp.Parse(bytes.NewReader(validUTF8Feed(d.body)))
	if err != nil {
		if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
			if LooksLikeHTML(d.body) {
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
	items := make([]policywire.Item, 0, len(feed.Items))
	for _, fi := range feed.Items {
		if fi == nil {
			continue
		}
		it := policywire.Item{
			GUID:       fi.GUID,
			Title:      fi.Title,
			Summary:    fi.Description,
			Content:    fi.Content,
			Categories: fi.Categories,
			Published:  feedDate(fi.Published, fi.PublishedParsed, d.loc),
			Updated:    feedDate(fi.Updated, fi.UpdatedParsed, d.loc),
		}
		if fi.DublinCoreExt != nil && len(fi.DublinCoreExt.Language) > 0 {
			it.Language = fi.DublinCoreExt.Language[0]
		}
		if it.Published.IsZero() {
			// .NET feeds (the Council's) carry only a10:updated.
			it.Published = it.Updated
		}
		if it.Published.Equal(it.Updated) {
			it.Updated = time.Time{}
		}
		it.URL = feedItemLink(fi)
		it.Title, it.Categories, it.References = titlePrefixes(it.Title, it.URL, it.Categories)
		n, ok := normalizeItem(d.src, it, d.base, feedLang)
		if !ok {
			continue
		}
		n.Summary = trimWordpressTrailer(n.Summary)
		n.Content = trimWordpressTrailer(n.Content)
		items = append(items, n)
	}
	return items, nil
}

var xmlEncodingDecl = regexp.MustCompile(`^\s*(?:\xef\xbb\xbf)?<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']`)

// validUTF8Feed drops invalid UTF-8 sequences from a feed that is (or says
// it is) UTF-8, so that one broken byte in one title does not make the
// XML decoder refuse the whole feed. Feeds declaring another encoding are
// left to the decoder's charset conversion.
func validUTF8Feed(body []byte) []byte {
	if utf8.Valid(body) {
		return body
	}
	head := body
	if len(head) > 200 {
		head = head[:200]
	}
	if m := xmlEncodingDecl.FindSubmatch(head); m != nil {
		if enc := strings.ToLower(string(m[1])); enc != "utf-8" && enc != "utf8" {
			return body
		}
	}
	return bytes.ToValidUTF8(body, nil)
}

// feedItemLink is the item's link, else its first other link, else its
// GUID when that is a URL (RSS guid isPermaLink, Atom ids that are URLs).
func feedItemLink(fi *gofeed.Item) string {
	if l := strings.TrimSpace(fi.Link); l != "" {
		return l
	}
	for _, l := range fi.Links {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	g := strings.TrimSpace(fi.GUID)
	if strings.HasPrefix(g, "http://") || strings.HasPrefix(g, "https://") {
		return g
	}
	return ""
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
