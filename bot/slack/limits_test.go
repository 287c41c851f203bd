package slack

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
)

// Slack's published Block Kit limits, from the Block Kit reference
// (api.slack.com/reference/block-kit/blocks and …/composition-objects):
// 50 blocks a message; a section's text 3000 characters, its fields at
// most 10 of 2000 each; a context block 1 to 10 elements; a header's
// plain text 150; a button's text 75; an actions block 25 elements; a
// block_id 255; an overflow menu 2 to 5 options, an option's text 75 and
// value 150, an action_id 255. Characters are counted in UTF-16 units. The fallback text
// is held to this package's own 4000.
var slackLimits = struct {
	blocks, sectionText, fields, fieldText, contextElems, contextText, headerText, buttonText, actionElems, blockID int
	minOverflowOptions, maxOverflowOptions, optionText, optionValue, actionID                                       int
}{50, 3000, 10, 2000, 10, 3000, 150, 75, 25, 255, 2, 5, 75, 150, 255}

// checkSlackMessage walks the blocks as Slack receives them (JSON) and
// fails on any limit exceeded, whatever the block type.
func checkSlackMessage(t *testing.T, what string, blocks []slack.Block, fallback string) {
	t.Helper()
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var bs []map[string]any
	if err := json.Unmarshal(raw, &bs); err != nil {
		t.Fatal(err)
	}
	if len(bs) == 0 || len(bs) > slackLimits.blocks {
		t.Errorf("%s: %d blocks, Slack takes 1 to %d", what, len(bs), slackLimits.blocks)
	}
	if n := utf16Len(fallback); n > maxFallbackText {
		t.Errorf("%s: fallback text of %d units", what, n)
	}
	text := func(v any) string {
		m, _ := v.(map[string]any)
		s, _ := m["text"].(string)
		return s
	}
	over := func(where string, got, limit int) {
		if got > limit {
			t.Errorf("%s: %s is %d, Slack allows %d", what, where, got, limit)
		}
	}
	for i, b := range bs {
		where := fmt.Sprintf("block %d (%v)", i, b["type"])
		if id, ok := b["block_id"].(string); ok {
			over(where+" block_id", utf16Len(id), slackLimits.blockID)
		}
		switch b["type"] {
		case "section":
			over(where+" text", utf16Len(text(b["text"])), slackLimits.sectionText)
			fields, _ := b["fields"].([]any)
			over(where+" fields", len(fields), slackLimits.fields)
			for _, f := range fields {
				over(where+" field text", utf16Len(text(f)), slackLimits.fieldText)
			}
			if acc, ok := b["accessory"].(map[string]any); ok {
				checkAccessory(t, what+": "+where, acc, over)
			}
		case "context":
			elems, _ := b["elements"].([]any)
			if len(elems) == 0 {
				t.Errorf("%s: %s has no elements", what, where)
			}
			over(where+" elements", len(elems), slackLimits.contextElems)
			for _, e := range elems {
				over(where+" element text", utf16Len(text(e)), slackLimits.contextText)
			}
		case "header":
			over(where+" text", utf16Len(text(b["text"])), slackLimits.headerText)
		case "actions":
			elems, _ := b["elements"].([]any)
			over(where+" elements", len(elems), slackLimits.actionElems)
			for _, e := range elems {
				m, _ := e.(map[string]any)
				over(where+" button text", utf16Len(text(m["text"])), slackLimits.buttonText)
			}
		case "divider":
		default:
			t.Errorf("%s: %s is a block type this check does not know; add its limits", what, where)
		}
	}
}

// checkAccessory checks a section's accessory; policywire puts only
// overflow menus there.
func checkAccessory(t *testing.T, where string, acc map[string]any, over func(string, int, int)) {
	t.Helper()
	if acc["type"] != "overflow" {
		t.Errorf("%s: accessory of type %v, which this check does not know; add its limits", where, acc["type"])
		return
	}
	id, _ := acc["action_id"].(string)
	over(where+" overflow action_id", utf16Len(id), slackLimits.actionID)
	opts, _ := acc["options"].([]any)
	if len(opts) < slackLimits.minOverflowOptions {
		t.Errorf("%s: overflow menu of %d options, Slack takes %d to %d", where, len(opts), slackLimits.minOverflowOptions, slackLimits.maxOverflowOptions)
	}
	over(where+" overflow options", len(opts), slackLimits.maxOverflowOptions)
	for _, o := range opts {
		m, _ := o.(map[string]any)
		txt, _ := m["text"].(map[string]any)
		s, _ := txt["text"].(string)
		if s == "" {
			t.Errorf("%s: an overflow option without text", where)
		}
		over(where+" option text", utf16Len(s), slackLimits.optionText)
		v, _ := m["value"].(string)
		over(where+" option value", utf16Len(v), slackLimits.optionValue)
	}
}

// hostile makes long strings of what grows when escaped or counted in
// UTF-16: entities, astral emoji, mention syntax, markup, control runes.
type hostile struct{ r *rand.Rand }

var hostilePieces = []string{"&", "<", ">", "😀", "*", "_", "~", "`", "|", "<!channel>", "<@U123>", "\u202e", "\u200b", "é", " ", "\n", "a"}

func (h hostile) text(n int) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(hostilePieces[h.r.IntN(len(hostilePieces))])
	}
	return b.String()
}

// url is a valid https address of about n bytes, full of characters that
// Slack's markup would need escaped.
func (h hostile) url(n int) string {
	u := "https://www.consilium.europa.eu/en/press/?q="
	for len(u) < n {
		u += []string{"a&b=", "%3C", "x", "xxxxxxxxxx", "~", "-"}[h.r.IntN(6)]
	}
	return u
}

func (h hostile) alert(i int) policywire.Alert {
	long := []int{10, 300, 1000, 5000}
	pick := func() int { return long[h.r.IntN(len(long))] }
	var also []policywire.AlsoReported
	for range h.r.IntN(60) {
		also = append(also, policywire.AlsoReported{Source: h.text(20), SourceName: h.text(pick()), Title: h.text(pick()), URL: h.url(h.r.IntN(2000) + 30)})
	}
	return policywire.Alert{
		ID: fmt.Sprintf("a%d", i), SourceName: h.text(pick()), Topics: []string{h.text(pick()), h.text(pick())},
		Item: policywire.Item{
			Source: "src", Title: h.text(pick()), URL: h.url(h.r.IntN(2000) + 30), Summary: h.text(pick() * 4),
			References: []string{h.text(pick()), h.text(pick())}, Published: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC),
		},
		Also: also,
	}
}

func TestEveryRendererStaysWithinSlackLimits(t *testing.T) {
	h := hostile{rand.New(rand.NewPCG(15, 3000))}
	for i := range 100 {
		a := h.alert(i)
		blocks, fallback := RenderAlert(a, time.UTC)
		checkSlackMessage(t, fmt.Sprintf("alert %d", i), blocks, fallback)
	}
	// Titles of long words (astral letters among them) and long source ids
	// fill the alert menu's option values.
	menus := 0
	letters := []string{"a", "é", "ß", "𝒜", "Ж", "x"}
	for i := range 60 {
		a := h.alert(i)
		var title []string
		for range 1 + h.r.IntN(8) {
			var w strings.Builder
			for range 1 + h.r.IntN(80) {
				w.WriteString(letters[h.r.IntN(len(letters))])
			}
			title = append(title, w.String())
		}
		a.Item.Title = strings.Join(title, " ")
		a.Item.Source = strings.Repeat("s", 1+h.r.IntN(200))
		blocks, fallback := RenderAlert(a, time.UTC)
		checkSlackMessage(t, fmt.Sprintf("alert %d with a menu", i), blocks, fallback)
		if blocks[0].(*slack.SectionBlock).Accessory != nil {
			menus++
		}
	}
	if menus < 10 {
		t.Errorf("only %d of 60 alerts had a menu to check", menus)
	}
	// The case Slack refused: a title that escaping makes long, linked to
	// a long address.
	longLink := "https://www.consilium.europa.eu/en/press/" + strings.Repeat("a", 1950)
	worst := policywire.Alert{ID: "w", Item: policywire.Item{Title: strings.Repeat("&", 400), URL: longLink},
		Also: []policywire.AlsoReported{{SourceName: strings.Repeat("<", 400), URL: longLink}}}
	blocks, fallback := RenderAlert(worst, time.UTC)
	checkSlackMessage(t, "escaped title with a long link", blocks, fallback)

	for n, size := range []int{1, 7, 150} {
		d := policywire.Digest{ID: fmt.Sprintf("d%d", n), Channel: "c", Title: h.text(5000)}
		for i := range size {
			d.Alerts = append(d.Alerts, h.alert(i))
		}
		d.Alerts = append(d.Alerts, worst)
		for p, part := range renderDigest(d, time.UTC) {
			checkSlackMessage(t, fmt.Sprintf("digest of %d, part %d", size, p+1), part.blocks, part.fallback)
		}
	}

	for _, n := range []int{0, 10, 5000, 100000} {
		blocks, fallback := renderNotice(h.text(n))
		checkSlackMessage(t, fmt.Sprintf("notice of %d", n), blocks, fallback)
	}

	for n := range 40 {
		a := bot.Answer{Text: h.text(n * 200), Public: n%2 == 0}
		for range h.r.IntN(80) {
			a.Entries = append(a.Entries, bot.Entry{Title: h.text(h.r.IntN(3000)), URL: h.url(h.r.IntN(2000) + 30), Meta: h.text(h.r.IntN(2000)), Snippet: "«" + h.text(h.r.IntN(3000)) + "»"})
		}
		a.Entries = append(a.Entries, bot.Entry{Title: strings.Repeat("&", 400), URL: longLink})
		for range h.r.IntN(80) {
			a.Lines = append(a.Lines, h.text(h.r.IntN(4000)))
		}
		resp := NewCommandResponse(a)
		checkSlackMessage(t, fmt.Sprintf("answer %d", n), resp.Blocks, resp.Text)
	}
	for _, n := range []int{0, 5000, 100000} {
		resp := ephemeralText(h.text(n))
		checkSlackMessage(t, fmt.Sprintf("short reply of %d", n), resp.Blocks, resp.Text)
	}
}
