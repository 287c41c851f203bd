package slackfake

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func client(f *Fake, token string) *slack.Client {
	return slack.New(token, slack.OptionAPIURL(f.URL()), slack.OptionHTTPClient(&http.Client{Timeout: 2 * time.Second}))
}

func TestPostsAreRecordedAndServedAsHistory(t *testing.T) {
	f := New(t)
	c := client(f, "xoxb-1")
	ctx := context.Background()
	var sent []string
	for i := range 5 {
		_, ts, err := c.PostMessageContext(ctx, "C1",
			slack.MsgOptionText(fmt.Sprintf("message %d", i), false),
			slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "test_event", EventPayload: map[string]any{"n": i}}))
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, ts)
	}
	if _, _, err := c.PostMessageContext(ctx, "C2", slack.MsgOptionText("elsewhere", false)); err != nil {
		t.Fatal(err)
	}

	posts := f.Posts("C1")
	if len(posts) != 5 || len(f.AllPosts()) != 6 {
		t.Fatalf("C1 has %d posts, all %d", len(posts), len(f.AllPosts()))
	}
	for i, p := range posts {
		if p.TS != sent[i] || p.Text != fmt.Sprintf("message %d", i) || p.Metadata == nil || p.Form.Get("token") != "" {
			t.Errorf("post %d = %+v", i, p)
		}
		if i > 0 && parseTS(p.TS) <= parseTS(posts[i-1].TS) {
			t.Errorf("ts not increasing: %s after %s", p.TS, posts[i-1].TS)
		}
	}

	// Newest first, two per page, metadata only when asked for.
	var seen []string
	params := &slack.GetConversationHistoryParameters{ChannelID: "C1", Limit: 2, IncludeAllMetadata: true}
	for {
		resp, err := c.GetConversationHistoryContext(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range resp.Messages {
			if m.Metadata.EventType != "test_event" {
				t.Errorf("message %s lacks metadata", m.Timestamp)
			}
			seen = append(seen, m.Timestamp)
		}
		if !resp.HasMore {
			break
		}
		params.Cursor = resp.ResponseMetaData.NextCursor
	}
	if want := []string{sent[4], sent[3], sent[2], sent[1], sent[0]}; strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("history = %v, want %v", seen, want)
	}
	resp, err := c.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1", Oldest: sent[2]})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Messages) != 2 || resp.Messages[0].Metadata.EventType != "" {
		t.Errorf("oldest=%s: %d messages (metadata %q)", sent[2], len(resp.Messages), resp.Messages[0].Metadata.EventType)
	}
}

func TestScriptedFailures(t *testing.T) {
	f := New(t)
	c := client(f, "xoxb-1")
	ctx := context.Background()
	text := slack.MsgOptionText("hello", false)

	f.FailNext(1, http.StatusTooManyRequests, "3")
	_, _, err := c.PostMessageContext(ctx, "C1", text)
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 3*time.Second {
		t.Errorf("429: %v", err)
	}

	f.Script("chat.postMessage", Fault{}, Fault{Status: http.StatusBadGateway})
	if _, _, err := c.PostMessageContext(ctx, "C1", text); err != nil {
		t.Errorf("zero fault should pass: %v", err)
	}
	_, _, err = c.PostMessageContext(ctx, "C1", text)
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusBadGateway {
		t.Errorf("502: %v", err)
	}

	f.ChannelError("CX", "not_in_channel")
	_, _, err = c.PostMessageContext(ctx, "CX", text)
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != "not_in_channel" {
		t.Errorf("channel error: %v", err)
	}
	f.ChannelError("CX", "")
	if _, _, err := c.PostMessageContext(ctx, "CX", text); err != nil {
		t.Errorf("cleared channel error: %v", err)
	}

	f.DropAfterPost(1)
	before := len(f.Posts("C1"))
	if _, _, err := c.PostMessageContext(ctx, "C1", text); err == nil {
		t.Error("dropped connection reported success")
	}
	if len(f.Posts("C1")) != before+1 {
		t.Error("dropped post was not recorded")
	}

	f.Respond(func(r *http.Request, form url.Values) (int, string, bool) {
		return http.StatusOK, `{"ok":false,"error":"fatal_error"}`, Method(r) == "chat.postMessage"
	})
	_, _, err = c.PostMessageContext(ctx, "C1", text)
	if !errors.As(err, &se) || se.Err != "fatal_error" {
		t.Errorf("responder: %v", err)
	}
	f.Respond(nil)

	if n := f.Calls("chat.postMessage"); n != 7 {
		t.Errorf("%d calls counted, want 7", n)
	}
}

func TestSlackLimitsAndAuth(t *testing.T) {
	f := New(t)
	f.RequireToken("xoxb-good")
	ctx := context.Background()

	if _, err := client(f, "xoxb-bad").AuthTestContext(ctx); err == nil || err.Error() != "invalid_auth" {
		t.Errorf("bad token: %v", err)
	}
	good := client(f, "xoxb-good")
	auth, err := good.AuthTestContext(ctx)
	if err != nil || auth.UserID != BotUserID || auth.BotID != BotID {
		t.Fatalf("auth.test = %+v, %v", auth, err)
	}

	var blocks []slack.Block
	for range 51 {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "x", false, false), nil, nil))
	}
	_, _, err = good.PostMessageContext(ctx, "C1", slack.MsgOptionBlocks(blocks...))
	if err == nil || err.Error() != "invalid_blocks" {
		t.Errorf("51 blocks: %v", err)
	}
	long := slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, strings.Repeat("é", 3001), false, false), nil, nil)
	_, _, err = good.PostMessageContext(ctx, "C1", slack.MsgOptionBlocks(long))
	if err == nil || err.Error() != "invalid_blocks" {
		t.Errorf("3001-character section: %v", err)
	}
	if _, _, err = good.PostMessageContext(ctx, "C1"); err == nil || err.Error() != "no_text" {
		t.Errorf("empty message: %v", err)
	}
	if n := len(f.AllPosts()); n != 0 {
		t.Errorf("%d invalid posts recorded", n)
	}
}
