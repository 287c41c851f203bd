package matrix

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/policywire/policywire/config"
)

// membership is the bot's membership of room as the reader sees it.
func (e *listenerEnv) membership(t *testing.T, room id.RoomID) event.MemberEventContent {
	t.Helper()
	var m event.MemberEventContent
	if err := e.reader.StateEvent(testContext(t), room, event.StateMember, e.botID, &m); err != nil {
		t.Fatalf("the bot's membership of %s: %v", room, err)
	}
	return m
}

// waitMembership waits until the bot's membership of room is want.
func (e *listenerEnv) waitMembership(t *testing.T, room id.RoomID, want event.Membership) event.MemberEventContent {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := e.membership(t, room)
		if m.Membership == want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bot's membership of %s is %s after 30s, want %s", room, m.Membership, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *listenerEnv) newRoom(t *testing.T, preset string, invite bool) id.RoomID {
	t.Helper()
	req := &mautrix.ReqCreateRoom{Preset: preset}
	if invite {
		req.Invite = []id.UserID{id.UserID(e.botID)}
	}
	resp, err := e.reader.CreateRoom(testContext(t), req)
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	return resp.RoomID
}

// TestListenerDeclinesInvitesToRoomsNotConfigured: by default an invite
// to a room that is not configured is declined, with a reason naming the
// fix; a room a reload adds is joined at once, before the long poll the
// listener was in (30 s) would have ended.
func TestListenerDeclinesInvitesToRoomsNotConfigured(t *testing.T) {
	e := newListenerEnv(t, true)
	var mu sync.Mutex
	rooms := []string{e.room}
	changed := make(chan struct{}, 1)
	e.startListener(t, e.sender, func(o *ListenerOptions) {
		o.Rooms = func() []string {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(rooms)
		}
		o.RoomsChanged = changed
	})
	e.waitJoined(t, e.room)

	other := e.newRoom(t, "private_chat", true)
	e.waitMembership(t, other, event.MembershipLeave)
	// dendrite keeps no reason on a rejected invite (its leave event has
	// the membership alone), so the reason is checked as sent.
	if r := declineReason(other); !strings.Contains(r, "Add this room (matrix: "+other.String()+") there, reload, and invite the bot again") || !strings.Contains(r, "matrix.autojoin: any") {
		t.Errorf("decline reason %q does not name the fix", r)
	}

	// A room anyone may join, added by a reload while the listener waits
	// in its long poll.
	open := e.newRoom(t, "public_chat", false)
	e.waitPrimed(t, "")
	mu.Lock()
	rooms = append(rooms, open.String())
	mu.Unlock()
	changed <- struct{}{}
	deadline := time.Now().Add(pollTimeout / 2)
	for e.membershipOrEmpty(t, open) != event.MembershipJoin {
		if time.Now().After(deadline) {
			t.Fatalf("the room added by a reload was not joined within half a long poll")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// membershipOrEmpty is the bot's membership of room, "" when it has none.
func (e *listenerEnv) membershipOrEmpty(t *testing.T, room id.RoomID) event.Membership {
	t.Helper()
	var m event.MemberEventContent
	if err := e.reader.StateEvent(testContext(t), room, event.StateMember, e.botID, &m); err != nil {
		return ""
	}
	return m.Membership
}

// TestListenerAutojoinAny: with matrix.autojoin any the bot joins a room
// that is not configured and answers commands there, and posts nothing
// else to it.
func TestListenerAutojoinAny(t *testing.T) {
	e := newListenerEnv(t, true)
	e.startListener(t, e.sender, func(o *ListenerOptions) { o.Autojoin = config.AutojoinAny })
	e.waitJoined(t, e.room)
	other := e.newRoom(t, "private_chat", true)
	e.waitJoined(t, other.String())

	inOther := &listenerEnv{roomFixture: &roomFixture{hs: e.hs, sender: e.sender, botID: e.botID, token: e.token, bot: e.bot, reader: e.reader, room: other.String()}}
	help := send(t, e.reader, other.String(), "!pw help")
	if b := body(t, inOther.waitReply(t, help)); !strings.Contains(b, "!pw search QUERY") {
		t.Errorf("help in a room joined by autojoin any answered %q", b)
	}
	latest := send(t, e.reader, other.String(), "!pw latest")
	if b := body(t, inOther.waitReply(t, latest)); !strings.Contains(b, "not one of policywire's channels") {
		t.Errorf("latest in a room not configured answered %q", b)
	}
	for _, ev := range inOther.botMessages(t) {
		if replyTo(t, ev) == "" {
			t.Errorf("the bot posted %q, which answers no command, to a room not configured", body(t, ev))
		}
	}
}

// TestListenerAutojoinNone: with matrix.autojoin none even an invite to a
// configured room is left pending.
func TestListenerAutojoinNone(t *testing.T) {
	e := newListenerEnv(t, false)
	// The bot is in one room, joined by hand, where commands show how far
	// the listener has read.
	lobby := e.newRoom(t, "public_chat", false)
	if _, err := e.sender.Client().JoinRoomByID(testContext(t), lobby); err != nil {
		t.Fatal(err)
	}
	e.startListener(t, e.sender, func(o *ListenerOptions) {
		o.Autojoin = config.AutojoinNone
		o.Rooms = func() []string { return []string{e.room, lobby.String()} }
	})
	e.waitPrimed(t, "")
	if _, err := e.reader.InviteUser(testContext(t), id.RoomID(e.room), &mautrix.ReqInviteUser{UserID: id.UserID(e.botID)}); err != nil {
		t.Fatal(err)
	}
	inLobby := &listenerEnv{roomFixture: &roomFixture{hs: e.hs, sender: e.sender, botID: e.botID, token: e.token, bot: e.bot, reader: e.reader, room: lobby.String()}}
	// The invite comes before this command in the sync stream, so it was
	// handled when the command is answered.
	inLobby.waitReply(t, send(t, e.reader, lobby.String(), "!pw help"))
	if m := e.membership(t, id.RoomID(e.room)); m.Membership != event.MembershipInvite {
		t.Errorf("with autojoin none the bot's membership of a configured room is %s, want invite", m.Membership)
	}
}
