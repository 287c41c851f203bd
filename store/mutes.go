package store

import (
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketMutes holds the sources muted in a channel: channel NUL source →
// Mute. Like watches, it is created by the first mute, so older databases
// need no migration and read-only opens see none.
var bucketMutes = []byte("mutes")

// Mute keeps one source's alerts out of one channel.
type Mute struct {
	Channel string    `json:"channel"` // configured channel id
	Source  string    `json:"source"`  // source id
	By      string    `json:"by"`      // who muted it
	Created time.Time `json:"created"`
}

func muteKey(channel, source string) []byte { return []byte(channel + "\x00" + source) }

// MuteSource stores a mute and says whether it is new (false: the source
// was muted there already, and the first mute is kept).
func (s *Store) MuteSource(m Mute) (bool, error) {
	if m.Channel == "" || m.Source == "" || strings.ContainsRune(m.Channel+m.Source, 0) {
		return false, errors.New("store: mute: channel and source are required")
	}
	if m.Created.IsZero() {
		m.Created = s.now()
	}
	added := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketMutes)
		if err != nil {
			return err
		}
		if b.Get(muteKey(m.Channel, m.Source)) != nil {
			return nil
		}
		data, err := encode(&m)
		if err != nil {
			return err
		}
		added = true
		return b.Put(muteKey(m.Channel, m.Source), data)
	})
	if err != nil {
		return false, fmt.Errorf("store: mute %s in %s: %w", m.Source, m.Channel, err)
	}
	return added, nil
}

// UnmuteSource removes a mute and says whether there was one.
func (s *Store) UnmuteSource(channel, source string) (bool, error) {
	removed := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMutes)
		if b == nil || b.Get(muteKey(channel, source)) == nil {
			return nil
		}
		removed = true
		return b.Delete(muteKey(channel, source))
	})
	if err != nil {
		return false, fmt.Errorf("store: unmute %s in %s: %w", source, channel, err)
	}
	return removed, nil
}

// Mutes lists the mutes of one channel, or of every channel when channel
// is "", by channel then source.
func (s *Store) Mutes(channel string) ([]Mute, error) {
	var out []Mute
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMutes)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var m Mute
			if err := decode(v, &m); err != nil {
				return fmt.Errorf("mute %q: %w", k, err)
			}
			if channel == "" || m.Channel == channel {
				out = append(out, m)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: mutes: %w", err)
	}
	return out, nil
}
