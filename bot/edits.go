package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/store"
)

// Editor is a Sender that can rewrite a message it posted, for an alert
// whose story gained a source or whose item changed. An edit notifies
// nobody.
type Editor interface {
	// Edit replaces the content of message ref in target with the
	// alert's. version tells apart the contents one message is edited to:
	// repeating an Edit with the same version must not edit twice (a
	// retry after an ambiguous failure, or after a crash).
	Edit(ctx context.Context, target, ref string, a policywire.Alert, version int) error
}

// GoneError says the message to edit no longer exists (deleted,
// redacted): the edit is dropped, not retried.
type GoneError struct {
	Reason string
	Err    error
}

func (e *GoneError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("bot: message gone: %s: %v", e.Reason, e.Err)
	}
	return "bot: message gone: " + e.Reason
}
func (e *GoneError) Unwrap() error { return e.Err }

// deliverEdit makes one attempt at an edit row. Like deliver, it returns
// a non-zero time when the channel must wait before its next attempt.
func (d *Dispatcher) deliverEdit(ctx context.Context, ch config.Channel, sender Sender, row store.OutboxRow) (time.Time, error) {
	editor, ok := sender.(Editor)
	if !ok {
		return time.Time{}, d.park(ctx, ch, row, "the "+sender.Platform()+" connection cannot edit messages")
	}
	target := row.Edit.Target
	if target == "" {
		target = ch.Target()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.sendTimeout())
	defer cancel()
	err := editor.Edit(sctx, target, row.Edit.Ref, row.Alert, row.Edit.Version)
	ev := DeliveryEvent{Channel: ch.ID, Platform: ch.Platform(), Err: err, Edit: true}
	defer func() {
		if d.Observe != nil {
			d.Observe(ev)
		}
	}()
	var gone *GoneError
	switch {
	case err == nil:
		if err := d.Store.EditDelivered(ch.ID, row.Key, row.Edit.Version); err != nil {
			return time.Time{}, fmt.Errorf("bot: mark edit delivered: %w", err)
		}
		d.Logger.Debug("edited", "channel", ch.ID, "alert", row.Alert.ID, "ref", row.Edit.Ref, "title", row.Alert.Item.Title)
		return time.Time{}, nil
	case errors.As(err, &gone):
		ev.Err = nil
		d.Logger.Warn("original message gone; update dropped", "channel", ch.ID, "alert", row.Alert.ID, "ref", row.Edit.Ref, "reason", gone.Reason)
		if err := d.Store.EditDropped(ch.ID, row.Key); err != nil {
			return time.Time{}, fmt.Errorf("bot: drop edit: %w", err)
		}
		return time.Time{}, nil
	}
	if reason, park := d.parkReason(err, row.Attempts+1); park {
		ev.Parked = true
		return time.Time{}, d.park(ctx, ch, row, reason)
	}
	wait := RetryBackoff(row.Attempts + 1)
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		wait = max(ra.After, time.Second)
	}
	next := d.now().Add(wait)
	d.Logger.Warn("edit failed; will retry", "channel", ch.ID, "alert", row.Alert.ID, "attempt", row.Attempts+1, "retry_in", wait.Round(time.Millisecond), "err", err)
	if err := d.Store.Retry(ch.ID, row.Key, err.Error(), next); err != nil {
		return time.Time{}, fmt.Errorf("bot: record retry: %w", err)
	}
	return next, nil
}

// followUp makes an alert a reply in the thread of the channel's recent
// alert about one of its policy references, unless the channel posts
// follow-ups in the channel. The thread is looked up when the alert is
// sent, so that an alert delivered just before is found.
func (d *Dispatcher) followUp(ch config.Channel, a policywire.Alert) policywire.Alert {
	if ch.FollowUps == config.FollowUpChannel || len(a.Item.References) == 0 || a.ThreadRoot != "" {
		return a
	}
	window := ch.FollowUpWindow
	if window <= 0 {
		window = config.DefaultFollowUpWindow
	}
	th, ok, err := d.Store.FollowUpThread(ch.ID, a.Item.References, d.now().Add(-window))
	if err != nil {
		// Posting in the channel is better than not posting.
		d.Logger.Warn("follow-up thread lookup failed; posting in the channel", "channel", ch.ID, "alert", a.ID, "err", err)
		return a
	}
	if !ok || (th.Target != "" && th.Target != ch.Target()) {
		return a
	}
	a.ThreadRoot, a.Broadcast = th.Ref, ch.ReplyBroadcast
	return a
}
