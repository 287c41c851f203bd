// Package store owns what policywire remembers, in one bbolt file: the
// archive of items and the identities that make an item "seen" (kept even
// after retention prunes the bodies), the stories that group one piece of
// news published by several sources, the per-source polling state, the
// durable outbox of alerts per channel and the record of what was delivered,
// chat subscriptions, the article-text cache, the schema version and its
// migrations, and hot backups. It decides which items are new, which are
// revisions and which join an existing story, but it knows nothing of HTTP,
// feed formats, the query language, Slack or Matrix: routing is a function
// handed in by the caller.
package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrLocked is wrapped by the error Open returns when another process holds
// the database file.
var ErrLocked = errors.New("store: database is in use by another process")

// ErrDamaged is wrapped by the error Open and Check return for a database
// file that is truncated or whose pages do not hold together.
var ErrDamaged = errors.New("store: database file is damaged")

// DefaultTimeout is how long Open waits for the file lock by default.
const DefaultTimeout = 2 * time.Second

// Options tune Open. The zero value is ready to use.
type Options struct {
	// Timeout bounds the wait for the file lock (default 2 s).
	Timeout time.Duration
	// ReadOnly opens the file with a shared lock; it must exist and be of
	// the current schema version.
	ReadOnly bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Check runs bbolt's consistency check of every page after opening
	// (about a second per gigabyte), so that a damaged file is refused at
	// start rather than found by a read months later.
	Check bool
}

// Store is an open policywire database. Its methods are safe for concurrent
// use.
type Store struct {
	db   *bolt.DB
	path string
	now  func() time.Time

	// ingestMu serializes Ingest so that the in-memory title index is
	// updated in the same order as the transactions commit.
	ingestMu sync.Mutex
	titles   *titleIndex
	// titlesLoaded is set once the title index holds the archive's recent
	// stories; it is filled on the first ingest, not at open, so that a
	// process with nothing new to ingest never reads the archive.
	titlesLoaded bool
	lastExpire   time.Time // guarded by ingestMu

	writes writeHealth
}

type lockedError struct{ path string }

func (e *lockedError) Error() string {
	return fmt.Sprintf("store: database %s is in use by another process (is `policywire run` running?)", e.path)
}

func (e *lockedError) Unwrap() error { return ErrLocked }

type damagedError struct {
	path  string
	cause error
}

func (e *damagedError) Error() string {
	// bbolt's check reports the assertions it recovered as "panic: ...";
	// the file is damaged, nothing crashed.
	cause := strings.ReplaceAll(e.cause.Error(), "panic: ", "")
	return fmt.Sprintf("store: database %s is damaged (%s): stop policywire, move the file aside and put a backup in its place (see `policywire backup`), or move it aside to start with an empty archive", e.path, cause)
}

func (e *damagedError) Unwrap() []error { return []error{ErrDamaged, e.cause} }

// Open opens (creating it and its directory when needed) the database at
// path, and migrates an older schema inside one transaction.
func Open(path string, o Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: open: empty database path")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("store: open %s read-only: %w", path, err)
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("store: create directory for %s: %w", path, err)
	}
	db, err := openBolt(path, o)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path, now: o.Now, titles: newTitleIndex()}
	if err := s.load(o); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// openBolt opens the file. bbolt panics on some damaged files (a freelist
// page of the wrong type, a page that names another id) and reads past the
// end of a truncated one, a memory fault: both are reported as ErrDamaged,
// not a crash.
func openBolt(path string, o Options) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, &damagedError{path: path, cause: fmt.Errorf("%v", r)}
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      o.Timeout,
		ReadOnly:     o.ReadOnly,
		FreelistType: bolt.FreelistMapType,
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, &lockedError{path: path}
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrInvalidMapping):
		return nil, &damagedError{path: path, cause: err}
	}
	return nil, fmt.Errorf("store: open %s: %w", path, err)
}

// load checks the file when asked, migrates it and reads what the store
// keeps in memory; a panic of bbolt on a damaged page becomes ErrDamaged.
func (s *Store) load(o Options) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &damagedError{path: s.path, cause: fmt.Errorf("%v", r)}
		}
	}()
	if o.Check {
		if err := s.Check(); err != nil {
			return err
		}
	}
	if err := s.prepare(o.ReadOnly); err != nil {
		return err
	}
	if !o.ReadOnly {
		if err := countItemsOnce(s.db); err != nil {
			return fmt.Errorf("store: count the items of %s: %w", s.path, err)
		}
	}
	return nil
}

// Close closes the database file.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	return nil
}

// DB is the underlying bbolt database, for packages that keep their own
// buckets in the same file.
func (s *Store) DB() *bolt.DB { return s.db }

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Meta returns the value stored under key by PutMeta, or nil.
func (s *Store) Meta(key string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(userMetaKey(key)); v != nil {
			out = append([]byte{}, v...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: meta %q: %w", key, err)
	}
	return out, nil
}

// PutMeta stores a small value (a sync token, a cursor) under key; a nil
// value deletes it.
func (s *Store) PutMeta(key string, val []byte) error {
	if key == "" {
		return errors.New("store: put meta: empty key")
	}
	err := s.update("meta "+key, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if val == nil {
			return b.Delete(userMetaKey(key))
		}
		return b.Put(userMetaKey(key), val)
	})
	if err != nil {
		return fmt.Errorf("store: put meta %q: %w", key, err)
	}
	return nil
}

// userMetaKey keeps callers' keys apart from the schema's own.
func userMetaKey(key string) []byte { return []byte("kv:" + key) }

// WriteTo writes a consistent copy of the whole database to w while other
// transactions go on.
func (s *Store) WriteTo(w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("store: backup %s: %w", s.path, err)
	}
	return n, nil
}

// Check verifies the consistency of the file's pages and freelist.
func (s *Store) Check() error {
	var errs []error
	err := s.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return &damagedError{path: s.path, cause: errors.Join(errs...)}
	}
	return nil
}
