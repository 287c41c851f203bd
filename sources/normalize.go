package sources

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/idna"

	"github.com/policywire/policywire"
)

// Limits on the text kept from one item. Titles are cut at a word boundary;
// summaries and contents are bounded so one hostile item cannot bloat the
// database or a chat message.
const (
	MaxTitleRunes   = 500
	MaxSummaryRunes = 4000
	MaxContentRunes = 100000
	// MaxLinkBytes bounds an item's link: a longer one is no link a
	// reader can use, and would overflow a chat message.
	MaxLinkBytes = 4096
	// MaxGUIDBytes bounds an item's GUID: a longer one is replaced by its
	// hash, which identifies the item as well.
	MaxGUIDBytes = 2048
)

// trackingParams are query parameters that only identify a campaign or a
// click, never the document; utm_* is matched by prefix.
var trackingParams = map[string]bool{
	"fbclid": true, "gclid": true, "dclid": true, "msclkid": true,
	"mc_cid": true, "mc_eid": true, "_hsenc": true, "_hsmi": true,
}

// CanonicalURL returns the form of an absolute http(s) URL used to recognise
// the same document behind different spellings:
//
//   - scheme and host lower-cased, internationalized hosts in their ASCII
//     (punycode) form, the default port (:80 for http, :443 for https) dropped;
//   - the fragment dropped;
//   - utm_*, fbclid, gclid, dclid, msclkid, mc_cid, mc_eid, _hsenc and _hsmi
//     query parameters dropped, the others kept in their order and spelling,
//     empty "&&" pairs removed and "?" dropped when nothing is left;
//   - "." and empty segments of the path removed and ".." resolved (as
//     path.Clean does), a trailing slash kept when the URL had one;
//   - an empty path written "/", since RFC 3986 §6.2.3 makes
//     "http://h" and "http://h/" the same resource;
//   - percent-escapes written with upper-case hex digits.
//
// Anything else (user info, case of the path, order of parameters) is kept.
// A relative URL, a URL without a host and a scheme other than http and
// https are errors.
func CanonicalURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("sources: canonical URL: empty URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("sources: canonical URL: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		if scheme == "" {
			return "", fmt.Errorf("sources: canonical URL %q: not absolute", raw)
		}
		return "", fmt.Errorf("sources: canonical URL %q: scheme %q is not http or https", raw, u.Scheme)
	}
	if u.Opaque != "" {
		return "", fmt.Errorf("sources: canonical URL %q: no host", raw)
	}
	host, err := canonicalHost(u.Hostname())
	if err != nil {
		return "", fmt.Errorf("sources: canonical URL %q: %w", raw, err)
	}
	port := u.Port()
	if port != "" {
		for _, c := range port {
			if c < '0' || c > '9' {
				return "", fmt.Errorf("sources: canonical URL %q: bad port %q", raw, port)
			}
		}
		port = strings.TrimLeft(port, "0")
		if port == "" {
			port = "0"
		}
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}

	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	if u.User != nil {
		b.WriteString(u.User.String())
		b.WriteByte('@')
	}
	b.WriteString(host)
	b.WriteString(canonicalPath(u.EscapedPath()))
	if q := canonicalQuery(u.RawQuery); q != "" {
		b.WriteByte('?')
		b.WriteString(q)
	}
	return b.String(), nil
}

func canonicalHost(host string) (string, error) {
	if host == "" {
		return "", errors.New("no host")
	}
	if strings.Contains(host, ":") { // IPv6 literal
		return strings.ToLower(host), nil
	}
	ascii := true
	for i := 0; i < len(host); i++ {
		if host[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		host = strings.ToLower(host)
		if !strings.HasPrefix(host, "xn--") && !strings.Contains(host, ".xn--") {
			return host, nil
		}
	}
	if !utf8.ValidString(host) {
		return "", fmt.Errorf("host %q is not valid UTF-8", host)
	}
	a, err := idna.Lookup.ToASCII(host)
	if err != nil {
		return "", fmt.Errorf("host %q: %w", host, err)
	}
	a = strings.ToLower(a)
	// The ASCII form must itself be a valid host, or the canonical URL
	// could not be read back.
	if b, err := idna.Lookup.ToASCII(a); err != nil || b != a || a == "" {
		return "", fmt.Errorf("host %q has no stable ASCII form", host)
	}
	return a, nil
}

// canonicalPath cleans an escaped path: see CanonicalURL.
func canonicalPath(p string) string {
	if p == "" || p == "/" {
		return "/"
	}
	trailing := strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
	c := path.Clean("/" + p)
	if trailing && c != "/" {
		c += "/"
	}
	return upperEscapes(c)
}

// canonicalQuery drops tracking parameters and empty pairs from a raw query,
// keeping the rest as written.
func canonicalQuery(q string) string {
	if q == "" {
		return ""
	}
	parts := strings.Split(q, "&")
	kept := parts[:0]
	for _, p := range parts {
		if p == "" {
			continue
		}
		key := p
		if i := strings.IndexByte(p, '='); i >= 0 {
			key = p[:i]
		}
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		key = strings.ToLower(key)
		if strings.HasPrefix(key, "utm_") || trackingParams[key] {
			continue
		}
		kept = append(kept, escapeSpaces(upperEscapes(p)))
	}
	return strings.Join(kept, "&")
}

// escapeSpaces percent-encodes white space left raw in a query, which
// would otherwise be trimmed off the end when the canonical URL is read
// again, so that canonicalising stays idempotent.
func escapeSpaces(s string) string {
	if strings.IndexFunc(s, unicode.IsSpace) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !unicode.IsSpace(r) {
			b.WriteRune(r)
			continue
		}
		var buf [utf8.UTFMax]byte
		for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// upperEscapes writes the hex digits of every %XX escape in upper case.
func upperEscapes(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' && isHex(b[i+1]) && isHex(b[i+2]) {
			b[i+1] = upperHex(b[i+1])
			b[i+2] = upperHex(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// ResolveURL makes ref absolute against base. It returns "" when ref is
// empty or cannot be parsed, and ref unchanged when base is nil.
func ResolveURL(base *url.URL, ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ""
	}
	r, err := url.Parse(ref)
	if err != nil {
		return ""
	}
	if base == nil || r.IsAbs() {
		return r.String()
	}
	return base.ResolveReference(r).String()
}

// PlainText turns an HTML fragment (or text with entities) into clean plain
// text: entities decoded, tags dropped, script, style and similar elements
// dropped with their content, block elements and <br> turned into line
// breaks, spaces collapsed within a line and blank lines removed, and
// control, zero-width and bidi-override characters and invalid UTF-8
// removed. It reads the input as a token stream, so deeply nested markup
// costs no recursion.
func PlainText(s string) string {
	return plainText(s, '\n')
}

// plainText is PlainText with lineBreak written between lines: '\n', or
// ' ' for text on one line.
func plainText(s string, lineBreak byte) string {
	if !strings.Contains(s, "<") {
		// The tokenizer would read all of it as one text token and only
		// decode its entities.
		return cleanText(html.UnescapeString(s), lineBreak)
	}
	var b strings.Builder
	b.Grow(len(s))
	z := html.NewTokenizer(strings.NewReader(s))
	skip := 0 // depth inside elements whose text is not content
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return cleanText(b.String(), lineBreak)
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if skippedElements[a] {
				if tt == html.StartTagToken {
					skip++
					// The tokenizer reads script/style bodies as raw text;
					// the matching end tag follows.
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
				continue
			}
			if blockElements[a] {
				b.WriteByte('\n')
			} else if a == atom.Td || a == atom.Th {
				b.WriteByte(' ')
			}
		}
	}
}

var skippedElements = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true,
	atom.Title: true, atom.Iframe: true, atom.Object: true, atom.Svg: true, atom.Math: true,
	atom.Select: true, atom.Textarea: true,
}

var blockElements = map[atom.Atom]bool{
	atom.Br: true, atom.P: true, atom.Div: true, atom.Li: true, atom.Ul: true, atom.Ol: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Tr: true, atom.Table: true, atom.Blockquote: true, atom.Section: true, atom.Article: true,
	atom.Header: true, atom.Footer: true, atom.Aside: true, atom.Nav: true, atom.Hr: true,
	atom.Pre: true, atom.Dl: true, atom.Dt: true, atom.Dd: true, atom.Figure: true,
	atom.Figcaption: true, atom.Main: true, atom.Address: true, atom.Details: true, atom.Summary: true,
	atom.Caption: true, atom.Form: true, atom.Fieldset: true,
}

// cleanLines removes unwanted characters, collapses spaces within lines and
// drops blank lines.
func cleanLines(s string) string {
	return cleanText(s, '\n')
}

// cleanText is cleanRunes followed by collapsing spaces, in one pass: no
// space at the start or end of a line, one space between words, no blank
// line, and lineBreak between lines ('\n', or ' ' to join them).
func cleanText(s string, lineBreak byte) string {
	var b strings.Builder
	b.Grow(len(s))
	var owed byte // separator to write before the next text, if any text came before
	for i := 0; i < len(s); {
		// Runs of printable ASCII, nearly all of a feed, are copied whole;
		// only what lies between them is decoded.
		j := i
		for j < len(s) && s[j] > ' ' && s[j] < 0x7f {
			j++
		}
		if j == i {
			kind, size := spaceRune, 1 // the space between two words needs no decoding
			if s[i] != ' ' {
				var r rune
				r, size = utf8.DecodeRuneInString(s[i:])
				kind = kindOf(r)
			}
			j = i + size
			if kind != textRune {
				switch kind {
				case spaceRune:
					if owed == 0 {
						owed = ' '
					}
				case lineBreakRune:
					owed = lineBreak
				}
				i = j
				continue
			}
		}
		if owed != 0 && b.Len() > 0 {
			b.WriteByte(owed)
		}
		owed = 0
		b.WriteString(s[i:j])
		i = j
	}
	return b.String()
}

// cleanRunes drops invalid UTF-8, control characters (keeping line breaks
// and turning tabs into spaces), zero-width and bidi-control characters,
// and turns other Unicode spaces into plain spaces.
func cleanRunes(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		// Printable ASCII, nearly all of a feed, needs no decoding.
		if c := s[i]; c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch kindOf(r) {
		case textRune:
			b.WriteString(s[i : i+size])
		case spaceRune:
			b.WriteByte(' ')
		case lineBreakRune:
			// "\r\n" is one line break.
			if r != '\r' || i+1 == len(s) || s[i+1] != '\n' {
				b.WriteByte('\n')
			}
		}
		i += size
	}
	return b.String()
}

// runeKind is what cleaning makes of a rune.
type runeKind uint8

const (
	textRune      runeKind = iota // kept
	spaceRune                     // a plain space
	lineBreakRune                 // a line break
	droppedRune                   // nothing
)

// kindOf classes a rune for cleaning: invalid UTF-8 (read as
// utf8.RuneError), control, zero-width and bidi-control characters are
// dropped, tabs and Unicode spaces are spaces, CR and the Unicode line and
// paragraph separators are line breaks.
func kindOf(r rune) runeKind {
	switch {
	case r == utf8.RuneError:
		return droppedRune
	case r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029':
		return lineBreakRune
	case r == ' ' || r == '\t' || r == '\u00a0' || r == '\u3000' || (unicode.IsSpace(r) && r > 0x7f):
		return spaceRune
	case unicode.IsControl(r), invisible(r):
		return droppedRune
	}
	return textRune
}

// invisible reports zero-width, bidi-control and other format characters
// that change how text looks or reads without being text.
func invisible(r rune) bool {
	switch {
	case r >= 0x200b && r <= 0x200f, // zero-width space/joiners, LRM, RLM
		r >= 0x202a && r <= 0x202e, // bidi embeddings and overrides
		r >= 0x2060 && r <= 0x206f, // word joiner, invisible operators, isolates
		r == 0xfeff, r == 0x061c, r == 0x00ad, r == 0x180e,
		r >= 0xfff9 && r <= 0xfffb, // interlinear annotation
		r == 0xfffe, r == 0xffff:
		return true
	}
	// Private use (category Co) and surrogates (Cs), by range: unicode.Is
	// on every rune of every item was a measurable share of parsing.
	return r >= 0xe000 && r <= 0xf8ff || r >= 0xf0000 && r <= 0x10fffd || r >= 0xd800 && r <= 0xdfff
}

// CleanTitle is a title as shown: plain text on one line, at most
// MaxTitleRunes runes, cut at a word boundary with "…" when longer.
func CleanTitle(s string) string {
	return truncateRunes(plainText(s, ' '), MaxTitleRunes)
}

// truncateRunes cuts s to at most n runes (counting the "…" it appends),
// at the last space when there is one in the second half of the cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n-1]
	cut := len(r)
	for i := len(r) - 1; i > len(r)/2; i-- {
		if unicode.IsSpace(r[i]) {
			cut = i
			break
		}
	}
	return strings.TrimRightFunc(string(r[:cut]), func(c rune) bool {
		return unicode.IsSpace(c) || unicode.IsPunct(c) && c != ')' && c != '"' && c != '»'
	}) + "…"
}

// NormalizeLanguage returns the lower-case primary subtag of a language tag
// ("en-GB" → "en", "FR" → "fr"), or "" when it is not a language tag.
func NormalizeLanguage(tag string) string {
	tag = strings.TrimSpace(tag)
	if i := strings.IndexAny(tag, "-_;, "); i >= 0 {
		tag = tag[:i]
	}
	tag = strings.ToLower(tag)
	if len(tag) < 2 || len(tag) > 3 {
		return ""
	}
	for _, c := range tag {
		if c < 'a' || c > 'z' {
			return ""
		}
	}
	return tag
}

// normalizeItem finishes an item as every adapter produces it: plain text,
// absolute and canonical links, a language and its identity. It reports
// false for an item that has nothing to show (no title and no summary).
func normalizeItem(src Source, it policywire.Item, base *url.URL, pageLang string) (policywire.Item, bool) {
	it.Source = src.ID
	it.Title = CleanTitle(it.Title)
	it.Summary = truncateRunes(PlainText(it.Summary), MaxSummaryRunes)
	it.Content = truncateRunes(PlainText(it.Content), MaxContentRunes)
	if it.Title == "" {
		switch {
		case it.Summary != "":
			it.Title = truncateRunes(strings.Join(strings.Fields(it.Summary), " "), 120)
		case it.Content != "":
			it.Title = titleFromText(it.Content)
		default:
			return it, false
		}
	}
	if it.Summary == it.Title {
		it.Summary = ""
	}
	if it.Content == it.Summary {
		it.Content = ""
	}
	it.GUID = cleanText(it.GUID, ' ')
	it.URL = ResolveURL(base, cleanRunes(it.URL))
	it.CanonicalURL = ""
	if it.URL != "" {
		if c, err := CanonicalURL(it.URL); err == nil {
			it.CanonicalURL = c
		} else {
			// A javascript:, mailto: or broken link is no link to show.
			it.URL = ""
		}
	}
	lang := NormalizeLanguage(it.Language)
	if lang == "" {
		lang = NormalizeLanguage(pageLang)
	}
	if lang == "" {
		lang = NormalizeLanguage(src.Language)
	}
	it.Language = lang
	it.Categories = cleanCategories(it.Categories)
	if !it.Published.IsZero() {
		it.Published = it.Published.UTC()
	}
	if !it.Updated.IsZero() {
		it.Updated = it.Updated.UTC()
	}
	it.ID = policywire.Identity(it)
	return it, true
}

func cleanCategories(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range in {
		c = truncateRunes(plainText(c, ' '), 200)
		if c == "" || seen[strings.ToLower(c)] {
			continue
		}
		seen[strings.ToLower(c)] = true
		out = append(out, c)
	}
	return out
}

// boundItem keeps an item whose link or GUID is beyond reason: a link over
// MaxLinkBytes is dropped (the item is still posted, without it), a GUID
// over MaxGUIDBytes is replaced by its SHA-256, and the identity follows.
// It returns a warning naming the item when it changed anything.
func boundItem(it *policywire.Item) string {
	var what []string
	if len(it.URL) > MaxLinkBytes || len(it.CanonicalURL) > MaxLinkBytes {
		what = append(what, fmt.Sprintf("link of %d bytes dropped (over %d)", len(it.URL), MaxLinkBytes))
		it.URL, it.CanonicalURL = "", ""
	}
	if len(it.GUID) > MaxGUIDBytes {
		what = append(what, fmt.Sprintf("GUID of %d bytes replaced by its hash (over %d)", len(it.GUID), MaxGUIDBytes))
		sum := sha256.Sum256([]byte(it.GUID))
		it.GUID = "sha256:" + hex.EncodeToString(sum[:])
	}
	if len(what) == 0 {
		return ""
	}
	it.ID = policywire.Identity(*it)
	return fmt.Sprintf("sources: item %q of %s: %s", it.Title, it.Source, strings.Join(what, "; "))
}
