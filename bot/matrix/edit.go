package matrix

import (
	"context"
	"errors"
	"strconv"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
)

var _ bot.Editor = (*Sender)(nil)

// Edit replaces the alert's message eventID with an m.replace edit: the
// new content in m.new_content, a "* " fallback body for clients without
// edits, no mentions. Its transaction ID comes from the alert ID and
// version, and the edit is looked for among the event's edits first, so
// that a resend of the same content makes no second edit.
// A message that is gone (redacted, unknown) is a bot.GoneError: the
// homeserver would accept an edit of a redacted event, but no one would
// see it.
func (s *Sender) Edit(ctx context.Context, roomID, eventID string, a policywire.Alert, version int) error {
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	if a.ID == "" || eventID == "" {
		return &bot.PermanentError{Reason: "matrix: an edit needs the alert ID and the event ID of its message"}
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	orig, err := s.client.GetEvent(ctx, id.RoomID(roomID), id.EventID(eventID))
	if err != nil {
		if errors.Is(err, mautrix.MNotFound) {
			return &bot.GoneError{Reason: "matrix: event " + eventID + " not found", Err: err}
		}
		return classify("read an event of", roomID, err)
	}
	if orig.Unsigned.RedactedBecause != nil {
		return &bot.GoneError{Reason: "matrix: event " + eventID + " was redacted"}
	}
	key := a.ID + "/" + strconv.Itoa(version)
	if done, err := s.edited(ctx, id.RoomID(roomID), id.EventID(eventID), key); err != nil {
		return classify("read the edits of an event of", roomID, err)
	} else if done {
		s.log.Debug("matrix: edit already in room", "room", roomID, "alert", a.ID, "event", eventID)
		return nil
	}
	c := s.render.edit(a, id.EventID(eventID))
	c.EditKey = key
	_, err = s.send(ctx, roomID, txnID("edit/"+key), c, "edit", a.ID)
	return err
}

// edited says whether the bot already edited the event with the content
// of key. It covers what the transaction ID cannot (a homeserver that
// forgot its transactions, a new access token), as SendChecked does for
// alerts.
func (s *Sender) edited(ctx context.Context, room id.RoomID, original id.EventID, key string) (bool, error) {
	resp, err := s.client.GetRelations(ctx, room, original, &mautrix.ReqGetRelations{RelationType: event.RelReplace, Limit: 100})
	if err != nil {
		return false, err
	}
	for _, ev := range resp.Chunk {
		if ev.Sender == s.userID && ev.Content.Raw["org.policywire.edit"] == key {
			return true, nil
		}
	}
	return false, nil
}

// edit is the content of an m.replace edit of an alert's message, within
// the size bound of an alert event although it carries the fallback body
// as well as the new content.
func (r *renderer) edit(a policywire.Alert, original id.EventID) content {
	var c content
	for level := range 4 {
		nc := r.alertAt(a, level).MessageEventContent
		nc.Mentions = &event.Mentions{}
		c = content{MessageEventContent: event.MessageEventContent{
			MsgType:    nc.MsgType,
			Body:       "* " + nc.Body,
			Mentions:   &event.Mentions{},
			NewContent: &nc,
			RelatesTo:  (&event.RelatesTo{}).SetReplace(original),
		}}
		if jsonSize(c) <= maxAlertEventBytes {
			break
		}
	}
	return c
}

// threadAlert makes an alert that follows up another a reply in its
// thread: an m.thread relation, with the m.in_reply_to fallback for
// clients without threads.
func threadAlert(c *content, a policywire.Alert) {
	if a.ThreadRoot == "" {
		return
	}
	root := id.EventID(a.ThreadRoot)
	c.RelatesTo = (&event.RelatesTo{}).SetThread(root, root)
}
