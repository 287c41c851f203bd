package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/policywire/policywire"
)

// parseJSON reads a JSON document with the dotted paths of src.JSON.
//
// A path is a list of object keys and array indexes separated by dots
// ("results", "data.items", "a.0.b"); "" is the document itself. A missing
// or null items array is no items. The link may be a template: any
// "{path|filter|...}" in it is replaced by the value at path, through the
// filters lower, upper, trim, slash_to_underscore and urlencode, so that
// "https://ec.europa.eu/commission/presscorner/detail/en/{refCode|lower|slash_to_underscore}"
// builds a detail URL from "IP/26/301". Relative links are resolved against
// base_url, else the document URL. An element's "language", "languageCode",
// "lang" or "locale" field gives its language, else the source's.
func parseJSON(d document) ([]policywire.Item, error) {
	cfg := d.src.JSON
	if cfg == nil {
		cfg = &JSONOptions{}
	}
	// JSON is UTF-8 (RFC 8259 §8.1), but .NET APIs start it with a BOM and
	// some answer in UTF-16: only what the bytes show is decoded.
	body := d.body
	if e := detectEncoding(body, ""); e.from == "BOM" || e.from == "byte pattern" {
		var repairs []string
		body, repairs = decodeBody(body, "")
		for _, r := range repairs {
			d.report.repair(0, "%s", r)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		if LooksLikeHTML(body) {
			return nil, d.unexpected()
		}
		return nil, &Error{Kind: KindParse, URL: d.url, Err: fmt.Errorf("decode JSON: %w", err)}
	}
	if _, err := dec.Token(); err == nil {
		return nil, &Error{Kind: KindParse, URL: d.url, Err: errors.New("decode JSON: data after the top-level value")}
	}

	list, found, err := jsonPath(doc, cfg.Items)
	if err != nil {
		return nil, &Error{Kind: KindParse, URL: d.url, Err: fmt.Errorf("json.items %q: %w", cfg.Items, err)}
	}
	if !found || list == nil {
		return nil, nil
	}
	arr, ok := list.([]any)
	if !ok {
		return nil, &Error{Kind: KindParse, URL: d.url, Err: fmt.Errorf("json.items %q is %s, not an array", cfg.Items, jsonKind(list))}
	}

	base := d.base
	if b := strings.TrimSpace(cfg.BaseURL); b != "" {
		if u, err := url.Parse(b); err == nil && u.IsAbs() {
			base = u
		}
	}
	titlePath := orDefault(cfg.Title, "title")
	items := make([]policywire.Item, 0, len(arr))
	for _, el := range arr {
		it := policywire.Item{
			Title:   jsonString(el, titlePath),
			Summary: jsonString(el, cfg.Summary),
			GUID:    jsonString(el, cfg.GUID),
		}
		if cfg.Link != "" {
			it.URL = jsonLink(el, cfg.Link)
		} else {
			it.URL = firstNonEmpty(jsonString(el, "url"), jsonString(el, "link"))
		}
		if cfg.Date != "" {
			it.Published = jsonDate(el, cfg.Date, cfg.DateFormat, d.loc)
		}
		for _, key := range []string{"language", "languageCode", "lang", "locale"} {
			if l := NormalizeLanguage(jsonString(el, key)); l != "" {
				it.Language = l
				break
			}
		}
		if n, ok := normalizeItem(d.src, it, base, ""); ok {
			items = append(items, n)
		}
	}
	return items, nil
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// jsonPath follows a dotted path. found is false when a key or index is
// missing; err is set when the path runs into a value that has no parts.
func jsonPath(v any, path string) (out any, found bool, err error) {
	path = strings.TrimSpace(path)
	if path == "" {
		return v, true, nil
	}
	for _, seg := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v, found = x[seg]
			if !found {
				return nil, false, nil
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil {
				return nil, false, fmt.Errorf("%q is not an index into an array", seg)
			}
			if i < 0 || i >= len(x) {
				return nil, false, nil
			}
			v = x[i]
		case nil:
			return nil, false, nil
		default:
			return nil, false, fmt.Errorf("cannot look up %q in %s", seg, jsonKind(v))
		}
	}
	return v, true, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// jsonString is the value at path as text: strings as they are, numbers
// and booleans written out, the first non-empty element of an array;
// objects and missing values give "".
func jsonString(el any, path string) string {
	if strings.TrimSpace(path) == "" {
		return ""
	}
	v, found, err := jsonPath(el, path)
	if err != nil || !found {
		return ""
	}
	return jsonText(v)
}

func jsonText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case []any:
		for _, e := range x {
			if s := jsonText(e); s != "" {
				return s
			}
		}
	}
	return ""
}

// jsonLink reads a link path, or fills a link template (see parseJSON).
func jsonLink(el any, spec string) string {
	if !strings.Contains(spec, "{") {
		return jsonString(el, spec)
	}
	var b strings.Builder
	rest := spec
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		parts := strings.Split(rest[i+1:i+j], "|")
		v := strings.TrimSpace(jsonString(el, strings.TrimSpace(parts[0])))
		if v == "" {
			// A template whose value is missing makes no link at all
			// rather than a link to a listing page.
			return ""
		}
		for _, f := range parts[1:] {
			v = applyLinkFilter(strings.TrimSpace(f), v)
		}
		b.WriteString(v)
		rest = rest[i+j+1:]
	}
	return b.String()
}

// CheckLinkTemplate reports an error for a json.link template with an
// unclosed "{" or an unknown filter; a plain path is always accepted.
func CheckLinkTemplate(spec string) error {
	rest := spec
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return fmt.Errorf("sources: link template %q: unclosed {", spec)
		}
		parts := strings.Split(rest[i+1:i+j], "|")
		if strings.TrimSpace(parts[0]) == "" {
			return fmt.Errorf("sources: link template %q: empty path in {}", spec)
		}
		for _, f := range parts[1:] {
			if !linkFilters[strings.TrimSpace(f)] {
				return fmt.Errorf("sources: link template %q: unknown filter %q (known: lower, upper, trim, slash_to_underscore, urlencode)", spec, strings.TrimSpace(f))
			}
		}
		rest = rest[i+j+1:]
	}
}

var linkFilters = map[string]bool{"lower": true, "upper": true, "trim": true, "slash_to_underscore": true, "urlencode": true}

func applyLinkFilter(name, v string) string {
	switch name {
	case "lower":
		return strings.ToLower(v)
	case "upper":
		return strings.ToUpper(v)
	case "trim":
		return strings.TrimSpace(v)
	case "slash_to_underscore":
		return strings.ReplaceAll(v, "/", "_")
	case "urlencode":
		return url.PathEscape(v)
	}
	return v
}

// jsonDate reads a date: a string in any layout ParseDate knows (with
// layout first), or a number of Unix seconds (milliseconds when too large
// to be seconds).
func jsonDate(el any, path, layout string, loc *time.Location) time.Time {
	v, found, err := jsonPath(el, path)
	if err != nil || !found {
		return time.Time{}
	}
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return time.Time{}
		}
		t, err := unixDate(f)
		if err != nil {
			return time.Time{}
		}
		return t
	case string:
		t, err := ParseDate(x, layout, loc)
		if err != nil {
			return time.Time{}
		}
		return t
	}
	return time.Time{}
}
