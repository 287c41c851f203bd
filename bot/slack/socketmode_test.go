package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
	"github.com/slack-go/slack/socketmode"
)

// socketServer is slacktest with a Socket Mode endpoint: apps.connections.open
// (slacktest's own) points the client at /ws, where the test pushes
// envelopes and reads the client's acknowledgements.
type socketServer struct {
	srv     *slacktest.Server
	send    chan []byte
	acks    chan []byte
	stop    chan struct{}
	connect chan struct{}
}

func startSocketServer(t *testing.T) *socketServer {
	t.Helper()
	s := &socketServer{
		send:    make(chan []byte),
		acks:    make(chan []byte, 8),
		stop:    make(chan struct{}),
		connect: make(chan struct{}, 4),
	}
	s.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/ws", slacktest.Websocket(func(conn *websocket.Conn) {
			if err := conn.WriteJSON(map[string]any{"type": "hello", "num_connections": 1}); err != nil {
				return
			}
			s.connect <- struct{}{}
			readerDone := make(chan struct{})
			go func() {
				defer close(readerDone)
				for {
					_, msg, err := conn.ReadMessage()
					if err != nil {
						return
					}
					s.acks <- msg
				}
			}()
			for {
				select {
				case env := <-s.send:
					if err := conn.WriteMessage(websocket.TextMessage, env); err != nil {
						return
					}
				case <-readerDone:
					return
				case <-s.stop:
					return
				}
			}
		}))
	})
	s.srv.Start()
	t.Cleanup(func() {
		close(s.stop)
		s.srv.Stop()
	})
	return s
}

// slashEnvelope is a slash command as Socket Mode delivers it.
func slashEnvelope(t *testing.T, id string, form map[string]string) []byte {
	t.Helper()
	raw, err := json.Marshal(map[string]any{
		"type":                     "slash_commands",
		"envelope_id":              id,
		"payload":                  form,
		"accepts_response_payload": true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (s *socketServer) ack(t *testing.T, envelope string) commandReply {
	t.Helper()
	for {
		select {
		case raw := <-s.acks:
			var res struct {
				EnvelopeID string          `json:"envelope_id"`
				Payload    json.RawMessage `json:"payload"`
			}
			if err := json.Unmarshal(raw, &res); err != nil {
				t.Fatalf("ack is not JSON: %s", raw)
			}
			if res.EnvelopeID != envelope {
				continue
			}
			if len(res.Payload) == 0 {
				t.Fatalf("ack of %s has no payload", envelope)
			}
			return decodeReply(t, bytes.NewReader(res.Payload))
		case <-time.After(5 * time.Second):
			t.Fatalf("no ack for %s", envelope)
		}
	}
}

func TestSocketModeAnswersSlashCommands(t *testing.T) {
	env := newCmdEnv(t)
	ss := startSocketServer(t)
	hooksHost := strings.TrimPrefix(env.hooks.URL, "https://")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunSocketMode(ctx, SocketOptions{
			AppToken:     "xapp-1-test",
			BotToken:     "xoxb-test",
			APIURL:       ss.srv.GetAPIURL(),
			Commands:     env.commands,
			Command:      "/policywire",
			HTTPClient:   env.hooks.Client(),
			AnswerWithin: time.Second,
			AllowResponseURL: func(u *url.URL) bool {
				return u.Scheme == "https" && u.Host == hooksHost
			},
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunSocketMode after cancel: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("RunSocketMode did not stop with its context")
		}
	})
	select {
	case <-ss.connect:
	case <-time.After(5 * time.Second):
		t.Fatal("the client never connected")
	}

	form := func(text string) map[string]string {
		return map[string]string{
			"team_id": "T1", "channel_id": "C1", "user_id": "U1", "command": "/policywire",
			"text": text, "response_url": env.responseURL(), "trigger_id": "1.2.3",
		}
	}

	// A quick command is answered in the acknowledgement itself.
	ss.send <- slashEnvelope(t, "env-sub", form("subscribe cyber* AND security"))
	sub := ss.ack(t, "env-sub")
	if sub.ResponseType != "in_channel" || !strings.Contains(sub.joined(t), "Subscribed this channel to") {
		t.Errorf("subscribe ack = %s %q", sub.ResponseType, sub.joined(t))
	}
	if routes := env.bot.Router().Route(cyberItem); len(routes) != 1 || routes[0].Channel != "eu-desk" {
		t.Errorf("after subscribing over Socket Mode, routes = %+v", routes)
	}

	// A slow one is acknowledged at once and answered through response_url.
	env.archive.gate = make(chan struct{})
	start := time.Now()
	ss.send <- slashEnvelope(t, "env-search", form("search diplomacy"))
	working := ss.ack(t, "env-search")
	if took := time.Since(start); took > 2900*time.Millisecond {
		t.Errorf("ack took %v; Slack gives up after 3 s", took)
	}
	if working.ResponseType != "ephemeral" || working.Text != "Working on it…" {
		t.Errorf("slow command ack = %s %q", working.ResponseType, working.Text)
	}
	close(env.archive.gate)
	select {
	case p := <-env.posts:
		late := decodeReply(t, bytes.NewReader(p.Body))
		texts := late.texts(t)
		if len(texts) != 2 || !strings.Contains(texts[1], "|Council conclusions on EU digital diplomacy>*") || !strings.Contains(texts[1], "*diplomacy*") {
			t.Errorf("late answer blocks = %q", texts)
		}
		if late.ReplaceOriginal == nil || *late.ReplaceOriginal {
			t.Errorf("late answer must say replace_original false")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no late answer at response_url")
	}
}

func TestSocketModeStopsOnRefusedToken(t *testing.T) {
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/apps.connections.open", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":false,"error":"invalid_auth"}`))
		})
	})
	srv.Start()
	t.Cleanup(srv.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := RunSocketMode(ctx, SocketOptions{AppToken: "xapp-1-revoked", APIURL: srv.GetAPIURL(), Commands: nil})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("RunSocketMode = %v (ctx %v), want an auth error at once", err, ctx.Err())
	}
	if strings.Contains(err.Error(), "xapp-1-revoked") {
		t.Errorf("error holds the token: %v", err)
	}
	if err := RunSocketMode(context.Background(), SocketOptions{}); err == nil {
		t.Error("RunSocketMode without an app token should fail")
	}
}

// fakeAcker records acknowledgements, for events that do not need a
// connection.
type fakeAcker struct{ acks []socketmode.Request }

func (f *fakeAcker) Ack(req socketmode.Request, payload ...any) error {
	f.acks = append(f.acks, req)
	return nil
}

func TestSocketModeAcknowledgesUnusedEvents(t *testing.T) {
	runner := newCommandRunner(runnerOptions{})
	defer runner.close()
	ack := &fakeAcker{}
	log := slog.New(slog.DiscardHandler)
	handleSocketEvent(socketmode.Event{Type: socketmode.EventTypeEventsAPI, Request: &socketmode.Request{EnvelopeID: "e1"}}, ack, runner, log)
	handleSocketEvent(socketmode.Event{Type: socketmode.EventTypeInteractive, Request: &socketmode.Request{EnvelopeID: "e2"}}, ack, runner, log)
	handleSocketEvent(socketmode.Event{Type: socketmode.EventTypeConnectionError, Data: &slack.ConnectionErrorEvent{ErrorObj: errors.New("dial: refused")}}, ack, runner, log)
	if len(ack.acks) != 2 || ack.acks[0].EnvelopeID != "e1" || ack.acks[1].EnvelopeID != "e2" {
		t.Errorf("acks = %+v, want e1 and e2", ack.acks)
	}
}
