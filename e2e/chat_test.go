package e2e

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/testenv"
)

// replyTo waits for the bot's reply to a command event and returns its body.
func (m *matrixRoom) replyTo(t *testing.T, cmd id.EventID, timeout time.Duration) string {
	t.Helper()
	var body string
	e2eharness.Eventually(t, timeout, "the bot's reply to "+cmd.String(), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := m.reader.Messages(ctx, m.room, "", "", mautrix.DirectionBackward, nil, 50)
		if err != nil {
			return false
		}
		for _, ev := range resp.Chunk {
			if ev.Type != event.EventMessage || ev.Sender.String() != m.botUser {
				continue
			}
			rel, _ := ev.Content.Raw["m.relates_to"].(map[string]any)
			inReply, _ := rel["m.in_reply_to"].(map[string]any)
			if inReply["event_id"] == cmd.String() {
				body, _ = ev.Content.Raw["body"].(string)
				return true
			}
		}
		return false
	})
	return body
}

// TestMatrixChatSearchAndSubscribe runs the daemon against dendrite with
// the real search index: a reader searches the archive from the room; a
// member below power level 50 may not subscribe, the room's creator may,
// and the next poll that brings a matching item posts it to the room.
func TestMatrixChatSearchAndSubscribe(t *testing.T) {
	t.Parallel()
	mx := newMatrixRoom(t)
	ctx := context.Background()
	suffix := randomSuffix()
	memberID, memberToken := mx.hs.Register(t, "member-"+suffix, false)
	member := mx.hs.Client(t, memberID, memberToken)
	if _, err := mx.reader.InviteUser(ctx, mx.room, &mautrix.ReqInviteUser{UserID: id.UserID(memberID)}); err != nil {
		t.Fatal(err)
	}
	if _, err := member.JoinRoomByID(ctx, mx.room); err != nil {
		t.Fatal(err)
	}

	fx := testenv.NewFixtureServer(t)
	fx.Set("/council.rss", testenv.SourceFixture(t, "council-press.rss"), testenv.ContentTypeFor("council-press.rss"))
	feed := []e2eharness.FeedItem{{
		Title: "Agriculture ministers discuss fertiliser prices", Link: "https://news.example.org/agri",
		Description: "Ministers exchanged views on fertiliser prices.", Published: recent(),
	}}
	fx.Set("/coalition.rss", e2eharness.RSS("Coalition news", "https://news.example.org/", feed), e2eharness.RSSContentType)

	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_TOKEN="+mx.botToken)
	cfg := setup{
		dataDir: env.DataDir(), matrixURL: mx.hs.URL, matrixUser: mx.botUser,
		// The room's own topic matches nothing in the fixtures, so what
		// arrives later arrives through the subscription.
		topics: map[string]string{"fisheries": `title:fisheries AND title:pacific`},
		sources: []source{
			{id: "council-press", url: fx.URL + "/council.rss"},
			{id: "coalition", url: fx.URL + "/coalition.rss", schedule: "@every 2s"},
		},
		channels: []channel{{id: "diplomacy-room", matrix: string(mx.room), topics: []string{"fisheries"}}},
	}
	env.WriteConfig(cfg.yaml())
	proc := env.Start("run")
	proc.WaitLog(30*time.Second, "the first poll of council-press", func(r e2eharness.LogRecord) bool {
		return r.Msg() == "poll" && r.Str("source") == "council-press"
	})

	send := func(c *mautrix.Client, text string) id.EventID {
		t.Helper()
		resp, err := c.SendText(ctx, mx.room, text)
		if err != nil {
			t.Fatalf("send %q: %v", text, err)
		}
		return resp.EventID
	}

	body := mx.replyTo(t, send(mx.reader, "!pw search digital diplomacy"), 30*time.Second)
	if !strings.Contains(body, "Digital diplomacy: Council approves conclusions on a stronger EU voice in global tech governance") {
		t.Fatalf("the search reply does not name the Council conclusions:\n%s", body)
	}
	if strings.Contains(body, "Fisheries") || strings.Contains(body, "Agriculture") {
		t.Fatalf("the search reply names items that do not match:\n%s", body)
	}

	body = mx.replyTo(t, send(member, `!pw subscribe "tech ambassador"`), 30*time.Second)
	if !strings.Contains(body, "power level 50") {
		t.Fatalf("a member at power level 0 should be refused:\n%s", body)
	}
	body = mx.replyTo(t, send(mx.reader, `!pw subscribe "tech ambassador"`), 30*time.Second)
	if !strings.Contains(body, "Subscribed") || !strings.Contains(body, "(id s") {
		t.Fatalf("the room creator's subscription should be accepted with its id:\n%s", body)
	}
	body = mx.replyTo(t, send(mx.reader, "!pw subscriptions"), 30*time.Second)
	if strings.Count(body, `"tech ambassador"`) != 1 {
		t.Fatalf("exactly one subscription should be listed (the refused one was not stored):\n%s", body)
	}

	// The next poll brings a matching item: it is posted to the room.
	feed = append(feed, e2eharness.FeedItem{
		Title: "Denmark appoints a new tech ambassador in Silicon Valley", Link: "https://news.example.org/tech-ambassador",
		Description: "The new tech ambassador will represent Denmark to the technology industry.", Published: time.Now().Truncate(time.Second),
	})
	fx.Set("/coalition.rss", e2eharness.RSS("Coalition news", "https://news.example.org/", feed), e2eharness.RSSContentType)
	e2eharness.Eventually(t, 30*time.Second, "the subscribed item in the room", func() bool {
		for _, n := range mx.botMessages(t) {
			if n.alertID != "" && strings.HasPrefix(n.body, "Denmark appoints a new tech ambassador") {
				return true
			}
		}
		return false
	})
	for _, n := range mx.botMessages(t) {
		if n.alertID != "" && strings.Contains(n.body, "Agriculture") {
			t.Fatalf("an item no topic or subscription matches was posted:\n%s", n.body)
		}
	}
	proc.Signal(syscall.SIGTERM)
	if code, _ := proc.Wait(15 * time.Second); code != 0 {
		t.Fatalf("daemon exit %d\n%s", code, proc.Stderr())
	}
}
