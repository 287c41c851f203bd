package store

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/text/unicode/norm"
)

// Title matching: two sources tell the same story when their titles are
// near-identical (Jaccard similarity of their word sets at least
// titleThreshold) within titleWindow of each other.
const (
	titleThreshold = 0.8
	titleWindow    = 14 * 24 * time.Hour
	// minTitleWords: shorter titles ("Press statement", "Daily news") say
	// too little to tell two stories apart.
	minTitleWords = 4
)

// boilerplate prefixes that sources put before the real title.
var titlePrefix = regexp.MustCompile(`(?i)^\s*(?:` +
	`celex:[^:]*:|council of the eu:|european council:|` +
	`press release:|news story:|statement:|joint statement:|speech:|` +
	`press statement:|news:|readout:|remarks:|news release:|` +
	`written statement to parliament:|oral statement to parliament:|` +
	`policy paper:|government response:|correspondence:|guidance:` +
	`)\s*`)

var foldSpecial = strings.NewReplacer(
	"ß", "ss", "æ", "ae", "œ", "oe", "ø", "o", "đ", "d", "ł", "l", "þ", "th",
	"’", "'", "‘", "'",
)

// titleWords normalizes a title into its distinct words: boilerplate
// prefixes removed, lower-cased, accents folded, punctuation dropped. The
// words come back sorted.
func titleWords(title string) []string {
	t := title
	for range 3 {
		if !strings.Contains(t, ":") {
			break
		}
		loc := titlePrefix.FindStringIndex(t)
		if loc == nil || loc[1] == len(t) {
			break
		}
		t = t[loc[1]:]
	}
	t = strings.ToLower(t)
	if !isASCII(t) {
		t = norm.NFD.String(foldSpecial.Replace(t))
	}
	var b strings.Builder
	b.Grow(len(t))
	for _, r := range t {
		switch {
		case unicode.Is(unicode.Mn, r):
			// a combining accent: dropped
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		case r == '\'':
			// "EU's" and "EUs" are one word
		default:
			b.WriteByte(' ')
		}
	}
	words := strings.Fields(b.String())
	slices.Sort(words)
	return slices.Compact(words)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// jaccard of two sorted sets of words.
func jaccard(a, b []string) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	inter := intersect(a, b)
	return float64(inter) / float64(len(a)+len(b)-inter)
}

// intersect counts the elements two sorted slices share.
func intersect[T cmp.Ordered](a, b []T) int {
	n, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			n++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return n
}

// titleIndex is an in-memory inverted index of the titles of recent
// stories, with prefix filtering: words are numbered from the most to the
// least frequent (see rebuild), and each title is indexed under its
// n-ceil(t·n)+1 highest-numbered, rarest words only. Two titles with Jaccard
// similarity ≥ t share a word of those prefixes (the prefix-filtering
// principle of all-pairs similarity joins), so a query reads only the short
// lists of its own prefix words.
type titleIndex struct {
	mu       sync.Mutex
	vocab    map[string]uint32
	postings [][]posting // by word number: entries with the word in their prefix
	entries  []titleEntry
	stamp    []uint32 // by entry: the query that last looked at it
	query    uint32
	live     int
	built    int // entries at the last rebuild
}

// posting is an entry whose prefix has the word, and the word's rank in
// the entry's title from the rarest (0).
type posting struct {
	entry int32
	rank  uint16
	size  uint16 // words in the entry's title
}

type titleEntry struct {
	story  uint64 // sequence of the story
	source string
	date   time.Time
	// seen is when the story's first item arrived: an old item ingested
	// today (a first poll, a late feed) stays matchable for a window too.
	seen  time.Time
	words []string
	ids   []uint32 // words, interned and sorted
	unix  int64    // date, for fast comparison
	gone  bool
}

type titleMatch struct {
	story uint64
	score float64
}

func newTitleIndex() *titleIndex {
	return &titleIndex{vocab: make(map[string]uint32)}
}

func (x *titleIndex) add(e titleEntry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.insert(e)
	if len(x.entries) >= 256 && len(x.entries) >= 2*x.built {
		x.rebuild()
	}
}

// load replaces the contents of the index.
func (x *titleIndex) load(entries []titleEntry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.entries = entries
	x.rebuild()
}

// rebuild renumbers the words from the most to the least frequent among
// the live entries, so that prefixes hold the rarest words, and indexes
// the entries again. Words first seen afterwards get higher numbers still,
// which suits new names. Rebuilding each time the index doubles keeps the
// cost linear.
func (x *titleIndex) rebuild() {
	old := x.entries
	df := make(map[string]int)
	for i := range old {
		if !old[i].gone {
			for _, w := range old[i].words {
				df[w]++
			}
		}
	}
	words := make([]string, 0, len(df))
	for w := range df {
		words = append(words, w)
	}
	slices.SortFunc(words, func(a, b string) int {
		if d := df[b] - df[a]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	x.vocab = make(map[string]uint32, len(words))
	for i, w := range words {
		x.vocab[w] = uint32(i)
	}
	x.postings = make([][]posting, len(words))
	x.entries, x.stamp, x.live, x.query = make([]titleEntry, 0, len(old)), make([]uint32, 0, len(old)), 0, 0
	for _, e := range old {
		if !e.gone {
			x.insert(e)
		}
	}
	x.built = len(x.entries)
}

func (x *titleIndex) insert(e titleEntry) {
	id := int32(len(x.entries))
	e.ids = make([]uint32, 0, len(e.words))
	for _, w := range e.words {
		n, ok := x.vocab[w]
		if !ok {
			n = uint32(len(x.postings))
			x.vocab[w] = n
			x.postings = append(x.postings, nil)
		}
		e.ids = append(e.ids, n)
	}
	slices.Sort(e.ids)
	e.unix = e.date.Unix()
	for rank := range prefixLen(len(e.ids)) {
		n := e.ids[len(e.ids)-1-rank]
		x.postings[n] = append(x.postings[n], posting{entry: id, rank: uint16(rank), size: uint16(min(len(e.ids), math.MaxUint16))})
	}
	x.entries = append(x.entries, e)
	x.stamp = append(x.stamp, 0)
	x.live++
}

// similarSizes reports whether titles of n and m words can be similar
// enough: the smaller holds at least titleThreshold of the larger's words.
func similarSizes(n, m int) bool { return float64(min(n, m)) >= titleThreshold*float64(max(n, m)) }

// prefixLen is how many of a title's n words must be probed: a title that
// matches shares at least ceil(t·n) of them.
func prefixLen(n int) int { return n - ceilMul(titleThreshold, n) + 1 }

// candidates returns the stories whose title is near-identical to words,
// dated within the window of date and first told by another source, best
// first.
func (x *titleIndex) candidates(words []string, date time.Time, source string) []titleMatch {
	if len(words) < minTitleWords {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	// Words never indexed match nothing and come first in the order;
	// they still count in the size.
	known := make([]uint32, 0, len(words))
	for _, w := range words {
		if n, ok := x.vocab[w]; ok {
			known = append(known, n)
		}
	}
	slices.Sort(known)
	probe := prefixLen(len(words)) - (len(words) - len(known))
	if probe <= 0 {
		return nil
	}
	x.query++
	if x.query == 0 {
		clear(x.stamp)
		x.query = 1
	}
	// Positional filter: when the first word two titles share is the i-th
	// rarest of the query and the j-th of the entry, no rarer word is
	// shared, so they share at most 1+min(n-i-1, m-j-1) words.
	n := len(words)
	var maybe []int32
	for r := range probe {
		i := len(words) - len(known) + r // unknown words rank first
		for _, p := range x.postings[known[len(known)-1-r]] {
			if x.stamp[p.entry] == x.query {
				continue
			}
			x.stamp[p.entry] = x.query
			m := int(p.size)
			if !similarSizes(n, m) && p.size < math.MaxUint16 {
				continue // sure without reading the entry
			}
			bound := 1 + min(n-i-1, m-int(p.rank)-1)
			if float64(bound) >= titleThreshold/(1+titleThreshold)*float64(n+m)-1e-9 {
				maybe = append(maybe, p.entry)
			}
		}
	}
	lo, hi := date.Add(-titleWindow).Unix(), date.Add(titleWindow).Unix()
	var out []titleMatch
	for _, id := range maybe {
		e := &x.entries[id]
		if e.gone || e.source == source || e.unix < lo || e.unix > hi {
			continue
		}
		m := len(e.ids)
		if !similarSizes(n, m) {
			continue
		}
		inter := intersect(known, e.ids)
		if j := float64(inter) / float64(n+m-inter); j >= titleThreshold {
			out = append(out, titleMatch{story: e.story, score: j})
		}
	}
	slices.SortStableFunc(out, func(a, b titleMatch) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	return out
}

// expire drops the entries older than the window before now, rebuilding the
// index when enough of them are gone to be worth it.
func (x *titleIndex) expire(now time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	cutoff := now.Add(-titleWindow - 24*time.Hour)
	gone := 0
	for i := range x.entries {
		e := &x.entries[i]
		if !e.gone && e.date.Before(cutoff) && e.seen.Before(cutoff) {
			e.gone = true
			x.live--
		}
		if e.gone {
			gone++
		}
	}
	if gone < 1024 || gone < x.live {
		return
	}
	x.rebuild()
}

func ceilMul(t float64, n int) int {
	v := t * float64(n)
	c := int(v)
	if float64(c) < v-1e-9 {
		c++
	}
	return c
}

// ensureTitles loads the title index unless it is loaded; ingestMu is held.
func (s *Store) ensureTitles() (err error) {
	if s.titlesLoaded {
		return nil
	}
	// The first read of the archive's records: a damaged file is reported
	// as at open, not a crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &damagedError{path: s.path, cause: fmt.Errorf("%v", r)}
		}
	}()
	if err := s.loadTitles(); err != nil {
		return err
	}
	s.titlesLoaded = true
	return nil
}

// loadTitles fills the in-memory title index with the stories started in
// the last window (and any dated in the future), from the date index.
func (s *Store) loadTitles() error {
	cutoff := s.now().Add(-titleWindow - 24*time.Hour)
	var entries []titleEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		// Items are keyed by arrival; walking back from the newest finds
		// every story first seen, or dated, within the window.
		c := tx.Bucket(bucketItems).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			rec, err := decodeTitleHead(v)
			if err != nil {
				return fmt.Errorf("item %d: %w", be64(k), err)
			}
			seq := be64(k)
			if rec.FirstSeen.Before(cutoff) && rec.Item.Date().Before(cutoff) {
				break
			}
			if rec.StorySeq != 0 && rec.StorySeq != seq {
				continue // not the first of its story
			}
			if words := titleWords(rec.Item.Title); len(words) >= minTitleWords {
				entries = append(entries, titleEntry{story: seq, source: rec.Item.Source, date: rec.Item.Date(), seen: rec.FirstSeen, words: words})
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: load title index of %s: %w", s.path, err)
	}
	slices.Reverse(entries)
	s.titles.load(entries)
	return nil
}

// decodeTitleHead reads what the title index needs of an item record —
// source, title, dates, first sighting, story — stepping over the text,
// which is most of its bytes: a start after a first poll reads every
// record of the window. Records of another shape go through
// encoding/json.
func decodeTitleHead(data []byte) (*itemRecord, error) {
	var rec itemRecord
	var published, updated, firstSeen string
	_, err := walkObject(data, 0, func(key []byte, data []byte, i int) (int, error) {
		switch string(key) {
		case "item":
			return walkObject(data, i, func(key []byte, data []byte, i int) (int, error) {
				switch string(key) {
				case "source":
					return readString(data, i, &rec.Item.Source)
				case "title":
					return readString(data, i, &rec.Item.Title)
				case "published":
					return readString(data, i, &published)
				case "updated":
					return readString(data, i, &updated)
				}
				return skipValue(data, i)
			})
		case "first_seen":
			return readString(data, i, &firstSeen)
		case "story_seq":
			end := valueEnd(data, i)
			n, err := strconv.ParseUint(string(data[i:end]), 10, 64)
			if err != nil {
				return 0, errRecordShape
			}
			rec.StorySeq = n
			return end, nil
		}
		return skipValue(data, i)
	})
	for _, t := range []struct {
		text string
		dst  *time.Time
	}{{published, &rec.Item.Published}, {updated, &rec.Item.Updated}, {firstSeen, &rec.FirstSeen}} {
		if err != nil || t.text == "" {
			continue
		}
		*t.dst, err = time.Parse(time.RFC3339Nano, t.text)
	}
	if err != nil {
		var full itemRecord
		if derr := decode(data, &full); derr != nil {
			return nil, derr
		}
		return &full, nil
	}
	return &rec, nil
}
