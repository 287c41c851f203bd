package sources

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"regexp"
	"strings"
	"time"
)

// ErrorKind says what went wrong with a source, so that a user knows what to do.
type ErrorKind string

// The kinds of source failure.
const (
	KindNetwork    ErrorKind = "network"     // DNS, connect, TLS, reset, timeout
	KindStatus     ErrorKind = "http-status" // a non-2xx, non-304 answer
	KindUnexpected ErrorKind = "unexpected"  // an HTML or challenge page where a feed or JSON should be
	KindParse      ErrorKind = "parse"       // the body is of the right kind but does not parse
	KindTooLarge   ErrorKind = "too-large"   // over fetch.max_bytes after decompression
	KindRefused    ErrorKind = "refused"     // the address is not allowed (private, loopback, ...)
	KindRateLimit  ErrorKind = "rate-limited"
)

// Error is a failure of one source fetch. It never carries a secret.
type Error struct {
	Kind   ErrorKind
	URL    string
	Status int
	// Title is the <title> of a page served where a feed was expected.
	Title string
	// RetryAfter is when the source may be asked again, from Retry-After.
	RetryAfter time.Time
	Err        error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("sources: ")
	switch e.Kind {
	case KindStatus:
		fmt.Fprintf(&b, "%s answered HTTP %d", e.URL, e.Status)
	case KindUnexpected:
		fmt.Fprintf(&b, "%s served a web page where a feed was expected", e.URL)
		if e.Title != "" {
			fmt.Fprintf(&b, " (page title %q)", e.Title)
		}
	case KindParse:
		fmt.Fprintf(&b, "%s: cannot parse the body", e.URL)
	case KindTooLarge:
		fmt.Fprintf(&b, "%s: body larger than fetch.max_bytes", e.URL)
	case KindRefused:
		fmt.Fprintf(&b, "%s: address refused", e.URL)
	case KindRateLimit:
		fmt.Fprintf(&b, "%s: rate limited", e.URL)
	default:
		fmt.Fprintf(&b, "%s: network error", e.URL)
	}
	if !e.RetryAfter.IsZero() {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter.UTC().Format(time.RFC3339))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of a source error, or "" when err is not one.
func KindOf(err error) ErrorKind {
	var se *Error
	if errors.As(err, &se) {
		return se.Kind
	}
	return ""
}

var titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// PageTitle returns the <title> of an HTML body (first 64 KiB), plain and
// trimmed to 120 characters, or "".
func PageTitle(body []byte) string {
	if len(body) > 64<<10 {
		body = body[:64<<10]
	}
	m := titleRE.FindSubmatch(body)
	if m == nil {
		return ""
	}
	t := strings.Join(strings.Fields(html.UnescapeString(string(m[1]))), " ")
	if r := []rune(t); len(r) > 120 {
		t = string(r[:120]) + "…"
	}
	return t
}

// LooksLikeHTML reports whether a body is an HTML page rather than a feed or JSON.
func LooksLikeHTML(body []byte) bool {
	head := body
	if len(head) > 4096 {
		head = head[:4096]
	}
	head = bytes.ToLower(bytes.TrimSpace(head))
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	return bytes.HasPrefix(head, []byte("<!doctype html")) || bytes.HasPrefix(head, []byte("<html")) ||
		bytes.Contains(head, []byte("<html")) && !bytes.Contains(head, []byte("<rss")) && !bytes.Contains(head, []byte("<feed"))
}
