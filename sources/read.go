// Package sources knows how to read one source: the hardened HTTP fetcher,
// the feed (RSS, Atom, JSON Feed), HTML listing and JSON API adapters, and
// the normalization that turns whatever a source publishes into
// policywire.Items with absolute canonical links, plain-text titles and
// summaries, a date and a language. It reports a source that serves the
// wrong thing (a challenge page, an error page served with 200) as a typed
// *Error, never as "no news". It knows nothing of the configuration file
// (the wiring fills in Source and FetcherOptions), of the database, of topics,
// of chat platforms or of schedules.
package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/policywire/policywire"
)

// Accept headers sent for each source type.
const (
	AcceptFeed = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
	AcceptHTML = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
	AcceptJSON = "application/json, */*;q=0.5"
)

// MaxXMLDepth is the deepest element nesting a feed may have. Deeper
// bodies are refused as parse errors before the feed parser sees them, so
// a hostile feed costs one linear scan. Real feeds nest fewer than 20 deep.
const MaxXMLDepth = 1000

// ReadResult is one read of a source: the HTTP answer and the items parsed
// from it (none when the answer was 304 Not Modified).
type ReadResult struct {
	Response *Response
	Items    []policywire.Item
	// Report tells of items dropped or repaired and of a body cut short.
	Report Report
	// Warnings name the items that were kept only in part (see
	// boundItem), for the log.
	Warnings []string
}

// AcceptFor returns the Accept header for a source type.
func AcceptFor(sourceType string) string {
	switch sourceType {
	case TypeHTML:
		return AcceptHTML
	case TypeJSON:
		return AcceptJSON
	}
	return AcceptFeed
}

// Read fetches a source with the validators of its last answer and parses
// the body into normalized items. On 304 nothing is parsed. When the fetch
// succeeds but the body is not what the source should serve, the error is
// returned together with a ReadResult holding the Response, so callers can
// show what was served.
func Read(ctx context.Context, f *Fetcher, src Source, v Validators, loc *time.Location) (*ReadResult, error) {
	if f == nil {
		return nil, errors.New("sources: read: no fetcher")
	}
	resp, err := f.Fetch(ctx, src.URL, v, AcceptFor(src.Type))
	if err != nil {
		return nil, err
	}
	res := &ReadResult{Response: resp}
	if resp.NotModified {
		return res, nil
	}
	finalURL := resp.URL
	if finalURL == "" {
		finalURL = src.URL
	}
	items, warnings, err := parseBounded(src, resp.Body, finalURL, resp.ContentType, loc, &res.Report)
	if err != nil {
		return res, err
	}
	res.Items, res.Warnings = items, warnings
	return res, nil
}

// Parse turns the body a source served into normalized items, with the
// adapter of src.Type (feed when empty). finalURL is the URL the body came
// from, after redirects: relative links are resolved against it. Each item
// carries src.ID as its Source and policywire.Identity as its ID. A body
// that is not what the type expects (an HTML page instead of a feed, a
// challenge page instead of a listing) is an *Error of KindUnexpected; a
// body of the right kind that does not parse is KindParse. A bad selector
// or an unknown type is a plain error naming the source.
func Parse(src Source, body []byte, finalURL, contentType string, loc *time.Location) ([]policywire.Item, error) {
	items, _, err := ParseReport(src, body, finalURL, contentType, loc)
	return items, err
}

// ParseReport is Parse that also tells what it dropped and repaired: items
// without anything to show, items whose markup could not be read, a feed
// cut short, bytes read in another encoding than the one declared.
func ParseReport(src Source, body []byte, finalURL, contentType string, loc *time.Location) ([]policywire.Item, Report, error) {
	var rep Report
	items, _, err := parseBounded(src, body, finalURL, contentType, loc, &rep)
	return items, rep, err
}

// parseBounded is parse, with a warning for each item whose link or GUID
// was too long to keep (see boundItem). rep receives what parse tells.
func parseBounded(src Source, body []byte, finalURL, contentType string, loc *time.Location, rep *Report) ([]policywire.Item, []string, error) {
	items, err := parse(src, body, finalURL, contentType, loc, rep)
	if err != nil {
		return nil, nil, err
	}
	var warnings []string
	for i := range items {
		if w := boundItem(&items[i]); w != "" {
			warnings = append(warnings, w)
		}
	}
	return items, warnings, nil
}

func parse(src Source, body []byte, finalURL, contentType string, loc *time.Location, rep *Report) ([]policywire.Item, error) {
	if loc == nil {
		loc = time.UTC
	}
	if finalURL == "" {
		finalURL = src.URL
	}
	d := document{src: src, body: body, url: finalURL, contentType: contentType, loc: loc, report: rep}
	if u, err := url.Parse(strings.TrimSpace(finalURL)); err == nil && u.IsAbs() {
		d.base = u
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &Error{Kind: KindUnexpected, URL: d.url, Err: errors.New("empty body")}
	}
	switch src.Type {
	case "", TypeFeed:
		return parseFeed(d)
	case TypeHTML:
		return parseHTML(d)
	case TypeJSON:
		return parseJSON(d)
	}
	return nil, fmt.Errorf("sources: source %q: unknown type %q (feed, html or json)", src.ID, src.Type)
}

// document is one body to parse, with what the adapters need to know of it.
type document struct {
	src         Source
	body        []byte
	url         string
	base        *url.URL // nil when url is not absolute
	contentType string
	loc         *time.Location
	report      *Report // never nil
}

// unexpected is the error for an HTML page served instead of the expected
// format.
func (d document) unexpected() *Error {
	return &Error{Kind: KindUnexpected, URL: d.url, Title: PageTitle(d.body)}
}

// xmlTooDeep scans the markup of an XML body and reports whether elements
// nest deeper than limit. Comments, CDATA sections, processing
// instructions, declarations and quoted attribute values are skipped so
// that their "<" and ">" do not count.
func xmlTooDeep(b []byte, limit int) (bool, error) {
	depth := 0
	for i := 0; i < len(b); i++ {
		if b[i] != '<' {
			continue
		}
		rest := b[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			end := bytes.Index(rest[4:], []byte("-->"))
			if end < 0 {
				return false, nil
			}
			i += 4 + end + 2
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			end := bytes.Index(rest[9:], []byte("]]>"))
			if end < 0 {
				return false, nil
			}
			i += 9 + end + 2
		case bytes.HasPrefix(rest, []byte("<?")):
			end := bytes.Index(rest[2:], []byte("?>"))
			if end < 0 {
				return false, nil
			}
			i += 2 + end + 1
		case bytes.HasPrefix(rest, []byte("<!")):
			end := bytes.IndexByte(rest, '>')
			if end < 0 {
				return false, nil
			}
			i += end
		case bytes.HasPrefix(rest, []byte("</")):
			depth--
			end := bytes.IndexByte(rest, '>')
			if end < 0 {
				return false, nil
			}
			i += end
		case len(rest) < 2 || !xmlNameStart(rest[1]):
			// "a < b" in text is no tag; the parser reads it as text or
			// recovery escapes it.
		default:
			end, selfClosing := tagEnd(rest)
			if end < 0 {
				return false, nil
			}
			if !selfClosing {
				depth++
				if depth > limit {
					return true, fmt.Errorf("elements nested deeper than %d", limit)
				}
			}
			i += end
		}
	}
	return false, nil
}

// xmlNameStart reports a byte that can begin an element name: a letter,
// "_", ":" or the first byte of a non-ASCII character.
func xmlNameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == ':' || c >= 0x80
}

// tagEnd finds the ">" closing a start tag, skipping quoted attribute
// values, and says whether the tag closes itself.
func tagEnd(b []byte) (int, bool) {
	quote := byte(0)
	for i := 1; i < len(b); i++ {
		c := b[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i, b[i-1] == '/'
		}
	}
	return -1, false
}
