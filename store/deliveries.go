package store

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/policywire/policywire"
	bolt "go.etcd.io/bbolt"
)

// subDeliveredThreads indexes, per channel, the threads of delivered
// alerts by the policy references they carry: normalized reference →
// threadRecord. A follow-up of the same file goes into that thread.
var subDeliveredThreads = []byte("threads")

// Message is where a delivered alert landed on its chat platform.
type Message struct {
	// Target is the Slack channel or Matrix room id.
	Target string
	// Ref is the platform's reference of the message (Slack ts, Matrix
	// event id).
	Ref string
	// Thread is the Ref of the message this one was posted as a reply to.
	Thread string
	// Sent, when set, is the alert as it was sent: a row rewritten while
	// it was in flight (a source joined, the item was revised) gets an
	// edit with its newer content.
	Sent *policywire.Alert
}

// Thread is a delivered alert that follow-ups of its references reply to.
type Thread struct {
	AlertID string
	Message
	// Last is when the thread last received an alert.
	Last time.Time
}

type threadRecord struct {
	Root   string    `json:"root"` // alert id of the thread's first message
	Ref    string    `json:"ref"`
	Target string    `json:"target,omitempty"`
	Last   time.Time `json:"last"`
}

// NormalizeReference is the form references are matched in: upper case,
// single spaces, none inside or before parentheses, without the "final" that Commission documents carry in
// some mentions and not in others.
func NormalizeReference(ref string) string {
	r := strings.ToUpper(strings.Join(strings.Fields(ref), " "))
	r = strings.NewReplacer(" (", "(", "( ", "(", " )", ")").Replace(r)
	return strings.TrimSuffix(r, " FINAL")
}

// DeliveredMessage removes a row and records its alert as delivered to
// channel as msg. A row already gone is not an error. An edit row is
// recorded by EditDelivered instead.
func (s *Store) DeliveredMessage(channel string, key []byte, msg Message) error {
	err := s.update(outboxWrite(channel), func(tx *bolt.Tx) error {
		return deliverRow(tx, channel, key, msg, false, s.now())
	})
	if err != nil {
		return fmt.Errorf("store: delivered %s/%x: %w", channel, key, err)
	}
	return nil
}

// FollowUpThread finds the thread a new alert with these references
// follows up in channel: the thread of a reference that received an
// alert at or after since, whose first message still exists.
func (s *Store) FollowUpThread(channel string, refs []string, since time.Time) (Thread, bool, error) {
	var out Thread
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		threads := deliveredBucket(tx, channel, subDeliveredThreads)
		ids := deliveredBucket(tx, channel, subDeliveredIDs)
		if threads == nil || ids == nil {
			return nil
		}
		for _, r := range refs {
			v := threads.Get([]byte(NormalizeReference(r)))
			if v == nil {
				continue
			}
			var th threadRecord
			if err := decode(v, &th); err != nil {
				return fmt.Errorf("thread %q: %w", r, err)
			}
			if th.Last.Before(since) || th.Ref == "" {
				continue
			}
			if dr, err := getDelivery(ids, th.Root); err != nil {
				return err
			} else if dr == nil || dr.Gone {
				continue
			}
			out = Thread{AlertID: th.Root, Message: Message{Target: th.Target, Ref: th.Ref}, Last: th.Last}
			found = true
			return nil
		}
		return nil
	})
	if err != nil {
		return Thread{}, false, fmt.Errorf("store: follow-up thread %s: %w", channel, err)
	}
	return out, found, nil
}

// MessageGone records that the message of a delivered alert no longer
// exists (deleted, redacted): it is not edited any more and no follow-up
// is threaded under it; the next one starts a thread of its own.
func (s *Store) MessageGone(channel, alertID string) error {
	err := s.update(outboxWrite(channel), func(tx *bolt.Tx) error {
		return markGone(tx, channel, alertID)
	})
	if err != nil {
		return fmt.Errorf("store: message gone %s/%s: %w", channel, alertID, err)
	}
	return nil
}

func markGone(tx *bolt.Tx, channel, alertID string) error {
	ids := deliveredBucket(tx, channel, subDeliveredIDs)
	if ids == nil {
		return nil
	}
	dr, err := getDelivery(ids, alertID)
	if err != nil || dr == nil {
		return err
	}
	dr.Gone, dr.EditKey = true, nil
	if err := putDelivery(ids, alertID, dr); err != nil {
		return err
	}
	threads := deliveredBucket(tx, channel, subDeliveredThreads)
	if threads == nil {
		return nil
	}
	var stale [][]byte
	err = threads.ForEach(func(k, v []byte) error {
		var th threadRecord
		if err := decode(v, &th); err != nil {
			return fmt.Errorf("thread %q: %w", k, err)
		}
		if th.Root == alertID {
			stale = append(stale, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range stale {
		if err := threads.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// deliverRow removes a row and records its alert as delivered: the
// delivery record (where the message is), the log entry (what it says)
// and, for an alert posted on its own, its place in the threads of its
// references.
func deliverRow(tx *bolt.Tx, channel string, key []byte, msg Message, digest bool, now time.Time) error {
	b := tx.Bucket(bucketOutbox).Bucket([]byte(channel))
	if b == nil {
		return nil
	}
	v := b.Get(key)
	if v == nil {
		return nil // delivered before
	}
	var rec outboxRecord
	if err := decode(v, &rec); err != nil {
		return err
	}
	if rec.Edit != nil {
		return applyEdit(tx, channel, key, rec.Edit.Version)
	}
	ch, err := tx.Bucket(bucketDeliveries).CreateBucketIfNotExists([]byte(channel))
	if err != nil {
		return err
	}
	ids, err := ch.CreateBucketIfNotExists(subDeliveredIDs)
	if err != nil {
		return err
	}
	log, err := ch.CreateBucketIfNotExists(subDeliveredLog)
	if err != nil {
		return err
	}
	a := rec.Alert
	if msg.Sent != nil && msg.Sent.ID == a.ID {
		a = *msg.Sent
	}
	a.ThreadRoot, a.Broadcast = "", false
	if msg.Thread == "" {
		msg.Thread = rec.Alert.ThreadRoot
	}
	av, err := encode(a)
	if err != nil {
		return err
	}
	seq, err := log.NextSequence()
	if err != nil {
		return err
	}
	if err := log.Put(u64(seq), av); err != nil {
		return err
	}
	dr := &deliveryRecord{Ref: msg.Ref, At: now, Target: msg.Target, LogSeq: seq, Digest: digest, Thread: msg.Thread}
	if err := putDelivery(ids, a.ID, dr); err != nil {
		return err
	}
	if !digest && msg.Ref != "" {
		threads, err := ch.CreateBucketIfNotExists(subDeliveredThreads)
		if err != nil {
			return err
		}
		if err := joinThreads(ids, threads, a, dr, now); err != nil {
			return err
		}
	}
	if err := b.Delete(key); err != nil {
		return err
	}
	if msg.Sent == nil || digest {
		return nil
	}
	// The row may have changed while it was sent: what it says now and
	// the message does not becomes an edit.
	latest := rec.Alert
	_, err = enqueueEdit(tx, channel, a.ID, now, func(shown *policywire.Alert) []string {
		changes := materialChanges(shown.Item, latest.Item)
		if len(latest.Also) > len(shown.Also) {
			changes = append([]string{policywire.ChangeSource}, changes...)
		}
		if len(changes) > 0 {
			edited := shown.Edited
			*shown = latest
			shown.ThreadRoot, shown.Broadcast, shown.Edited = "", false, edited
		}
		return changes
	})
	return err
}

// joinThreads files a delivered alert under its references. An alert
// posted on its own starts the thread of each (a thread that ended or
// that the channel does not use is replaced). A reply renews its thread
// and counts in its root, and files its references that have no thread
// yet under it; those of another thread stay there.
func joinThreads(ids, threads *bolt.Bucket, a policywire.Alert, dr *deliveryRecord, now time.Time) error {
	put := func(k []byte, th threadRecord) error {
		v, err := encode(th)
		if err != nil {
			return err
		}
		return threads.Put(k, v)
	}
	if dr.Thread == "" {
		for _, r := range a.Item.References {
			if err := put([]byte(NormalizeReference(r)), threadRecord{Root: a.ID, Ref: dr.Ref, Target: dr.Target, Last: now}); err != nil {
				return err
			}
		}
		return nil
	}
	var root *threadRecord
	var unfiled [][]byte
	for _, r := range a.Item.References {
		k := []byte(NormalizeReference(r))
		v := threads.Get(k)
		if v == nil {
			unfiled = append(unfiled, k)
			continue
		}
		var th threadRecord
		if err := decode(v, &th); err != nil {
			return fmt.Errorf("thread %q: %w", k, err)
		}
		if th.Ref != dr.Thread {
			continue
		}
		th.Last = now
		if err := put(k, th); err != nil {
			return err
		}
		root = &th
	}
	if root == nil {
		return nil
	}
	for _, k := range unfiled {
		if err := put(k, *root); err != nil {
			return err
		}
	}
	rd, err := getDelivery(ids, root.Root)
	if err != nil || rd == nil {
		return err
	}
	rd.Replies++
	return putDelivery(ids, root.Root, rd)
}

func getDelivery(ids *bolt.Bucket, alertID string) (*deliveryRecord, error) {
	v := ids.Get([]byte(alertID))
	if v == nil {
		return nil, nil
	}
	var dr deliveryRecord
	if err := decode(v, &dr); err != nil {
		return nil, fmt.Errorf("delivery %s: %w", alertID, err)
	}
	return &dr, nil
}

func putDelivery(ids *bolt.Bucket, alertID string, dr *deliveryRecord) error {
	v, err := encode(dr)
	if err != nil {
		return err
	}
	return ids.Put([]byte(alertID), v)
}

// migrateDeliveryMessages gives version 3's delivery records what edits
// and threads need: the log entry of each delivered alert, whether it went
// out in a digest (several alerts share its message), and the threads of
// the references of the alerts posted on their own.
func migrateDeliveryMessages(tx *bolt.Tx) error {
	root := tx.Bucket(bucketDeliveries)
	var channels [][]byte
	if err := root.ForEachBucket(func(k []byte) error { channels = append(channels, bytes.Clone(k)); return nil }); err != nil {
		return err
	}
	for _, name := range channels {
		ch := root.Bucket(name)
		ids, log := ch.Bucket(subDeliveredIDs), ch.Bucket(subDeliveredLog)
		if ids == nil || log == nil {
			continue
		}
		shared := map[string]int{}
		err := ids.ForEach(func(k, v []byte) error {
			var dr deliveryRecord
			if err := decode(v, &dr); err != nil {
				return fmt.Errorf("delivery %s/%s: %w", name, k, err)
			}
			if dr.Ref != "" {
				shared[dr.Ref]++
			}
			return nil
		})
		if err != nil {
			return err
		}
		threads, err := ch.CreateBucketIfNotExists(subDeliveredThreads)
		if err != nil {
			return err
		}
		type entry struct {
			seq   uint64
			alert policywire.Alert
		}
		var entries []entry
		err = log.ForEach(func(k, v []byte) error {
			var a policywire.Alert
			if err := decode(v, &a); err != nil {
				return fmt.Errorf("delivery log %s/%x: %w", name, k, err)
			}
			entries = append(entries, entry{be64(k), a})
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range entries {
			dr, err := getDelivery(ids, e.alert.ID)
			if err != nil {
				return err
			}
			if dr == nil {
				continue
			}
			dr.LogSeq = e.seq
			dr.Digest = shared[dr.Ref] > 1
			if err := putDelivery(ids, e.alert.ID, dr); err != nil {
				return err
			}
			if !dr.Digest && dr.Ref != "" {
				if err := joinThreads(ids, threads, e.alert, dr, dr.At); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
