package store

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/policywire/policywire"
	bolt "go.etcd.io/bbolt"
)

// ErrNoRow is wrapped by Retry and Park when the outbox row does not exist
// (any more).
var ErrNoRow = errors.New("store: no such outbox row")

var (
	subDeliveredIDs = []byte("ids")
	subDeliveredLog = []byte("log")
)

// OutboxRow is one alert waiting for delivery to one channel.
type OutboxRow struct {
	Channel string
	// Key orders the rows of a channel by (publication time, sequence);
	// it is opaque to callers, who hand it back to Delivered, Retry, Park.
	Key        []byte
	Alert      policywire.Alert
	Digest     bool
	Enqueued   time.Time
	Attempts   int
	NotBefore  time.Time
	LastError  string
	Parked     bool
	ParkReason string
	// DigestID is set once the row was attempted as part of a digest.
	DigestID string
	// Edit is set on a row that edits the message of a delivered alert
	// instead of posting one.
	Edit *EditTarget
}

func rowFrom(channel string, key []byte, rec *outboxRecord) OutboxRow {
	return OutboxRow{
		Channel: channel, Key: bytes.Clone(key), Alert: rec.Alert, Digest: rec.Digest,
		Enqueued: rec.Enqueued, Attempts: rec.Attempts, NotBefore: rec.NotBefore,
		LastError: rec.LastError, Parked: rec.Parked, ParkReason: rec.ParkReason,
		DigestID: rec.DigestID,
		Edit:     rec.Edit.target(),
	}
}

// Outbox returns up to limit rows of a channel (0: all) in publication
// order; parked rows only when includeParked.
func (s *Store) Outbox(channel string, includeParked bool, limit int) ([]OutboxRow, error) {
	var rows []OutboxRow
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox).Bucket([]byte(channel))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var rec outboxRecord
			if err := decode(v, &rec); err != nil {
				return fmt.Errorf("row %x: %w", k, err)
			}
			if rec.Parked && !includeParked {
				continue
			}
			rows = append(rows, rowFrom(channel, k, &rec))
			if limit > 0 && len(rows) >= limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: outbox %s: %w", channel, err)
	}
	return rows, nil
}

// OutboxChannels lists the channels that have any row, pending or parked.
func (s *Store) OutboxChannels() ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketOutbox)
		return root.ForEachBucket(func(ch []byte) error {
			if first, _ := root.Bucket(ch).Cursor().First(); first != nil {
				out = append(out, string(ch))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: outbox channels: %w", err)
	}
	return out, nil
}

// OutboxDepth counts the pending (not parked) rows of every channel that
// has any.
func (s *Store) OutboxDepth() (map[string]int, error) {
	out := make(map[string]int)
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketOutbox)
		return root.ForEachBucket(func(ch []byte) error {
			return root.Bucket(ch).ForEach(func(k, v []byte) error {
				var rec struct {
					Parked bool `json:"parked"`
				}
				if err := decode(v, &rec); err != nil {
					return fmt.Errorf("row %s/%x: %w", ch, k, err)
				}
				if !rec.Parked {
					out[string(ch)]++
				}
				return nil
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: outbox depth: %w", err)
	}
	return out, nil
}

// Delivered removes a row and records its alert as delivered to channel
// with the chat server's reference. A row already gone is not an error.
func (s *Store) Delivered(channel string, key []byte, ref string) error {
	err := s.update(outboxWrite(channel), func(tx *bolt.Tx) error {
		return deliverRow(tx, channel, key, Message{Ref: ref}, false, s.now())
	})
	if err != nil {
		return fmt.Errorf("store: delivered %s/%x: %w", channel, key, err)
	}
	return nil
}

// DeliveredDigest marks the rows sent in one digest delivered, in one
// transaction. refs are the messages the digest was sent as; row i gets
// refs[i], or the last ref when there are fewer messages than rows.
func (s *Store) DeliveredDigest(channel string, keys [][]byte, refs []string) error {
	err := s.update(outboxWrite(channel), func(tx *bolt.Tx) error {
		now := s.now()
		for i, k := range keys {
			ref := ""
			switch {
			case i < len(refs):
				ref = refs[i]
			case len(refs) > 0:
				ref = refs[len(refs)-1]
			}
			if err := deliverRow(tx, channel, k, Message{Ref: ref}, true, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: delivered digest %s: %w", channel, err)
	}
	return nil
}

// Retry records a failed attempt: the row stays first in line but is not
// tried before notBefore.
func (s *Store) Retry(channel string, key []byte, errMsg string, notBefore time.Time) error {
	err := s.updateRow(channel, key, func(rec *outboxRecord) {
		rec.Attempts++
		rec.LastError = errMsg
		rec.NotBefore = notBefore
	})
	if err != nil {
		return fmt.Errorf("store: retry %s/%x: %w", channel, key, err)
	}
	return nil
}

// AssignDigest records, before a digest is first sent, that the rows of
// keys make up digest id: a retry after an uncertain send (or a crash)
// sends the same rows under the same id, so the chat server's idempotency
// checks recognise it. Rows already gone are skipped; a row already in
// another digest is an error, since that digest must be sent first.
func (s *Store) AssignDigest(channel string, keys [][]byte, id string) error {
	err := s.update(outboxWrite(channel), func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox).Bucket([]byte(channel))
		if b == nil {
			return nil
		}
		for _, k := range keys {
			v := b.Get(k)
			if v == nil {
				continue
			}
			var rec outboxRecord
			if err := decode(v, &rec); err != nil {
				return fmt.Errorf("row %x: %w", k, err)
			}
			if rec.DigestID != "" && rec.DigestID != id {
				return fmt.Errorf("row %x is already in digest %s", k, rec.DigestID)
			}
			rec.DigestID = id
			if err := putRow(b, k, &rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: assign digest %s/%s: %w", channel, id, err)
	}
	return nil
}

// RetryRows records a failed attempt of several rows at once (a digest).
func (s *Store) RetryRows(channel string, keys [][]byte, errMsg string, notBefore time.Time) error {
	err := s.changeRows(channel, keys, func(rec *outboxRecord) {
		rec.Attempts++
		rec.LastError = errMsg
		rec.NotBefore = notBefore
	})
	if err != nil {
		return fmt.Errorf("store: retry rows %s: %w", channel, err)
	}
	return nil
}

// ParkRows parks several rows at once (a digest that cannot be sent).
func (s *Store) ParkRows(channel string, keys [][]byte, reason string) error {
	err := s.changeRows(channel, keys, func(rec *outboxRecord) {
		rec.Parked = true
		rec.ParkReason = reason
	})
	if err != nil {
		return fmt.Errorf("store: park rows %s: %w", channel, err)
	}
	return nil
}

// changeRows applies change to the rows of keys that still exist, in one
// transaction.
func (s *Store) changeRows(channel string, keys [][]byte, change func(*outboxRecord)) error {
	return s.update(outboxWrite(channel), func(tx *bolt.Tx) error {
		for _, k := range keys {
			if err := changeRow(tx, channel, k, change); err != nil && !errors.Is(err, ErrNoRow) {
				return err
			}
		}
		return nil
	})
}

// Park sets a row aside (kept, not tried) until Unpark.
func (s *Store) Park(channel string, key []byte, reason string) error {
	err := s.updateRow(channel, key, func(rec *outboxRecord) {
		rec.Parked = true
		rec.ParkReason = reason
	})
	if err != nil {
		return fmt.Errorf("store: park %s/%x: %w", channel, key, err)
	}
	return nil
}

func (s *Store) updateRow(channel string, key []byte, change func(*outboxRecord)) error {
	return s.update(outboxWrite(channel), func(tx *bolt.Tx) error {
		return changeRow(tx, channel, key, change)
	})
}

func changeRow(tx *bolt.Tx, channel string, key []byte, change func(*outboxRecord)) error {
	b := tx.Bucket(bucketOutbox).Bucket([]byte(channel))
	var v []byte
	if b != nil {
		v = b.Get(key)
	}
	if v == nil {
		return ErrNoRow
	}
	var rec outboxRecord
	if err := decode(v, &rec); err != nil {
		return err
	}
	change(&rec)
	return putRow(b, key, &rec)
}

// Unpark puts the parked rows of a channel ("" = every channel) back in
// line, with their attempts reset, and says how many.
func (s *Store) Unpark(channel string) (int, error) {
	n := 0
	err := s.update(outboxWrite(channel), func(tx *bolt.Tx) error {
		return forChannels(tx, channel, func(b *bolt.Bucket) error {
			return rewriteRows(b, func(rec *outboxRecord) bool {
				if !rec.Parked {
					return false
				}
				rec.Parked, rec.ParkReason = false, ""
				rec.Attempts, rec.NotBefore = 0, time.Time{}
				n++
				return true
			})
		})
	})
	if err != nil {
		return 0, fmt.Errorf("store: unpark %q: %w", channel, err)
	}
	return n, nil
}

// ParkChannel parks every pending row of a channel (one removed from the
// config): the alerts are kept, not lost, until the channel comes back.
func (s *Store) ParkChannel(channel, reason string) (int, error) {
	if channel == "" {
		return 0, errors.New("store: park channel: empty channel id")
	}
	n := 0
	err := s.update(outboxWrite(channel), func(tx *bolt.Tx) error {
		return forChannels(tx, channel, func(b *bolt.Bucket) error {
			return rewriteRows(b, func(rec *outboxRecord) bool {
				if rec.Parked {
					return false
				}
				rec.Parked, rec.ParkReason = true, reason
				n++
				return true
			})
		})
	})
	if err != nil {
		return 0, fmt.Errorf("store: park channel %s: %w", channel, err)
	}
	return n, nil
}

// IsDelivered says whether an alert was delivered to a channel.
func (s *Store) IsDelivered(channel, alertID string) (bool, error) {
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		if ids := deliveredBucket(tx, channel, subDeliveredIDs); ids != nil {
			ok = ids.Get([]byte(alertID)) != nil
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: is delivered %s/%s: %w", channel, alertID, err)
	}
	return ok, nil
}

// LatestDelivered returns the last n alerts delivered to a channel, newest
// first.
func (s *Store) LatestDelivered(channel string, n int) ([]policywire.Alert, error) {
	var out []policywire.Alert
	err := s.db.View(func(tx *bolt.Tx) error {
		log := deliveredBucket(tx, channel, subDeliveredLog)
		if log == nil {
			return nil
		}
		c := log.Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			var a policywire.Alert
			if err := decode(v, &a); err != nil {
				return fmt.Errorf("delivery %x: %w", k, err)
			}
			if ids := deliveredBucket(tx, channel, subDeliveredIDs); ids != nil {
				if dr, err := getDelivery(ids, a.ID); err == nil && dr != nil {
					a.ThreadReplies = dr.Replies
				}
			}
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: latest delivered %s: %w", channel, err)
	}
	return out, nil
}

func deliveredBucket(tx *bolt.Tx, channel string, sub []byte) *bolt.Bucket {
	ch := tx.Bucket(bucketDeliveries).Bucket([]byte(channel))
	if ch == nil {
		return nil
	}
	return ch.Bucket(sub)
}

// enqueue writes a new row for an alert, ordered by its publication time.
func enqueue(tx *bolt.Tx, channel string, pub time.Time, rec *outboxRecord) ([]byte, error) {
	if err := checkName("channel", channel); err != nil {
		return nil, err
	}
	b, err := tx.Bucket(bucketOutbox).CreateBucketIfNotExists([]byte(channel))
	if err != nil {
		return nil, err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return nil, err
	}
	key := outboxKey(pub, seq)
	return key, putRow(b, key, rec)
}

func putRow(b *bolt.Bucket, key []byte, rec *outboxRecord) error {
	v, err := encodeOutboxRecord(rec)
	if err != nil {
		return err
	}
	return b.Put(key, v)
}

// getRow returns the row under key when it holds the alert alertID.
func getRow(tx *bolt.Tx, channel string, key []byte, alertID string) (*outboxRecord, *bolt.Bucket, error) {
	b := tx.Bucket(bucketOutbox).Bucket([]byte(channel))
	if b == nil || len(key) == 0 {
		return nil, nil, nil
	}
	v := b.Get(key)
	if v == nil {
		return nil, nil, nil
	}
	var rec outboxRecord
	if err := decode(v, &rec); err != nil {
		return nil, nil, fmt.Errorf("row %s/%x: %w", channel, key, err)
	}
	if rec.Alert.ID != alertID {
		return nil, nil, nil
	}
	return &rec, b, nil
}

func forChannels(tx *bolt.Tx, channel string, fn func(*bolt.Bucket) error) error {
	root := tx.Bucket(bucketOutbox)
	if channel != "" {
		b := root.Bucket([]byte(channel))
		if b == nil {
			return nil
		}
		return fn(b)
	}
	var names [][]byte
	if err := root.ForEachBucket(func(k []byte) error { names = append(names, bytes.Clone(k)); return nil }); err != nil {
		return err
	}
	for _, k := range names {
		if err := fn(root.Bucket(k)); err != nil {
			return err
		}
	}
	return nil
}

// rewriteRows applies change to every row and writes back those it changed.
func rewriteRows(b *bolt.Bucket, change func(*outboxRecord) bool) error {
	type upd struct {
		key []byte
		rec outboxRecord
	}
	var ups []upd
	err := b.ForEach(func(k, v []byte) error {
		var rec outboxRecord
		if err := decode(v, &rec); err != nil {
			return fmt.Errorf("row %x: %w", k, err)
		}
		if change(&rec) {
			ups = append(ups, upd{bytes.Clone(k), rec})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range ups {
		if err := putRow(b, ups[i].key, &ups[i].rec); err != nil {
			return err
		}
	}
	return nil
}
