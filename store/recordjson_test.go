package store

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire"
)

// fillAll sets every exported field of v, recursively, to a value that is
// not zero, so that a field added to a record and not to its encoder shows.
func fillAll(v reflect.Value, r *rand.Rand) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("v" + strings.Repeat("x", r.IntN(3)))
	case reflect.Int, reflect.Int64:
		v.SetInt(1 + r.Int64N(100))
	case reflect.Uint64:
		v.SetUint(1 + r.Uint64N(100))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fillAll(s.Index(i), r)
		}
		v.Set(s)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillAll(v.Field(i), r)
			}
		}
	}
}

// oddStrings need escaping, or look like they might.
var oddStrings = []string{"", "plain", "Sécurité", `say "hi"`, `back\slash`, "a<b>&c", "tab\tnew\nline\r",
	"\x00\x1f\x7f\b\f", "a\xffb", "\u2028\u2029", "日本語", "\U0001F600", "é\u0301", strings.Repeat("long ", 200)}

func oddTime(r *rand.Rand) time.Time {
	switch r.IntN(6) {
	case 0:
		return time.Time{}
	case 1:
		return time.Date(2026, 11, 27, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	case 2:
		return time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // encoding/json refuses it
	case 3:
		return time.Date(2025, 2, 3, 4, 5, 6, 789, time.UTC)
	case 4:
		return time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("odd", 25*3600))
	}
	return time.Unix(r.Int64N(2e9), r.Int64N(1e9))
}

func oddRecordItem(r *rand.Rand) policywire.Item {
	s := func() string { return oddStrings[r.IntN(len(oddStrings))] }
	ss := func() []string {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		return []string{s(), s()}
	}
	return policywire.Item{ID: s(), Source: s(), GUID: s(), URL: s(), CanonicalURL: s(), Title: s(), Summary: s(),
		Content: s(), Published: oddTime(r), Updated: oddTime(r), Language: s(), Categories: ss(), References: ss()}
}

func checkSameJSON(t *testing.T, v any, got []byte, err error) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%+v: error %v, encoding/json %v", v, err, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%+v:\n got %s\nwant %s", v, got, want)
	}
}

func TestRecordJSONIsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var full itemRecord
	fillAll(reflect.ValueOf(&full).Elem(), r)
	v, err := encodeItemRecord(&full)
	checkSameJSON(t, &full, v, err)
	var fullRow outboxRecord
	fillAll(reflect.ValueOf(&fullRow).Elem(), r)
	v, err = encodeOutboxRecord(&fullRow)
	checkSameJSON(t, &fullRow, v, err)

	for range 3000 {
		s := func() string {
			if r.IntN(4) == 0 { // random bytes
				b := make([]byte, r.IntN(12))
				for i := range b {
					b[i] = byte(r.IntN(256))
				}
				return string(b)
			}
			return oddStrings[r.IntN(len(oddStrings))]
		}
		rec := itemRecord{Item: oddRecordItem(r), SourceName: s(), FirstSeen: oddTime(r), Story: s(),
			StorySeq: r.Uint64N(3) * r.Uint64(), Revisions: r.IntN(5) - 1, PrevTitle: s(), SummaryHash: s()}
		v, err := encodeItemRecord(&rec)
		checkSameJSON(t, &rec, v, err)

		row := outboxRecord{
			Alert:  policywire.Alert{ID: s(), Channel: s(), Item: oddRecordItem(r), SourceName: s(), Topics: []string{s()}[:r.IntN(2)]},
			Digest: r.IntN(2) == 0, Enqueued: oddTime(r), Attempts: r.IntN(4) - 1, NotBefore: oddTime(r),
			LastError: s(), Parked: r.IntN(2) == 0, ParkReason: s(), DigestID: s(),
		}
		for range r.IntN(3) {
			row.Alert.Also = append(row.Alert.Also, policywire.AlsoReported{Source: s(), SourceName: s(), Title: s(), URL: s()})
		}
		v, err = encodeOutboxRecord(&row)
		checkSameJSON(t, &row, v, err)
	}
}
