package store

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/policywire/policywire"
	bolt "go.etcd.io/bbolt"
)

// An edit row is an outbox row that carries the new content of an alert
// already delivered to the channel, and where its message is. It waits
// in the channel's line like an alert (retried, parked, unparked the same
// way); there is at most one per message: a change seen while one is
// pending rewrites it (latest content wins) and gives it a new version.

type editRecord struct {
	Ref    string `json:"ref"`
	Target string `json:"target,omitempty"`
	// Version is unique per message and grows with every content the row
	// held: the Matrix transaction id of the edit is made from it, so a
	// resend of the same content is recognised, a newer content is not.
	Version int `json:"version"`
}

// EditTarget is the message an edit row rewrites.
type EditTarget struct {
	Message
	Version int
}

func (e *editRecord) target() *EditTarget {
	if e == nil {
		return nil
	}
	return &EditTarget{Message: Message{Target: e.Target, Ref: e.Ref}, Version: e.Version}
}

// EditDelivered records that the edit row under key was applied with the
// content of version: the message now shows it, the channel's log too.
// When the row was rewritten meanwhile (a newer version), it stays for
// its newer content. A row already gone is not an error.
func (s *Store) EditDelivered(channel string, key []byte, version int) error {
	err := s.update(outboxWrite(channel), func(tx *bolt.Tx) error {
		return applyEdit(tx, channel, key, version)
	})
	if err != nil {
		return fmt.Errorf("store: edit delivered %s/%x: %w", channel, key, err)
	}
	return nil
}

// EditDropped removes an edit row whose message no longer exists and
// records the message as gone (see MessageGone).
func (s *Store) EditDropped(channel string, key []byte) error {
	err := s.update(outboxWrite(channel), func(tx *bolt.Tx) error {
		b, rec, err := loadRow(tx, channel, key)
		if err != nil || rec == nil {
			return err
		}
		if err := b.Delete(key); err != nil {
			return err
		}
		return markGone(tx, channel, rec.Alert.ID)
	})
	if err != nil {
		return fmt.Errorf("store: edit dropped %s/%x: %w", channel, key, err)
	}
	return nil
}

// loadRow reads the row under key; rec is nil when there is none.
func loadRow(tx *bolt.Tx, channel string, key []byte) (b *bolt.Bucket, rec *outboxRecord, err error) {
	b = tx.Bucket(bucketOutbox).Bucket([]byte(channel))
	if b == nil {
		return nil, nil, nil
	}
	v := b.Get(key)
	if v == nil {
		return b, nil, nil
	}
	rec = new(outboxRecord)
	if err := decode(v, rec); err != nil {
		return nil, nil, fmt.Errorf("row %x: %w", key, err)
	}
	return b, rec, nil
}

func applyEdit(tx *bolt.Tx, channel string, key []byte, version int) error {
	b, rec, err := loadRow(tx, channel, key)
	if err != nil || rec == nil {
		return err
	}
	if rec.Edit == nil {
		return fmt.Errorf("row %x is not an edit", key)
	}
	ids := deliveredBucket(tx, channel, subDeliveredIDs)
	log := deliveredBucket(tx, channel, subDeliveredLog)
	if ids == nil || log == nil {
		return b.Delete(key)
	}
	dr, err := getDelivery(ids, rec.Alert.ID)
	if err != nil {
		return err
	}
	if dr == nil {
		return b.Delete(key)
	}
	dr.Edits++
	if rec.Edit.Version == version {
		av, err := encode(rec.Alert)
		if err != nil {
			return err
		}
		if err := log.Put(u64(dr.LogSeq), av); err != nil {
			return err
		}
		dr.EditKey = nil
		if err := b.Delete(key); err != nil {
			return err
		}
	}
	return putDelivery(ids, rec.Alert.ID, dr)
}

// enqueueEdit queues (or rewrites) an edit of the message alertID was delivered as in
// channel, with the content change makes of what the message shows (or
// will show, when an edit is pending); change says what it changed, nil
// for nothing. Alerts not delivered (still in the outbox, which shows
// changes by rewriting the row), delivered in a digest, or whose message
// is gone get no edit. It says whether it queued one.
func enqueueEdit(tx *bolt.Tx, channel, alertID string, now time.Time, change func(*policywire.Alert) []string) (bool, error) {
	ids := deliveredBucket(tx, channel, subDeliveredIDs)
	log := deliveredBucket(tx, channel, subDeliveredLog)
	if ids == nil || log == nil {
		return false, nil
	}
	dr, err := getDelivery(ids, alertID)
	if err != nil || dr == nil || dr.Digest || dr.Gone || dr.Ref == "" || dr.LogSeq == 0 {
		return false, err
	}
	ob, err := tx.Bucket(bucketOutbox).CreateBucketIfNotExists([]byte(channel))
	if err != nil {
		return false, err
	}
	var pending *outboxRecord
	if len(dr.EditKey) > 0 {
		if v := ob.Get(dr.EditKey); v != nil {
			pending = new(outboxRecord)
			if err := decode(v, pending); err != nil {
				return false, fmt.Errorf("edit row %x: %w", dr.EditKey, err)
			}
		}
	}
	var a policywire.Alert
	if pending != nil {
		a = pending.Alert
	} else {
		v := log.Get(u64(dr.LogSeq))
		if v == nil {
			return false, nil
		}
		if err := decode(v, &a); err != nil {
			return false, fmt.Errorf("delivery log %x: %w", dr.LogSeq, err)
		}
	}
	changes := change(&a)
	if len(changes) == 0 {
		return false, nil
	}
	ed := &policywire.AlertEdit{At: now, Changes: changes}
	if pending != nil && a.Edited != nil {
		// One pending edit says everything it will change.
		ed.Changes = slices.Clone(a.Edited.Changes)
		for _, c := range changes {
			if !slices.Contains(ed.Changes, c) {
				ed.Changes = append(ed.Changes, c)
			}
		}
	}
	a.Edited = ed
	version := nextEditVersion(dr)
	if pending != nil {
		pending.Alert = a
		pending.Edit.Version = version
		if err := putRow(ob, dr.EditKey, pending); err != nil {
			return false, err
		}
		return true, putDelivery(ids, alertID, dr)
	}
	key, err := enqueue(tx, channel, now, &outboxRecord{
		Alert: a, Enqueued: now,
		Edit: &editRecord{Ref: dr.Ref, Target: dr.Target, Version: version},
	})
	if err != nil {
		return false, err
	}
	dr.EditKey = key
	return true, putDelivery(ids, alertID, dr)
}

// nextEditVersion counts the contents an edit of the message has held.
func nextEditVersion(dr *deliveryRecord) int {
	dr.EditVersions++
	return dr.EditVersions
}

// editJoined queues, for every channel the story was delivered to, an
// edit that names a source that joined the story.
func (in *ingestTx) editJoined(st *storyRecord, also policywire.AlsoReported) error {
	for _, ch := range sortedKeys(st.Alerts) {
		queued, err := enqueueEdit(in.tx, ch, st.Alerts[ch].ID, in.now, func(a *policywire.Alert) []string {
			if hasAlso(*a, also) {
				return nil
			}
			a.Also = append(a.Also, also)
			return []string{policywire.ChangeSource}
		})
		if err != nil {
			return err
		}
		if queued {
			in.res.Edits++
		}
	}
	return nil
}

// editRevised queues, for every channel that was delivered an alert about
// the item, an edit that shows a material change of it (see
// materialChanges).
func (in *ingestTx) editRevised(rec *itemRecord, before policywire.Item) error {
	changes := materialChanges(before, rec.Item)
	if len(changes) == 0 {
		return nil
	}
	st, err := getStory(in.tx, rec)
	if err != nil {
		return err
	}
	now := rec.Item
	for _, ch := range sortedKeys(st.Alerts) {
		queued, err := enqueueEdit(in.tx, ch, st.Alerts[ch].ID, in.now, func(a *policywire.Alert) []string {
			if a.Item.ID != now.ID {
				return nil
			}
			got := materialChanges(a.Item, now)
			a.Item.Title, a.Item.Summary = now.Title, now.Summary
			a.Item.URL, a.Item.CanonicalURL = now.URL, now.CanonicalURL
			a.Item.Updated, a.Item.References = now.Updated, now.References
			return got
		})
		if err != nil {
			return err
		}
		if queued {
			in.res.Edits++
		}
	}
	return nil
}

// materialChanges says what a reader would see changed between two
// versions of an item: the title or summary beyond white space, the link
// beyond tracking parameters (the canonical URL is the link without them).
func materialChanges(before, after policywire.Item) []string {
	var out []string
	if collapse(before.Title) != collapse(after.Title) {
		out = append(out, policywire.ChangeTitle)
	}
	if collapse(before.Summary) != collapse(after.Summary) {
		out = append(out, policywire.ChangeSummary)
	}
	if link(before) != link(after) {
		out = append(out, policywire.ChangeLink)
	}
	return out
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

func link(it policywire.Item) string {
	if it.CanonicalURL != "" {
		return it.CanonicalURL
	}
	return it.URL
}
