package slack

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/policywire/policywire"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func brussels(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// fullAlert has every part a message can show.
func fullAlert() policywire.Alert {
	return policywire.Alert{
		ID:         "a1-c1",
		Channel:    "diplomacy",
		SourceName: "European Commission – Press corner",
		Topics:     []string{"digital-diplomacy", "ai-act"},
		Item: policywire.Item{
			ID:        "u:https://ec.europa.eu/commission/presscorner/detail/en/ip_26_301",
			Source:    "ec-press",
			URL:       "https://ec.europa.eu/commission/presscorner/detail/en/ip_26_301?lang=en&year=2026",
			Title:     "Commission proposes Digital Partnership with Japan & Korea",
			Summary:   "The Commission today proposed a Digital Partnership.\n\nIt covers AI, data flows and semiconductors.",
			Published: time.Date(2026, 11, 27, 13, 5, 0, 0, time.UTC),
			References: []string{
				"IP/26/301", "COM(2026) 512 final", "2026/0170(COD)",
			},
		},
		Also: []policywire.AlsoReported{
			{Source: "eeas", SourceName: "EEAS", URL: "https://www.eeas.europa.eu/eeas/digital-partnership_en"},
			{Source: "consilium", URL: "https://www.consilium.europa.eu/en/press/"},
		},
	}
}

func renderJSON(t *testing.T, blocks []slack.Block, text string) []byte {
	t.Helper()
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	return canonicalMessage(t, raw, text)
}

// canonicalMessage is blocks JSON and fallback text as one readable JSON
// document (keys sorted, Slack's markup not \u-escaped), so that rendered
// and posted messages compare equal and golden files read easily.
func canonicalMessage(t *testing.T, blocksJSON []byte, text string) []byte {
	t.Helper()
	var blocks []any
	if err := json.Unmarshal(blocksJSON, &blocks); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"blocks": blocks, "text": text}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./bot/slack/ -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering:\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func TestRenderAlertGolden(t *testing.T) {
	loc := brussels(t)
	minimal := policywire.Alert{
		ID: "a2-c1",
		Item: policywire.Item{
			Source: "eur-lex",
			URL:    "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=OJ:L_202601234",
			Title:  "Regulation (EU) 2026/1234",
		},
	}
	for _, tc := range []struct {
		name  string
		alert policywire.Alert
	}{
		{"alert_full.golden.json", fullAlert()},
		{"alert_minimal.golden.json", minimal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blocks, text := RenderAlert(tc.alert, loc)
			golden(t, tc.name, renderJSON(t, blocks, text))
		})
	}
}

// blockTexts returns every text of the rendered blocks, as Slack reads them.
func blockTexts(t *testing.T, blocks []slack.Block) []string {
	t.Helper()
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	var decoded []struct {
		Type string `json:"type"`
		Text *struct {
			Type     string `json:"type"`
			Text     string `json:"text"`
			Verbatim bool   `json:"verbatim"`
		} `json:"text"`
		Elements []struct {
			Type     string `json:"type"`
			Text     string `json:"text"`
			Verbatim bool   `json:"verbatim"`
		} `json:"elements"`
	}
	// Buttons hold plain labels and values of policywire's own: they are
	// checked where they are made.
	var kept []json.RawMessage
	var all []json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	for _, b := range all {
		if !strings.Contains(string(b), `"type":"actions"`) {
			kept = append(kept, b)
		}
	}
	raw, _ = json.Marshal(kept)
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range decoded {
		if b.Text != nil {
			if b.Text.Type == "mrkdwn" && !b.Text.Verbatim {
				t.Errorf("mrkdwn text without verbatim: %q", b.Text.Text)
			}
			out = append(out, b.Text.Text)
		}
		for _, e := range b.Elements {
			if e.Type == "mrkdwn" && !e.Verbatim {
				t.Errorf("mrkdwn element without verbatim: %q", e.Text)
			}
			out = append(out, e.Text)
		}
	}
	return out
}

var slackToken = regexp.MustCompile(`<[^>]*>`)

// assertInert checks that mrkdwn holds no control sequence other than
// links to the allowed addresses and no bare broadcast word.
func assertInert(t *testing.T, where, text string, allowedLinks ...string) {
	t.Helper()
	for _, tok := range slackToken.FindAllString(text, -1) {
		ok := false
		for _, l := range allowedLinks {
			if strings.HasPrefix(tok, "<"+l+"|") || tok == "<"+l+">" {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s: live Slack markup %q in %q", where, tok, text)
		}
	}
	lower := strings.ToLower(text)
	for _, w := range []string{"@here", "@channel", "@everyone"} {
		if strings.Contains(lower, w) {
			t.Errorf("%s: bare %s in %q", where, w, text)
		}
	}
	// A stray & must start an entity (&amp; &lt; &gt;) so nothing decodes
	// into markup Slack would act on.
	for i := strings.IndexByte(text, '&'); i >= 0; {
		rest := text[i:]
		if !strings.HasPrefix(rest, "&amp;") && !strings.HasPrefix(rest, "&lt;") && !strings.HasPrefix(rest, "&gt;") {
			t.Errorf("%s: unescaped & in %q", where, text)
			break
		}
		next := strings.IndexByte(text[i+1:], '&')
		if next < 0 {
			break
		}
		i += 1 + next
	}
}

func TestRenderAlertMentionInjectionIsInert(t *testing.T) {
	const evil = "<!channel> <@U123> <https://evil.example|click> @here & <b> <!subteam^S1|@team> @Everyone <#C999>"
	a := policywire.Alert{
		ID:         "evil",
		SourceName: "Feed <!here>",
		Topics:     []string{"<@U999>"},
		Item: policywire.Item{
			URL:        "https://policy.example/item?id=1",
			Title:      evil,
			Summary:    "Summary " + evil,
			Published:  time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC),
			References: []string{"<!everyone>"},
		},
		Also: []policywire.AlsoReported{{SourceName: "<@U777> @channel", URL: "https://also.example/x"}},
	}
	blocks, fallback := RenderAlert(a, time.UTC)
	allowed := []string{"https://policy.example/item?id=1", "https://also.example/x"}
	for _, text := range blockTexts(t, blocks) {
		assertInert(t, "block", text, allowed...)
	}
	assertInert(t, "fallback", fallback)

	// The reader still sees the text as it was written.
	title := blockTexts(t, blocks)[0]
	wantTitle := "*<https://policy.example/item?id=1|&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.example|click&gt; @\u2060here &amp; &lt;b&gt; &lt;!subteam^S1|@team&gt; @\u2060Everyone &lt;#C999&gt;>*"
	if title != wantTitle {
		t.Errorf("title block:\n got %q\nwant %q", title, wantTitle)
	}
	if !strings.HasPrefix(fallback, "&lt;!channel&gt; &lt;@U123&gt;") {
		t.Errorf("fallback = %q", fallback)
	}
}

func TestRenderAlertStripsInvisibleCharacters(t *testing.T) {
	a := policywire.Alert{ID: "x", Item: policywire.Item{
		URL:     "https://policy.example/a",
		Title:   "Council\u200b adopts\u202e gnirts\u202c \u2066position\u2069\ufeff",
		Summary: "Text\u200d with\u200e hidden\u202a marks",
	}}
	blocks, fallback := RenderAlert(a, time.UTC)
	all := strings.Join(append(blockTexts(t, blocks), fallback), "\n")
	for _, r := range all {
		if isInvisible(r) {
			t.Errorf("invisible character %U left in %q", r, all)
		}
	}
	if !strings.Contains(all, "Council adopts gnirts position") || !strings.Contains(all, "Text with hidden marks") {
		t.Errorf("visible text lost: %q", all)
	}
}

func TestSafeURL(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"https://ec.europa.eu/a?b=1&c=2", "https://ec.europa.eu/a?b=1&amp;c=2", true},
		{"HTTP://Example.org/x", "http://Example.org/x", true},
		{"https://x.example/a|b>c<d", "https://x.example/a%7Cb%3Ec%3Cd", true},
		{"https://x.example/?q=a|<!channel>", "https://x.example/?q=a%7C%3C!channel%3E", true},
		{"https://user:pass@x.example/p", "https://x.example/p", true},
		{"https://x.example/é ü", "https://x.example/%C3%A9%20%C3%BC", true},
		{"javascript:alert(1)", "", false},
		{"mailto:press@ec.europa.eu", "", false},
		{"/relative/path", "", false},
		{"https://", "", false},
		{"", "", false},
	} {
		got, ok := safeURL(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("safeURL(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRenderAlertWithoutSafeLinkShowsPlainTitle(t *testing.T) {
	a := policywire.Alert{ID: "x", Item: policywire.Item{URL: "javascript:alert(1)", Title: "Title"}}
	blocks, fallback := RenderAlert(a, time.UTC)
	if got := blockTexts(t, blocks)[0]; got != "*Title*" {
		t.Errorf("title block = %q, want unlinked", got)
	}
	if strings.Contains(fallback, "javascript") {
		t.Errorf("fallback carries an unsafe URL: %q", fallback)
	}
}

func TestRenderAlertRespectsSlackLimits(t *testing.T) {
	var also []policywire.AlsoReported
	for range 400 {
		also = append(also, policywire.AlsoReported{SourceName: "Source & Co <x>", URL: "https://also.example/" + strings.Repeat("p", 40)})
	}
	a := policywire.Alert{
		ID:         "big",
		SourceName: strings.Repeat("S", 500),
		Topics:     []string{strings.Repeat("t", 4000)},
		Item: policywire.Item{
			URL:        "https://policy.example/" + strings.Repeat("a", 3000),
			Title:      strings.Repeat("Title & ", 200),
			Summary:    strings.Repeat("<&> 😀 ", 2000),
			References: []string{strings.Repeat("COM(2026) 1 final", 300)},
			Published:  time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC),
		},
		Also: also,
	}
	blocks, fallback := RenderAlert(a, time.UTC)
	if len(blocks) > maxBlocks {
		t.Errorf("%d blocks", len(blocks))
	}
	texts := blockTexts(t, blocks)
	for i, s := range texts {
		if n := utf16Len(s); n > 3000 {
			t.Errorf("block text %d is %d UTF-16 units", i, n)
		}
		assertInert(t, "block", s, "https://also.example/"+strings.Repeat("p", 40))
	}
	if n := utf16Len(fallback); n > maxFallbackText {
		t.Errorf("fallback is %d units", n)
	}
	// The title link is dropped (address too long) and the title is cut
	// at 300 characters before escaping.
	title := strings.NewReplacer("&amp;", "&", "*", "").Replace(texts[0])
	if n := utf8.RuneCountInString(title); n > maxTitleRunes {
		t.Errorf("title is %d runes: %q", n, title)
	}
	if !strings.HasSuffix(texts[0], "…*") {
		t.Errorf("cut title not marked: %q", texts[0])
	}
	summary := texts[2]
	if !strings.HasSuffix(summary, "…") || !strings.HasPrefix(summary, "&lt;&amp;&gt; 😀") {
		t.Errorf("summary = %.60q…%q", summary, summary[len(summary)-20:])
	}
	last := texts[len(texts)-1]
	if !regexp.MustCompile(`^Also reported by: .* and \d+ more$`).MatchString(last) {
		t.Errorf("also line = %.80q…", last)
	}
}

func TestRenderAlertDateInLocation(t *testing.T) {
	a := fullAlert()
	blocks, fallback := RenderAlert(a, brussels(t))
	ctx := blockTexts(t, blocks)[1]
	want := "European Commission – Press corner · 27 Nov 2026 14:05 CET · digital-diplomacy, ai-act"
	if ctx != want {
		t.Errorf("context = %q, want %q", ctx, want)
	}
	summer := a
	summer.Item.Published = time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
	_, fallback = RenderAlert(summer, brussels(t))
	if !strings.Contains(fallback, "1 Jul 2026 10:00 CEST") {
		t.Errorf("fallback = %q", fallback)
	}
}
