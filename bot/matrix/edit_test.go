package matrix

import (
	"errors"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
)

func (f *roomFixture) replaces(t *testing.T, original string) []*event.Event {
	t.Helper()
	f.botMessages(t) // every earlier event is processed
	resp, err := f.reader.GetRelations(testContext(t), id.RoomID(f.room), id.EventID(original), &mautrix.ReqGetRelations{RelationType: event.RelReplace})
	if err != nil {
		t.Fatalf("relations: %v", err)
	}
	return resp.Chunk
}

func TestEditIsOneReplaceEvenUnderANewToken(t *testing.T) {
	f := setupRoom(t)
	ctx := testContext(t)
	a := fullAlert()
	original, err := f.sender.Send(ctx, f.room, a)
	if err != nil {
		t.Fatal(err)
	}
	a.Item.Title = "Cyber Resilience Act: Council and Parliament agree on security rules"
	a.Edited = &policywire.AlertEdit{At: time.Date(2026, 11, 27, 13, 5, 0, 0, time.UTC), Changes: []string{policywire.ChangeTitle}}
	if err := f.sender.Edit(ctx, f.room, original, a, 1); err != nil {
		t.Fatal(err)
	}
	// The same edit again, from a new login (its own transaction scope).
	relogged := newSender(t, f.hs, f.botID, f.hs.Login(t, f.bot))
	if err := relogged.Edit(ctx, f.room, original, a, 1); err != nil {
		t.Fatal(err)
	}
	edits := f.replaces(t, original)
	if len(edits) != 1 {
		t.Fatalf("%d m.replace edits, want 1", len(edits))
	}
	raw := edits[0].Content.Raw
	nc, _ := raw["m.new_content"].(map[string]any)
	if body, _ := nc["body"].(string); !strings.HasPrefix(body, a.Item.Title) || !strings.Contains(body, "Updated 14:05 CET: new title") {
		t.Errorf("new content body %q", nc["body"])
	}
	if body, _ := raw["body"].(string); !strings.HasPrefix(body, "* "+a.Item.Title) {
		t.Errorf("fallback body %q", raw["body"])
	}
	if m, ok := raw["m.mentions"].(map[string]any); !ok || len(m) != 0 {
		t.Errorf("edit mentions %v", raw["m.mentions"])
	}
	// A newer content is a new edit.
	a.Item.Summary = "A new summary."
	if err := relogged.Edit(ctx, f.room, original, a, 2); err != nil {
		t.Fatal(err)
	}
	if n := len(f.replaces(t, original)); n != 2 {
		t.Fatalf("%d edits after a newer content, want 2", n)
	}
}

func TestEditOfRedactedAlertIsGone(t *testing.T) {
	f := setupRoom(t)
	ctx := testContext(t)
	original, err := f.sender.Send(ctx, f.room, fullAlert())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.reader.RedactEvent(ctx, id.RoomID(f.room), id.EventID(original)); err != nil {
		t.Fatal(err)
	}
	f.botMessages(t)
	err = f.sender.Edit(ctx, f.room, original, fullAlert(), 1)
	var gone *bot.GoneError
	if !errors.As(err, &gone) {
		t.Fatalf("edit of a redacted alert: %v, want a GoneError", err)
	}
	if n := len(f.replaces(t, original)); n != 0 {
		t.Errorf("the redacted alert got %d edits", n)
	}
	err = f.sender.Edit(ctx, f.room, "$unknown-event:localhost", fullAlert(), 1)
	if !errors.As(err, &gone) {
		t.Fatalf("edit of an unknown event: %v, want a GoneError", err)
	}
}

func TestFollowUpIsAThreadReply(t *testing.T) {
	f := setupRoom(t)
	ctx := testContext(t)
	root, err := f.sender.Send(ctx, f.room, fullAlert())
	if err != nil {
		t.Fatal(err)
	}
	reply := plainAlert()
	reply.ThreadRoot = root
	if _, err := f.sender.Send(ctx, f.room, reply); err != nil {
		t.Fatal(err)
	}
	msgs := f.botMessages(t)
	rel, _ := rawContent(t, msgs[len(msgs)-1])["m.relates_to"].(map[string]any)
	inReply, _ := rel["m.in_reply_to"].(map[string]any)
	if rel["rel_type"] != "m.thread" || rel["event_id"] != root || rel["is_falling_back"] != true || inReply["event_id"] != root {
		t.Errorf("reply relates %v, want an m.thread reply to %s falling back to a reply", rel, root)
	}
}
