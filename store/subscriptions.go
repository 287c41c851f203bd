package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Subscription is a query a chat user added to a channel.
type Subscription struct {
	ID      string    `json:"id"` // "s1", "s2", ...; never reused
	Channel string    `json:"channel"`
	Query   string    `json:"query"`
	By      string    `json:"by,omitempty"`
	Created time.Time `json:"created"`
}

// ErrTooManySubscriptions is wrapped by AddSubscription when the channel
// already has as many subscriptions as allowed.
var ErrTooManySubscriptions = errors.New("store: the channel has too many subscriptions")

// AddSubscription stores a subscription under a new short id and returns
// it; Created defaults to now. When limit > 0 and the channel already has
// limit subscriptions, nothing is stored and the error wraps
// ErrTooManySubscriptions; the count and the write are one transaction.
func (s *Store) AddSubscription(sub Subscription, limit int) (Subscription, error) {
	if sub.Channel == "" || strings.TrimSpace(sub.Query) == "" {
		return Subscription{}, errors.New("store: add subscription: channel and query are required")
	}
	if sub.Created.IsZero() {
		sub.Created = s.now()
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSubscriptions)
		if limit > 0 {
			n := 0
			err := b.ForEach(func(_, v []byte) error {
				var other Subscription
				if err := decode(v, &other); err != nil {
					return err
				}
				if other.Channel == sub.Channel {
					n++
				}
				return nil
			})
			if err != nil {
				return err
			}
			if n >= limit {
				return fmt.Errorf("%w (%d)", ErrTooManySubscriptions, limit)
			}
		}
		return putNext(b, "s", &sub.ID, &sub)
	})
	if err != nil {
		return Subscription{}, fmt.Errorf("store: add subscription to %s: %w", sub.Channel, err)
	}
	return sub, nil
}

// Subscriptions lists the subscriptions of a channel ("" = all), oldest
// first.
func (s *Store) Subscriptions(channel string) ([]Subscription, error) {
	var out []Subscription
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSubscriptions).ForEach(func(k, v []byte) error {
			var sub Subscription
			if err := decode(v, &sub); err != nil {
				return fmt.Errorf("subscription %x: %w", k, err)
			}
			if channel == "" || sub.Channel == channel {
				out = append(out, sub)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: subscriptions: %w", err)
	}
	return out, nil
}

// RemoveSubscription removes a subscription of a channel ("" = of any
// channel) and says whether there was one.
func (s *Store) RemoveSubscription(channel, id string) (bool, error) {
	seq, ok := parseSubscriptionID(id)
	if !ok {
		return false, nil
	}
	removed := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSubscriptions)
		v := b.Get(u64(seq))
		if v == nil {
			return nil
		}
		var sub Subscription
		if err := decode(v, &sub); err != nil {
			return err
		}
		if channel != "" && sub.Channel != channel {
			return nil
		}
		removed = true
		return b.Delete(u64(seq))
	})
	if err != nil {
		return false, fmt.Errorf("store: remove subscription %s: %w", id, err)
	}
	return removed, nil
}

func parseSubscriptionID(id string) (uint64, bool) {
	rest, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(id)), "s")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	return n, err == nil && n > 0
}
