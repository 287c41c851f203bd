package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/policywire/policywire"
)

// parseJSONFeed reads a JSON Feed (versions 1 and 1.1) leniently: a field
// of the wrong shape (authors as a string, tags as a string, a title in an
// array) is read where it can be and ignored where it cannot, an element
// of items that is not an object is dropped alone, and a body cut short
// keeps every item complete before the cut. Each is told in d.report.
func parseJSONFeed(d document, body []byte) ([]policywire.Item, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	fields, list, cut, err := decodeJSONFeed(dec)
	if err != nil {
		if LooksLikeHTML(body) {
			return nil, d.unexpected()
		}
		return nil, &Error{Kind: KindParse, URL: d.url, Err: fmt.Errorf("decode JSON Feed: %w", err)}
	}
	version, _ := fields["version"].(string)
	if !strings.Contains(version, "jsonfeed.org/version/") && list == nil {
		return nil, &Error{Kind: KindUnexpected, URL: d.url, Err: errors.New("the body is neither RSS, Atom nor JSON Feed")}
	}
	if cut != nil && len(list) == 0 {
		return nil, &Error{Kind: KindParse, URL: d.url, Err: fmt.Errorf("decode JSON Feed: %w", cut)}
	}
	if cut != nil {
		d.report.warn("feed truncated after item %d", len(list))
		d.report.drop(len(list)+1, "cut off by the end of the body (%v)", cut)
	}
	feedLang, _ := fields["language"].(string)
	items := make([]policywire.Item, 0, len(list))
	for i, el := range list {
		pos := i + 1
		obj, ok := el.(map[string]any)
		if !ok {
			d.report.drop(pos, "item is %s, not an object", jsonKind(el))
			continue
		}
		r := jsonFeedItem{obj: obj, pos: pos, rep: d.report}
		it := policywire.Item{
			GUID:      r.text("id"),
			URL:       firstNonEmpty(r.text("url"), r.text("external_url")),
			Title:     rssTitle(r.text("title")), // plain text, by the spec; some put markup
			Summary:   r.text("summary"),
			Content:   r.text("content_html"),
			Published: r.date("date_published", d.loc),
			Updated:   r.date("date_modified", d.loc),
			Language:  r.text("language"),
		}
		if it.Content == "" {
			// Plain text: its "<" and "&" are characters, not markup.
			it.Content = html.EscapeString(r.text("content_text"))
		}
		it.Categories = r.list("tags")
		r.shape("authors", "an array")
		r.shape("author", "an object")
		r.shape("attachments", "an array")
		if it.Published.Equal(it.Updated) {
			it.Updated = time.Time{}
		}
		if it.Published.IsZero() {
			it.Published, it.Updated = it.Updated, time.Time{}
		}
		if n, ok := d.finish(pos, it, feedLang); ok {
			items = append(items, n)
		}
	}
	return items, nil
}

// decodeJSONFeed reads the top-level object: its fields other than items,
// and the elements of items one by one. cut is the error that stopped the
// reading of items when at least the start of the list was read; err is
// set when not even the object could be read.
func decodeJSONFeed(dec *json.Decoder) (fields map[string]any, list []any, cut, err error) {
	fields = map[string]any{}
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, nil, err
	}
	if tok != json.Delim('{') {
		return nil, nil, nil, fmt.Errorf("the top-level value is %v, not an object", tok)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fields, list, err, nil
		}
		key, _ := tok.(string)
		if key != "items" {
			var v any
			if err := dec.Decode(&v); err != nil {
				if list != nil {
					return fields, list, err, nil
				}
				return nil, nil, nil, err
			}
			fields[key] = v
			continue
		}
		tok, err = dec.Token()
		if err != nil {
			return fields, list, err, nil
		}
		if tok != json.Delim('[') {
			// items of another shape: no items.
			continue
		}
		list = []any{}
		for dec.More() {
			var el any
			if err := dec.Decode(&el); err != nil {
				return fields, list, err, nil
			}
			list = append(list, el)
		}
		if _, err := dec.Token(); err != nil {
			return fields, list, err, nil
		}
	}
	return fields, list, nil, nil
}

// jsonFeedItem reads the fields of one item, telling the report of those
// of the wrong shape.
type jsonFeedItem struct {
	obj map[string]any
	pos int
	rep *Report
}

// text is a string field; a number is written out, an array gives its
// first string.
func (r jsonFeedItem) text(key string) string {
	v, ok := r.obj[key]
	if !ok || v == nil {
		return ""
	}
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	s := jsonText(v)
	if s != "" {
		r.rep.repair(r.pos, "%s is %s, not a string: %q read", key, jsonKind(v), s)
	} else {
		r.rep.repair(r.pos, "%s is %s, not a string: ignored", key, jsonKind(v))
	}
	return s
}

// list is an array of strings; a lone string is a list of one.
func (r jsonFeedItem) list(key string) []string {
	v, ok := r.obj[key]
	if !ok || v == nil {
		return nil
	}
	switch x := v.(type) {
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		r.rep.repair(r.pos, "%s is a string, not an array: read as one", key)
		return []string{x}
	}
	r.rep.repair(r.pos, "%s is %s, not an array: ignored", key, jsonKind(v))
	return nil
}

// date is an RFC 3339 date, or another a publisher writes, or a number of
// Unix seconds.
func (r jsonFeedItem) date(key string, loc *time.Location) time.Time {
	v, ok := r.obj[key]
	if !ok || v == nil {
		return time.Time{}
	}
	switch x := v.(type) {
	case string:
		if t, err := ParseDate(x, time.RFC3339, loc); err == nil {
			return t
		}
		r.rep.repair(r.pos, "%s %q is not a date: ignored", key, x)
	case json.Number:
		if f, err := x.Float64(); err == nil {
			if t, err := unixDate(f); err == nil {
				r.rep.repair(r.pos, "%s is a number: read as Unix time", key)
				return t
			}
		}
		r.rep.repair(r.pos, "%s %s is not a date: ignored", key, x)
	default:
		r.rep.repair(r.pos, "%s is %s, not a date: ignored", key, jsonKind(v))
	}
	return time.Time{}
}

// shape tells the report of a field the items do not use when it has not
// the shape the spec gives, so a reader of the report knows it was seen.
func (r jsonFeedItem) shape(key, want string) {
	v, ok := r.obj[key]
	if !ok || v == nil {
		return
	}
	_, isObj := v.(map[string]any)
	_, isArr := v.([]any)
	if (want == "an object" && !isObj) || (want == "an array" && !isArr) {
		r.rep.repair(r.pos, "%s is %s, not %s: ignored", key, jsonKind(v), want)
	}
}
