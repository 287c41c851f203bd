package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// keysIn counts the items bucket's keys one by one, as ItemCount once did.
func keysIn(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketItems).ForEach(func(_, _ []byte) error { n++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestItemCountFollowsIngestPruneAndReopen: the archive's count is kept
// without walking it, through new items, revisions, pruning and a
// database written before the count was kept.
func TestItemCountFollowsIngestPruneAndReopen(t *testing.T) {
	clk := newClock()
	path := filepath.Join(t.TempDir(), "policywire.db")
	s, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	for i := range 30 {
		// Ten items two years old, twenty recent, in polls of five.
		age := time.Duration(i) * time.Hour
		if i < 10 {
			age = 2 * 365 * 24 * time.Hour
		}
		id := fmt.Sprintf("g%d", i)
		ingest(t, s, "src", nil, item("src", id, "https://example.org/"+id, fmt.Sprintf("Notice on cable resilience number %d", i), now.Add(-age)))
	}
	// Known items, one of them revised, add nothing.
	ingest(t, s, "src", nil, item("src", "g12", "https://example.org/g12", "Notice on cable resilience number 12, revised", now.Add(-12*time.Hour)))
	if n, err := s.ItemCount(); err != nil || n != 30 || keysIn(t, s) != 30 {
		t.Fatalf("ItemCount = %d, %v; %d keys", n, err, keysIn(t, s))
	}
	if n, err := s.Prune(now.Add(-365 * 24 * time.Hour)); err != nil || n != 10 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	if n, err := s.ItemCount(); err != nil || n != 20 || keysIn(t, s) != 20 {
		t.Fatalf("after pruning: ItemCount = %d, %v; %d keys", n, err, keysIn(t, s))
	}

	// A database from before the count: the key is missing. Read-only it
	// is counted by walking; opened read-write, the count is recorded.
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyItemsPruned) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := ro.ItemCount(); err != nil || n != 20 {
		t.Fatalf("read-only, without the kept count: ItemCount = %d, %v", n, err)
	}
	ro.Close()
	s, err = Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kept := false
	_ = s.db.View(func(tx *bolt.Tx) error { kept = len(tx.Bucket(bucketMeta).Get(keyItemsPruned)) == 8; return nil })
	if !kept {
		t.Fatal("opening read-write did not record the pruned count")
	}
	ingest(t, s, "src", nil, item("src", "g99", "https://example.org/g99", "Fresh notice on subsea infrastructure", now))
	if n, err := s.ItemCount(); err != nil || n != 21 || keysIn(t, s) != 21 {
		t.Fatalf("after reopening and one new item: ItemCount = %d, %v; %d keys", n, err, keysIn(t, s))
	}
}
