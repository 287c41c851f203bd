package store

import (
	"fmt"
	"os"
)

// The clean-close record is a small file beside the database naming the
// size and modification time the file had when a writable store closed it.
// It is removed at every writable open, so a process that dies leaves none.

func (s *Store) cleanClosePath() string { return s.path + ".clean" }

// fileStamp is what the record compares: a truncation changes the size, and
// any write (a flipped byte, a copy over it) changes the modification time.
func fileStamp(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d %d\n", fi.Size(), fi.ModTime().UnixNano()), nil
}

// closedCleanly reports whether the file is as the last clean close left it,
// and, for a writable store, removes the record: from now on the file may
// change, and only the next clean close vouches for it again.
func (s *Store) closedCleanly() bool {
	record, err := os.ReadFile(s.cleanClosePath())
	if s.writable {
		os.Remove(s.cleanClosePath())
	}
	if err != nil {
		return false
	}
	stamp, err := fileStamp(s.path)
	return err == nil && stamp == string(record)
}

// recordCleanClose writes the record after the file was closed; failing to
// write it costs only a full check at the next open.
func (s *Store) recordCleanClose() {
	if stamp, err := fileStamp(s.path); err == nil {
		os.WriteFile(s.cleanClosePath(), []byte(stamp), 0o600)
	}
}
