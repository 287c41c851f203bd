package matrix

import (
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"maunium.net/go/mautrix/event"

	"github.com/policywire/policywire"
)

// Size bounds of what one event may carry. Matrix refuses events over
// 65,536 bytes; the bounds keep every alert well below that.
const (
	maxTitleRunes     = 300
	maxSummaryRunes   = 1000
	maxSourceRunes    = 100
	maxTopicRunes     = 100
	maxTopics         = 20
	maxReferenceRunes = 100
	maxReferences     = 20
	maxAlso           = 20
	maxURLBytes       = 2048
	maxNoticeRunes    = 4000

	// maxAlertEventBytes bounds the JSON content of one alert event.
	maxAlertEventBytes = 60_000
	// Digest parts stay under these so each event is small enough to read
	// and to render quickly in clients.
	maxDigestEventBytes = 40_000
	maxDigestItems      = 60
)

// AlertIDField is the content key carrying the alert ID, so an earlier copy
// of an alert can be recognized in the room history.
const AlertIDField = "org.policywire.alert_id"

// dateLayout shows dates as "27 Nov 2026 14:05 CET".
const dateLayout = "2 Jan 2006 15:04 MST" // bot.DateLayout

// roomPing matches "@room", which legacy push rules turn into a ping of the
// whole room. It becomes "@ room": readable, and no rule matches it.
var roomPing = regexp.MustCompile(`(?i)@(room)`)

// urlUnsafe percent-encodes the ASCII characters RFC 3986 does not allow
// unencoded in a URL.
var urlUnsafe = strings.NewReplacer(`"`, "%22", "<", "%3C", ">", "%3E", `\`, "%5C", "^", "%5E", "`", "%60", "{", "%7B", "|", "%7C", "}", "%7D")

// content is the JSON content of one outgoing message event.
type content struct {
	event.MessageEventContent
	AlertID string `json:"org.policywire.alert_id,omitempty"`
	// EditKey marks an edit with the alert and version it applies.
	EditKey string `json:"org.policywire.edit,omitempty"`
}

// renderer turns alerts and digests into Matrix message content.
type renderer struct {
	loc    *time.Location
	policy *bluemonday.Policy
}

func newRenderer(loc *time.Location) *renderer {
	if loc == nil {
		loc = time.UTC
	}
	return &renderer{loc: loc, policy: newPolicy()}
}

// newPolicy allows the few tags the messages use, and links only to
// http and https. It is a second line of defence: feed text is already
// escaped before it reaches the HTML.
func newPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("a", "br", "p", "b", "strong", "em", "i", "ul", "li", "code", "blockquote")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("http", "https")
	p.RequireParseableURLs(true)
	p.AllowRelativeURLs(false)
	return p
}

// alert renders one alert. When the full message would be too large it
// drops, in turn, the links of "also reported by", then the references and
// other sources, then the summary.
func (r *renderer) alert(a policywire.Alert) content {
	var c content
	for level := range 4 {
		c = r.alertAt(a, level)
		if jsonSize(c) <= maxAlertEventBytes {
			return c
		}
	}
	return c
}

func (r *renderer) alertAt(a policywire.Alert, level int) content {
	it := a.Item
	var body, fmtd strings.Builder

	title := cleanText(it.Title, maxTitleRunes)
	if title == "" {
		title = "(untitled)"
	}
	link, linkOK := safeURL(firstNonEmpty(it.URL, it.CanonicalURL))
	body.WriteString(title)
	fmtd.WriteString("<p><strong>")
	if linkOK {
		body.WriteString("\n" + link)
		fmt.Fprintf(&fmtd, `<a href="%s">%s</a>`, html.EscapeString(link), html.EscapeString(title))
	} else {
		fmtd.WriteString(html.EscapeString(title))
	}
	fmtd.WriteString("</strong>")

	if meta := r.metaLine(a); meta != "" {
		body.WriteString("\n" + meta)
		fmtd.WriteString("<br>" + html.EscapeString(meta))
	}
	fmtd.WriteString("</p>")

	summaryRunes := maxSummaryRunes
	if level >= 2 {
		summaryRunes = 300
	}
	if summary := cleanText(it.Summary, summaryRunes); summary != "" && level < 3 {
		body.WriteString("\n\n" + summary)
		fmtd.WriteString("<p>" + html.EscapeString(summary) + "</p>")
	}

	refLimit := maxReferences
	if level >= 1 {
		refLimit = 5
	}
	refs := cleanList(it.References, maxReferenceRunes, refLimit)
	if level >= 2 {
		refs = nil
	}
	if len(refs) > 0 {
		body.WriteString("\n\nReferences: " + strings.Join(refs, ", "))
		codes := make([]string, len(refs))
		for i, ref := range refs {
			codes[i] = "<code>" + html.EscapeString(ref) + "</code>"
		}
		fmtd.WriteString("<p>References: " + strings.Join(codes, ", ") + "</p>")
	}

	if len(a.Also) > 0 && level < 2 {
		plain, rich := r.also(a.Also, level == 0)
		sep := "\n\n"
		if len(refs) > 0 {
			sep = "\n"
		}
		body.WriteString(sep + "Also reported by: " + plain)
		fmtd.WriteString("<p>Also reported by: " + rich + "</p>")
	}
	if note := a.Edited.Note(r.loc); note != "" {
		body.WriteString("\n" + note)
		fmtd.WriteString("<p><em>" + html.EscapeString(note) + "</em></p>")
	}

	c := content{AlertID: a.ID}
	c.MessageEventContent = r.message(body.String(), fmtd.String())
	return c
}

// metaLine is "source · date · topics", leaving out what is unknown.
func (r *renderer) metaLine(a policywire.Alert) string {
	var parts []string
	if src := cleanText(firstNonEmpty(a.SourceName, a.Item.Source), maxSourceRunes); src != "" {
		parts = append(parts, src)
	}
	if d := a.Item.Date(); !d.IsZero() {
		parts = append(parts, r.date(d))
	}
	if topics := cleanList(a.Topics, maxTopicRunes, maxTopics); len(topics) > 0 {
		parts = append(parts, strings.Join(topics, ", "))
	}
	return strings.Join(parts, " · ")
}

func (r *renderer) date(t time.Time) string { return t.In(r.loc).Format(dateLayout) }

// also lists the other sources of a story, linked when withLinks is set
// and the link is safe.
func (r *renderer) also(also []policywire.AlsoReported, withLinks bool) (plain, rich string) {
	var ps, rs []string
	for i, o := range also {
		if i == maxAlso {
			more := fmt.Sprintf("and %d more", len(also)-maxAlso)
			ps, rs = append(ps, more), append(rs, more)
			break
		}
		name := cleanText(firstNonEmpty(o.SourceName, o.Source, o.Title), maxSourceRunes)
		link, ok := safeURL(o.URL)
		if name == "" {
			if !ok {
				continue
			}
			name = cleanText(link, maxSourceRunes)
		}
		if ok && withLinks {
			ps = append(ps, name+" ("+link+")")
			rs = append(rs, fmt.Sprintf(`<a href="%s">%s</a>`, html.EscapeString(link), html.EscapeString(name)))
		} else {
			ps = append(ps, name)
			rs = append(rs, html.EscapeString(name))
		}
	}
	return strings.Join(ps, ", "), strings.Join(rs, ", ")
}

// digestItem is one rendered line of a digest.
type digestItem struct {
	plain, rich string
	size        int // JSON bytes the line adds to an event
}

// digest renders a digest as one or more events, each with at most
// maxDigestItems items and under maxDigestEventBytes.
func (r *renderer) digest(d policywire.Digest) []content {
	title := cleanText(d.Title, maxTitleRunes)
	if title == "" {
		title = "Digest"
	}
	items := make([]digestItem, 0, len(d.Alerts))
	for _, a := range d.Alerts {
		items = append(items, r.digestItem(a))
	}
	// Room for the heading, the part number and the JSON envelope.
	budget := maxDigestEventBytes - jsonSize(r.message(title+" (999/999)", "<p><strong>"+html.EscapeString(title)+"</strong> (999/999)</p><ul></ul>")) - 100

	var parts [][]digestItem
	var cur []digestItem
	used := 0
	for _, it := range items {
		if len(cur) > 0 && (len(cur) == maxDigestItems || used+it.size > budget) {
			parts = append(parts, cur)
			cur, used = nil, 0
		}
		cur = append(cur, it)
		used += it.size
	}
	if len(cur) > 0 {
		parts = append(parts, cur)
	}

	out := make([]content, 0, len(parts))
	for i, part := range parts {
		heading := title
		if len(parts) > 1 {
			heading = fmt.Sprintf("%s (%d/%d)", title, i+1, len(parts))
		}
		var body, fmtd strings.Builder
		body.WriteString(heading)
		fmtd.WriteString("<p><strong>" + html.EscapeString(heading) + "</strong></p><ul>")
		for _, it := range part {
			body.WriteString("\n" + it.plain)
			fmtd.WriteString(it.rich)
		}
		fmtd.WriteString("</ul>")
		out = append(out, content{MessageEventContent: r.message(body.String(), fmtd.String())})
	}
	return out
}

func (r *renderer) digestItem(a policywire.Alert) digestItem {
	title := cleanText(a.Item.Title, maxTitleRunes)
	if title == "" {
		title = "(untitled)"
	}
	var meta []string
	if src := cleanText(firstNonEmpty(a.SourceName, a.Item.Source), maxSourceRunes); src != "" {
		meta = append(meta, src)
	}
	if d := a.Item.Date(); !d.IsZero() {
		meta = append(meta, r.date(d))
	}
	suffix := ""
	if len(meta) > 0 {
		suffix = " — " + strings.Join(meta, " · ")
	}
	plain := "• " + title + suffix
	rich := "<li>" + html.EscapeString(title)
	if link, ok := safeURL(firstNonEmpty(a.Item.URL, a.Item.CanonicalURL)); ok {
		plain += "\n  " + link
		rich = fmt.Sprintf(`<li><a href="%s">%s</a>`, html.EscapeString(link), html.EscapeString(title))
	}
	rich += html.EscapeString(suffix)
	if len(a.Also) > 0 {
		alsoPlain, alsoRich := r.also(a.Also, false)
		plain += "\n  Also reported by: " + alsoPlain
		rich += "<br>Also reported by: " + alsoRich
	}
	rich += "</li>"
	return digestItem{plain: plain, rich: rich, size: jsonSize(plain) + jsonSize(rich)}
}

// notice renders a short plain-text notice.
func (r *renderer) notice(text string) content {
	var lines []string
	for line := range strings.SplitSeq(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		lines = append(lines, cleanText(line, maxNoticeRunes))
	}
	body := truncateRunes(strings.TrimSpace(strings.Join(lines, "\n")), maxNoticeRunes)
	c := content{}
	c.MessageEventContent = event.MessageEventContent{
		MsgType:  event.MsgNotice,
		Body:     body,
		Mentions: &event.Mentions{},
	}
	return c
}

// message builds an m.notice from a plain body and HTML made of escaped
// text; the HTML is sanitized once more. m.mentions is always present and
// empty, so clients and servers that follow intentional mentions ping
// nobody, whatever the text says.
func (r *renderer) message(body, formatted string) event.MessageEventContent {
	return event.MessageEventContent{
		MsgType:       event.MsgNotice,
		Body:          body,
		Format:        event.FormatHTML,
		FormattedBody: r.policy.Sanitize(formatted),
		Mentions:      &event.Mentions{},
	}
}

// visible removes invisible and direction-changing characters and turns
// control characters, broken UTF-8 and any white space into plain spaces.
func visible(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case isInvisible(r):
			return -1
		case r == utf8.RuneError, unicode.IsControl(r), unicode.IsSpace(r):
			return ' '
		}
		return r
	}, s)
}

// cleanText makes feed text safe and short for a message: invisible and
// direction-changing characters removed, control characters and runs of
// white space turned into one space, "@room" defused, and the result cut at
// max runes with an ellipsis.
func cleanText(s string, max int) string {
	s = strings.Join(strings.Fields(visible(s)), " ")
	s = truncateRunes(s, max)
	return roomPing.ReplaceAllString(s, "@ $1")
}

// isInvisible reports Unicode format characters (category Cf): zero-width
// spaces and joiners (U+200B-U+200D), direction marks and overrides
// (U+200E-U+200F, U+202A-U+202E), isolates (U+2066-U+2069), the BOM
// (U+FEFF), soft hyphens and the like. They can hide or reorder text in a
// client and carry nothing a reader needs.
func isInvisible(r rune) bool { return unicode.Is(unicode.Cf, r) }

func cleanList(items []string, maxRunes, maxItems int) []string {
	var out []string
	for _, s := range items {
		if len(out) == maxItems {
			break
		}
		if c := cleanText(s, maxRunes); c != "" {
			out = append(out, c)
		}
	}
	return out
}

func truncateRunes(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return strings.TrimRightFunc(s[:i], unicode.IsSpace) + "…"
		}
		n++
	}
	return s
}

// safeURL accepts absolute http and https links of reasonable length; any
// other scheme (javascript:, data:, ...) or any white space or control
// character gets no link at all. Characters a URL may not hold unencoded
// (quotes, angle brackets, ...) are percent-encoded, and so is the "@" of
// "@room", so the plain body cannot ping through a URL either.
func safeURL(raw string) (string, bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > maxURLBytes {
		return "", false
	}
	for _, r := range raw {
		if unicode.IsSpace(r) || unicode.IsControl(r) || isInvisible(r) {
			return "", false
		}
	}
	raw = urlUnsafe.Replace(raw)
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", false
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
		return "", false
	}
	if u.User != nil {
		// "https://gov.example@evil.example/" reads as gov.example and
		// leads to evil.example: the user info goes.
		u.User = nil
		raw = u.String()
	}
	return roomPing.ReplaceAllString(raw, "%40$1"), true
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

func jsonSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(b)
}
