package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/policywire/policywire"
)

// buttons are the action_id → value of an answer's buttons.
func (r commandReply) buttons(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, raw := range r.Blocks {
		var b struct {
			Type     string `json:"type"`
			Elements []struct {
				ActionID string `json:"action_id"`
				Value    string `json:"value"`
			} `json:"elements"`
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatal(err)
		}
		if b.Type == "actions" {
			for _, e := range b.Elements {
				out[e.ActionID] = e.Value
			}
		}
	}
	return out
}

// interactionBody is the form Slack posts when a button is pressed.
func interactionBody(t *testing.T, responseURL, actionID, value string) string {
	t.Helper()
	return url.Values{"payload": {string(interactionPayload(t, responseURL, actionID, value))}}.Encode()
}

// interactionPayload is the interaction Slack sends when a button is
// pressed, over HTTP (as the payload field) or Socket Mode.
func interactionPayload(t *testing.T, responseURL, actionID, value string) []byte {
	t.Helper()
	payload, err := json.Marshal(map[string]any{
		"type":         "block_actions",
		"user":         map[string]any{"id": "U1"},
		"channel":      map[string]any{"id": "C1"},
		"response_url": responseURL,
		"actions":      []map[string]any{{"block_id": "pw_actions", "action_id": actionID, "value": value, "type": "button"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

// TestSearchButtons: a search answer is ephemeral with Share and More;
// signed presses do what they say (More: the next page, in place of the
// answer; Share: the page for the whole channel, without buttons); a bad
// signature gets 401 and does nothing.
func TestSearchButtons(t *testing.T) {
	var opts CommandOptions
	env := newCmdEnv(t, func(o *CommandOptions) { opts = *o })
	env.archive.items = nil
	for i := range 7 {
		env.archive.items = append(env.archive.items, policywire.Item{
			ID: fmt.Sprintf("u:%d", i), Source: "council-press", Title: fmt.Sprintf("Cyber note %d", i),
			URL: fmt.Sprintf("https://www.consilium.europa.eu/en/press/%d/", i), Summary: "About cyber.", Published: env.now.Add(-time.Duration(i) * time.Hour),
		})
	}
	interactions := NewInteractionHandler(opts)
	srv := httptest.NewServer(interactions)
	defer srv.Close()
	press := func(body string, header http.Header) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/slack/interactions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	next := func() commandReply { return env.nextPost(t) }

	reply := env.command(t, "search cyber")
	buttons := reply.buttons(t)
	if reply.ResponseType != "ephemeral" || buttons["pw_share"] == "" || buttons["pw_more"] == "" {
		t.Fatalf("search answer %s with buttons %v, want ephemeral with Share and More", reply.ResponseType, buttons)
	}

	calls := env.archive.calls.Load()
	body := interactionBody(t, env.responseURL(), "pw_more", buttons["pw_more"])
	if code := press(body, SignRequest("not-the-secret", []byte(body), time.Now())); code != http.StatusUnauthorized {
		t.Fatalf("a press with a bad signature got %d, want 401", code)
	}

	if code := press(body, SignRequest(testSigningSecret, []byte(body), time.Now())); code != http.StatusOK {
		t.Fatalf("More got %d", code)
	}
	more := next()
	texts := more.texts(t)
	if more.ResponseType != "ephemeral" || more.ReplaceOriginal == nil || !*more.ReplaceOriginal {
		t.Errorf("More answered %s replace_original=%v, want an ephemeral replacement", more.ResponseType, more.ReplaceOriginal)
	}
	if len(texts) != 3 || texts[0] != "More matches for cyber (page 2):" || !strings.Contains(texts[1], "Cyber note 5") || !strings.Contains(texts[2], "Cyber note 6") {
		t.Errorf("More showed %q, want page 2: notes 5 and 6", texts)
	}
	if b := more.buttons(t); b["pw_more"] != "" || b["pw_share"] == "" {
		t.Errorf("the last page's buttons: %v, want Share alone", b)
	}

	body = interactionBody(t, env.responseURL(), "pw_share", buttons["pw_share"])
	if code := press(body, SignRequest(testSigningSecret, []byte(body), time.Now())); code != http.StatusOK {
		t.Fatalf("Share got %d", code)
	}
	shared := next()
	texts = shared.texts(t)
	if shared.ResponseType != "in_channel" || shared.ReplaceOriginal == nil || *shared.ReplaceOriginal {
		t.Errorf("Share answered %s replace_original=%v, want a new message for the channel", shared.ResponseType, shared.ReplaceOriginal)
	}
	if len(texts) != 6 || texts[0] != "Shared from a search: Best matches for cyber:" || !strings.Contains(texts[1], "Cyber note 0") {
		t.Errorf("Share posted %q, want the first page", texts)
	}
	if b := shared.buttons(t); len(b) != 0 {
		t.Errorf("the shared page has buttons %v", b)
	}

	interactions.Close()
	if n := env.archive.calls.Load() - calls; n != 2 {
		t.Errorf("%d searches for two good presses and a bad one", n)
	}
	select {
	case p := <-env.posts:
		t.Errorf("an answer for the press with a bad signature: %s", p.Body)
	default:
	}
}

// TestSearchButtonsOverSocketMode: a More press that arrives over Socket
// Mode is acknowledged and answered with the next page.
func TestSearchButtonsOverSocketMode(t *testing.T) {
	env := newCmdEnv(t)
	for i := range 6 {
		env.archive.items = append(env.archive.items, policywire.Item{
			ID: fmt.Sprintf("u:extra%d", i), Source: "council-press", Title: fmt.Sprintf("Cyber memo %d", i),
			URL: fmt.Sprintf("https://www.consilium.europa.eu/en/press/m%d/", i), Summary: "About cyber.",
		})
	}
	more := env.command(t, "search cyber").buttons(t)["pw_more"]
	if more == "" {
		t.Fatal("no More button")
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal(interactionPayload(t, env.responseURL(), "pw_more", more), &cb); err != nil {
		t.Fatal(err)
	}
	ack := &fakeAcker{}
	handleSocketEvent(socketmode.Event{Type: socketmode.EventTypeInteractive, Data: cb, Request: &socketmode.Request{EnvelopeID: "i1"}}, ack, env.handler.run, slog.New(slog.DiscardHandler))
	if len(ack.acks) != 1 || ack.acks[0].EnvelopeID != "i1" {
		t.Errorf("acks = %+v, want i1", ack.acks)
	}
	if texts := env.nextPost(t).texts(t); len(texts) < 2 || texts[0] != "More matches for cyber (page 2):" {
		t.Errorf("More over Socket Mode answered %q", texts)
	}
}

// nextPost waits for the next answer at the response_url.
func (e *cmdEnv) nextPost(t *testing.T) commandReply {
	t.Helper()
	select {
	case p := <-e.posts:
		var r commandReply
		if err := json.Unmarshal(p.Body, &r); err != nil {
			t.Fatal(err)
		}
		r.raw = p.Body
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("no answer at the response_url; log:\n%s", e.logs.String())
	}
	return commandReply{}
}

// TestAlertMenuOverSocketMode: "Watch similar" chosen over Socket Mode is
// acknowledged and answered, to the chooser alone, with the watch made.
func TestAlertMenuOverSocketMode(t *testing.T) {
	env := newCmdEnv(t)
	cfg := *env.bot.Config()
	cfg.Chat.MaxWatches = 3
	if err := env.bot.SetConfig(context.Background(), &cfg); err != nil {
		t.Fatal(err)
	}
	blocks, _ := RenderAlert(policywire.Alert{ID: "a1", Item: policywire.Item{Source: "council-press", Title: "Council adopts the tech envoy mandate"}}, time.UTC)
	menu := blocks[0].(*slack.SectionBlock).Accessory.OverflowElement
	payload, err := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": "U1"}, "channel": map[string]any{"id": "C1"}, "response_url": env.responseURL(),
		"actions": []map[string]any{{"block_id": "b1", "action_id": menu.ActionID, "type": "overflow", "selected_option": map[string]any{"value": menu.Options[0].Value}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal(payload, &cb); err != nil {
		t.Fatal(err)
	}
	ack := &fakeAcker{}
	handleSocketEvent(socketmode.Event{Type: socketmode.EventTypeInteractive, Data: cb, Request: &socketmode.Request{EnvelopeID: "m1"}}, ack, env.handler.run, slog.New(slog.DiscardHandler))
	if len(ack.acks) != 1 || ack.acks[0].EnvelopeID != "m1" {
		t.Errorf("acks = %+v, want m1", ack.acks)
	}
	got := env.nextPost(t)
	if got.ResponseType != "ephemeral" || !strings.Contains(got.joined(t), "Watching council AND adopts AND tech AND envoy for you (id w1)") {
		t.Errorf("Watch similar over Socket Mode answered %s %q", got.ResponseType, got.joined(t))
	}
	if ws, _ := env.store.Watches("slack", "U1"); len(ws) != 1 {
		t.Errorf("watches of the chooser: %+v", ws)
	}
}
