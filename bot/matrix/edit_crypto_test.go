//go:build goolm

package matrix

import (
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"

	"github.com/policywire/policywire"
)

func TestEditInAnEncryptedRoomIsEncryptedWithItsRelationReadable(t *testing.T) {
	e := newEncryptedRoom(t)
	ctx := testContext(t)
	a := fullAlert()
	original, err := e.sender.Send(ctx, e.room.String(), a)
	if err != nil {
		t.Fatal(err)
	}
	a.Item.Title = "Cyber Resilience Act: Council and Parliament agree on security rules"
	a.Edited = &policywire.AlertEdit{At: time.Date(2026, 11, 27, 13, 5, 0, 0, time.UTC), Changes: []string{policywire.ChangeTitle}}
	if err := e.sender.Edit(ctx, e.room.String(), original, a, 1); err != nil {
		t.Fatal(err)
	}
	var edit *event.Event
	deadline := time.Now().Add(30 * time.Second)
	for edit == nil {
		for _, ev := range botTimeline(e.reader, e.room, e.botID) {
			if ev.ID.String() != original {
				edit = ev
			}
		}
		if edit == nil && time.Now().After(deadline) {
			t.Fatal("the reader never received the edit")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if edit.Type != event.EventEncrypted {
		t.Fatalf("the edit is %s, want m.room.encrypted", edit.Type.Type)
	}
	rel, _ := edit.Content.Raw["m.relates_to"].(map[string]any)
	if rel["rel_type"] != "m.replace" || rel["event_id"] != original {
		t.Errorf("the encrypted edit relates %v in clear, want m.replace of %s", rel, original)
	}
	dec := waitDecrypted(t, e.reader, edit.ID.String())
	nc, _ := dec.Content.Raw["m.new_content"].(map[string]any)
	if body, _ := nc["body"].(string); !strings.HasPrefix(body, a.Item.Title) {
		t.Errorf("the edit decrypts to new content %q", nc["body"])
	}
}
