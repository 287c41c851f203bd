package slack

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/internal/slackfake"
)

func TestEditUpdatesInPlaceAndKeepsTheMarker(t *testing.T) {
	f := slackfake.New(t)
	s := newSender(t, f)
	ctx := context.Background()
	a := alertN(1)
	ts, err := s.Send(ctx, "C1", a)
	if err != nil {
		t.Fatal(err)
	}
	a.Also = append(a.Also, policywire.AlsoReported{Source: "govuk-fcdo", SourceName: "GOV.UK – FCDO", URL: "https://www.gov.uk/x"})
	a.Edited = &policywire.AlertEdit{At: time.Date(2026, 11, 27, 13, 5, 0, 0, time.UTC), Changes: []string{policywire.ChangeSource, policywire.ChangeTitle}}
	for range 2 { // the same content twice: Slack keeps showing it
		if err := s.Edit(ctx, "C1", ts, a, 1); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.Posts("C1")); n != 1 {
		t.Fatalf("%d posts after editing, want 1", n)
	}
	msg, _ := f.Message("C1", ts)
	content := msg.Text + string(msg.Blocks)
	for _, want := range []string{"GOV.UK – FCDO", "Updated 14:05 CET: new title"} {
		if !strings.Contains(content, want) {
			t.Errorf("edited message does not show %q: %s", want, content)
		}
	}
	if msg.Metadata == nil || msg.Metadata.EventPayload["alert_id"] != a.ID {
		t.Errorf("edited message lost its alert marker: %+v", msg.Metadata)
	}
	// The marker still finds the message: a checked resend posts nothing.
	if got, err := s.SendChecked(ctx, "C1", a); err != nil || got != ts {
		t.Fatalf("SendChecked after the edit = %q, %v; want %s", got, err, ts)
	}
}

func TestEditOfDeletedMessageIsGone(t *testing.T) {
	f := slackfake.New(t)
	s := newSender(t, f)
	ctx := context.Background()
	ts, err := s.Send(ctx, "C1", alertN(1))
	if err != nil {
		t.Fatal(err)
	}
	f.Delete("C1", ts)
	err = s.Edit(ctx, "C1", ts, alertN(1), 1)
	var gone *bot.GoneError
	if !errors.As(err, &gone) || !strings.Contains(gone.Reason, "message_not_found") {
		t.Fatalf("edit of a deleted message: %v, want a GoneError for message_not_found", err)
	}
	f.ChannelError("C2", "channel_not_found")
	if err := s.Edit(ctx, "C2", ts, alertN(1), 1); !bot.IsPermanent(err) {
		t.Fatalf("edit in a missing channel: %v, want a permanent error", err)
	}
}

func TestFollowUpIsAThreadReplyFoundAgainAmongReplies(t *testing.T) {
	f := slackfake.New(t)
	s := newSender(t, f)
	ctx := context.Background()
	root, err := s.Send(ctx, "C1", alertN(1))
	if err != nil {
		t.Fatal(err)
	}
	reply := alertN(2)
	reply.ThreadRoot, reply.Broadcast = root, true
	ts, err := s.Send(ctx, "C1", reply)
	if err != nil {
		t.Fatal(err)
	}
	posts := f.Posts("C1")
	if len(posts) != 2 || posts[1].ThreadTS != root || !posts[1].Broadcast {
		t.Fatalf("posts %+v, want the second a broadcast reply in %s", posts, root)
	}
	quiet := alertN(3)
	quiet.ThreadRoot = root
	quietTS, err := s.Send(ctx, "C1", quiet)
	if err != nil {
		t.Fatal(err)
	}
	// conversations.history leaves out the reply that was not broadcast;
	// a checked resend looks among the thread's replies and posts nothing.
	for _, c := range []struct {
		a  policywire.Alert
		ts string
	}{{reply, ts}, {quiet, quietTS}} {
		got, err := s.SendChecked(ctx, "C1", c.a)
		if err != nil || got != c.ts {
			t.Fatalf("SendChecked of reply %s = %q, %v; want %s", c.a.ID, got, err, c.ts)
		}
	}
	if n := len(f.Posts("C1")); n != 3 {
		t.Fatalf("%d posts after the checked resends, want 3", n)
	}
	if n := f.Calls("conversations.replies"); n != 2 {
		t.Errorf("%d conversations.replies calls, want 2", n)
	}
}
