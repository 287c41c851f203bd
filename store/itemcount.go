package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// keyItemsPruned counts the items Prune removed. Items only ever arrive
// under the items bucket's next sequence, so the archive holds the
// bucket's sequence less the pruned ones: counting them takes two reads
// instead of a walk over every page of the bucket, which on a large
// archive cost a start-up (the index's consistency check) and each
// metrics scrape tens of milliseconds and its whole page count in
// resident memory.
var keyItemsPruned = []byte("items_pruned")

// countItemsOnce records the pruned count of a database written before it
// was kept, by walking the items bucket this once.
func countItemsOnce(db *bolt.DB) error {
	return db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || meta.Get(keyItemsPruned) != nil {
			return nil
		}
		items := tx.Bucket(bucketItems)
		pruned := items.Sequence() - uint64(items.Stats().KeyN)
		return meta.Put(keyItemsPruned, u64(pruned))
	})
}

// addPruned counts n more pruned items, inside Prune's transaction.
func addPruned(tx *bolt.Tx, n int) error {
	meta := tx.Bucket(bucketMeta)
	var was uint64
	if v := meta.Get(keyItemsPruned); len(v) == 8 {
		was = be64(v)
	}
	return meta.Put(keyItemsPruned, u64(was+uint64(n)))
}

// itemCount is the number of archived items: O(1) once the pruned count is
// kept, else (a read-only open of an older database) by walking the bucket.
func itemCount(tx *bolt.Tx) (int, error) {
	items := tx.Bucket(bucketItems)
	v := tx.Bucket(bucketMeta).Get(keyItemsPruned)
	if len(v) != 8 {
		return items.Stats().KeyN, nil
	}
	seq, pruned := items.Sequence(), be64(v)
	if pruned > seq {
		return 0, fmt.Errorf("%d items pruned of %d ever archived", pruned, seq)
	}
	return int(seq - pruned), nil
}
