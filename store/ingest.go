package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/policywire/policywire"
	bolt "go.etcd.io/bbolt"
)

// appendFillPercent is how full bbolt leaves the pages of buckets whose
// keys grow (sequences, dates) when it splits them.
const appendFillPercent = 0.95

// Route sends a new item to one channel.
type Route struct {
	Channel string
	Topics  []string
	Digest  bool
}

// Router says which channels want an item. It is pure computation: Ingest
// calls it inside the write transaction.
type Router func(it policywire.Item) []Route

// Batch is what one poll of one source found.
type Batch struct {
	Source, SourceName string
	Items              []policywire.Item
	// State is written in the same transaction; Ingest sets its Items,
	// FirstPollDone, LastNewItem and RecentNew from what it stored.
	State SourceState
	// Backfill applies to the first poll of a source (FirstPollDone false
	// in the stored state): items older than now-Backfill are archived but
	// not routed. Zero routes everything.
	Backfill time.Duration
	// FeedSummaries maps the ID of an item whose Summary the caller
	// rewrote (a generated summary) to the summary as the feed gave it.
	// Revisions are detected on the feed's own text, so that a rewritten
	// summary is not mistaken for a change of the item.
	FeedSummaries map[string]string
}

// IngestResult says what one Ingest did. New + Revised + Unchanged +
// Backfilled is the number of items in the batch.
type IngestResult struct {
	// New items were archived (or joined a story) for the first time and
	// were routed; Backfilled ones were archived on a first poll without
	// routing, being older than the backfill.
	New, Revised, Unchanged, Backfilled int
	NewItems                            []policywire.Item  // archived for the first time (for the search index)
	Alerts                              []policywire.Alert // outbox rows written (new alerts)
	Updated                             []policywire.Item  // revised items (for the search index)
	// Edits counts the edits of delivered messages queued or rewritten.
	Edits int
}

// Ingest archives one poll of one source in one write transaction: new
// items are stored and their identities marked seen, grouped into stories,
// routed, and their alerts written to the outbox; revisions are recorded
// without a new alert; the source state is written. Ingesting the same
// batch again changes nothing.
func (s *Store) Ingest(b Batch, route Router) (IngestResult, error) {
	if b.Source == "" {
		return IngestResult{}, errors.New("store: ingest: batch without a source id")
	}
	if route == nil {
		route = func(policywire.Item) []Route { return nil }
	}
	s.ingestMu.Lock()
	defer s.ingestMu.Unlock()
	if err := s.ensureTitles(); err != nil {
		return IngestResult{}, err
	}
	now := s.now()
	var in *ingestTx
	err := s.update("ingest of source "+b.Source, func(tx *bolt.Tx) error {
		in = &ingestTx{s: s, tx: tx, b: &b, route: route, now: now}
		return in.run()
	})
	if err != nil {
		return IngestResult{}, fmt.Errorf("store: ingest %s: %w", b.Source, err)
	}
	for _, e := range in.newTitles {
		s.titles.add(e)
	}
	if now.Sub(s.lastExpire) > time.Hour {
		s.titles.expire(now)
		s.lastExpire = now
	}
	return in.res, nil
}

// Unseen returns the items that Ingest would treat as new: neither known
// by identity (canonical URL, GUID, hash) nor already recorded as this
// source's report of a story another source published.
func (s *Store) Unseen(items []policywire.Item) ([]policywire.Item, error) {
	var out []policywire.Item
	err := s.db.View(func(tx *bolt.Tx) error {
		untrusted := untrustedGUIDs(items)
		for _, it := range items {
			if it.ID == "" {
				it.ID = policywire.Identity(it)
			}
			known, err := isKnown(tx, it, untrusted)
			if err != nil {
				return fmt.Errorf("item %q: %w", it.ID, err)
			}
			if !known {
				out = append(out, it)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: unseen: %w", err)
	}
	return out, nil
}

func isKnown(tx *bolt.Tx, it policywire.Item, untrusted map[string]bool) (bool, error) {
	seq, _ := lookup(tx, it, untrusted)
	if seq == 0 {
		return false, nil
	}
	rec, err := getItemHead(tx, seq)
	if err != nil || rec == nil || rec.Item.Source == it.Source {
		return true, err // a pruned item is known by its identity alone
	}
	st, err := getStory(tx, rec)
	if err != nil {
		return false, err
	}
	return st.hasSource(it.Source), nil
}

// ingestTx is the work of one Ingest inside its transaction.
type ingestTx struct {
	s          *Store
	tx         *bolt.Tx
	b          *Batch
	route      Router
	now        time.Time
	cutoff     time.Time // first poll: items older than this are not routed
	untrusted  map[string]bool
	renamed    map[string]string // identity given here → identity the item arrived with
	lastNewSeq uint64            // the sequence newItem took last
	res        IngestResult
	newTitles  []titleEntry
}

func (in *ingestTx) run() error {
	stored, err := getSourceState(in.tx, in.b.Source)
	if err != nil {
		return fmt.Errorf("source state: %w", err)
	}
	firstPoll := !stored.FirstPollDone
	if firstPoll && in.b.Backfill > 0 {
		in.cutoff = in.now.Add(-in.b.Backfill)
	}
	in.untrusted = untrustedGUIDs(in.b.Items)
	// These buckets grow at their end: full pages keep commits small.
	for _, name := range [][]byte{bucketItems, bucketStories, bucketDates} {
		in.tx.Bucket(name).FillPercent = appendFillPercent
	}
	for _, it := range in.b.Items {
		if err := in.item(it); err != nil {
			return fmt.Errorf("item %q (%s): %w", it.Title, clip(it.URL, 200), err)
		}
	}
	st := in.b.State
	if newerPoll(stored, st) {
		// A later poll recorded its state (validators, failures) first:
		// this one only adds what it archived.
		st = stored
	}
	st.Source = in.b.Source
	st.Items = stored.Items + in.res.New + in.res.Backfilled
	st.LastNewItem = stored.LastNewItem
	st.RecentNew = stored.RecentNew
	if in.res.New+in.res.Backfilled > 0 {
		st.LastNewItem = in.now
	}
	if in.res.New > 0 && !firstPoll {
		st.RecentNew = append(slices.Clone(stored.RecentNew), in.now)
	}
	st.FirstPollDone = true
	return putSourceState(in.tx, st)
}

func (in *ingestTx) item(it policywire.Item) error {
	if it.Source == "" {
		it.Source = in.b.Source
	}
	if it.ID == "" {
		it.ID = policywire.Identity(it)
	}
	seq, reused := lookup(in.tx, it, in.untrusted)
	if seq == 0 && reused != nil {
		return in.reusedGUID(it, reused)
	}
	if seq == 0 {
		return in.newItem(it)
	}
	// Most known items come back unchanged, and telling so needs only the
	// stored record's source, title, link and summary fingerprint, not its
	// text, which is most of the record.
	if h, ok, err := readHead(in.tx, seq); err != nil {
		return err
	} else if ok && unchanged(h, it, summaryHash(in.feedSummary(it))) {
		in.res.Unchanged++
		return in.putIdentities(it, seq)
	}
	rec, err := getItemRecord(in.tx, seq)
	if err != nil {
		return err
	}
	if rec == nil {
		// Pruned by retention: the identity alone says it is not new.
		in.res.Unchanged++
		return in.putIdentities(it, seq)
	}
	if rec.Item.Source == it.Source {
		return in.sameItem(rec, it)
	}
	return in.sameURLElsewhere(rec, it)
}

// unchanged reports whether it, from the record's own source, is the
// stored item with nothing to revise (see sameItem): same title, same
// summary as the feed gave it, and no new link.
func unchanged(h recordHead, it policywire.Item, summaryHash string) bool {
	return h.Source == it.Source && it.Title == h.Title && summaryHash == h.SummaryHash &&
		(it.URL == "" || it.URL == h.URL)
}

// newItem archives an item never seen: it starts a story, or joins one
// another source told under a near-identical title.
func (in *ingestTx) newItem(it policywire.Item) error {
	if it.Published.IsZero() {
		it.Published = it.Updated
		if it.Published.IsZero() {
			it.Published = in.now
		}
	}
	id := it.ID
	words := titleWords(it.Title)
	story, err := in.titleMatch(it, words)
	if err != nil {
		return err
	}
	seq, err := in.tx.Bucket(bucketItems).NextSequence()
	if err != nil {
		return err
	}
	in.lastNewSeq = seq
	rec := itemRecord{
		Item: it, SourceName: in.b.SourceName, FirstSeen: in.now,
		SummaryHash: summaryHash(in.feedSummary(it)),
		StorySeq:    seq, seq: seq,
	}
	if story != nil {
		rec.Story, rec.StorySeq = story.ID, story.Seq
	}
	if err := putItemRecord(in.tx, &rec); err != nil {
		return err
	}
	date := timeOrder(it.Date())
	if err := in.tx.Bucket(bucketDates).Put(dateIndexKey(date, seq), u64(date)); err != nil {
		return err
	}
	if err := in.putIdentities(it, seq); err != nil {
		return err
	}
	in.res.NewItems = append(in.res.NewItems, it)
	routed := in.counts(it)
	member := storyMember{ItemSeq: seq, ItemID: id, Source: it.Source, SourceName: in.b.SourceName, Title: it.Title, URL: it.URL}
	if story != nil {
		return in.join(story, member, it, routed)
	}
	story = &storyRecord{ID: id, Seq: seq, Members: []storyMember{member}}
	if len(words) >= minTitleWords {
		in.newTitles = append(in.newTitles, titleEntry{story: seq, source: it.Source, date: it.Date(), seen: in.now, words: words})
	}
	if !routed {
		return nil
	}
	if err := in.alert(story, it, nil); err != nil {
		return err
	}
	if len(story.Alerts) == 0 {
		// A story of one item and no alert is its item record alone
		// (see getStory); it is written once it has more to say.
		return nil
	}
	return putStory(in.tx, story)
}

// counts counts a new item as New or Backfilled and says whether it is
// routed.
func (in *ingestTx) counts(it policywire.Item) bool {
	if !in.cutoff.IsZero() && it.Date().Before(in.cutoff) {
		in.res.Backfilled++
		return false
	}
	in.res.New++
	return true
}

// titleMatch finds the story of another source with a near-identical title.
func (in *ingestTx) titleMatch(it policywire.Item, words []string) (*storyRecord, error) {
	for _, c := range in.s.titles.candidates(words, it.Date(), it.Source) {
		st, err := loadStory(in.tx, c.story)
		if err != nil {
			return nil, err
		}
		if st != nil && !st.hasSource(it.Source) {
			return st, nil
		}
	}
	return nil, nil
}

// sameItem handles an item already archived from this source: a revision
// when its title or feed summary changed, otherwise nothing.
func (in *ingestTx) sameItem(rec *itemRecord, it policywire.Item) error {
	if err := in.putIdentities(it, rec.seq); err != nil {
		return err
	}
	before := rec.Item
	changed := false
	if it.URL != "" && it.URL != rec.Item.URL {
		rec.Item.URL, rec.Item.CanonicalURL = it.URL, it.CanonicalURL
		changed = true
	}
	h := summaryHash(in.feedSummary(it))
	if it.Title == rec.Item.Title && h == rec.SummaryHash {
		in.res.Unchanged++
		if changed {
			if err := putItemRecord(in.tx, rec); err != nil {
				return err
			}
			return in.editRevised(rec, before)
		}
		return nil
	}
	rec.Revisions++
	if it.Title != rec.Item.Title {
		rec.PrevTitle = rec.Item.Title
		rec.Item.Title = it.Title
	}
	rec.SummaryHash = h
	rec.Item.Summary = it.Summary
	if it.Content != "" {
		rec.Item.Content = it.Content
	}
	if !it.Updated.IsZero() {
		rec.Item.Updated = it.Updated
	}
	if len(it.References) > 0 {
		rec.Item.References = it.References
	}
	if len(it.Categories) > 0 {
		rec.Item.Categories = it.Categories
	}
	if err := putItemRecord(in.tx, rec); err != nil {
		return err
	}
	in.res.Revised++
	in.res.Updated = append(in.res.Updated, rec.Item)
	if err := in.reviseQueued(rec); err != nil {
		return err
	}
	return in.editRevised(rec, before)
}

// reviseQueued shows a revision in the alerts about the item that are
// still waiting in the outbox.
func (in *ingestTx) reviseQueued(rec *itemRecord) error {
	st, err := getStory(in.tx, rec)
	if err != nil {
		return err
	}
	for ch, ref := range st.Alerts {
		row, b, err := getRow(in.tx, ch, ref.Key, ref.ID)
		if err != nil {
			return err
		}
		if row == nil || row.Alert.Item.ID != rec.Item.ID {
			continue
		}
		row.Alert.Item.Title, row.Alert.Item.Summary = rec.Item.Title, rec.Item.Summary
		if err := putRow(b, ref.Key, row); err != nil {
			return err
		}
	}
	return nil
}

// sameURLElsewhere handles an item whose canonical URL another source
// published first: this source joins that story once.
func (in *ingestTx) sameURLElsewhere(rec *itemRecord, it policywire.Item) error {
	if err := in.putIdentities(it, rec.seq); err != nil {
		return err
	}
	st, err := getStory(in.tx, rec)
	if err != nil {
		return err
	}
	if st.hasSource(it.Source) {
		in.res.Unchanged++
		return nil
	}
	if it.Published.IsZero() {
		it.Published = rec.Item.Published
	}
	routed := in.counts(it)
	member := storyMember{Source: it.Source, SourceName: in.b.SourceName, Title: it.Title, URL: it.URL}
	it.ID = rec.Item.ID
	return in.join(st, member, it, routed)
}

// join adds a member to a story: the story's alerts still in the outbox
// list it as "also reported by"; a channel that wants the new member and
// never had the story gets one alert.
func (in *ingestTx) join(st *storyRecord, m storyMember, it policywire.Item, routed bool) error {
	earlier := slices.Clone(st.Members)
	st.Members = append(st.Members, m)
	also := policywire.AlsoReported{Source: m.Source, SourceName: m.SourceName, Title: m.Title, URL: m.URL}
	for _, ch := range sortedKeys(st.Alerts) {
		ref := st.Alerts[ch]
		row, b, err := getRow(in.tx, ch, ref.Key, ref.ID)
		if err != nil {
			return err
		}
		if row == nil {
			continue // delivered already: editJoined edits its message
		}
		if hasAlso(row.Alert, also) {
			continue
		}
		row.Alert.Also = append(row.Alert.Also, also)
		if err := putRow(b, ref.Key, row); err != nil {
			return err
		}
	}
	if err := in.editJoined(st, also); err != nil {
		return err
	}
	if routed {
		if err := in.alert(st, it, earlier); err != nil {
			return err
		}
	}
	return putStory(in.tx, st)
}

// alert writes an outbox row for each channel that wants the item and has
// not had the story yet; the rows list the earlier members of the story
// from other sources.
func (in *ingestTx) alert(st *storyRecord, it policywire.Item, earlier []storyMember) error {
	routes := mergeRoutes(in.route(it))
	var also []policywire.AlsoReported
	hydrated := false
	for _, r := range routes {
		if _, had := st.Alerts[r.Channel]; had {
			continue
		}
		aid := alertID(st.ID, r.Channel)
		if ids := deliveredBucket(in.tx, r.Channel, subDeliveredIDs); ids != nil && ids.Get([]byte(aid)) != nil {
			continue
		}
		if !hydrated {
			if err := hydrate(in.tx, earlier); err != nil {
				return err
			}
			also, hydrated = alsoFrom(earlier, it.Source), true
		}
		// A message shows title, link, date and summary: the row need not
		// carry the content, which is most of an item's size.
		shown := it
		shown.Content = ""
		a := policywire.Alert{
			ID: aid, Channel: r.Channel, Item: shown, SourceName: in.sourceName(),
			Topics: r.Topics, Also: slices.Clone(also),
		}
		key, err := enqueue(in.tx, r.Channel, it.Date(), &outboxRecord{Alert: a, Digest: r.Digest, Enqueued: in.now})
		if err != nil {
			return err
		}
		if st.Alerts == nil {
			st.Alerts = make(map[string]storyAlert)
		}
		st.Alerts[r.Channel] = storyAlert{ID: aid, Key: key}
		in.res.Alerts = append(in.res.Alerts, a)
	}
	return nil
}

func (in *ingestTx) sourceName() string {
	if in.b.SourceName != "" {
		return in.b.SourceName
	}
	return in.b.Source
}

func (in *ingestTx) feedSummary(it policywire.Item) string {
	id := it.ID
	if orig, ok := in.renamed[id]; ok {
		id = orig
	}
	if s, ok := in.b.FeedSummaries[id]; ok {
		return s
	}
	return it.Summary
}

// putIdentities records every identity the item arrived with, so that it
// is recognized by any of them later; entries that point elsewhere are
// left alone.
func (in *ingestTx) putIdentities(it policywire.Item, seq uint64) error {
	put := func(b *bolt.Bucket, s string) error {
		if s == "" || getBounded(b, s) != nil {
			return nil
		}
		return b.Put(boundedKey(s), u64(seq))
	}
	if err := put(in.tx.Bucket(bucketURLs), it.CanonicalURL); err != nil {
		return err
	}
	g := guidKey(it)
	if g != "" && !in.untrusted[g] {
		if err := put(in.tx.Bucket(bucketGUIDs), g); err != nil {
			return err
		}
	}
	// The URL and GUID indexes already answer for identities made of them.
	if (it.CanonicalURL != "" && it.ID == "u:"+it.CanonicalURL) || (g != "" && it.ID == "g:"+g && !in.untrusted[g]) {
		return nil
	}
	return put(in.tx.Bucket(bucketSeen), it.ID)
}

// lookup finds the archived item an incoming item is: by canonical URL,
// then by GUID within its source, then by its identity as it arrived.
// A GUID names the stored item only if the link or the title agrees (see
// sameByGUID): CMSs give an old GUID to a new item. When it names another
// item, lookup returns 0 and that item's head, and the incoming item is
// known only by the identity such an item gets (reusedIdentity).
func lookup(tx *bolt.Tx, it policywire.Item, untrusted map[string]bool) (uint64, *guidOwner) {
	if v := getBounded(tx.Bucket(bucketURLs), it.CanonicalURL); v != nil {
		return be64(v), nil
	}
	if g := guidKey(it); g != "" && !untrusted[g] {
		if v := getBounded(tx.Bucket(bucketGUIDs), g); v != nil {
			seq := be64(v)
			h, ok, err := readHead(tx, seq)
			if err != nil || !ok || sameByGUID(h, it) {
				// A pruned item is known by its identity alone.
				return seq, nil
			}
			if v := getBounded(tx.Bucket(bucketSeen), reusedIdentity(it.Source, it.GUID, it.Title)); v != nil {
				return be64(v), nil
			}
			return 0, &guidOwner{recordHead: h, seq: seq}
		}
	}
	if v := getBounded(tx.Bucket(bucketSeen), it.ID); v != nil {
		return be64(v), nil
	}
	if it.CanonicalURL == "" && it.GUID != "" {
		// An item without a link that gained an id (RSS 1.0's rdf:about,
		// read as its id since) was archived under the hash of its title
		// and date.
		it.GUID = ""
		if v := getBounded(tx.Bucket(bucketSeen), policywire.Identity(it)); v != nil {
			return be64(v), nil
		}
	}
	return 0, nil
}

// sameByGUID reports whether the stored item h, found by the GUID of it,
// is it: the same link, or (the link changed or one is missing) a title
// close enough to be a revision of it.
func sameByGUID(h recordHead, it policywire.Item) bool {
	if it.URL != "" && (it.URL == h.URL || it.CanonicalURL == h.URL) {
		return true
	}
	return it.Title == h.Title || jaccard(titleWords(it.Title), titleWords(h.Title)) >= revisedTitleThreshold
}

// revisedTitleThreshold is how alike (Jaccard of the word sets) a title
// must stay to be a revision of the item that had its GUID: reworded
// titles keep most words, a different item shares few.
const revisedTitleThreshold = 0.5

// reusedIdentity identifies an item that arrived with a GUID the feed had
// given to another item: the GUID and its title together.
func reusedIdentity(source, guid, title string) string {
	h := sha256.Sum256([]byte(source + "\x00" + guid + "\x00" + strings.ToLower(strings.TrimSpace(title))))
	return "r:" + hex.EncodeToString(h[:16])
}

// reusedGUID archives an item whose GUID the feed gave before to the
// different item prev: a new item, alerted, and prev is kept as it was.
// The GUID names the newer item from now on; prev stays known by its link
// and by a reused-GUID identity of its own.
func (in *ingestTx) reusedGUID(it policywire.Item, prev *guidOwner) error {
	g := guidKey(it)
	if it.ID == "g:"+g {
		// Without a link, the GUID was the identity: it is the old item's.
		if in.renamed == nil {
			in.renamed = make(map[string]string)
		}
		id := reusedIdentity(it.Source, it.GUID, it.Title)
		in.renamed[id] = it.ID
		it.ID = id
	}
	seen := in.tx.Bucket(bucketSeen)
	if old := reusedIdentity(prev.Source, it.GUID, prev.Title); getBounded(seen, old) == nil {
		if err := seen.Put(boundedKey(old), u64(prev.seq)); err != nil {
			return err
		}
	}
	if err := in.newItem(it); err != nil {
		return err
	}
	return in.tx.Bucket(bucketGUIDs).Put(boundedKey(g), u64(in.lastNewSeq))
}

// guidOwner is the stored item a GUID names.
type guidOwner struct {
	recordHead
	seq uint64
}

func guidKey(it policywire.Item) string {
	if it.GUID == "" {
		return ""
	}
	return it.Source + "\x00" + it.GUID
}

// untrustedGUIDs finds GUIDs that a batch gives to items with different
// links: such a feed reuses GUIDs, and matching by them would merge
// distinct items.
func untrustedGUIDs(items []policywire.Item) map[string]bool {
	var out map[string]bool
	links := make(map[string]string, len(items))
	for _, it := range items {
		g := guidKey(it)
		if g == "" {
			continue
		}
		link := it.CanonicalURL
		if link == "" {
			link = it.URL
		}
		if prev, ok := links[g]; ok && prev != link {
			if out == nil {
				out = make(map[string]bool)
			}
			out[g] = true
		}
		links[g] = link
	}
	return out
}

func mergeRoutes(routes []Route) []Route {
	var out []Route
	for _, r := range routes {
		if r.Channel == "" {
			continue
		}
		i := slices.IndexFunc(out, func(o Route) bool { return o.Channel == r.Channel })
		if i < 0 {
			out = append(out, Route{Channel: r.Channel, Topics: slices.Clone(r.Topics), Digest: r.Digest})
			continue
		}
		for _, t := range r.Topics {
			if !slices.Contains(out[i].Topics, t) {
				out[i].Topics = append(out[i].Topics, t)
			}
		}
		out[i].Digest = out[i].Digest || r.Digest
	}
	return out
}

// alertID is stable per (story, channel): senders use it to make retries
// idempotent.
func alertID(story, channel string) string {
	h := sha256.Sum256([]byte(story + "\x00" + channel))
	return hex.EncodeToString(h[:16])
}

func summaryHash(s string) string {
	if s == "" {
		return ""
	}
	h := fnv.New64a()
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

func hasAlso(a policywire.Alert, r policywire.AlsoReported) bool {
	if a.Item.Source == r.Source {
		return true
	}
	return slices.ContainsFunc(a.Also, func(o policywire.AlsoReported) bool { return o.Source == r.Source })
}

// alsoFrom lists the members of other sources, once per source.
func alsoFrom(members []storyMember, except string) []policywire.AlsoReported {
	var out []policywire.AlsoReported
	for _, m := range members {
		if m.Source == except || slices.ContainsFunc(out, func(o policywire.AlsoReported) bool { return o.Source == m.Source }) {
			continue
		}
		out = append(out, policywire.AlsoReported{Source: m.Source, SourceName: m.SourceName, Title: m.Title, URL: m.URL})
	}
	return out
}

func (st *storyRecord) hasSource(source string) bool {
	return slices.ContainsFunc(st.Members, func(m storyMember) bool { return m.Source == source })
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
