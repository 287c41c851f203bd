package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/slack-go/slack"

	"github.com/policywire/policywire/bot"
)

// Bounds of a rendered command answer, within Slack's block limits.
const (
	maxSnippetText = 1000
	maxMetaText    = 600
)

// Slack's response types of a command reply.
const (
	responseEphemeral = "ephemeral"
	responseInChannel = "in_channel"
)

// CommandResponse is the message a slash command is answered with: inline
// as the HTTP reply or the Socket Mode acknowledgement, or later through
// the command's response_url.
type CommandResponse struct {
	ResponseType string        `json:"response_type"`
	Text         string        `json:"text"`
	Blocks       []slack.Block `json:"blocks,omitempty"`
	// ReplaceOriginal is sent with a response_url post: false unless set,
	// so that an answer replaces an earlier message only when it says so
	// (the next page of a search).
	ReplaceOriginal *bool `json:"replace_original,omitempty"`
	UnfurlLinks     bool  `json:"unfurl_links"`
	UnfurlMedia     bool  `json:"unfurl_media"`
}

// NewCommandResponse renders an answer as a command response: ephemeral
// unless the answer is public, Block Kit blocks and the plain fallback.
func NewCommandResponse(a bot.Answer) CommandResponse {
	blocks, text := RenderAnswer(a)
	if len(a.Actions) > 0 && len(blocks) < maxBlocks {
		blocks = append(blocks, actionsBlock(a.Actions))
	}
	kind := responseEphemeral
	if a.Public {
		kind = responseInChannel
	}
	return CommandResponse{ResponseType: kind, Text: text, Blocks: blocks}
}

// ephemeralText is a short reply only the asker sees.
func ephemeralText(text string) CommandResponse {
	escaped := escapeLimit(cleanMultiline(text), maxSectionText)
	return CommandResponse{
		ResponseType: responseEphemeral,
		Text:         escaped,
		Blocks:       []slack.Block{section(escaped)},
	}
}

// RenderAnswer renders a command answer as Block Kit blocks and the plain
// fallback text. The lead text is one section, each entry one section
// (linked title, source and date, the snippet with its «marked» words in
// bold), and the lines follow in sections of their own. Everything is
// escaped as alerts are, so that text from a source can neither mention
// anyone nor add links; only http(s) item URLs become links. The result
// stays within Slack's limits: at most 50 blocks, at most 3000 characters
// a section.
func RenderAnswer(a bot.Answer) ([]slack.Block, string) {
	var blocks []slack.Block
	if lead := cleanMultiline(a.Text); lead != "" {
		blocks = append(blocks, section(escapeLimit(lead, maxSectionText)))
	}
	entries := make([]string, 0, len(a.Entries))
	for _, e := range a.Entries {
		entries = append(entries, renderEntry(e))
	}
	lines := renderLines(a.Lines)

	// Entries come first; lines give way to entries, and whatever does not
	// fit in the block budget is counted in a last context block.
	room := maxBlocks - len(blocks)
	if len(entries)+len(lines) > room {
		room-- // for the "more" note
	}
	shownEntries := min(len(entries), room)
	shownLines := min(len(lines), room-shownEntries)
	for _, e := range entries[:shownEntries] {
		blocks = append(blocks, section(e))
	}
	for _, l := range lines[:shownLines] {
		blocks = append(blocks, section(l))
	}
	if hidden := len(entries) - shownEntries; hidden > 0 {
		blocks = append(blocks, contextText(fmt.Sprintf("… and %d more not shown.", hidden)))
	} else if shownLines < len(lines) {
		blocks = append(blocks, contextText("… (cut to fit in one message)"))
	}
	if len(blocks) == 0 {
		blocks = append(blocks, section("(no answer)"))
	}
	return blocks, escapeLimit(a.Plain(), maxFallbackText)
}

// renderEntry is one entry: "*<url|title>*", then the meta line, then the
// snippet.
func renderEntry(e bot.Entry) string {
	title := strings.TrimSpace(collapseSpace(clean(e.Title)))
	if title == "" {
		title = strings.TrimSpace(collapseSpace(clean(e.URL)))
	}
	if title == "" {
		title = "(untitled)"
	}
	title = truncateRunes(title, maxTitleRunes)
	link, linked := safeURL(e.URL)
	parts := []string{linkedTitle(title, link, linked)}
	if meta := strings.TrimSpace(collapseSpace(clean(e.Meta))); meta != "" {
		parts = append(parts, escapeLimit(meta, maxMetaText))
	}
	if snippet := snippetMarkup(e.Snippet, maxSnippetText); snippet != "" {
		parts = append(parts, snippet)
	}
	return limitMarkup(strings.Join(parts, "\n"), maxSectionText)
}

// snippetMarkup escapes a snippet and shows its «marked» words in bold,
// within max UTF-16 units; a bold run is never cut open.
func snippetMarkup(s string, max int) string {
	s = strings.TrimSpace(collapseSpace(clean(s)))
	if s == "" {
		return ""
	}
	var b strings.Builder
	n := 0
	for _, seg := range splitMarks(s) {
		var piece string
		if seg.marked {
			piece = "*" + escapeText(seg.text) + "*"
		} else {
			piece = escapeText(seg.text)
		}
		size := utf16Len(piece)
		if n+size+1 > max {
			if !seg.marked {
				b.WriteString(strings.TrimSuffix(escapeLimit(seg.text, max-n-1), "…"))
			}
			b.WriteString("…")
			return b.String()
		}
		b.WriteString(piece)
		n += size
	}
	return b.String()
}

type markSegment struct {
	text   string
	marked bool
}

// splitMarks splits a snippet at its « » markers. A marker without its
// partner is dropped; marked text is trimmed, since Slack shows "* word *"
// as it is rather than in bold.
func splitMarks(s string) []markSegment {
	var segs []markSegment
	add := func(text string, marked bool) {
		if marked {
			text = strings.TrimSpace(text)
		}
		if text == "" {
			return
		}
		if !marked && len(segs) > 0 && !segs[len(segs)-1].marked {
			segs[len(segs)-1].text += text
			return
		}
		segs = append(segs, markSegment{text: text, marked: marked})
	}
	for s != "" {
		open := strings.Index(s, "«")
		if open < 0 {
			add(strings.ReplaceAll(s, "»", ""), false)
			break
		}
		add(strings.ReplaceAll(s[:open], "»", ""), false)
		rest := s[open+len("«"):]
		end := strings.Index(rest, "»")
		if end < 0 {
			add(strings.ReplaceAll(rest, "«", ""), false)
			break
		}
		inner := rest[:end]
		// "«a «b» c»": the innermost opening marker starts the run.
		if i := strings.LastIndex(inner, "«"); i >= 0 {
			add(inner[:i], false)
			inner = inner[i+len("«"):]
		}
		add(inner, true)
		s = rest[end+len("»"):]
	}
	for i := range segs {
		if !segs[i].marked {
			segs[i].text = squeezeSpaces(segs[i].text)
		}
	}
	return segs
}

// squeezeSpaces turns runs of spaces (left where a stray marker was
// dropped) into one.
func squeezeSpaces(s string) string {
	for strings.Contains(s, "  ") {
		s = strings.ReplaceAll(s, "  ", " ")
	}
	return s
}

// renderLines escapes the answer's lines and packs them into sections of at
// most maxSectionText. A run of lines indented by two spaces (such as a
// query with a caret under the error) is shown preformatted, so that the
// columns line up.
func renderLines(lines []string) []string {
	var pieces []string
	for i := 0; i < len(lines); {
		if strings.HasPrefix(lines[i], "  ") {
			j := i
			var pre []string
			for j < len(lines) && strings.HasPrefix(lines[j], "  ") {
				pre = append(pre, escapeLimit(strings.TrimRight(collapseLine(lines[j]), " "), maxSectionText/4))
				j++
			}
			pieces = append(pieces, "```\n"+strings.Join(pre, "\n")+"\n```")
			i = j
			continue
		}
		if l := strings.TrimSpace(collapseSpace(clean(lines[i]))); l != "" {
			pieces = append(pieces, escapeLimit(l, maxSectionText))
		}
		i++
	}
	var sections []string
	var cur []string
	size := 0
	for _, p := range pieces {
		n := utf16Len(p)
		if len(cur) > 0 && size+1+n > maxSectionText {
			sections = append(sections, strings.Join(cur, "\n"))
			cur, size = nil, 0
		}
		if len(cur) > 0 {
			size++
		}
		cur = append(cur, p)
		size += n
	}
	if len(cur) > 0 {
		sections = append(sections, strings.Join(cur, "\n"))
	}
	return sections
}

// collapseLine cleans one line but keeps its spacing (for preformatted
// text), with no line breaks and no backticks that could end the block.
func collapseLine(s string) string {
	s = strings.ReplaceAll(clean(s), "\n", " ")
	return strings.ReplaceAll(s, "`", "'")
}

// postResponse posts a command response to its response_url.
func postResponse(ctx context.Context, hc *http.Client, responseURL string, r CommandResponse) error {
	if r.ReplaceOriginal == nil {
		no := false
		r.ReplaceOriginal = &no
	}
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("slack: encode command response: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("slack: response_url request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := hc.Do(req)
	if err != nil {
		// The URL holds a one-time token; the error names only its host.
		return fmt.Errorf("slack: post to response_url at %s: %w", req.URL.Host, stripURLError(err))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("slack: response_url at %s answered %s: %s", req.URL.Host, resp.Status, strings.TrimSpace(clip(string(msg), 200)))
	}
	return nil
}

// stripURLError drops the URL (and its token) from a client error.
func stripURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
