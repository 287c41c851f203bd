package store

import (
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/policywire/policywire"
)

// itemRecord is an archived item with what the store knows about it.
type itemRecord struct {
	Item       policywire.Item `json:"item"`
	SourceName string          `json:"source_name,omitempty"`
	FirstSeen  time.Time       `json:"first_seen"`
	// Story is the id of the item's story (the id of its first item, see
	// alertID), empty when that is the item itself; StorySeq is where the
	// story is kept.
	Story     string `json:"story,omitempty"`
	StorySeq  uint64 `json:"story_seq,omitempty"`
	Revisions int    `json:"revisions,omitempty"`
	PrevTitle string `json:"prev_title,omitempty"`
	// SummaryHash fingerprints the summary as the feed gave it, so that a
	// summary the bot rewrote is not mistaken for a revision.
	SummaryHash string `json:"summary_hash,omitempty"`

	seq uint64 // the key it is stored under
}

// storyRecord groups the items of several sources that tell one story.
type storyRecord struct {
	ID      string                `json:"id"`
	Seq     uint64                `json:"seq"` // the key: the sequence of its first item
	Members []storyMember         `json:"members"`
	Alerts  map[string]storyAlert `json:"alerts,omitempty"` // by channel
}

type storyMember struct {
	// ItemSeq is the archived item of the member; it is 0 for a member
	// that shares the canonical URL of another source's item (it has no
	// record of its own). Members with a record are stored as ItemSeq and
	// Source only, the rest is read from the item (see hydrate).
	ItemSeq    uint64 `json:"item_seq,omitempty"`
	ItemID     string `json:"item_id,omitempty"`
	Source     string `json:"source"`
	SourceName string `json:"source_name,omitempty"`
	Title      string `json:"title,omitempty"`
	URL        string `json:"url"`
}

type storyAlert struct {
	ID  string `json:"id"`
	Key []byte `json:"key"`
}

type outboxRecord struct {
	Alert      policywire.Alert `json:"alert"`
	Digest     bool             `json:"digest,omitempty"`
	Enqueued   time.Time        `json:"enqueued"`
	Attempts   int              `json:"attempts,omitempty"`
	NotBefore  time.Time        `json:"not_before,omitzero"`
	LastError  string           `json:"last_error,omitempty"`
	Parked     bool             `json:"parked,omitempty"`
	ParkReason string           `json:"park_reason,omitempty"`
	// DigestID is the digest the row was first attempted in; set, it
	// fixes which rows that digest holds across retries and restarts.
	DigestID string `json:"digest_id,omitempty"`
	// Edit is set on a row that edits a delivered message (see edits.go).
	Edit *editRecord `json:"edit,omitempty"`
}

// deliveryRecord is one alert delivered to one channel: where its message
// is (Target, Ref), where its content is kept (LogSeq), and what has
// happened to it since (see deliveries.go). Records of version 3 have Ref
// and At only.
type deliveryRecord struct {
	Ref string    `json:"ref,omitempty"`
	At  time.Time `json:"at"`
	// Target is the Slack channel or Matrix room the message is in; ""
	// on records older than version 4 (the channel's current target).
	Target string `json:"target,omitempty"`
	// LogSeq is the key of the delivered alert in the channel's log.
	LogSeq uint64 `json:"log_seq,omitempty"`
	Digest bool   `json:"digest,omitempty"`
	// Thread is the message this one replied to, for a follow-up.
	Thread string `json:"thread,omitempty"`
	// Replies counts the follow-ups posted in this message's thread.
	Replies int `json:"replies,omitempty"`
	// Edits counts the edits applied; EditKey is the pending edit row.
	Edits   int    `json:"edits,omitempty"`
	EditKey []byte `json:"edit_key,omitempty"`
	// EditVersions counts the contents edit rows of the message held.
	EditVersions int `json:"edit_versions,omitempty"`
	// Gone is set once the chat server said the message no longer exists.
	Gone bool `json:"gone,omitempty"`
}

type articleRecord struct {
	Text    string    `json:"text"`
	Fetched time.Time `json:"fetched"`
}

func encode(v any) ([]byte, error) { return json.Marshal(v) }

func decode(data []byte, v any) error { return json.Unmarshal(data, v) }

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// timeOrder maps a time to an unsigned number that sorts like the time;
// times before 1970 sort first.
func timeOrder(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	n := t.UnixNano()
	if n < 0 {
		return 0
	}
	return uint64(n)
}

// dateKey is (time big-endian, id): keys that sort by date. Version 2 keyed
// the date index so; it is also the key of an outbox row.
func dateKey(t time.Time, id []byte) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, timeOrder(t))
	return append(k, id...)
}

// datePeriod is the span of dates a key of the date index groups (2^52 ns,
// about 52 days): keyed by (period, item sequence), the items one poll
// brings, dated over a few days or weeks, land at the end of one or two
// periods' keys instead of all over the index, so that a commit rewrites a
// page or two of it rather than one per item.
const datePeriod = 1 << 52

// dateIndexKey is the key of an item in the date index (schema version 3):
// the start of its date's period and its sequence, big-endian. The value
// is the date itself, timeOrder big-endian.
// date is timeOrder of the item's date.
func dateIndexKey(date, seq uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, date&^(datePeriod-1))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

// outboxKey is (publication time, sequence), both big-endian.
func outboxKey(pub time.Time, seq uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, timeOrder(pub))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

func be64(b []byte) uint64 {
	if len(b) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}
