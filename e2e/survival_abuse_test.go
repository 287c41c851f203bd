package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/internal/testenv"
)

// hostileItems are what a compromised or careless source could publish.
func hostileItems(published time.Time) []e2eharness.FeedItem {
	return []e2eharness.FeedItem{
		{
			Title:       "Ministers <!channel> meet <!here> on @here cyber diplomacy <@U123> @everyone",
			Link:        "https://news.example.org/abuse/mentions",
			Description: "Read <https://evil.example|click> now & tell <!everyone> @room @channel <#C999> <!subteam^S1|@team>",
		},
		{
			Title:       `Council statement <b>bold</b><script>alert("title")</script>`,
			Link:        "https://news.example.org/abuse/script",
			Description: `<p>Statement.</p><script>alert(1)</script><a href="javascript:alert(2)">click here</a><img src=x onerror="alert(3)"><iframe src="https://evil.example"></iframe>`,
		},
		{
			Title:       "Javascript link notice",
			Link:        "javascript:alert(document.cookie)",
			Description: "The link of this item is a script.",
		},
		{
			Title:       strings.Repeat("Cyber diplomacy and digital partnerships ", 250), // 10 KB
			Link:        "https://news.example.org/abuse/long",
			Description: strings.Repeat("A very long summary sentence about tech ambassadors. ", 400),
		},
		{
			Title:       "Trusted\u200b notice \u202Etxet desrever\u202C from the\u2066 embassy\u2069\uFEFF\u200d",
			Link:        "https://news.example.org/abuse/invisible",
			Description: "Zero\u200bwidth and \u202Eright-to-left\u202C override.",
		},
	}
}

var (
	// slackMarkup is anything Slack would act on: <...> tokens.
	slackMarkup = regexp.MustCompile(`<[^<>]*>`)
	// invisibles are the characters that hide or reorder text.
	invisibles = regexp.MustCompile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
	hrefs      = regexp.MustCompile(`(?i)href\s*=\s*"([^"]*)"`)
)

const ourLinks = "https://news.example.org/abuse/"

// TestSurvivalAbuse: items whose text holds Slack mentions and links,
// broadcast words, HTML with scripts, javascript: links, 10 KB titles and
// invisible or direction-changing characters are posted to Slack and to
// Matrix by `run --once`; every message, as the servers received it, is
// inert (no mention, no foreign link, no markup, no hidden characters) and
// bounded.
func TestSurvivalAbuse(t *testing.T) {
	t.Parallel()
	sl := slackfake.New(t)
	mx := newMatrixRoom(t)
	fx := testenv.NewFixtureServer(t)
	items := hostileItems(recent())
	for i := range items {
		items[i].Published = recent().Add(time.Duration(i) * time.Minute)
	}
	fx.Set("/abuse.rss", e2eharness.RSS("Abuse", fx.URL, items), e2eharness.RSSContentType)

	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_TOKEN="+mx.botToken)
	env.WriteConfig(setup{
		dataDir: env.DataDir(), slackURL: sl.URL(), matrixURL: mx.hs.URL, matrixUser: mx.botUser,
		sources:  []source{{id: "abuse", url: fx.URL + "/abuse.rss"}},
		channels: []channel{{id: "desk", slack: "C0ABUSE"}, {id: "room", matrix: string(mx.room)}},
	}.yaml())
	if r := env.Run(90*time.Second, "run", "--once"); r.Code != 0 {
		t.Fatalf("run --once failed\n%s", r)
	}

	// The javascript: item may be posted without a link or not at all;
	// the others must arrive.
	posts := sl.Posts("C0ABUSE")
	if len(posts) < len(items)-1 {
		t.Fatalf("Slack received %d posts, want at least %d", len(posts), len(items)-1)
	}
	for _, p := range posts {
		checkSlackPostInert(t, p)
	}

	contents := botContents(t, mx)
	if len(contents) < len(items)-1 {
		t.Fatalf("Matrix received %d notices, want at least %d", len(contents), len(items)-1)
	}
	for _, c := range contents {
		checkMatrixEventInert(t, c)
	}
}

func checkSlackPostInert(t *testing.T, p slackfake.Post) {
	t.Helper()
	texts := []string{p.Text}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "text" {
					texts = append(texts, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var blocks any
	if err := json.Unmarshal(p.Blocks, &blocks); err != nil {
		t.Fatalf("post blocks: %v", err)
	}
	walk(blocks)
	size := 0
	for _, s := range texts {
		size += utf16Len(s)
		for _, tok := range slackMarkup.FindAllString(s, -1) {
			if !strings.HasPrefix(tok, "<"+ourLinks) {
				t.Errorf("slack: live markup %q in %q", tok, clipText(s))
			}
			if strings.Contains(strings.ToLower(tok), "javascript:") {
				t.Errorf("slack: javascript link %q", tok)
			}
		}
		lower := strings.ToLower(s)
		for _, w := range []string{"@here", "@channel", "@everyone"} {
			if strings.Contains(lower, w) {
				t.Errorf("slack: bare %s in %q", w, clipText(s))
			}
		}
		// The renderer's own word joiner after "@" is what defuses
		// @here; any other invisible character came from the source.
		if invisibles.MatchString(strings.ReplaceAll(s, "@\u2060", "@")) {
			t.Errorf("slack: invisible characters in %q", clipText(s))
		}
		if utf16Len(s) > 3000 {
			t.Errorf("slack: text of %d characters", utf16Len(s))
		}
	}
	// A 10 KB title and a 20 KB summary make a message of a few KB at most.
	if size > 8000 {
		t.Errorf("slack: message of %d characters in all; not bounded", size)
	}
	if v := p.Form.Get("link_names"); v == "1" || v == "true" {
		t.Errorf("slack: posted with link_names=%s", v)
	}
}

func checkMatrixEventInert(t *testing.T, c map[string]any) {
	t.Helper()
	body, _ := c["body"].(string)
	html, _ := c["formatted_body"].(string)
	if c["msgtype"] != string(event.MsgNotice) {
		t.Errorf("matrix: msgtype %v", c["msgtype"])
	}
	mentions, ok := c["m.mentions"].(map[string]any)
	if !ok || len(mentions) != 0 {
		t.Errorf("matrix: m.mentions is %v; want present and empty", c["m.mentions"])
	}
	lowerHTML := strings.ToLower(html)
	for _, bad := range []string{"<script", "<img", "<iframe", "onerror", "javascript:", "evil.example"} {
		if strings.Contains(lowerHTML, bad) {
			t.Errorf("matrix: formatted_body holds %q: %s", bad, clipText(html))
		}
	}
	for _, m := range hrefs.FindAllStringSubmatch(html, -1) {
		if !strings.HasPrefix(m[1], ourLinks) {
			t.Errorf("matrix: link to %q", m[1])
		}
	}
	for _, s := range []string{body, html} {
		if regexp.MustCompile(`(?i)@room`).MatchString(s) {
			t.Errorf("matrix: @room in %q", clipText(s))
		}
		if invisibles.MatchString(s) {
			t.Errorf("matrix: invisible characters in %q", clipText(s))
		}
	}
	if strings.Contains(strings.ToLower(body), "javascript:") {
		t.Errorf("matrix: javascript: in the body: %s", clipText(body))
	}
	if n := len([]rune(body)); n > 3000 {
		t.Errorf("matrix: body of %d characters; not bounded", n)
	}
	if len(html) > 12000 {
		t.Errorf("matrix: formatted_body of %d bytes; not bounded", len(html))
	}
}

// botContents reads the bot's message events in the room as the reader
// received them, oldest first, content and all.
func botContents(t *testing.T, m *matrixRoom) []map[string]any {
	t.Helper()
	m.settle(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := m.reader.Messages(ctx, m.room, "", "", mautrix.DirectionBackward, nil, 100)
	if err != nil {
		t.Fatalf("reader reads /messages: %v", err)
	}
	var out []map[string]any
	for i := len(resp.Chunk) - 1; i >= 0; i-- {
		ev := resp.Chunk[i]
		if ev.Type == event.EventMessage && ev.Sender.String() == m.botUser {
			out = append(out, ev.Content.Raw)
		}
	}
	return out
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

func clipText(s string) string {
	if r := []rune(s); len(r) > 200 {
		return fmt.Sprintf("%s… (%d characters)", string(r[:200]), len(r))
	}
	return s
}
