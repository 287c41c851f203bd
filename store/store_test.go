package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire"
	bolt "go.etcd.io/bbolt"
)

var update = flag.Bool("update", false, "rewrite the files under testdata/")

func TestOpenCreatesDirectoryAndSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "data", "policywire.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Path() != path {
		t.Errorf("Path() = %q", s.Path())
	}
	err = s.DB().View(func(tx *bolt.Tx) error {
		for _, name := range append(bucketsV1, bucketDates) {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %s missing", name)
			}
		}
		if v := binary.BigEndian.Uint64(tx.Bucket(bucketMeta).Get(keySchemaVersion)); v != SchemaVersion() {
			t.Errorf("schema version %d, want %d", v, SchemaVersion())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenLockedDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policywire.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = Open(path, Options{Timeout: 150 * time.Millisecond})
	waited := time.Since(start)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	want := "store: database " + path + " is in use by another process (is `policywire run` running?)"
	if err.Error() != want {
		t.Errorf("message %q, want %q", err.Error(), want)
	}
	// bbolt retries the lock every 50ms and gives up on the last retry
	// that fits in the timeout.
	if waited < 90*time.Millisecond || waited > 2*time.Second {
		t.Errorf("gave up after %v, want about the 150ms timeout", waited)
	}
	// Once the holder closes, the file opens.
	s.Close()
	s2, err := Open(path, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
}

func TestReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policywire.db")
	if _, err := Open(path, Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only open of a missing file must fail")
	}
	clk := newClock()
	s, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ingest(t, s, "council-press", nil, realisticBatch(clk.Now())...)
	s.Close()
	ro, err := Open(path, Options{ReadOnly: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if n, err := ro.ItemCount(); err != nil || n != len(realisticBatch(clk.Now())) {
		t.Errorf("read-only item count %d, %v", n, err)
	}
	if err := ro.PutMeta("k", []byte("v")); err == nil {
		t.Error("a read-only store must refuse writes")
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policywire.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.DB().Update(func(tx *bolt.Tx) error { return putVersion(tx, SchemaVersion()+1) })
	s.Close()
	_, err = Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "newer policywire") {
		t.Fatalf("open of a newer database: %v", err)
	}
}

func TestForeignFileIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("widgets")); return err })
	db.Close()
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "not a policywire database") {
		t.Fatalf("open of another program's database: %v", err)
	}
}

// writeV1 writes a database as version 1 of the schema left it: no date
// or title indexes.
func writeV1(path string) error {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error {
		for _, name := range bucketsV1 {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketMeta).Put(keySchemaVersion, u64(1)); err != nil {
			return err
		}
		put := func(bucket, k, v string) error { return tx.Bucket([]byte(bucket)).Put([]byte(k), []byte(v)) }
		id := "u:https://www.consilium.europa.eu/en/press/press-releases/2026/09/20/cyber-diplomacy-toolbox/"
		steps := []error{
			put("items", id, `{"item":{"id":"`+id+`","source":"council-press","guid":"1187001","url":"https://www.consilium.europa.eu/en/press/press-releases/2026/09/20/cyber-diplomacy-toolbox/","canonical_url":"https://www.consilium.europa.eu/en/press/press-releases/2026/09/20/cyber-diplomacy-toolbox/","title":"Cyber diplomacy toolbox: Council extends framework for restrictive measures","published":"2026-09-20T10:00:00Z"},"source_name":"Council of the EU – press releases","first_seen":"2026-09-20T10:05:00Z","story":"`+id+`"}`),
			put("stories", id, `{"id":"`+id+`","date":"2026-09-20T10:00:00Z","title":"Cyber diplomacy toolbox: Council extends framework for restrictive measures","members":[{"item_id":"`+id+`","source":"council-press","source_name":"Council of the EU – press releases","title":"Cyber diplomacy toolbox: Council extends framework for restrictive measures","url":"https://www.consilium.europa.eu/en/press/press-releases/2026/09/20/cyber-diplomacy-toolbox/"}],"alerts":{"eu-desk":{"id":"`+alertID(id, "eu-desk")+`","key":"GGZQH2zlQAAAAAAAAAAAAQ=="}}}`),
			put("seen", id, id),
			put("urls", "https://www.consilium.europa.eu/en/press/press-releases/2026/09/20/cyber-diplomacy-toolbox/", id),
			put("guids", "council-press\x001187001", id),
			// An item pruned by retention: only its identity is left.
			put("urls", "https://www.consilium.europa.eu/en/press/press-releases/2025/01/10/pruned/", "u:https://www.consilium.europa.eu/en/press/press-releases/2025/01/10/pruned/"),
			put("sources", "council-press", `{"source":"council-press","polls":12,"items":1,"first_poll_done":true}`),
		}
		return errors.Join(steps...)
	})
}

func TestMigrateFromVersion1(t *testing.T) {
	fixture := filepath.Join("testdata", "v1.db")
	if *update {
		os.Remove(fixture)
		if err := writeV1(fixture); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "policywire.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	s, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.DB().View(func(tx *bolt.Tx) error {
		if v := binary.BigEndian.Uint64(tx.Bucket(bucketMeta).Get(keySchemaVersion)); v != SchemaVersion() {
			t.Errorf("migrated to version %d, want %d", v, SchemaVersion())
		}
		return nil
	})
	id := "u:https://www.consilium.europa.eu/en/press/press-releases/2026/09/20/cyber-diplomacy-toolbox/"
	if it, ok, err := s.Item(id); err != nil || !ok || it.Source != "council-press" {
		t.Fatalf("migrated item: %+v %v %v", it, ok, err)
	}
	st, _ := s.SourceState("council-press")
	if st.Polls != 12 || !st.FirstPollDone {
		t.Errorf("migrated state %+v", st)
	}
	// The pruned item's identity is still known.
	pruned := item("council-press", "", "https://www.consilium.europa.eu/en/press/press-releases/2025/01/10/pruned/", "EU cyber diplomacy toolbox: first listings", clk.Now().Add(-600*24*time.Hour))
	if unseen, err := s.Unseen([]policywire.Item{pruned}); err != nil || len(unseen) != 0 {
		t.Errorf("an identity pruned before the migration is unseen: %v %v", unseen, err)
	}
	// The title index built by the migration clusters the EEAS's report.
	eeas := item("eeas-press", "", "https://www.eeas.europa.eu/eeas/cyber-diplomacy-toolbox-framework_en", "Council extends framework for restrictive measures: cyber diplomacy toolbox", clk.Now().Add(-24*time.Hour))
	ingest(t, s, "eeas-press", routeAllTo("other-room"), eeas)
	also, _ := s.AlsoReported(id)
	if !equalStrings(alsoSources(also), []string{"eeas-press"}) {
		t.Errorf("also reported after migration: %v", also)
	}
	// The date index built by the migration lets retention find the item.
	if n, err := s.Prune(time.Date(2026, 9, 21, 0, 0, 0, 0, time.UTC)); err != nil || n != 1 {
		t.Errorf("prune after migration: %d, %v", n, err)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestMetaRoundTrip(t *testing.T) {
	s := openTest(t, newClock())
	if v, err := s.Meta("matrix.next_batch"); err != nil || v != nil {
		t.Fatalf("missing key: %q, %v", v, err)
	}
	if err := s.PutMeta("matrix.next_batch", []byte("s72594_4483_1934")); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Meta("matrix.next_batch"); string(v) != "s72594_4483_1934" {
		t.Errorf("got %q", v)
	}
	// A caller's key cannot clobber the schema version.
	if err := s.PutMeta("schema_version", []byte("x")); err != nil {
		t.Fatal(err)
	}
	s.DB().View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keySchemaVersion); len(v) != 8 {
			t.Error("schema version was overwritten")
		}
		return nil
	})
	if err := s.PutMeta("matrix.next_batch", nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Meta("matrix.next_batch"); v != nil {
		t.Errorf("deleted key still has %q", v)
	}
}

func TestBackup(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	batch := realisticBatch(clk.Now())
	ingest(t, s, "council-press", routeAllTo("eu-desk"), batch...)
	out := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.WriteTo(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(out); fi.Size() != n || n == 0 {
		t.Fatalf("backup wrote %d bytes, file has %d", n, fi.Size())
	}
	// The copy opens on its own, while the original stays open.
	b, err := Open(out, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Check(); err != nil {
		t.Fatal(err)
	}
	for _, it := range batch {
		if _, ok, err := b.Item(it.ID); err != nil || !ok {
			t.Errorf("backup lacks %q: %v", it.Title, err)
		}
	}
	if rows := outbox(t, b, "eu-desk"); len(rows) != len(batch) {
		t.Errorf("backup outbox has %d rows, want %d", len(rows), len(batch))
	}
}

func TestSubscriptions(t *testing.T) {
	s := openTest(t, newClock())
	a, err := s.AddSubscription(Subscription{Channel: "eu-desk", Query: `"tech ambassador"`, By: "U024BE7LH"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.AddSubscription(Subscription{Channel: "diplomacy-room", Query: "cyber* AND resilience", By: "@alice:example.org"}, 0)
	c, _ := s.AddSubscription(Subscription{Channel: "eu-desk", Query: "ref:2023/0212(COD)"}, 0)
	if a.ID != "s1" || b.ID != "s2" || c.ID != "s3" || a.Created.IsZero() {
		t.Fatalf("ids %s %s %s, created %v", a.ID, b.ID, c.ID, a.Created)
	}
	if _, err := s.AddSubscription(Subscription{Channel: "eu-desk", Query: "  "}, 0); err == nil {
		t.Error("an empty query must be refused")
	}
	desk, _ := s.Subscriptions("eu-desk")
	if len(desk) != 2 || desk[0].ID != "s1" || desk[1].ID != "s3" || desk[0].Query != `"tech ambassador"` {
		t.Fatalf("eu-desk subscriptions %+v", desk)
	}
	// Another channel's subscription is not this channel's to remove.
	if ok, _ := s.RemoveSubscription("eu-desk", "s2"); ok {
		t.Error("removed another channel's subscription")
	}
	if ok, _ := s.RemoveSubscription("eu-desk", "s1"); !ok {
		t.Error("s1 not removed")
	}
	if ok, _ := s.RemoveSubscription("eu-desk", "s1"); ok {
		t.Error("s1 removed twice")
	}
	if ok, _ := s.RemoveSubscription("eu-desk", "banana"); ok {
		t.Error("a malformed id removed something")
	}
	d, _ := s.AddSubscription(Subscription{Channel: "eu-desk", Query: "digital diplomacy"}, 0)
	if d.ID != "s4" {
		t.Errorf("ids are never reused: got %s", d.ID)
	}
	all, _ := s.Subscriptions("")
	var ids []string
	for _, x := range all {
		ids = append(ids, x.ID)
	}
	if !equalStrings(ids, []string{"s2", "s3", "s4"}) {
		t.Errorf("all subscriptions %v", ids)
	}
}

func TestPruneKeepsIdentity(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	now := clk.Now()
	old := item("council-press", "1100001", "https://www.consilium.europa.eu/en/press/press-releases/2025/01/10/old/", "Council adopts conclusions on EU cyber diplomacy toolbox", now.Add(-400*24*time.Hour))
	recent := item("council-press", "1188001", "https://www.consilium.europa.eu/en/press/press-releases/2026/09/24/new/", "Foreign Affairs Council (Trade), 24 September 2026", now.Add(-24*time.Hour))
	ingest(t, s, "council-press", routeAllTo("eu-desk"), old, recent)
	if err := s.PutArticle(old.URL, "Full text of the old press release."); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if err := s.PutArticle(recent.URL, "Full text of the recent press release."); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(now.Add(-365 * 24 * time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1", n, err)
	}
	if _, ok, _ := s.Item(old.ID); ok {
		t.Error("the old item's body is still archived")
	}
	if _, ok, _ := s.Item(recent.ID); !ok {
		t.Error("the recent item was pruned")
	}
	if c, _ := s.ItemCount(); c != 1 {
		t.Errorf("item count %d, want 1", c)
	}
	// The old item shows up in the feed again, under a new GUID even: not new.
	again := old
	again.GUID = "1100001-republished"
	again.ID = policywire.Identity(again)
	if unseen, _ := s.Unseen([]policywire.Item{again, old}); len(unseen) != 0 {
		t.Errorf("a pruned item is unseen again: %v", unseen)
	}
	r := ingest(t, s, "council-press", routeAllTo("eu-desk"), again, old)
	if r.New != 0 || len(r.Alerts) != 0 || r.Unchanged != 2 {
		t.Errorf("pruned item re-appearing: %+v", r)
	}
	// Article cache: the entry older than the cut-off went with it.
	if _, ok, _ := s.Article(old.URL); ok {
		t.Error("old article text kept")
	}
	if text, ok, _ := s.Article(recent.URL); !ok || text != "Full text of the recent press release." {
		t.Errorf("recent article text %q, %v", text, ok)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestForEachItemVisitsEverything(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	var batch []policywire.Item
	for i := range 1300 {
		batch = append(batch, benchItem("ec-presscorner", i, clk.Now()))
	}
	for i := 0; i < len(batch); i += 100 {
		ingest(t, s, "ec-presscorner", nil, batch[i:i+100]...)
	}
	seen := map[string]bool{}
	var prev string
	err := s.ForEachItem(func(it policywire.Item) error {
		if it.GUID <= prev {
			t.Fatalf("not in the order first seen: %q after %q", it.GUID, prev)
		}
		prev = it.GUID
		seen[it.ID] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(batch) {
		t.Errorf("visited %d items, want %d", len(seen), len(batch))
	}
	stop := errors.New("stop")
	calls := 0
	if err := s.ForEachItem(func(policywire.Item) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("callback error: %v after %d calls", err, calls)
	}
}

func TestArticleCache(t *testing.T) {
	s := openTest(t, newClock())
	url := "https://www.state.gov/bureau-of-cyberspace-and-digital-policy/"
	if _, ok, err := s.Article(url); ok || err != nil {
		t.Fatalf("empty cache: %v %v", ok, err)
	}
	if err := s.PutArticle(url, "The Bureau of Cyberspace and Digital Policy leads..."); err != nil {
		t.Fatal(err)
	}
	if text, ok, _ := s.Article(url); !ok || !bytes.HasPrefix([]byte(text), []byte("The Bureau")) {
		t.Errorf("got %q %v", text, ok)
	}
	if err := s.PutArticle("", "x"); err == nil {
		t.Error("an empty URL must be refused")
	}
}

// TestMigrateDateIndexFromVersion2 rewrites a database's date index as
// version 2 kept it, (date, sequence) → "", and opens it: the index comes
// back as version 3 writes it, and retention finds the same items.
func TestMigrateDateIndexFromVersion2(t *testing.T) {
	clk := newClock()
	path := filepath.Join(t.TempDir(), "policywire.db")
	s, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var items []policywire.Item
	for i := range 300 {
		// Dates over two years, some zero, not in arrival order.
		pub := clk.Now().Add(-time.Duration((i*7919)%(730*24)) * time.Hour)
		if i%50 == 0 {
			pub = time.Time{}
		}
		items = append(items, item("council-press", fmt.Sprint(i), fmt.Sprintf("https://example.eu/%d", i), fmt.Sprintf("Item %d of the migration", i), pub))
	}
	for i := 0; i < len(items); i += 30 {
		ingest(t, s, "council-press", nil, items[i:i+30]...)
	}
	dump := func(db *bolt.DB) map[string]string {
		out := map[string]string{}
		db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketDates).ForEach(func(k, v []byte) error {
				out[string(k)] = string(v)
				return nil
			})
		})
		return out
	}
	want := dump(s.DB())
	if len(want) != len(items) {
		t.Fatalf("%d date index entries for %d items", len(want), len(items))
	}
	err = s.DB().Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketDates); err != nil {
			return err
		}
		dates, err := tx.CreateBucket(bucketDates)
		if err != nil {
			return err
		}
		for k, v := range want {
			if err := dates.Put(dateKey(time.Unix(0, int64(be64([]byte(v)))), []byte(k[8:])), nil); err != nil {
				return err
			}
		}
		return putVersion(tx, 2)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := dump(s.DB()); !reflect.DeepEqual(got, want) {
		t.Fatalf("migrated date index has %d entries, differing from the %d version 3 writes", len(got), len(want))
	}
	if n, err := s.ItemCount(); err != nil || n != len(items) {
		t.Fatalf("%d items after the migration, %v", n, err)
	}
	before := clk.Now().Add(-365 * 24 * time.Hour)
	old := 0
	for _, it := range items {
		if d := it.Date(); !d.IsZero() && d.Before(before) { // undated items are dated on arrival
			old++
		}
	}
	if old == 0 || old == len(items) {
		t.Fatalf("%d of %d items old: the test prunes nothing or everything", old, len(items))
	}
	if n, err := s.Prune(before); err != nil || n != old {
		t.Fatalf("Prune = %d, %v; want %d", n, err, old)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}
