package sources

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"html"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	"github.com/mmcdole/gofeed/atom"
	"github.com/mmcdole/gofeed/rss"
)

// itemExtras is what the universal parse of an item loses and a second
// look at its markup finds.
type itemExtras struct {
	about     string // rdf:about of an RSS 1.0 item
	aboutLink bool   // about is an http(s) URL
	titleType string // type attribute of an Atom title, lower-cased; "" when absent
	titleSeen bool   // the item has a title element
	xhtmlBody string // an xhtml:body, as HTML
	base64    bool   // the Atom 0.3 content is mode="base64"
}

const xhtmlNamespace = "http://www.w3.org/1999/xhtml"

// scanItemExtras reads, for each item of an XML feed in order, its
// rdf:about, the type of its Atom title and its xhtml:body. The body is
// only scanned when the parse shows something to look for, so an ordinary
// feed costs nothing more. It returns nil when there is nothing, or when
// its items do not line up with the parse's.
func scanItemExtras(body []byte, feed *gofeed.Feed, raw any) []itemExtras {
	need := false
	switch raw.(type) {
	case *atom.Feed:
		// Atom titles are text unless typed otherwise (RFC 4287 §3.1.1):
		// only a title with a "<" reads differently as text.
		need = bytes.Contains(body, []byte("base64"))
		for _, it := range feed.Items {
			if it != nil && strings.Contains(it.Title, "<") {
				need = true
				break
			}
		}
	case *rss.Feed:
		need = bytes.Contains(body, []byte("about")) && bytes.Contains(body, []byte("rdf")) ||
			bytes.Contains(body, []byte(xhtmlNamespace))
	}
	if !need {
		return nil
	}
	out := scanItems(body)
	if len(out) != len(feed.Items) {
		return nil
	}
	return out
}

// scanItems walks the markup of body and returns the extras of each item
// or entry element.
func scanItems(body []byte) []itemExtras {
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = false
	var (
		out       []itemExtras
		depth     int
		itemDepth = -1 // depth of the open item, -1 when none
		bodyDepth = -1 // depth of the open xhtml:body, -1 when none
		bodyHTML  strings.Builder
		xhtmlNS   = map[string]bool{}
	)
	for {
		tok, err := dec.RawToken()
		if err == io.EOF || err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			for _, a := range t.Attr {
				if a.Value == xhtmlNamespace && a.Name.Space == "xmlns" {
					xhtmlNS[a.Name.Local] = true
				}
			}
			switch {
			case bodyDepth >= 0:
				bodyHTML.WriteString("<" + t.Name.Local + ">")
			case itemDepth < 0 && (t.Name.Local == "item" || t.Name.Local == "entry"):
				itemDepth = depth
				var x itemExtras
				for _, a := range t.Attr {
					if a.Name.Local == "about" {
						x.about = strings.TrimSpace(a.Value)
						x.aboutLink = isHTTPURL(x.about)
					}
				}
				out = append(out, x)
			case itemDepth >= 0 && depth == itemDepth+1 && t.Name.Local == "title" && !out[len(out)-1].titleSeen:
				x := &out[len(out)-1]
				x.titleSeen = true
				for _, a := range t.Attr {
					if a.Name.Local == "type" && a.Name.Space == "" {
						x.titleType = strings.ToLower(strings.TrimSpace(a.Value))
					}
				}
			case itemDepth >= 0 && depth == itemDepth+1 && t.Name.Local == "content":
				for _, a := range t.Attr {
					if a.Name.Local == "mode" && strings.EqualFold(strings.TrimSpace(a.Value), "base64") {
						out[len(out)-1].base64 = true
					}
				}
			case itemDepth >= 0 && depth == itemDepth+1 && t.Name.Local == "body" && xhtmlNS[t.Name.Space]:
				bodyDepth = depth
				bodyHTML.Reset()
			}
		case xml.EndElement:
			switch {
			case bodyDepth >= 0 && depth == bodyDepth:
				out[len(out)-1].xhtmlBody = strings.TrimSpace(bodyHTML.String())
				bodyDepth = -1
			case bodyDepth >= 0:
				bodyHTML.WriteString("</" + t.Name.Local + ">")
			case depth == itemDepth:
				itemDepth = -1
			}
			depth--
		case xml.CharData:
			if bodyDepth >= 0 {
				bodyHTML.WriteString(html.EscapeString(string(t)))
			}
		}
	}
	return out
}

// feedTitle is an item's title made ready for CleanTitle, which reads
// titles as HTML: text meant as text is escaped so that its "<" and "&"
// stay visible. An Atom title is text unless its type is html or xhtml
// (RFC 4287 §3.1.1). RSS says nothing of markup in titles and publishers
// do both, so an RSS title is read as HTML only when it holds markup: an
// element closed later, a line break or an image ("History of the <blink>
// tag" is text, "<b>Urgent:</b> deadline" is markup).
func feedTitle(title string, raw any, x itemExtras) string {
	switch raw.(type) {
	case *atom.Feed:
		switch {
		case !strings.ContainsAny(title, "<&"):
			return title
		case !x.titleSeen:
			return rssTitle(title) // the type is not known
		case x.titleType == "html" || strings.Contains(x.titleType, "xhtml"):
			return title
		}
		return html.EscapeString(title)
	case *rss.Feed:
		return rssTitle(title)
	}
	return title
}

func rssTitle(title string) string {
	if !strings.Contains(title, "<") || looksLikeMarkup(title) {
		return title
	}
	// Entities escaped twice ("AT&amp;amp;T") are read once more.
	return html.EscapeString(html.UnescapeString(title))
}

var (
	markupOpenTag = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9]*)\b[^<>]*>`)
	markupVoidTag = regexp.MustCompile(`(?i)<(?:br|img|hr|wbr)\b[^<>]*>`)
)

// looksLikeMarkup reports text with an element that is closed later, or
// a void element.
func looksLikeMarkup(s string) bool {
	if markupVoidTag.MatchString(s) {
		return true
	}
	for _, m := range markupOpenTag.FindAllStringSubmatchIndex(s, 8) {
		name := s[m[2]:m[3]]
		if strings.Contains(strings.ToLower(s[m[1]:]), "</"+strings.ToLower(name)) {
			return true
		}
	}
	return false
}

// maxDerivedTitleRunes bounds a title made from an item's text.
const maxDerivedTitleRunes = 100

// titleFromText makes a title of plain text, as readers show an untitled
// post: its first sentence when that is short enough, else its first
// words, cut at a word boundary with "…".
func titleFromText(text string) string {
	line := strings.Join(strings.Fields(text), " ")
	for i, r := range line {
		if i > 4*maxDerivedTitleRunes {
			break
		}
		if (r == '.' || r == '!' || r == '?') && (i+1 == len(line) || line[i+1] == ' ') {
			if s := line[:i+1]; utf8.RuneCountInString(s) <= maxDerivedTitleRunes && len(strings.Fields(s)) >= 3 {
				return s
			}
			break
		}
	}
	return truncateRunes(line, maxDerivedTitleRunes)
}

// decodeBase64Content decodes the content of an Atom 0.3 entry whose
// mode is base64, which the feed parser leaves encoded when a text type
// comes with it; content that does not decode to UTF-8 text is kept.
func decodeBase64Content(s string) string {
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil || !utf8.Valid(b) {
		return s
	}
	return string(b)
}
