package store

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/policywire/policywire"
	bolt "go.etcd.io/bbolt"
)

// forEachChunk is how many items ForEachItem reads per read transaction, so
// that a slow callback never holds a transaction open for long.
const forEachChunk = 512

// Item returns an archived item by its id, or by any identity it arrived
// with.
func (s *Store) Item(id string) (policywire.Item, bool, error) {
	var rec *itemRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = itemByIdentity(tx, id)
		return err
	})
	if err != nil {
		return policywire.Item{}, false, fmt.Errorf("store: item %q: %w", id, err)
	}
	if rec == nil {
		return policywire.Item{}, false, nil
	}
	return rec.Item, true, nil
}

// aliasOf resolves any identity an item arrived with to the sequence it
// is archived under, or 0.
func aliasOf(tx *bolt.Tx, identity string) uint64 {
	// The URL index keys canonical URLs as they are (not hashed when
	// short): URLs of one source share a prefix and often a date path, so
	// the writes of one poll touch few pages.
	var v []byte
	switch {
	case strings.HasPrefix(identity, "u:"):
		v = getBounded(tx.Bucket(bucketURLs), identity[2:])
	case strings.HasPrefix(identity, "g:"):
		v = getBounded(tx.Bucket(bucketGUIDs), identity[2:])
	}
	if v == nil {
		v = getBounded(tx.Bucket(bucketSeen), identity)
	}
	return be64(v)
}

// itemByIdentity returns the archived item known by an identity.
func itemByIdentity(tx *bolt.Tx, identity string) (*itemRecord, error) {
	seq := aliasOf(tx, identity)
	if seq == 0 {
		return nil, nil
	}
	return getItemRecord(tx, seq)
}

// ItemInfo is what the store knows about an archived item beyond the item.
type ItemInfo struct {
	Item       policywire.Item
	SourceName string
	FirstSeen  time.Time
	Story      string
	Revisions  int
	PrevTitle  string // the title before the last change of title
}

// ItemInfo returns an archived item with its revision history.
func (s *Store) ItemInfo(id string) (ItemInfo, bool, error) {
	var rec *itemRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = itemByIdentity(tx, id)
		return err
	})
	if err != nil {
		return ItemInfo{}, false, fmt.Errorf("store: item %q: %w", id, err)
	}
	if rec == nil {
		return ItemInfo{}, false, nil
	}
	story := rec.Story
	if story == "" {
		story = rec.Item.ID
	}
	return ItemInfo{
		Item: rec.Item, SourceName: rec.SourceName, FirstSeen: rec.FirstSeen,
		Story: story, Revisions: rec.Revisions, PrevTitle: rec.PrevTitle,
	}, true, nil
}

// ForEachItem calls fn with every archived item, in the order they were
// first seen. fn runs
// outside any transaction; an error from it stops the walk and is returned.
func (s *Store) ForEachItem(fn func(policywire.Item) error) error {
	var after []byte
	for {
		var chunk []policywire.Item
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketItems).Cursor()
			k, v := c.First()
			if after != nil {
				k, v = c.Seek(after)
				if k != nil && bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(chunk) < forEachChunk; k, v = c.Next() {
				var rec itemRecord
				if err := decode(v, &rec); err != nil {
					return fmt.Errorf("item %q: %w", k, err)
				}
				chunk = append(chunk, rec.Item)
				after = bytes.Clone(k)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: items: %w", err)
		}
		for _, it := range chunk {
			if err := fn(it); err != nil {
				return err
			}
		}
		if len(chunk) < forEachChunk {
			return nil
		}
	}
}

// ItemCount is the number of items in the archive (pruned ones excluded).
func (s *Store) ItemCount() (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		n, err = itemCount(tx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: item count: %w", err)
	}
	return n, nil
}

// AlsoReported lists the other sources that told the story of an item,
// in the order they did, once per source.
func (s *Store) AlsoReported(itemID string) ([]policywire.AlsoReported, error) {
	var out []policywire.AlsoReported
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = storySources(tx, itemID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: also reported %q: %w", itemID, err)
	}
	return out, nil
}

// Prune drops the archived items dated before the given time, with their
// stories and cached article text, but keeps every identity they arrived
// with: a pruned item that shows up in a feed again is not new.
func (s *Store) Prune(before time.Time) (int, error) {
	n := 0
	err := s.update("retention", func(tx *bolt.Tx) error {
		items, stories := tx.Bucket(bucketItems), tx.Bucket(bucketStories)
		// Periods before that of the limit are old through and through;
		// in the limit's own, the dates tell.
		limit := timeOrder(before)
		var old [][]byte
		c := tx.Bucket(bucketDates).Cursor()
		for k, v := c.First(); k != nil && be64(k) <= limit; k, v = c.Next() {
			if be64(v) < limit {
				old = append(old, bytes.Clone(k))
			}
		}
		removed := 0
		for _, k := range old {
			id := k[8:]
			if v := items.Get(id); v != nil {
				n++
				removed++
				var rec itemRecord
				if err := decode(v, &rec); err == nil && rec.Item.URL != "" {
					if err := tx.Bucket(bucketArticles).Delete(boundedKey(rec.Item.URL)); err != nil {
						return err
					}
				}
			}
			if err := items.Delete(id); err != nil {
				return err
			}
			if err := stories.Delete(id); err != nil {
				return err
			}
			if err := tx.Bucket(bucketDates).Delete(k); err != nil {
				return err
			}
		}
		if err := addPruned(tx, removed); err != nil {
			return err
		}
		var stale [][]byte
		err := tx.Bucket(bucketArticles).ForEach(func(k, v []byte) error {
			var a articleRecord
			if err := decode(v, &a); err != nil || a.Fetched.Before(before) {
				stale = append(stale, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := tx.Bucket(bucketArticles).Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune before %s: %w", before.Format(time.RFC3339), err)
	}
	return n, nil
}

// Article returns the cached text of an article page.
func (s *Store) Article(url string) (string, bool, error) {
	var text string
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		v := getBounded(tx.Bucket(bucketArticles), url)
		if v == nil {
			return nil
		}
		var a articleRecord
		if err := decode(v, &a); err != nil {
			return err
		}
		text, ok = a.Text, true
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("store: article %s: %w", url, err)
	}
	return text, ok, nil
}

// PutArticle caches the text of an article page, so that it is fetched
// once per item ever.
func (s *Store) PutArticle(url, text string) error {
	if url == "" {
		return errors.New("store: put article: empty URL")
	}
	err := s.update("article cache", func(tx *bolt.Tx) error {
		v, err := encode(articleRecord{Text: text, Fetched: s.now()})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketArticles).Put(boundedKey(url), v)
	})
	if err != nil {
		return fmt.Errorf("store: put article %s: %w", url, err)
	}
	return nil
}

func getItemRecord(tx *bolt.Tx, seq uint64) (*itemRecord, error) {
	var rec itemRecord
	if ok, err := readItem(tx, seq, &rec); !ok {
		return nil, err
	}
	rec.seq = seq
	return &rec, nil
}

// readItem decodes the record of an item into v (an itemRecord or a part of
// one); false when there is none.
func readItem(tx *bolt.Tx, seq uint64, v any) (bool, error) {
	data := tx.Bucket(bucketItems).Get(u64(seq))
	if data == nil {
		return false, nil
	}
	if err := decode(data, v); err != nil {
		return false, fmt.Errorf("item %d: %w", seq, err)
	}
	return true, nil
}

// itemHead is the JSON shape of a recordHead, for records decodeHead
// does not take.
type itemHead struct {
	Item struct {
		ID     string `json:"id"`
		Source string `json:"source"`
		Title  string `json:"title"`
		URL    string `json:"url"`
	} `json:"item"`
	SourceName  string `json:"source_name"`
	Story       string `json:"story"`
	StorySeq    uint64 `json:"story_seq"`
	SummaryHash string `json:"summary_hash"`
}

// readHead reads the head of an item's record; false when there is none.
func readHead(tx *bolt.Tx, seq uint64) (recordHead, bool, error) {
	data := tx.Bucket(bucketItems).Get(u64(seq))
	if data == nil {
		return recordHead{}, false, nil
	}
	var h recordHead
	if decodeHead(data, &h) == nil {
		return h, true, nil
	}
	var j itemHead
	if err := decode(data, &j); err != nil {
		return recordHead{}, false, fmt.Errorf("item %d: %w", seq, err)
	}
	return recordHead{
		ID: j.Item.ID, Source: j.Item.Source, URL: j.Item.URL, Title: j.Item.Title,
		SourceName: j.SourceName, Story: j.Story, StorySeq: j.StorySeq, SummaryHash: j.SummaryHash,
	}, true, nil
}

// getItemHead is getItemRecord with only the fields a story needs (see
// getStory and hydrate): reading only those skips the item's text, most
// of the record.
func getItemHead(tx *bolt.Tx, seq uint64) (*itemRecord, error) {
	h, ok, err := readHead(tx, seq)
	if !ok {
		return nil, err
	}
	return &itemRecord{
		Item:       policywire.Item{ID: h.ID, Source: h.Source, Title: h.Title, URL: h.URL},
		SourceName: h.SourceName, Story: h.Story, StorySeq: h.StorySeq, SummaryHash: h.SummaryHash, seq: seq,
	}, nil
}

// putItemRecord writes an item under its sequence, taking the next one
// for a new item.
func putItemRecord(tx *bolt.Tx, rec *itemRecord) error {
	if rec.Item.ID == "" {
		return errors.New("item without an id")
	}
	b := tx.Bucket(bucketItems)
	if rec.seq == 0 {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		rec.seq = seq
	}
	v, err := encodeItemRecord(rec)
	if err != nil {
		return err
	}
	return b.Put(u64(rec.seq), v)
}

func getStoryBySeq(tx *bolt.Tx, seq uint64) (*storyRecord, error) {
	v := tx.Bucket(bucketStories).Get(u64(seq))
	if v == nil {
		return nil, nil
	}
	var st storyRecord
	if err := decode(v, &st); err != nil {
		return nil, fmt.Errorf("story %d: %w", seq, err)
	}
	st.Seq = seq
	return &st, nil
}

// hydrate fills in the members that are archived items from their records.
// A story read from its record has only ItemSeq and Source of those (see
// putStory): enough to tell its sources, which is most of what is asked of
// it; the rest costs reading every member's item.
func hydrate(tx *bolt.Tx, members []storyMember) error {
	for i := range members {
		m := &members[i]
		if m.ItemSeq == 0 || m.URL != "" {
			continue
		}
		rec, err := getItemHead(tx, m.ItemSeq)
		if err != nil {
			return err
		}
		if rec != nil {
			m.ItemID, m.SourceName, m.Title, m.URL = rec.Item.ID, rec.SourceName, rec.Item.Title, rec.Item.URL
		}
	}
	return nil
}

// loadStory returns the story kept under the sequence of its first item.
func loadStory(tx *bolt.Tx, seq uint64) (*storyRecord, error) {
	st, err := getStoryBySeq(tx, seq)
	if err != nil || st != nil {
		return st, err
	}
	rec, err := getItemHead(tx, seq)
	if err != nil || rec == nil {
		return nil, err
	}
	return getStory(tx, rec)
}

// getStory returns the story of an item. A story of one item that had no
// alert has no record of its own, nor has one that retention pruned: a
// story of the item alone takes its place.
func getStory(tx *bolt.Tx, rec *itemRecord) (*storyRecord, error) {
	seq, id := rec.StorySeq, rec.Story
	if seq == 0 {
		seq = rec.seq
	}
	if id == "" {
		id = rec.Item.ID
	}
	st, err := getStoryBySeq(tx, seq)
	if err != nil || st != nil {
		return st, err
	}
	return &storyRecord{
		ID: id, Seq: seq,
		Members: []storyMember{{ItemSeq: rec.seq, ItemID: rec.Item.ID, Source: rec.Item.Source, SourceName: rec.SourceName, Title: rec.Item.Title, URL: rec.Item.URL}},
	}, nil
}

func putStory(tx *bolt.Tx, st *storyRecord) error {
	if st.Seq == 0 {
		return errors.New("story without a sequence")
	}
	slim := *st
	slim.Members = make([]storyMember, len(st.Members))
	for i, m := range st.Members {
		if m.ItemSeq != 0 {
			m = storyMember{ItemSeq: m.ItemSeq, Source: m.Source}
		}
		slim.Members[i] = m
	}
	v, err := encode(&slim)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketStories).Put(u64(st.Seq), v)
}
