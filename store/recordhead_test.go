package store

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire"
)

// headByJSON is what encoding/json reads of a record's head.
func headByJSON(t *testing.T, data []byte) recordHead {
	t.Helper()
	var j itemHead
	if err := json.Unmarshal(data, &j); err != nil {
		t.Fatalf("encoding/json cannot read %s: %v", data, err)
	}
	return recordHead{ID: j.Item.ID, Source: j.Item.Source, URL: j.Item.URL, Title: j.Item.Title,
		SourceName: j.SourceName, Story: j.Story, StorySeq: j.StorySeq, SummaryHash: j.SummaryHash}
}

func checkHead(t *testing.T, rec *itemRecord) {
	t.Helper()
	data, err := encodeItemRecord(rec)
	if err != nil {
		return // a record encoding/json refuses is never stored
	}
	var got recordHead
	if err := decodeHead(data, &got); err != nil {
		t.Fatalf("decodeHead(%s): %v", data, err)
	}
	if want := headByJSON(t, data); got != want {
		t.Fatalf("decodeHead(%s)\n got %+v\nwant %+v", data, got, want)
	}
}

// TestDecodeHeadIsEncodingJSON reads the heads of records with every kind
// of odd text, empty and missing fields, as encoding/json reads them.
func TestDecodeHeadIsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		s := func() string { return oddStrings[r.IntN(len(oddStrings))] }
		rec := itemRecord{Item: oddRecordItem(r), SourceName: s(), FirstSeen: oddTime(r), Story: s(),
			StorySeq: r.Uint64N(3) * r.Uint64(), Revisions: r.IntN(5) - 1, PrevTitle: s(), SummaryHash: s()}
		checkHead(t, &rec)
	}
}

// TestDecodeHeadRefusesOtherShapes: what is not a record this package
// writes is refused, for the caller to decode with encoding/json.
func TestDecodeHeadRefusesOtherShapes(t *testing.T) {
	for _, in := range []string{``, `[]`, `{"item":`, `{"item":{"id":"a"`, `{"item":{"id":"a}}`, `{"story":"x"`,
		`{"item":{"id":1}}`, `{"story_seq":"x"}`, `{"summary_hash":"unterminated\"}`, `nonsense`} {
		var h recordHead
		if err := decodeHead([]byte(in), &h); err == nil {
			t.Errorf("decodeHead(%q) = %+v, want an error", in, h)
		}
	}
	// Nested values it skips may hold anything JSON allows.
	in := `{"item":{"categories":["a]","{b"],"x":{"y":[1,{"z":"}"}]},"title":"T"},"first_seen":"2026","story_seq":7}`
	var h recordHead
	if err := decodeHead([]byte(in), &h); err != nil || h.Title != "T" || h.StorySeq != 7 {
		t.Errorf("decodeHead(%s) = %+v, %v", in, h, err)
	}
}

func FuzzDecodeHead(f *testing.F) {
	f.Add("id", "source", "https://x/a", "Title \"q\"", "Source", "story", uint64(7), "hash", "summary \\ text")
	f.Fuzz(func(t *testing.T, id, source, url, title, sourceName, story string, storySeq uint64, hash, text string) {
		rec := itemRecord{SourceName: sourceName, Story: story, StorySeq: storySeq, SummaryHash: hash}
		rec.Item.ID, rec.Item.Source, rec.Item.URL, rec.Item.Title = id, source, url, title
		rec.Item.Summary, rec.Item.Content, rec.Item.Categories = text, text, []string{text}
		checkHead(t, &rec)
		// And arbitrary bytes never make it panic.
		var h recordHead
		_ = decodeHead([]byte(text), &h)
	})
}

func BenchmarkDecodeHead(b *testing.B) {
	// A record of an article of 3,000 characters, as feeds with full
	// content bring them.
	article := strings.Repeat("The Council adopted conclusions on cyber diplomacy today. ", 52)
	rec := itemRecord{
		Item: policywire.Item{ID: "u:https://www.consilium.europa.eu/en/press/2026/11/27/cyber/", Source: "council",
			URL: "https://www.consilium.europa.eu/en/press/2026/11/27/cyber/", Title: "Cyber diplomacy: Council adopts conclusions",
			Summary: article[:400], Content: article, Published: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), Language: "en"},
		SourceName: "Council of the EU", FirstSeen: time.Date(2026, 11, 27, 9, 1, 0, 0, time.UTC), SummaryHash: "0123456789abcdef",
	}
	data, err := encodeItemRecord(&rec)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decodeHead", func(b *testing.B) {
		for b.Loop() {
			var h recordHead
			if err := decodeHead(data, &h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodeTitleHead", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeTitleHead(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full record", func(b *testing.B) {
		for b.Loop() {
			var r itemRecord
			if err := decode(data, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var h itemHead
			if err := json.Unmarshal(data, &h); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestDecodeTitleHeadIsEncodingJSON: what the title index reads of a
// record, without its text, is what encoding/json reads, odd records
// included.
func TestDecodeTitleHeadIsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 5000 {
		s := func() string { return oddStrings[r.IntN(len(oddStrings))] }
		rec := itemRecord{Item: oddRecordItem(r), SourceName: s(), FirstSeen: oddTime(r), Story: s(),
			StorySeq: r.Uint64N(3) * r.Uint64(), Revisions: r.IntN(5) - 1, PrevTitle: s(), SummaryHash: s()}
		data, err := encodeItemRecord(&rec)
		if err != nil {
			continue
		}
		var want itemRecord
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("encoding/json cannot read %s: %v", data, err)
		}
		got, err := decodeTitleHead(data)
		if err != nil {
			t.Fatalf("decodeTitleHead(%s): %v", data, err)
		}
		if got.Item.Source != want.Item.Source || got.Item.Title != want.Item.Title || got.StorySeq != want.StorySeq ||
			!got.Item.Published.Equal(want.Item.Published) || !got.Item.Updated.Equal(want.Item.Updated) || !got.FirstSeen.Equal(want.FirstSeen) {
			t.Fatalf("decodeTitleHead(%s)\n got %+v %v %v\nwant %+v %v %v", data, got.Item, got.FirstSeen, got.StorySeq, want.Item, want.FirstSeen, want.StorySeq)
		}
	}
}
