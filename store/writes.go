package store

import (
	"errors"
	"sort"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// WriteFailure is a kind of write to the database that failed the last
// time it was tried because the file could not be written (a full disk,
// an I/O error), not because of what was written.
type WriteFailure struct {
	// What was being written: "ingest of source eu-council", "outbox of
	// channel fish", "article cache".
	What  string
	Err   error
	Since time.Time // the first failure in a row
}

// DiskFull reports whether the failure is the filesystem running out of
// space (or of the user's quota).
func (f WriteFailure) DiskFull() bool { return IsDiskFull(f.Err) }

// IsDiskFull reports whether err is the filesystem running out of space
// or of the user's quota.
func IsDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// writeHealth remembers, per kind of write, whether its last commit failed.
// A kind is healthy again once it commits: on a nearly full disk small
// writes may succeed while large ones keep failing, so one success must
// not clear the failures of other kinds.
type writeHealth struct {
	mu      sync.Mutex
	failing map[string]WriteFailure
}

func (h *writeHealth) record(what string, err error, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		delete(h.failing, what)
		return
	}
	if h.failing == nil {
		h.failing = map[string]WriteFailure{}
	}
	f, ok := h.failing[what]
	if !ok {
		f = WriteFailure{What: what, Since: now}
	}
	f.Err = err
	h.failing[what] = f
}

// WriteFailures lists the kinds of write whose last commit failed, oldest
// failure first; nil when every write went through.
func (s *Store) WriteFailures() []WriteFailure {
	s.writes.mu.Lock()
	defer s.writes.mu.Unlock()
	if len(s.writes.failing) == 0 {
		return nil
	}
	out := make([]WriteFailure, 0, len(s.writes.failing))
	for _, f := range s.writes.failing {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].What < out[j].What
	})
	return out
}

// update runs fn in a write transaction and records whether the commit
// went through under what. An error returned by fn itself (a record too
// large, a missing row) says nothing of the disk and is not recorded.
func (s *Store) update(what string, fn func(*bolt.Tx) error) error {
	return s.recordWrite(what, fn, s.db.Update)
}

// batch is update through bbolt's Batch, for small writes from many
// goroutines.
func (s *Store) batch(what string, fn func(*bolt.Tx) error) error {
	return s.recordWrite(what, fn, s.db.Batch)
}

func (s *Store) recordWrite(what string, fn func(*bolt.Tx) error, run func(func(*bolt.Tx) error) error) error {
	var fnErr error
	err := run(func(tx *bolt.Tx) error {
		fnErr = fn(tx)
		return fnErr
	})
	if err == nil || fnErr == nil {
		s.writes.record(what, err, s.now())
	}
	return err
}

// outboxWrite names the writes to a channel's rows.
func outboxWrite(channel string) string {
	if channel == "" {
		return "outbox"
	}
	return "outbox of channel " + channel
}
