package slack

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/store"
)

// FuzzSlashCommand sends whatever a user may type after /policywire, or
// any request body at all, correctly signed, to the slash command
// endpoint backed by a real store and bot. The endpoint must never panic
// or fail with a server error, must answer a well-formed command with
// Block Kit inside Slack's limits, and must never echo the user's text as
// live markup (mentions, links of its own).
func FuzzSlashCommand(f *testing.F) {
	for _, text := range []string{
		"", "help", "search cyber", `search "digital diplomacy" OR cyber*`, "search (cyber", "search ref:2023/0212(COD)",
		"latest", "latest 3", "latest -1", "latest 99999999999999999999", "sources",
		"subscribe cyber AND resilience", "subscribe <!channel>", "subscriptions", "unsubscribe 1", "unsubscribe x\x00",
		"<!here> <@U123> <https://evil.example|click> @channel", "\u202esearch\u200b cyber", strings.Repeat("search ", 2000),
		"SEARCH title:cyber lang:en -agriculture", "search \"unterminated", "search NOT", "search ()",
	} {
		f.Add(text, false)
	}
	f.Add("command=%2Fpolicywire&text=help&response_url=x%zz", true)
	f.Add("text=search+cyber&text=latest&channel_id=C1&channel_id=C2", true)
	f.Add("\xff\xfe=%", true)

	loc, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	cfg := &config.Config{
		DataDir: dir, Timezone: "Europe/Brussels", Location: loc,
		Topics: []config.Topic{{ID: "treaties", Query: "treaty"}},
		Sources: []config.Source{{
			ID: "council-press", Name: "Council of the EU – press releases", Type: config.TypeFeed,
			URL: "https://www.consilium.europa.eu/en/rss/pressreleases.ashx", Schedule: "@every 10m",
		}},
		Slack:    &config.Slack{SigningSecret: config.Secret(testSigningSecret), Command: "/policywire"},
		Channels: []config.Channel{{ID: "eu-desk", Slack: "C1", Topics: []string{"treaties"}}},
	}
	st, err := store.Open(filepath.Join(dir, "policywire.db"), store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	b, err := bot.New(bot.Options{Config: cfg, Store: st})
	if err != nil {
		f.Fatal(err)
	}
	items := []policywire.Item{cyberItem, diplomacyItem}
	var allowed []string
	for _, it := range items {
		if u, ok := safeURL(it.URL); ok {
			allowed = append(allowed, u)
		}
	}
	hooks := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	f.Cleanup(hooks.Close)
	hooksHost := strings.TrimPrefix(hooks.URL, "https://")
	logs := &syncBuffer{}
	h := NewCommandHandler(CommandOptions{
		SigningSecret: testSigningSecret,
		Commands:      &bot.Commands{Bot: b, Searcher: &archive{items: items}},
		Command:       "/policywire",
		Logger:        slog.New(slog.NewTextHandler(logs, nil)),
		HTTPClient:    hooks.Client(),
		AnswerWithin:  10 * time.Second,
		AllowResponseURL: func(u *url.URL) bool {
			return u.Scheme == "https" && u.Host == hooksHost
		},
	})
	f.Cleanup(func() { h.Close() })

	f.Fuzz(func(t *testing.T, input string, raw bool) {
		body := input
		if !raw {
			body = url.Values{
				"team_id": {"T1"}, "channel_id": {"C1"}, "user_id": {"U1"}, "command": {"/policywire"},
				"text": {input}, "response_url": {hooks.URL + "/commands/T1/1/x"},
			}.Encode()
		}
		req := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range SignRequest(testSigningSecret, []byte(body), time.Now()) {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		if strings.Contains(logs.String(), "panicked") {
			t.Fatalf("a command panicked on %q:\n%s", input, logs.String())
		}
		switch {
		case rec.Code == http.StatusOK:
		case raw && (rec.Code == http.StatusBadRequest || rec.Code == http.StatusRequestEntityTooLarge):
			return
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
		var reply struct {
			ResponseType string            `json:"response_type"`
			Text         string            `json:"text"`
			Blocks       []json.RawMessage `json:"blocks"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil {
			t.Fatalf("answer is not JSON: %v\n%s", err, rec.Body.String())
		}
		if reply.Text == "" && len(reply.Blocks) == 0 {
			t.Fatalf("empty answer to %q", input)
		}
		if len(reply.Blocks) > 50 {
			t.Fatalf("%d blocks in the answer to %q", len(reply.Blocks), input)
		}
		var blocks slack.Blocks
		if err := json.Unmarshal(rec.Body.Bytes(), &struct {
			Blocks *slack.Blocks `json:"blocks"`
		}{&blocks}); err != nil {
			t.Fatalf("blocks do not decode: %v", err)
		}
		assertInert(t, "fallback", reply.Text, allowed...)
		for _, s := range blockTexts(t, blocks.BlockSet) {
			if utf16Len(s) > maxSectionText {
				t.Fatalf("block text of %d units in the answer to %q", utf16Len(s), input)
			}
			assertInert(t, "block", s, allowed...)
		}
	})
}
