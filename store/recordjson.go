package store

import (
	"time"
	"unicode/utf8"

	"github.com/policywire/policywire"
)

// The records written for every new item (the item record, its outbox
// rows) are encoded here without reflection, byte for byte as
// encoding/json encodes them (recordjson_test.go holds the two to the same
// output), so that the stored format does not change and decode reads them
// as before.

// encodeItemRecord is encode(rec).
func encodeItemRecord(rec *itemRecord) ([]byte, error) {
	it := &rec.Item
	w := recordWriter{b: make([]byte, 0, 512+itemSize(it)+len(rec.SourceName)+len(rec.Story)+len(rec.PrevTitle))}
	w.raw(`{"item":`)
	w.item(it)
	w.optString(`,"source_name":`, rec.SourceName)
	w.time(`,"first_seen":`, rec.FirstSeen)
	w.optString(`,"story":`, rec.Story)
	w.optUint(`,"story_seq":`, rec.StorySeq)
	w.optUint(`,"revisions":`, uint64(rec.Revisions))
	w.optString(`,"prev_title":`, rec.PrevTitle)
	w.optString(`,"summary_hash":`, rec.SummaryHash)
	w.raw("}")
	if !w.ok() || rec.Revisions < 0 {
		return encode(rec)
	}
	return w.b, nil
}

// encodeOutboxRecord is encode(rec).
func encodeOutboxRecord(rec *outboxRecord) ([]byte, error) {
	a := &rec.Alert
	if rec.Edit != nil || a.Edited != nil || a.ThreadRoot != "" || a.Broadcast {
		return encode(rec) // rare rows: edits and follow-ups
	}
	n := 640 + itemSize(&a.Item) + len(a.SourceName) + len(rec.LastError) + len(rec.DigestID)
	for _, r := range a.Also {
		n += 64 + len(r.SourceName) + len(r.Title) + len(r.URL)
	}
	w := recordWriter{b: make([]byte, 0, n)}
	w.string(`{"alert":{"id":`, a.ID)
	w.string(`,"channel":`, a.Channel)
	w.raw(`,"item":`)
	w.item(&a.Item)
	w.string(`,"source_name":`, a.SourceName)
	w.optStrings(`,"topics":`, a.Topics)
	if len(a.Also) > 0 {
		w.raw(`,"also":[`)
		for i, r := range a.Also {
			if i > 0 {
				w.raw(",")
			}
			w.string(`{"source":`, r.Source)
			w.optString(`,"source_name":`, r.SourceName)
			w.optString(`,"title":`, r.Title)
			w.string(`,"url":`, r.URL)
			w.raw("}")
		}
		w.raw("]")
	}
	w.raw("}")
	if rec.Digest {
		w.raw(`,"digest":true`)
	}
	w.time(`,"enqueued":`, rec.Enqueued)
	w.optUint(`,"attempts":`, uint64(rec.Attempts))
	if !rec.NotBefore.IsZero() {
		w.time(`,"not_before":`, rec.NotBefore)
	}
	w.optString(`,"last_error":`, rec.LastError)
	if rec.Parked {
		w.raw(`,"parked":true`)
	}
	w.optString(`,"park_reason":`, rec.ParkReason)
	w.optString(`,"digest_id":`, rec.DigestID)
	w.raw("}")
	if !w.ok() || rec.Attempts < 0 {
		return encode(rec)
	}
	return w.b, nil
}

// itemSize is about how long the JSON of an item is, with room for some
// escapes, so that its buffer is allocated once.
func itemSize(it *policywire.Item) int {
	n := len(it.ID) + len(it.Source) + len(it.GUID) + len(it.URL) + len(it.CanonicalURL) +
		len(it.Title) + len(it.Summary) + len(it.Content) + len(it.Language)
	for _, s := range it.Categories {
		n += len(s) + 3
	}
	for _, s := range it.References {
		n += len(s) + 3
	}
	return n + n/16
}

// recordWriter appends JSON; failed is set by a value it cannot write as
// encoding/json would (a time it refuses), and the caller then falls back
// to encoding/json.
type recordWriter struct {
	b      []byte
	failed bool
}

func (w *recordWriter) ok() bool { return !w.failed }

func (w *recordWriter) raw(s string) { w.b = append(w.b, s...) }

func (w *recordWriter) item(it *policywire.Item) {
	w.string(`{"id":`, it.ID)
	w.string(`,"source":`, it.Source)
	w.optString(`,"guid":`, it.GUID)
	w.optString(`,"url":`, it.URL)
	w.optString(`,"canonical_url":`, it.CanonicalURL)
	w.string(`,"title":`, it.Title)
	w.optString(`,"summary":`, it.Summary)
	w.optString(`,"content":`, it.Content)
	w.time(`,"published":`, it.Published)
	if !it.Updated.IsZero() {
		w.time(`,"updated":`, it.Updated)
	}
	w.optString(`,"language":`, it.Language)
	w.optStrings(`,"categories":`, it.Categories)
	w.optStrings(`,"references":`, it.References)
	w.raw("}")
}

func (w *recordWriter) string(key, s string) {
	w.raw(key)
	w.b = appendJSONString(w.b, s)
}

func (w *recordWriter) optString(key, s string) {
	if s != "" {
		w.string(key, s)
	}
}

func (w *recordWriter) optStrings(key string, ss []string) {
	if len(ss) == 0 {
		return
	}
	w.raw(key)
	for i, s := range ss {
		w.b = append(w.b, "[,"[min(i, 1)])
		w.b = appendJSONString(w.b, s)
	}
	w.raw("]")
}

func (w *recordWriter) optUint(key string, v uint64) {
	if v != 0 {
		w.raw(key)
		w.b = appendUint(w.b, v)
	}
}

func (w *recordWriter) time(key string, t time.Time) {
	w.raw(key)
	w.b = append(w.b, '"')
	var err error
	if w.b, err = t.AppendText(w.b); err != nil {
		w.failed = true
	}
	w.b = append(w.b, '"')
}

func appendUint(b []byte, v uint64) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, buf[i:]...)
}

// appendJSONString appends s quoted and escaped as encoding/json does it
// (HTML characters included): runs of plain characters are copied whole.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonPlain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonPlain says which ASCII characters encoding/json writes as they are
// (it escapes control characters, quote, backslash and, for HTML, <, > and &).
var jsonPlain = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
