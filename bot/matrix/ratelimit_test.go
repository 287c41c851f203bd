package matrix

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/config"
)

// TestListenerCommandRateLimitPerPerson: 30 commands in 10 s of the bot's
// clock from one person in a room meet the limit, answered as a reply,
// while a second person's commands among them all pass.
func TestListenerCommandRateLimitPerPerson(t *testing.T) {
	e := newListenerEnv(t, true)
	ctx := testContext(t)
	memberID, memberToken := e.hs.Register(t, uniqueLocalpart(t, "member"), false)
	member := e.hs.Client(t, memberID, memberToken)
	if _, err := e.reader.InviteUser(ctx, id.RoomID(e.room), &mautrix.ReqInviteUser{UserID: member.UserID}); err != nil {
		t.Fatal(err)
	}
	if _, err := member.JoinRoomByID(ctx, id.RoomID(e.room)); err != nil {
		t.Fatal(err)
	}
	e.cfg.Chat = config.Chat{CommandsPerMinute: 20, CommandBurst: 10, MaxWatches: 20}
	// Each command reads the clock once; it moves a third of a second a
	// command, so the 36 commands below span 12 s.
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var ticks atomic.Int64
	e.commands = &bot.Commands{Bot: e.app, Now: func() time.Time {
		return start.Add(time.Duration(ticks.Add(1)-1) * time.Second / 3)
	}}
	e.startListener(t, e.sender)
	e.waitJoined(t, e.room)

	var mine, theirs []id.EventID
	for i := range 30 {
		mine = append(mine, send(t, e.reader, e.room, "!pw help"))
		if i%5 == 0 {
			theirs = append(theirs, send(t, member, e.room, "!pw help"))
		}
	}
	passed, limited := 0, 0
	for _, ev := range mine {
		switch b := body(t, e.waitReply(t, ev)); {
		case strings.HasPrefix(b, "policywire commands:"):
			passed++
		case strings.Contains(b, "faster than policywire answers them"):
			limited++
		default:
			t.Errorf("unexpected answer %q", b)
		}
	}
	for _, ev := range theirs {
		reply := e.waitReply(t, ev)
		if b := body(t, reply); !strings.HasPrefix(b, "policywire commands:") {
			t.Errorf("the other person's command was answered %q", b)
		}
		// The answer mentions the person who asked, and nobody else.
		mentions, _ := rawContent(t, reply)["m.mentions"].(map[string]any)
		if ids, _ := mentions["user_ids"].([]any); len(ids) != 1 || ids[0] != memberID || mentions["room"] != nil {
			t.Errorf("the answer's m.mentions = %v, want only %s", mentions, memberID)
		}
	}
	// 10 at once, then one every 3 s of the 12 s the commands span.
	if limited == 0 || passed < 10 || passed > 14 {
		t.Errorf("passed %d, limited %d; want 10 to 14 through and the rest limited", passed, limited)
	}
}
