package store

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// recentNewKept is how many arrival times of new items a source keeps for
// learning its publishing cadence.
const recentNewKept = 20

// SourceState is what the store remembers of polling one source.
type SourceState struct {
	Source        string    `json:"source"`
	ETag          string    `json:"etag,omitempty"`
	LastModified  string    `json:"last_modified,omitempty"`
	LastPoll      time.Time `json:"last_poll,omitzero"`
	LastSuccess   time.Time `json:"last_success,omitzero"`
	LastNewItem   time.Time `json:"last_new_item,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorKind string    `json:"last_error_kind,omitempty"`
	// LastWarning is what the last successful read of the source had to
	// say (a feed cut short, items dropped), "" when nothing.
	LastWarning         string      `json:"last_warning,omitempty"`
	ConsecutiveFailures int         `json:"consecutive_failures,omitempty"`
	NextAllowed         time.Time   `json:"next_allowed,omitzero"` // not before (Retry-After, max-age, backoff)
	Polls               int         `json:"polls,omitempty"`
	Items               int         `json:"items,omitempty"` // items archived from this source
	FirstPollDone       bool        `json:"first_poll_done,omitempty"`
	RecentNew           []time.Time `json:"recent_new,omitempty"` // the last 20 times new items arrived
	Warned              bool        `json:"warned,omitempty"`     // an admin warning is outstanding
}

// SourceState returns the state of a source; a source never polled gets the
// zero state with its id.
func (s *Store) SourceState(id string) (SourceState, error) {
	var st SourceState
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		st, err = getSourceState(tx, id)
		return err
	})
	if err != nil {
		return SourceState{}, fmt.Errorf("store: source state %s: %w", id, err)
	}
	return st, nil
}

// ErrStaleSourceState is returned by PutSourceState for the state of a
// poll that started before the one whose state is stored: a slow poll
// that ends late must not undo what a later one recorded (its validators,
// its first poll and the backfill that goes with it).
var ErrStaleSourceState = errors.New("store: a later poll of the source is recorded already")

// PutSourceState replaces the state of st.Source, unless the stored state
// is of a poll that started later (st.LastPoll before the stored one):
// then it changes nothing and returns ErrStaleSourceState.
func (s *Store) PutSourceState(st SourceState) error {
	// Batch lets the concurrent polls of many sources (most of them 304s,
	// where the state is all there is to write) share one commit; the
	// write is idempotent, as Batch requires.
	err := s.batch("state of source "+st.Source, func(tx *bolt.Tx) error {
		stored, err := getSourceState(tx, st.Source)
		if err != nil {
			return err
		}
		if newerPoll(stored, st) {
			return ErrStaleSourceState
		}
		return putSourceState(tx, st)
	})
	if errors.Is(err, ErrStaleSourceState) {
		return fmt.Errorf("store: put source state %s: %w", st.Source, err)
	}
	if err != nil {
		return fmt.Errorf("store: put source state %s: %w", st.Source, err)
	}
	return nil
}

// SourceStates returns the state of every source ever polled, by id.
func (s *Store) SourceStates() (map[string]SourceState, error) {
	out := make(map[string]SourceState)
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSources).ForEach(func(k, v []byte) error {
			var st SourceState
			if err := decode(v, &st); err != nil {
				return fmt.Errorf("source %q: %w", k, err)
			}
			out[string(k)] = st
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: source states: %w", err)
	}
	return out, nil
}

func getSourceState(tx *bolt.Tx, id string) (SourceState, error) {
	v := tx.Bucket(bucketSources).Get([]byte(id))
	if v == nil {
		return SourceState{Source: id}, nil
	}
	var st SourceState
	if err := decode(v, &st); err != nil {
		return SourceState{}, err
	}
	st.Source = id
	return st, nil
}

func putSourceState(tx *bolt.Tx, st SourceState) error {
	if err := checkName("source", st.Source); err != nil {
		return fmt.Errorf("source state: %w", err)
	}
	if n := len(st.RecentNew); n > recentNewKept {
		st.RecentNew = st.RecentNew[n-recentNewKept:]
	}
	v, err := encode(st)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketSources).Put([]byte(st.Source), v)
}

// newerPoll reports whether stored is the state of a poll that started
// after the one st records.
func newerPoll(stored, st SourceState) bool {
	return stored.LastPoll.After(st.LastPoll)
}
