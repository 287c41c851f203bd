package slack

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/slack-go/slack"

	"github.com/policywire/policywire"
)

// Slack's documented limits, and the bounds this package adds to keep a
// message readable. The Block Kit reference (api.slack.com/reference/
// block-kit/blocks, …/composition-objects) allows 50 blocks a message, 3000
// characters in a section's text and in a text object (context elements
// included), 1 to 10 elements in a context block, 10 section fields of
// 2000, 150 characters in a header and 75 in a button; characters count as
// UTF-16 units. This package uses sections and single-element context
// blocks only, built by section and contextText, which hold every text to
// maxSectionText whatever their callers pass.
const (
	maxSectionText  = 3000 // Slack: section and context text objects
	maxTitleRunes   = 300
	maxFallbackText = 4000 // Slack truncates the top-level text beyond this
	maxBlocks       = 50   // Slack: blocks per message
	maxNoticeText   = 3000
	// maxDigestText is a soft budget of block text per digest message, so
	// that one message stays comfortably under Slack's overall payload size.
	maxDigestText = 12000
	// maxLinkURL bounds a link's address; longer ones are shown unlinked.
	maxLinkURL = 2000
)

const dateLayout = "2 Jan 2006 15:04 MST" // bot.DateLayout

// RenderAlert renders an alert as Block Kit blocks and the plain fallback
// text Slack shows in notifications. Every piece of text that comes from a
// source is escaped, so that it can neither mention anyone nor add links or
// markup of its own. loc is the time zone dates are shown in (UTC if nil).
func RenderAlert(a policywire.Alert, loc *time.Location) ([]slack.Block, string) {
	if loc == nil {
		loc = time.UTC
	}
	it := a.Item
	title := displayTitle(it)
	link, linked := safeURL(itemURL(it))

	var blocks []slack.Block
	head := section(linkedTitle(title, link, linked))
	head.Accessory = alertMenu(it)
	blocks = append(blocks, head)

	var meta []string
	if src := sourceName(a); src != "" {
		meta = append(meta, escapeText(src))
	}
	if d := it.Date(); !d.IsZero() {
		meta = append(meta, d.In(loc).Format(dateLayout))
	}
	if topics := cleanList(a.Topics); len(topics) > 0 {
		meta = append(meta, escapeText(strings.Join(topics, ", ")))
	}
	if len(meta) > 0 {
		blocks = append(blocks, contextText(limitMarkup(strings.Join(meta, " · "), maxSectionText)))
	}

	if summary := cleanMultiline(it.Summary); summary != "" {
		blocks = append(blocks, section(escapeLimit(summary, maxSectionText)))
	}

	if refs := cleanList(it.References); len(refs) > 0 {
		blocks = append(blocks, contextText(escapeLimit("References: "+strings.Join(refs, ", "), maxSectionText)))
	}

	if also := alsoLine(a.Also, true); also != "" {
		blocks = append(blocks, contextText(also))
	}
	if note := a.Edited.Note(loc); note != "" {
		blocks = append(blocks, contextText(escapeText(note)))
	}

	return blocks, alertFallback(a, title, loc)
}

// alertFallback is the plain text of an alert: "title — source, date, url".
func alertFallback(a policywire.Alert, title string, loc *time.Location) string {
	var parts []string
	if src := sourceName(a); src != "" {
		parts = append(parts, src)
	}
	if d := a.Item.Date(); !d.IsZero() {
		parts = append(parts, d.In(loc).Format(dateLayout))
	}
	text := title
	if len(parts) > 0 {
		text += " — " + strings.Join(parts, ", ")
	}
	escaped := escapeLimit(text, maxFallbackText)
	if u, ok := safeURL(itemURL(a.Item)); ok && utf16Len(escaped)+2+utf16Len(u) <= maxFallbackText {
		escaped += ", " + u
	}
	return escaped
}

// renderDigestItem is one entry of a digest: the linked title, then source
// and date, then the story's other sources.
func renderDigestItem(a policywire.Alert, loc *time.Location) string {
	it := a.Item
	title := displayTitle(it)
	link, linked := safeURL(itemURL(it))
	line := "• " + linkedTitle(title, link, linked)
	var meta []string
	if src := sourceName(a); src != "" {
		meta = append(meta, escapeText(src))
	}
	if d := it.Date(); !d.IsZero() {
		meta = append(meta, d.In(loc).Format(dateLayout))
	}
	if len(meta) > 0 {
		line += "\n" + strings.Join(meta, " · ")
	}
	if also := alsoLine(a.Also, false); also != "" {
		line += "\n" + also
	}
	return limitMarkup(line, maxSectionText)
}

// renderDigest splits a digest into messages that each respect Slack's
// block limits. The split depends only on the digest, so a retry produces
// the same parts.
func renderDigest(d policywire.Digest, loc *time.Location) []digestPart {
	if loc == nil {
		loc = time.UTC
	}
	title := strings.TrimSpace(collapseSpace(clean(d.Title)))
	if title == "" {
		title = "Digest"
	}
	title = truncateRunes(title, maxTitleRunes)

	var parts []digestPart
	var cur *digestPart
	startPart := func() {
		parts = append(parts, digestPart{})
		cur = &parts[len(parts)-1]
	}
	startPart()
	cur.blocks = append(cur.blocks, section("*"+escapeText(title)+"*"))
	cur.textSize = utf16Len(title)
	if len(d.Alerts) == 0 {
		cur.blocks = append(cur.blocks, contextText("No new items."))
	}
	for _, a := range d.Alerts {
		entry := renderDigestItem(a, loc)
		size := utf16Len(entry)
		if len(cur.blocks)+1 > maxBlocks || (cur.items > 0 && cur.textSize+size > maxDigestText) {
			startPart()
			cur.blocks = append(cur.blocks, contextText("*"+escapeText(title)+"* (continued)"))
		}
		cur.blocks = append(cur.blocks, section(entry))
		cur.textSize += size
		cur.items++
	}
	for i := range parts {
		n := len(parts)
		fallback := fmt.Sprintf("%s: %d items", title, len(d.Alerts))
		if n > 1 {
			fallback = fmt.Sprintf("%s (%d/%d): %d items", title, i+1, n, parts[i].items)
		}
		parts[i].fallback = escapeLimit(fallback, maxFallbackText)
	}
	return parts
}

type digestPart struct {
	blocks   []slack.Block
	fallback string
	items    int
	textSize int
}

// renderNotice renders an admin notice: escaped text in one section.
func renderNotice(text string) ([]slack.Block, string) {
	body := cleanMultiline(text)
	if body == "" {
		body = "(empty notice)"
	}
	escaped := escapeLimit(body, maxNoticeText)
	return []slack.Block{section(escaped)}, escaped
}

func section(mrkdwn string) *slack.SectionBlock {
	// verbatim: Slack must not turn bare URLs, channel names or @words into
	// links or mentions; only the links written here are links.
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, limitMarkup(mrkdwn, maxSectionText), false, true), nil, nil)
}

func contextText(mrkdwn string) *slack.ContextBlock {
	return slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, limitMarkup(mrkdwn, maxSectionText), false, true))
}

// linkedTitle is the bold title, linked when the link fits: a title that
// escaping made long (every & is five characters) with a long address
// could pass the section limit together, and then goes unlinked.
func linkedTitle(title, link string, linked bool) string {
	escaped := escapeText(title)
	if linked && utf16Len(link) <= maxLinkURL && utf16Len(link)+utf16Len(escaped)+len("*<|>*") <= maxSectionText-len("• ") {
		return "*<" + link + "|" + escaped + ">*"
	}
	return "*" + escaped + "*"
}

// alsoLine renders "Also reported by: <url|Source>, …" (the names alone
// unless linked), dropping entries (never cutting one in half) to stay
// within a context block's limit.
func alsoLine(also []policywire.AlsoReported, linked bool) string {
	const prefix = "Also reported by: "
	var entries []string
	for _, ar := range also {
		name := strings.TrimSpace(collapseSpace(clean(ar.SourceName)))
		if name == "" {
			name = strings.TrimSpace(collapseSpace(clean(ar.Source)))
		}
		if name == "" {
			name = "another source"
		}
		name = truncateRunes(name, maxTitleRunes)
		if u, ok := safeURL(ar.URL); linked && ok && utf16Len(u) <= maxLinkURL {
			entries = append(entries, "<"+u+"|"+escapeText(name)+">")
		} else {
			entries = append(entries, escapeText(name))
		}
	}
	if len(entries) == 0 {
		return ""
	}
	line := prefix
	for i, e := range entries {
		sep := ""
		if i > 0 {
			sep = ", "
		}
		more := fmt.Sprintf(" and %d more", len(entries)-i)
		if utf16Len(line)+utf16Len(sep)+utf16Len(e)+utf16Len(" and 000 more") > maxSectionText {
			if i == 0 {
				return prefix + strings.TrimSpace(more)
			}
			return line + more
		}
		line += sep + e
	}
	return line
}

func sourceName(a policywire.Alert) string {
	name := strings.TrimSpace(collapseSpace(clean(a.SourceName)))
	if name == "" {
		name = strings.TrimSpace(collapseSpace(clean(a.Item.Source)))
	}
	return truncateRunes(name, maxTitleRunes)
}

// displayTitle is the item's title on one line, cleaned and bounded.
func displayTitle(it policywire.Item) string {
	title := strings.TrimSpace(collapseSpace(clean(it.Title)))
	if title == "" {
		title = strings.TrimSpace(clean(itemURL(it)))
	}
	if title == "" {
		title = "(untitled)"
	}
	return truncateRunes(title, maxTitleRunes)
}

func itemURL(it policywire.Item) string {
	if strings.TrimSpace(it.URL) != "" {
		return it.URL
	}
	return it.CanonicalURL
}

// safeURL returns raw as the address part of a Slack link, or false when
// it is not an absolute http(s) URL. Characters that would end the link or
// start markup are percent-encoded; '&' is written as Slack's &amp;.
func safeURL(raw string) (string, bool) {
	raw = strings.TrimSpace(clean(raw))
	if raw == "" {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	default:
		return "", false
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.User = nil
	s := u.String()
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '&':
			b.WriteString("&amp;")
		case c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '|' || c == '"' || c == '`':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// isInvisible reports characters that hide or reorder text: zero-width
// characters and bidirectional overrides and isolates.
func isInvisible(r rune) bool {
	switch {
	case r >= 0x200B && r <= 0x200F,
		r >= 0x202A && r <= 0x202E,
		r >= 0x2066 && r <= 0x2069,
		r == 0xFEFF:
		return true
	}
	return false
}

// clean drops invisible and control characters; tabs become spaces and
// line breaks are kept.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\t' || r == '\r':
			return ' '
		case isInvisible(r), unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
}

// collapseSpace puts text on one line with single spaces.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// cleanMultiline keeps paragraphs (at most one blank line between them)
// and collapses spaces within lines.
func cleanMultiline(s string) string {
	lines := strings.Split(clean(s), "\n")
	var out []string
	blank := false
	for _, l := range lines {
		l = collapseSpace(l)
		if l == "" {
			blank = len(out) > 0
			continue
		}
		if blank {
			out = append(out, "")
			blank = false
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func cleanList(items []string) []string {
	var out []string
	for _, s := range items {
		if s = strings.TrimSpace(collapseSpace(clean(s))); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// broadcastWords are the words Slack treats as group mentions after "@".
var broadcastWords = []string{"here", "channel", "everyone"}

// neutralizeMentions puts a word joiner after the "@" of @here, @channel
// and @everyone, so that no client or setting turns them into a ping.
func neutralizeMentions(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] != '@' {
			continue
		}
		rest := s[i+1:]
		for _, w := range broadcastWords {
			if len(rest) >= len(w) && strings.EqualFold(rest[:len(w)], w) {
				b.WriteString("\u2060")
				break
			}
		}
	}
	return b.String()
}

// escapeText escapes text for Slack mrkdwn: cleaned, broadcast words
// neutralized, and the control characters &, < and > written as entities.
func escapeText(s string) string {
	return escapeLimit(s, -1)
}

// escapeLimit is escapeText bounded to max UTF-16 units (Slack's way of
// counting); a cut is marked with "…" and never splits an entity.
// max < 0 means no bound.
func escapeLimit(s string, max int) string {
	s = neutralizeMentions(clean(s))
	var b strings.Builder
	n := 0
	runes := []rune(s)
	for i, r := range runes {
		var piece string
		switch r {
		case '&':
			piece = "&amp;"
		case '<':
			piece = "&lt;"
		case '>':
			piece = "&gt;"
		default:
			piece = string(r)
		}
		size := utf16Len(piece)
		if max >= 0 {
			reserve := 0
			if i < len(runes)-1 {
				reserve = 1 // room for the ellipsis if more follows
			}
			if n+size+reserve > max {
				b.WriteString("…")
				return b.String()
			}
		}
		b.WriteString(piece)
		n += size
	}
	return b.String()
}

// limitMarkup bounds already escaped mrkdwn made of whole pieces; it cuts
// only at a line or " · " boundary so that no link is broken.
func limitMarkup(s string, max int) string {
	if utf16Len(s) <= max {
		return s
	}
	for _, sep := range []string{"\n", " · "} {
		// The longest prefix of whole pieces that fits with the ellipsis.
		best, n := -1, 0
		for off := 0; ; {
			i := strings.Index(s[off:], sep)
			if i < 0 {
				break
			}
			n += utf16Len(s[off : off+i])
			if n+1 > max {
				break
			}
			best = off + i
			n += utf16Len(sep)
			off += i + len(sep)
		}
		if best > 0 {
			return s[:best] + "…"
		}
	}
	// One piece alone is too long: fall back to its visible text.
	return escapeLimit(stripMarkup(s), max)
}

// stripMarkup turns escaped mrkdwn back into the plain text it shows:
// links become their label, entities their characters.
func stripMarkup(s string) string {
	var b strings.Builder
	for {
		start := strings.IndexByte(s, '<')
		if start < 0 {
			b.WriteString(s)
			break
		}
		end := strings.IndexByte(s[start:], '>')
		if end < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:start])
		link := s[start+1 : start+end]
		if bar := strings.IndexByte(link, '|'); bar >= 0 {
			b.WriteString(link[bar+1:])
		}
		s = s[start+end+1:]
	}
	r := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "*", "")
	return r.Replace(b.String())
}

func truncateRunes(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return strings.TrimSpace(string(r[:max-1])) + "…"
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
