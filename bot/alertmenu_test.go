package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire/bot"
	slacksender "github.com/policywire/policywire/bot/slack"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/internal/testenv"
)

const menuSigningSecret = "menu-signing-secret"

// menuOptions are the value of each option of a posted alert's overflow
// menu, by the option's text.
func menuOptions(t *testing.T, post slackfake.Post) map[string]string {
	t.Helper()
	var blocks []struct {
		Accessory struct {
			ActionID string `json:"action_id"`
			Options  []struct {
				Text  struct{ Text string } `json:"text"`
				Value string                `json:"value"`
			} `json:"options"`
		} `json:"accessory"`
	}
	if err := json.Unmarshal(post.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, b := range blocks {
		for _, o := range b.Accessory.Options {
			out[o.Text.Text] = o.Value
		}
	}
	return out
}

// alertMenuEnv is a pipeline whose Slack alerts can be clicked: signed
// interaction payloads go to POST /slack/interactions, and answers to the
// fake's response_urls.
type alertMenuEnv struct {
	*pipeline
	server  *httptest.Server
	presses int
}

func newAlertMenuEnv(t *testing.T, p *pipeline) *alertMenuEnv {
	t.Helper()
	h := slacksender.NewInteractionHandler(slacksender.CommandOptions{
		SigningSecret: menuSigningSecret, Commands: &bot.Commands{Bot: p.bot}, Command: "/policywire",
		BotToken: "xoxb-test", APIURL: p.slack.URL(), AnswerWithin: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(testLogWriter{t}, nil)),
	})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		h.Close()
	})
	return &alertMenuEnv{pipeline: p, server: srv}
}

// choose picks an option of an alert's menu as user, in channel, and
// returns the answer posted to the interaction's response_url.
func (e *alertMenuEnv) choose(t *testing.T, user, channel, value string) map[string]any {
	t.Helper()
	e.presses++
	payload, err := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user}, "channel": map[string]any{"id": channel},
		"response_url": e.slack.ResponseURL(fmt.Sprintf("menu/%d", e.presses)),
		"actions":      []map[string]any{{"block_id": "AbC1", "action_id": "pw_alert", "type": "overflow", "selected_option": map[string]any{"value": value}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	body := url.Values{"payload": {string(payload)}}.Encode()
	req, _ := http.NewRequest(http.MethodPost, e.server.URL+"/slack/interactions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range slacksender.SignRequest(menuSigningSecret, []byte(body), time.Now()) {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("interaction got %d", resp.StatusCode)
	}
	e2eharness.Eventually(t, 10*time.Second, "the menu's answer at the response_url", func() bool { return len(e.slack.Responses()) == e.presses })
	var answer map[string]any
	if err := json.Unmarshal(e.slack.Responses()[e.presses-1].Body, &answer); err != nil {
		t.Fatal(err)
	}
	return answer
}

func findPost(t *testing.T, posts []slackfake.Post, titlePart string) slackfake.Post {
	t.Helper()
	for _, p := range posts {
		if strings.Contains(p.Text, titlePart) {
			return p
		}
	}
	t.Fatalf("no post of %q among %q", titlePart, titles(posts))
	return slackfake.Post{}
}

func hasTitle(posts []slackfake.Post, title string) bool {
	return slices.Contains(titles(posts), title)
}

// TestAlertMenu: "Watch similar" under an alert watches its title's terms
// for whoever chose it, answers them alone, and the next matching item
// reaches them by direct message; "Mute this source here" is refused to a
// member who is not an admin, changing nothing, and for an admin keeps
// the source out of that channel only, across a restart, until unmute.
func TestAlertMenu(t *testing.T) {
	fixtures := councilAndEEAS(t, "council-press.rss")
	fake := slackfake.New(t)
	fake.SetUser("U1ALICE", slackfake.UserRole{})
	fake.SetUser("U2BOB", slackfake.UserRole{})
	fake.SetUser("U9ADMIN", slackfake.UserRole{Admin: true})
	cfg := testConfig(fixtures)
	cfg.Channels = append(cfg.Channels, config.Channel{ID: "everything", Slack: "C0ALL"})
	cfg.Chat.MaxWatches = 5
	dir := t.TempDir()
	e := newAlertMenuEnv(t, newPipeline(t, cfg, fixtures, dir, fake))
	e.runOnce(t)

	eeas := menuOptions(t, findPost(t, fake.Posts("C0EUDESK"), "EU Digital Diplomacy Office opens in San Francisco"))
	if eeas["Watch similar"] != "watch:digital diplomacy office opens" || eeas["Mute this source here"] != "mute:eeas-press" {
		t.Fatalf("the alert's menu: %v", eeas)
	}
	answer := e.choose(t, "U1ALICE", "C0EUDESK", eeas["Watch similar"])
	text := fmt.Sprint(answer["text"])
	if answer["response_type"] != "ephemeral" || answer["replace_original"] != false ||
		!strings.Contains(text, `Watching digital AND diplomacy AND office AND opens for you (id w1)`) || !strings.Contains(text, "unwatch w1 stops it") {
		t.Fatalf("Watch similar answered %v", answer)
	}

	council := menuOptions(t, findPost(t, fake.Posts("C0EUDESK"), "Council approves conclusions"))["Mute this source here"]
	if council != "mute:council-press" {
		t.Fatalf("the Council alert's mute option: %q", council)
	}
	answer = e.choose(t, "U2BOB", "C0EUDESK", council)
	if answer["response_type"] != "ephemeral" || !strings.Contains(fmt.Sprint(answer["text"]), "Only workspace admins and owners") {
		t.Fatalf("a member's mute answered %v", answer)
	}
	if mutes, err := e.store.Mutes(""); err != nil || len(mutes) != 0 {
		t.Fatalf("after a refused mute the store holds %+v (%v)", mutes, err)
	}

	first := "Council: a digital diplomacy office opens in Nairobi"
	fixtures.Set("/council.rss", councilWith(t, "910001", first), testenv.ContentTypeFor(".rss"))
	e.runOnce(t)
	if dm := titles(fake.Posts(slackfake.DirectChannel("U1ALICE"))); !slices.Equal(dm, []string{first}) {
		t.Fatalf("alice's direct messages after Watch similar: %q", dm)
	}
	if !hasTitle(fake.Posts("C0EUDESK"), first) {
		t.Fatalf("after a refused mute the channel did not get %q: %q", first, titles(fake.Posts("C0EUDESK")))
	}

	answer = e.choose(t, "U9ADMIN", "C0EUDESK", council)
	if answer["response_type"] != "in_channel" || !strings.Contains(fmt.Sprint(answer["text"]), "Muted Council of the EU – press releases in this channel") {
		t.Fatalf("an admin's mute answered %v", answer)
	}
	second := "Council: a digital diplomacy office opens in Lagos"
	fixtures.Set("/council.rss", councilWith(t, "910002", second), testenv.ContentTypeFor(".rss"))
	e.runOnce(t)
	if hasTitle(fake.Posts("C0EUDESK"), second) {
		t.Errorf("the muted source's item reached the channel")
	}
	if !hasTitle(fake.Posts("C0ALL"), second) {
		t.Errorf("the other channel did not get %q: %q", second, titles(fake.Posts("C0ALL")))
	}
	if dm := titles(fake.Posts(slackfake.DirectChannel("U1ALICE"))); !hasTitle(fake.Posts(slackfake.DirectChannel("U1ALICE")), second) {
		t.Errorf("alice's watch stopped with the channel's mute: %q", dm)
	}

	// The mute is kept across a restart, listed, and undone by unmute.
	if err := e.bot.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	p := newPipeline(t, cfg, fixtures, dir, fake)
	third := "Council: a digital diplomacy office opens in Dakar"
	fixtures.Set("/council.rss", councilWith(t, "910003", third), testenv.ContentTypeFor(".rss"))
	p.runOnce(t)
	if hasTitle(fake.Posts("C0EUDESK"), third) || !hasTitle(fake.Posts("C0ALL"), third) {
		t.Errorf("after a restart: eu-desk %q, everything %q", titles(fake.Posts("C0EUDESK")), titles(fake.Posts("C0ALL")))
	}
	admin := func(text string) bot.Answer {
		a, err := (&bot.Commands{Bot: p.bot}).Handle(context.Background(), bot.CommandRequest{Platform: "slack", Target: "C0EUDESK", User: "U9ADMIN", MayManage: true, Text: text}, "/policywire")
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := admin("subscriptions"); !slices.Contains(a.Lines, "• muted: council-press (unmute council-press)") {
		t.Errorf("subscriptions answered %q %q", a.Text, a.Lines)
	}
	if a := admin("unmute council-press"); !strings.Contains(a.Text, "Unmuted council-press") {
		t.Fatalf("unmute answered %q", a.Text)
	}
	fourth := "Council: a digital diplomacy office opens in Accra"
	fixtures.Set("/council.rss", councilWith(t, "910004", fourth), testenv.ContentTypeFor(".rss"))
	p.runOnce(t)
	if !hasTitle(fake.Posts("C0EUDESK"), fourth) {
		t.Errorf("after unmute the channel did not get %q", fourth)
	}
}

// testLogWriter sends the handler's log to the test's.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
