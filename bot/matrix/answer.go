package matrix

import (
	"fmt"
	"html"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/policywire/policywire/bot"
)

// Bounds of a command answer.
const (
	maxAnswerLineRunes    = 1000
	maxAnswerSnippetRunes = 500
	// maxAnswerEventBytes bounds the JSON content of one answer; long lists
	// (sources of a big config) are cut with a note of what was left out.
	maxAnswerEventBytes = 48_000
)

// answer renders a command's answer as an m.notice: a plain body (the
// answer's Plain form, cleaned, where the entries are numbered) and HTML
// with the entries as a list of linked titles and «marked» words in bold
// (a bulleted list, as the sanitizing policy allows no <ol>). Text from the archive
// is escaped and cleaned like alert text, so it cannot ping or inject
// markup.
func (r *renderer) answer(a bot.Answer) content {
	a = cleanAnswer(a)
	var c content
	for keepLines, keepEntries := len(a.Lines), len(a.Entries); ; {
		c = r.answerAt(a, keepLines, keepEntries)
		if jsonSize(c) <= maxAnswerEventBytes || (keepLines == 0 && keepEntries == 0) {
			return c
		}
		if keepLines > 0 {
			keepLines = keepLines * 3 / 4
		} else {
			keepEntries = keepEntries * 3 / 4
		}
	}
}

func (r *renderer) answerAt(a bot.Answer, keepLines, keepEntries int) content {
	cut := bot.Answer{Text: a.Text, Entries: a.Entries[:keepEntries], Lines: a.Lines[:keepLines]}
	if n := len(a.Entries) - keepEntries; n > 0 {
		cut.Lines = append([]string{fmt.Sprintf("(%d more not shown)", n)}, cut.Lines...)
	}
	if n := len(a.Lines) - keepLines; n > 0 {
		cut.Lines = append(cut.Lines, fmt.Sprintf("… and %d more lines", n))
	}

	var h strings.Builder
	if cut.Text != "" {
		h.WriteString("<p>" + html.EscapeString(cut.Text) + "</p>")
	}
	if len(cut.Entries) > 0 {
		h.WriteString("<ul>")
		for _, e := range cut.Entries {
			h.WriteString("<li>")
			if e.URL != "" {
				fmt.Fprintf(&h, `<a href="%s">%s</a>`, html.EscapeString(e.URL), html.EscapeString(e.Title))
			} else {
				h.WriteString(html.EscapeString(e.Title))
			}
			if e.Meta != "" {
				h.WriteString("<br>" + html.EscapeString(e.Meta))
			}
			if e.Snippet != "" {
				h.WriteString("<br>" + markedHTML(e.Snippet))
			}
			h.WriteString("</li>")
		}
		h.WriteString("</ul>")
	}
	if len(cut.Lines) > 0 {
		h.WriteString("<p>")
		for i, l := range cut.Lines {
			if i > 0 {
				h.WriteString("<br>")
			}
			h.WriteString(lineHTML(l))
		}
		h.WriteString("</p>")
	}
	c := content{}
	c.MessageEventContent = r.message(plainAnswer(cut), h.String())
	return c
}

// plainAnswer is Answer.Plain without the empty link line of an entry
// that has no safe link.
func plainAnswer(a bot.Answer) string {
	body := a.Plain()
	return strings.ReplaceAll(body, "\n   \n", "\n")
}

// cleanAnswer applies the alert text rules to every part of an answer:
// no invisible or control characters, "@room" defused, bounded lengths,
// links only when they are absolute http(s).
func cleanAnswer(a bot.Answer) bot.Answer {
	out := bot.Answer{Text: cleanLine(a.Text, maxAnswerLineRunes), Public: a.Public}
	for _, e := range a.Entries {
		ce := bot.Entry{
			Title:   cleanText(e.Title, maxTitleRunes),
			Meta:    cleanText(e.Meta, maxAnswerLineRunes),
			Snippet: cleanText(e.Snippet, maxAnswerSnippetRunes),
		}
		if ce.Title == "" {
			ce.Title = "(untitled)"
		}
		if link, ok := safeURL(e.URL); ok {
			ce.URL = link
		}
		out.Entries = append(out.Entries, ce)
	}
	for _, l := range a.Lines {
		out.Lines = append(out.Lines, cleanLine(l, maxAnswerLineRunes))
	}
	return out
}

// cleanLine is cleanText for one line whose spacing matters (the caret
// under a query error): invisible characters go, control characters
// become spaces, but runs of spaces stay.
func cleanLine(s string, max int) string {
	s = truncateRunes(strings.TrimRightFunc(visible(s), unicode.IsSpace), max)
	return roomPing.ReplaceAllString(s, "@ $1")
}

// markedHTML escapes a snippet and turns its «marked» words into bold.
// Unbalanced marks are dropped or closed, so the tags always pair.
func markedHTML(s string) string {
	var b strings.Builder
	open := false
	for {
		i := strings.IndexAny(s, "«»")
		if i < 0 {
			b.WriteString(html.EscapeString(s))
			break
		}
		b.WriteString(html.EscapeString(s[:i]))
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '«' && !open:
			b.WriteString("<b>")
			open = true
		case r == '»' && open:
			b.WriteString("</b>")
			open = false
		}
		s = s[i+size:]
	}
	if open {
		b.WriteString("</b>")
	}
	return b.String()
}

// lineHTML escapes a line; one that starts with spaces (a query and the
// caret under it) is shown in monospace with its spacing kept.
func lineHTML(l string) string {
	if !strings.HasPrefix(l, "  ") {
		return html.EscapeString(l)
	}
	return "<code>" + strings.ReplaceAll(html.EscapeString(l), " ", "\u00a0") + "</code>"
}
