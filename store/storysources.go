package store

import (
	"fmt"

	"github.com/policywire/policywire"
	bolt "go.etcd.io/bbolt"
)

// AddStorySources fills in, for each search hit, the other sources that
// carried its story (see AlsoReported), in one read.
func (s *Store) AddStorySources(hits []policywire.SearchHit) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		for i := range hits {
			also, err := storySources(tx, hits[i].Item.ID)
			if err != nil {
				return err
			}
			hits[i].Also = also
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: story sources: %w", err)
	}
	return nil
}

// storySources lists the sources other than its own that told the story
// of an item, in the order they did, once per source.
func storySources(tx *bolt.Tx, itemID string) ([]policywire.AlsoReported, error) {
	rec, err := itemByIdentity(tx, itemID)
	if err != nil || rec == nil {
		return nil, err
	}
	st, err := getStory(tx, rec)
	if err != nil {
		return nil, err
	}
	if err := hydrate(tx, st.Members); err != nil {
		return nil, err
	}
	return alsoFrom(st.Members, rec.Item.Source), nil
}
