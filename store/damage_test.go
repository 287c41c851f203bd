package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire"
	bolt "go.etcd.io/bbolt"
)

// goodDatabase writes a database of two thousand items and returns its
// bytes and the page of the items bucket's root.
func goodDatabase(t *testing.T) ([]byte, int) {
	t.Helper()
	clk := newClock()
	path := filepath.Join(t.TempDir(), "policywire.db")
	s, err := Open(path, Options{Now: clk.Now, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for k := range 20 {
		var batch []policywire.Item
		for i := range 100 {
			id := fmt.Sprintf("%d-%d", k, i)
			batch = append(batch, item("council-press", "g"+id, "https://example.org/"+id, "Statement "+id+" on cyber diplomacy", clk.Now()))
		}
		ingest(t, s, "council-press", routeAllTo("ch"), batch...)
	}
	var root int
	err = s.DB().View(func(tx *bolt.Tx) error {
		root = int(tx.Bucket(bucketItems).Root())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if root == 0 {
		t.Fatal("the items bucket is inline; the test needs more items")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data, root
}

// writeDamaged writes data, changed by damage, to a new database file.
func writeDamaged(t *testing.T, data []byte, damage func([]byte) []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policywire.db")
	if err := os.WriteFile(path, damage(append([]byte(nil), data...)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func checkDamagedError(t *testing.T, err error, path string) {
	t.Helper()
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("err = %v, want one wrapping ErrDamaged", err)
	}
	for _, want := range []string{path, "damaged", "backup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
}

func flipBytes(data []byte, off, n int) {
	for i := off; i < off+n && i < len(data); i++ {
		data[i] ^= 0xff
	}
}

// TestOpenDamagedDatabase: a truncated file or one with flipped bytes is
// refused with an error that wraps ErrDamaged, names the file and says
// what to do; bbolt's panics and memory faults on such files do not escape.
func TestOpenDamagedDatabase(t *testing.T) {
	const page = 4096
	data, itemsRoot := goodDatabase(t)
	for _, tc := range []struct {
		name   string
		damage func(data []byte) []byte
	}{
		{"truncated to half", func(data []byte) []byte { return data[:len(data)/2] }},
		{"truncated to two pages", func(data []byte) []byte { return data[:2*page] }},
		{"both meta pages flipped", func(data []byte) []byte {
			flipBytes(data, 16, 32)
			flipBytes(data, page+16, 32)
			return data
		}},
		{"page header of the items flipped", func(data []byte) []byte {
			flipBytes(data, itemsRoot*page, 16)
			return data
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeDamaged(t, data, tc.damage)
			s, err := Open(path, Options{Timeout: time.Second, Check: true})
			if err == nil {
				s.Close()
				t.Fatal("a damaged database was opened")
			}
			checkDamagedError(t, err, path)
		})
	}
}

// TestCheckOnOpenFindsDamagedPages: a damaged page that opening does not
// read is found by the check Options.Check runs, and by Check.
func TestCheckOnOpenFindsDamagedPages(t *testing.T) {
	const page = 4096
	data, _ := goodDatabase(t)
	path := writeDamaged(t, data, func(data []byte) []byte {
		flipBytes(data, len(data)/2&^(page-1), 16)
		return data
	})
	s, err := Open(path, Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("open without the check: %v", err)
	}
	checkDamagedError(t, s.Check(), path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{Timeout: time.Second, Check: true})
	if err == nil {
		s.Close()
		t.Fatal("Options.Check opened a damaged database")
	}
	checkDamagedError(t, err, path)
}
