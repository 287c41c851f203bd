// Package policywire holds the domain types shared by every part of the bot:
// the normalized Item every source adapter produces, the Alert a channel
// receives, and the rule that gives an item its identity. It knows nothing of
// HTTP, bbolt, Slack or Matrix.
package policywire

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Item is one publication of one source, normalized: absolute links, plain
// text, a date and a language where one is known.
type Item struct {
	// ID is the item's identity (see Identity); two items with the same ID
	// are the same publication, whatever their feed ids say.
	ID           string    `json:"id"`
	Source       string    `json:"source"`
	GUID         string    `json:"guid,omitempty"`
	URL          string    `json:"url,omitempty"`
	CanonicalURL string    `json:"canonical_url,omitempty"`
	Title        string    `json:"title"`
	Summary      string    `json:"summary,omitempty"`
	Content      string    `json:"content,omitempty"`
	Published    time.Time `json:"published"`
	Updated      time.Time `json:"updated,omitzero"`
	Language     string    `json:"language,omitempty"`
	Categories   []string  `json:"categories,omitempty"`
	// References are policy references found in the text, such as
	// "2023/0212(COD)", "COM(2023) 123 final" or "IP/26/301".
	References []string `json:"references,omitempty"`
}

// Identity returns the identity of an item as the contract fixes it: its
// canonical URL, else its GUID, else a hash of source, title and date. The
// source is part of the GUID form because GUIDs are only unique per feed.
func Identity(it Item) string {
	if it.CanonicalURL != "" {
		return "u:" + it.CanonicalURL
	}
	if g := strings.TrimSpace(it.GUID); g != "" {
		return "g:" + it.Source + "\x00" + g
	}
	h := sha256.New()
	h.Write([]byte(it.Source))
	h.Write([]byte{0})
	h.Write([]byte(strings.ToLower(strings.TrimSpace(it.Title))))
	h.Write([]byte{0})
	if !it.Published.IsZero() {
		h.Write([]byte(it.Published.UTC().Format(time.RFC3339)))
	}
	return "h:" + hex.EncodeToString(h.Sum(nil)[:16])
}

// Date is the date an item is shown and ordered by: published, else updated.
func (it Item) Date() time.Time {
	if !it.Published.IsZero() {
		return it.Published
	}
	return it.Updated
}

// AlsoReported names another source that published the same story.
type AlsoReported struct {
	Source     string `json:"source"`
	SourceName string `json:"source_name,omitempty"`
	Title      string `json:"title,omitempty"`
	URL        string `json:"url"`
}

// Alert is what one channel receives about one story: the item, the source
// name to show, the topics that matched and the other sources of the story.
type Alert struct {
	// ID is unique per (story, channel) and stable across retries; senders
	// use it for idempotency (Slack message metadata, Matrix transaction id).
	ID         string         `json:"id"`
	Channel    string         `json:"channel"`
	Item       Item           `json:"item"`
	SourceName string         `json:"source_name"`
	Topics     []string       `json:"topics,omitempty"`
	Also       []AlsoReported `json:"also,omitempty"`
	// Edited is set on the new content of an alert already delivered
	// (see AlertEdit); nil on a first post.
	Edited *AlertEdit `json:"edited,omitempty"`
	// ThreadRoot is the platform reference of the alert this one follows
	// up (Slack ts, Matrix event id); "" posts it in the channel.
	ThreadRoot string `json:"thread_root,omitempty"`
	// Broadcast also shows a thread reply in the channel (Slack
	// reply_broadcast).
	Broadcast bool `json:"broadcast,omitempty"`
	// ThreadReplies is how many follow-ups were posted in the alert's
	// thread (shown by `latest`; not stored with the alert).
	ThreadReplies int `json:"-"`
}

// AlertEdit says what changed in a delivered alert.
type AlertEdit struct {
	// At is when the change was seen; renderers show it in the channel's
	// time zone.
	At time.Time `json:"at"`
	// Changes name what changed, in order: ChangeSource, ChangeTitle,
	// ChangeSummary, ChangeLink.
	Changes []string `json:"changes,omitempty"`
}

// What an edit of a delivered alert may change.
const (
	ChangeSource  = "source"
	ChangeTitle   = "title"
	ChangeSummary = "summary"
	ChangeLink    = "link"
)

// Digest is one scheduled message listing several items for a digest channel.
type Digest struct {
	ID      string  `json:"id"`
	Channel string  `json:"channel"`
	Title   string  `json:"title"`
	Alerts  []Alert `json:"alerts"`
}

// SearchOptions shape an archive search.
type SearchOptions struct {
	Limit int
	// Offset skips that many of the best hits: the next page starts there.
	Offset int
	// Newest orders by date instead of relevance (as sort:date does).
	Newest bool
	// Now is the time the query's since: counts back from, in the zone
	// whose calendar days after:, before: and date: name; zero means the
	// clock, in its local zone.
	Now time.Time
}

// SearchHit is one item found in the archive.
type SearchHit struct {
	Item  Item
	Score float64
	// Snippet is a short extract with the matched words between « and ».
	Snippet string
	// Also are the other sources that carried the item's story.
	Also []AlsoReported `json:"also,omitempty"`
}
