package matrix

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/policywire/policywire/bot"
)

// directRooms remembers, for the process, the direct room of each person
// the bot has written to; the homeserver keeps it in m.direct for good.
type directRooms struct {
	mu    sync.Mutex
	rooms map[id.UserID]id.RoomID
}

// roomFor turns a target into a room: a room id is returned as it is; a
// user id (@alice:example.org) becomes the bot's direct room with that
// person: the one recorded in the bot's m.direct account data, or a new
// private room created with is_direct and the person invited, then
// recorded there. A person who left that room or was banned from it gets
// a PermanentError, so their direct messages are parked.
func (s *Sender) roomFor(ctx context.Context, target string) (string, error) {
	if !strings.HasPrefix(target, "@") {
		return target, checkRoomID(target)
	}
	user := id.UserID(target)
	if _, _, err := user.Parse(); err != nil {
		return "", &bot.PermanentError{Reason: fmt.Sprintf("matrix: %q is not a user id", target), Err: err}
	}
	s.direct.mu.Lock()
	defer s.direct.mu.Unlock()
	if s.direct.rooms == nil {
		s.direct.rooms = map[id.UserID]id.RoomID{}
	}
	room, ok := s.direct.rooms[user]
	if !ok {
		var err error
		if room, err = s.directRoom(ctx, user); err != nil {
			return "", err
		}
		s.direct.rooms[user] = room
	}
	var member event.MemberEventContent
	err := s.client.StateEvent(ctx, room, event.StateMember, user.String(), &member)
	if err != nil {
		return "", classify("read the membership of "+user.String()+" in", room.String(), err)
	}
	if member.Membership == event.MembershipLeave || member.Membership == event.MembershipBan {
		delete(s.direct.rooms, user)
		return "", &bot.PermanentError{Reason: fmt.Sprintf("matrix: %s left the direct room %s (%s)", user, room, member.Membership)}
	}
	return room.String(), nil
}

// directRoom finds or makes the bot's direct room with user.
func (s *Sender) directRoom(ctx context.Context, user id.UserID) (id.RoomID, error) {
	direct := map[id.UserID][]id.RoomID{}
	err := s.client.GetAccountData(ctx, event.AccountDataDirectChats.Type, &direct)
	var httpErr mautrix.HTTPError
	if err != nil && !(errors.As(err, &httpErr) && httpErr.RespError != nil && httpErr.RespError.ErrCode == mautrix.MNotFound.ErrCode) {
		return "", classify("read the direct rooms (m.direct) of the bot in", "", err)
	}
	if rooms := direct[user]; len(rooms) > 0 {
		return rooms[len(rooms)-1], nil
	}
	resp, err := s.client.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset:   "trusted_private_chat",
		IsDirect: true,
		Invite:   []id.UserID{user},
		Name:     "policywire",
		Topic:    "Your policywire watches: new items that match them come here.",
	})
	if err != nil {
		return "", classify("create a direct room with "+user.String()+" in", "", err)
	}
	direct[user] = append(direct[user], resp.RoomID)
	if err := s.client.SetAccountData(ctx, event.AccountDataDirectChats.Type, direct); err != nil {
		// The room exists and is remembered for this process; m.direct is
		// written again with the next new direct room.
		s.log.Warn("matrix: could not record the direct room in m.direct", "user", user.String(), "room", resp.RoomID.String(), "err", err)
	}
	s.log.Info("matrix: direct room created", "user", user.String(), "room", resp.RoomID.String())
	return resp.RoomID, nil
}
