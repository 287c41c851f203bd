package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Top-level buckets. Version 1 had all but bucketDates, and kept items and
// stories under their identity strings instead of sequences.
var (
	bucketMeta          = []byte("meta")
	bucketItems         = []byte("items")         // item sequence → itemRecord (appends: cheap commits)
	bucketURLs          = []byte("urls")          // canonical URL → item sequence; survives pruning
	bucketGUIDs         = []byte("guids")         // source \x00 guid → item sequence; survives pruning
	bucketSeen          = []byte("seen")          // other identities (hash) → item sequence; survives pruning
	bucketSources       = []byte("sources")       // source id → SourceState
	bucketOutbox        = []byte("outbox")        // channel → (pub time, seq) → outboxRecord
	bucketDeliveries    = []byte("deliveries")    // channel → {ids: alert id → deliveryRecord, log: seq → Alert, threads: reference → threadRecord [v4]}
	bucketSubscriptions = []byte("subscriptions") // seq → Subscription
	bucketStories       = []byte("stories")       // sequence of the story's first item → storyRecord
	bucketArticles      = []byte("articles")      // URL → articleRecord
	bucketDates         = []byte("dates")         // item date period, item sequence → item date (retention) [v2; v3 keys]

	keySchemaVersion = []byte("schema_version")
)

var bucketsV1 = [][]byte{
	bucketMeta, bucketItems, bucketURLs, bucketGUIDs, bucketSeen, bucketSources,
	bucketOutbox, bucketDeliveries, bucketSubscriptions, bucketStories, bucketArticles,
}

// migration brings a database from version to-1 to version to, inside the
// transaction that opens it.
type migration struct {
	to   uint64
	what string
	run  func(tx *bolt.Tx) error
}

// migrations, oldest first. A database of version 1 runs all of them.
var migrations = []migration{
	{to: 2, what: "key items by sequence, index them by date", run: migrateToSequences},
	{to: 3, what: "key the date index by period", run: migrateDatePeriods},
	{to: 4, what: "record where delivered alerts are, for edits and threads", run: migrateDeliveryMessages},
}

// SchemaVersion is the version of the layout this code writes.
func SchemaVersion() uint64 { return 1 + uint64(len(migrations)) }

func (s *Store) prepare(readOnly bool) error {
	var version uint64
	var fresh bool
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			empty := true
			_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
			if !empty {
				return fmt.Errorf("store: %s is not a policywire database (no meta bucket)", s.path)
			}
			fresh = true
			return nil
		}
		v := meta.Get(keySchemaVersion)
		if len(v) != 8 {
			return fmt.Errorf("store: %s has no valid schema version", s.path)
		}
		version = binary.BigEndian.Uint64(v)
		return nil
	})
	if err != nil {
		return err
	}
	current := SchemaVersion()
	switch {
	case fresh && readOnly:
		return fmt.Errorf("store: %s is empty; open it read-write once to create it", s.path)
	case fresh:
		err = s.db.Update(func(tx *bolt.Tx) error {
			for _, name := range bucketsV1 {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			for _, m := range migrations {
				if err := m.run(tx); err != nil {
					return err
				}
			}
			return putVersion(tx, current)
		})
		if err != nil {
			return fmt.Errorf("store: create %s: %w", s.path, err)
		}
		return nil
	case version > current:
		return fmt.Errorf("store: %s has schema version %d but this policywire only knows up to %d: use a newer policywire (or restore a backup)", s.path, version, current)
	case version == current:
		return nil
	case version < 1:
		return fmt.Errorf("store: %s has unknown schema version %d", s.path, version)
	case readOnly:
		return fmt.Errorf("store: %s has schema version %d and needs migrating to %d: open it read-write first", s.path, version, current)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		for _, m := range migrations {
			if m.to <= version {
				continue
			}
			if err := m.run(tx); err != nil {
				return fmt.Errorf("migrate to version %d (%s): %w", m.to, m.what, err)
			}
		}
		return putVersion(tx, current)
	})
	if err != nil {
		return fmt.Errorf("store: migrate %s from version %d: %w", s.path, version, err)
	}
	return nil
}

func putVersion(tx *bolt.Tx, v uint64) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return errors.New("meta bucket missing")
	}
	return meta.Put(keySchemaVersion, u64(v))
}

// migrateToSequences moves version 1's items and stories, kept under
// identity strings (random keys, costly commits), to sequence keys in the
// order the items were first seen; points the identity indexes at the
// sequences; and builds the date index. Identities whose item was pruned
// get a sequence of their own with no item, so they stay known.
func migrateToSequences(tx *bolt.Tx) error {
	type v1item struct {
		id  string
		rec itemRecord
	}
	var items []v1item
	err := tx.Bucket(bucketItems).ForEach(func(k, v []byte) error {
		var rec itemRecord
		if err := decode(v, &rec); err != nil {
			return fmt.Errorf("item %q: %w", k, err)
		}
		items = append(items, v1item{id: string(k), rec: rec})
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortStableFunc(items, func(a, b v1item) int { return a.rec.FirstSeen.Compare(b.rec.FirstSeen) })
	seqs := make(map[string]uint64, len(items))
	next := uint64(0)
	seqOf := func(id string) uint64 {
		if s, ok := seqs[id]; ok {
			return s
		}
		next++
		seqs[id] = next
		return next
	}
	archived := make(map[string]bool, len(items))
	for _, it := range items {
		seqOf(it.id)
		archived[it.id] = true
	}
	if err := tx.DeleteBucket(bucketItems); err != nil {
		return err
	}
	if _, err := tx.CreateBucket(bucketItems); err != nil {
		return err
	}
	dates, err := tx.CreateBucketIfNotExists(bucketDates)
	if err != nil {
		return err
	}
	for _, it := range items {
		rec := it.rec
		rec.seq = seqOf(it.id)
		if rec.Story == "" {
			rec.Story = it.id
		}
		rec.StorySeq = seqOf(rec.Story)
		if rec.Story == it.id {
			rec.Story = ""
		}
		if err := putItemRecord(tx, &rec); err != nil {
			return err
		}
		if err := dates.Put(dateKey(rec.Item.Date(), u64(rec.seq)), nil); err != nil {
			return err
		}
	}
	var stories []storyRecord
	err = tx.Bucket(bucketStories).ForEach(func(k, v []byte) error {
		var st storyRecord
		if err := decode(v, &st); err != nil {
			return fmt.Errorf("story %q: %w", k, err)
		}
		if st.ID == "" {
			st.ID = string(k)
		}
		stories = append(stories, st)
		return nil
	})
	if err != nil {
		return err
	}
	if err := tx.DeleteBucket(bucketStories); err != nil {
		return err
	}
	if _, err := tx.CreateBucket(bucketStories); err != nil {
		return err
	}
	for i := range stories {
		stories[i].Seq = seqOf(stories[i].ID)
		for j := range stories[i].Members {
			if m := &stories[i].Members[j]; m.ItemID != "" {
				if archived[m.ItemID] {
					m.ItemSeq = seqOf(m.ItemID)
				}
			}
		}
		if err := putStory(tx, &stories[i]); err != nil {
			return err
		}
	}
	for _, name := range [][]byte{bucketURLs, bucketGUIDs, bucketSeen} {
		b := tx.Bucket(name)
		var keys, ids [][]byte
		err := b.ForEach(func(k, v []byte) error {
			keys, ids = append(keys, bytes.Clone(k)), append(ids, bytes.Clone(v))
			return nil
		})
		if err != nil {
			return err
		}
		for i, k := range keys {
			if err := b.Put(k, u64(seqOf(string(ids[i])))); err != nil {
				return err
			}
		}
	}
	return tx.Bucket(bucketItems).SetSequence(next)
}

// migrateDatePeriods rekeys version 2's date index, (date, sequence) → "",
// as (date period, sequence) → date (see dateIndexKey).
func migrateDatePeriods(tx *bolt.Tx) error {
	type entry struct{ k, v []byte }
	var entries []entry
	err := tx.Bucket(bucketDates).ForEach(func(k, _ []byte) error {
		if len(k) != 16 {
			return fmt.Errorf("date index key %x: want 16 bytes", k)
		}
		date := be64(k)
		entries = append(entries, entry{dateIndexKey(date, be64(k[8:])), u64(date)})
		return nil
	})
	if err != nil {
		return err
	}
	if err := tx.DeleteBucket(bucketDates); err != nil {
		return err
	}
	dates, err := tx.CreateBucket(bucketDates)
	if err != nil {
		return err
	}
	slices.SortFunc(entries, func(a, b entry) int { return bytes.Compare(a.k, b.k) })
	dates.FillPercent = 1 // written in key order
	for _, e := range entries {
		if err := dates.Put(e.k, e.v); err != nil {
			return err
		}
	}
	return nil
}
