package matrix

import (
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"
)

// TestListenerTellsOfSkippedCommands: more commands arrive while the bot
// is down than one sync returns; the restarted listener answers those the
// sync holds and tells the room the older ones were not read, once.
func TestListenerTellsOfSkippedCommands(t *testing.T) {
	e := newListenerEnv(t, true)
	ctx := testContext(t)
	if err := e.sender.JoinRooms(ctx, []string{e.room}); err != nil {
		t.Fatal(err)
	}
	stop := e.startListener(t, e.sender)
	e.waitPrimed(t, "")
	stop()
	var sent []id.EventID
	for range timelineLimit + 10 {
		sent = append(sent, send(t, e.reader, e.room, "!pw help"))
	}
	e.startListener(t, e.sender)
	last := e.waitReply(t, sent[len(sent)-1])
	if b := body(t, last); !strings.HasPrefix(b, "policywire commands:") {
		t.Fatalf("the last command was answered %q", b)
	}
	notices := 0
	for _, ev := range e.botMessages(t) {
		if strings.Contains(body(t, ev), "the older commands among them were not read") {
			notices++
		}
	}
	if notices != 1 {
		t.Errorf("%d notices of skipped commands, want 1", notices)
	}
	if n := e.replies(t); n[sent[0].String()] != 0 {
		t.Errorf("the oldest command, beyond the sync, was answered %d times", n[sent[0].String()])
	}
}
