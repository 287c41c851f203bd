package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketWatches holds personal watches: seq → Watch. It is created by the
// first watch, so a database of an earlier version needs no migration and
// one opened read-only simply has none.
var bucketWatches = []byte("watches")

// Watch is a query one person keeps for themselves: new items that match
// it reach them by direct message.
type Watch struct {
	ID       string    `json:"id"` // "w1", "w2", ...; never reused
	Platform string    `json:"platform"`
	User     string    `json:"user"` // Slack user id or Matrix user id
	Query    string    `json:"query"`
	Created  time.Time `json:"created"`
}

// ErrTooManyWatches is AddWatch's answer to a person who has the most
// watches allowed.
var ErrTooManyWatches = errors.New("store: too many watches")

// AddWatch stores a watch under a new short id unless the person already
// has limit watches (ErrTooManyWatches); the check and the write are one
// transaction.
func (s *Store) AddWatch(w Watch, limit int) (Watch, error) {
	if w.Platform == "" || w.User == "" || strings.TrimSpace(w.Query) == "" {
		return Watch{}, errors.New("store: add watch: platform, user and query are required")
	}
	if w.Created.IsZero() {
		w.Created = s.now()
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketWatches)
		if err != nil {
			return err
		}
		have := 0
		if err := forEachWatch(b, func(o Watch) { have += btoi(o.Platform == w.Platform && o.User == w.User) }); err != nil {
			return err
		}
		if have >= limit {
			return ErrTooManyWatches
		}
		return putNext(b, "w", &w.ID, &w)
	})
	if err != nil {
		return Watch{}, fmt.Errorf("store: add watch of %s: %w", w.User, err)
	}
	return w, nil
}

// putNext stores v under the bucket's next sequence, after setting *id to
// prefix and that sequence ("s1", "w7"): short ids that are never reused.
func putNext(b *bolt.Bucket, prefix string, id *string, v any) error {
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	*id = prefix + strconv.FormatUint(seq, 10)
	data, err := encode(v)
	if err != nil {
		return err
	}
	return b.Put(u64(seq), data)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func forEachWatch(b *bolt.Bucket, fn func(Watch)) error {
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		var w Watch
		if err := decode(v, &w); err != nil {
			return fmt.Errorf("watch %x: %w", k, err)
		}
		fn(w)
		return nil
	})
}

// Watches lists the watches of one person, or of everyone when user is
// "", oldest first.
func (s *Store) Watches(platform, user string) ([]Watch, error) {
	var out []Watch
	err := s.db.View(func(tx *bolt.Tx) error {
		return forEachWatch(tx.Bucket(bucketWatches), func(w Watch) {
			if user == "" || (w.Platform == platform && w.User == user) {
				out = append(out, w)
			}
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: watches: %w", err)
	}
	return out, nil
}

// RemoveWatch removes a watch of the person and says whether there was
// one; another person's watch of that id is left alone.
func (s *Store) RemoveWatch(platform, user, id string) (bool, error) {
	n, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(id)), "w")
	seq, err := strconv.ParseUint(n, 10, 64)
	if !ok || err != nil || seq == 0 {
		return false, nil
	}
	removed := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWatches)
		if b == nil {
			return nil
		}
		v := b.Get(u64(seq))
		if v == nil {
			return nil
		}
		var w Watch
		if err := decode(v, &w); err != nil {
			return err
		}
		if w.Platform != platform || w.User != user {
			return nil
		}
		removed = true
		return b.Delete(u64(seq))
	})
	if err != nil {
		return false, fmt.Errorf("store: remove watch %s: %w", id, err)
	}
	return removed, nil
}
