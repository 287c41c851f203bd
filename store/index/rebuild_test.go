package index

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/query"
	"github.com/policywire/policywire/store"
)

// archive opens a real store in a temporary directory and ingests items
// into it, one batch per source, with no routing.
func archive(t *testing.T, items []policywire.Item) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "data", "policywire.db"), store.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bySource := map[string][]policywire.Item{}
	var order []string
	for _, it := range items {
		if _, ok := bySource[it.Source]; !ok {
			order = append(order, it.Source)
		}
		bySource[it.Source] = append(bySource[it.Source], it)
	}
	for _, src := range order {
		if _, err := st.Ingest(store.Batch{Source: src, Items: bySource[src]}, nil); err != nil {
			t.Fatal(err)
		}
	}
	n, err := st.ItemCount()
	if err != nil {
		t.Fatal(err)
	}
	if n != len(items) {
		t.Fatalf("store holds %d items, want %d", n, len(items))
	}
	return st
}

// logBuffer collects log lines for assertions and shows them in the test
// log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogBuffer() (*logBuffer, *slog.Logger) {
	b := &logBuffer{}
	return b, slog.New(slog.NewTextHandler(b, nil))
}

// assertSearchable checks that the index agrees with query.Match on the
// items for a few queries.
func assertSearchable(t *testing.T, x *Index, items []policywire.Item) {
	t.Helper()
	docs := make([]*query.Doc, len(items))
	for i, it := range items {
		docs[i] = query.Prepare(it)
	}
	for _, s := range []string{`digital diplomacy`, `cyber*`, `lang:de -fischerei`, `ref:2022/0272(COD)`} {
		q := query.MustParse(s)
		got, want := searchIDs(t, x, q), matchIDs(q, docs, items)
		if len(want) == 0 {
			t.Fatalf("query %s matches nothing", s)
		}
		if !slices.Equal(got, want) {
			t.Errorf("query %s: found %d items, want %d", s, len(got), len(want))
		}
	}
}

func assertCount(t *testing.T, x *Index, want int) {
	t.Helper()
	n, err := x.Count()
	if err != nil {
		t.Fatal(err)
	}
	if n != uint64(want) {
		t.Errorf("index holds %d items, want %d", n, want)
	}
}

func TestOpenOrRebuildMissing(t *testing.T) {
	items := corpusItems(t)
	st := archive(t, items)
	logs, logger := newLogBuffer()
	dir := filepath.Join(t.TempDir(), "index")

	x, err := OpenOrRebuild(context.Background(), dir, st, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	assertCount(t, x, len(items))
	assertSearchable(t, x, items)
	if !strings.Contains(logs.String(), `msg="search index rebuilt"`) || !strings.Contains(logs.String(), "items=217") ||
		!strings.Contains(logs.String(), "reason=missing") || !strings.Contains(logs.String(), "duration=") {
		t.Errorf("log does not tell of the rebuild:\n%s", logs)
	}

	// Opened again with everything in it: no rebuild.
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	logs, logger = newLogBuffer()
	x, err = OpenOrRebuild(context.Background(), dir, st, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	assertCount(t, x, len(items))
	if strings.Contains(logs.String(), "rebuilt") {
		t.Errorf("an index in step with the database was rebuilt:\n%s", logs)
	}
}

func TestOpenOrRebuildBroken(t *testing.T) {
	items := corpusItems(t)
	st := archive(t, items)
	dir := filepath.Join(t.TempDir(), "index")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"index_meta.json": "{\"storage\":\"scorch\",\"index_type\":",
		"root.bolt":       strings.Repeat("garbage", 500),
		"junk.zap":        "\x00\x01\x02",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := Open(dir, nil); !errors.Is(err, ErrBroken) {
		t.Fatalf("Open of garbage: err = %v, want ErrBroken", err)
	}

	out := rebuildAndCheck(t, dir, st, items)
	if !strings.Contains(out, "search index is broken") || !strings.Contains(out, `msg="search index rebuilt"`) || !strings.Contains(out, "reason=broken") {
		t.Errorf("log does not tell of the broken index and its rebuild:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "junk.zap")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("garbage left in the rebuilt index: %v", err)
	}
}

func TestOpenNotADirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index")
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, nil); !errors.Is(err, ErrBroken) {
		t.Fatalf("err = %v, want ErrBroken", err)
	}
}

func TestOpenOrRebuildStale(t *testing.T) {
	items := corpusItems(t)
	st := archive(t, items)
	// The process stopped after archiving, before indexing the rest.
	dir := partialIndex(t, items[:100], nil)
	logs, logger := newLogBuffer()
	x, err := OpenOrRebuild(context.Background(), dir, st, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	assertCount(t, x, len(items))
	if !strings.Contains(logs.String(), "reason=stale") {
		t.Errorf("log does not tell of the stale index:\n%s", logs)
	}
}

func TestOpenLocked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "index")
	x := openAt(t, dir)
	if err := x.Index(corpusItems(t)[:10]); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, nil)
	if !errors.Is(err, ErrLocked) || errors.Is(err, ErrBroken) {
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}
	assertCount(t, x, 10)
}

func openAt(t *testing.T, dir string) *Index {
	t.Helper()
	x, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

func TestRebuildSwaps(t *testing.T) {
	items := corpusItems(t)
	st := archive(t, items)
	dir := filepath.Join(t.TempDir(), "index")

	// An old index holding an item the database no longer has.
	old := openAt(t, dir)
	gone := policywire.Item{ID: "u:https://example.org/gone", Source: "gone", Title: "Pruned zeppelin item", Published: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := old.Index(append([]policywire.Item{gone}, items[:5]...)); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash during an earlier rebuild left half a new index behind.
	if err := os.MkdirAll(dir+".new", 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir+".new", "index_meta.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}

	logs, logger := newLogBuffer()
	x, n, err := Rebuild(context.Background(), dir, st, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if n != len(items) {
		t.Errorf("Rebuild indexed %d items, want %d", n, len(items))
	}
	assertCount(t, x, len(items))
	assertSearchable(t, x, items)
	if ids := searchIDs(t, x, query.MustParse("zeppelin")); len(ids) != 0 {
		t.Errorf("the rebuilt index still has the old index's item: %v", ids)
	}
	for _, leftover := range []string{dir + ".new", dir + ".old"} {
		if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", leftover, err)
		}
	}
	if !strings.Contains(logs.String(), "reason=requested") {
		t.Errorf("log:\n%s", logs)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	x = openAt(t, dir)
	assertCount(t, x, len(items))
}

func TestRebuildInterruptedKeepsTheOldIndex(t *testing.T) {
	items := corpusItems(t)
	st := archive(t, items)
	dir := filepath.Join(t.TempDir(), "index")
	old := openAt(t, dir)
	if err := old.Index(items[:7]); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Rebuild(ctx, dir, st, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Rebuild with a cancelled context: err = %v", err)
	}
	x := openAt(t, dir)
	assertCount(t, x, 7)
	if _, err := os.Stat(dir + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the interrupted rebuild left %s.new: %v", dir, err)
	}
}

func TestIndexReplacesByID(t *testing.T) {
	items := corpusItems(t)
	x := openWith(t, items)
	if err := x.Index(items); err != nil {
		t.Fatal(err)
	}
	assertCount(t, x, len(items))

	revised := items[0]
	revised.Title = "Council approves conclusions on EU quokka diplomacy"
	if err := x.Index([]policywire.Item{revised}); err != nil {
		t.Fatal(err)
	}
	assertCount(t, x, len(items))
	if ids := searchIDs(t, x, query.MustParse("title:quokka")); !slices.Equal(ids, []string{revised.ID}) {
		t.Errorf("revised title: found %v", ids)
	}
	if ids := searchIDs(t, x, query.MustParse(`title:"digital diplomacy"`)); slices.Contains(ids, revised.ID) {
		t.Errorf("the old title is still found")
	}

	if err := x.Index([]policywire.Item{{Title: "no id"}}); err == nil {
		t.Error("an item without ID was indexed")
	}
}

func TestDeleteAndPrune(t *testing.T) {
	items := corpusItems(t)
	x := openWith(t, items)
	if err := x.Delete([]string{items[0].ID, "u:https://unknown.example/"}); err != nil {
		t.Fatal(err)
	}
	assertCount(t, x, len(items)-1)

	cut := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	want := 0
	for _, it := range items[1:] {
		if it.Date().Before(cut) {
			want++
		}
	}
	n, err := x.Prune(context.Background(), cut)
	if err != nil {
		t.Fatal(err)
	}
	if n != want || want == 0 {
		t.Errorf("Prune removed %d items, want %d", n, want)
	}
	assertCount(t, x, len(items)-1-want)
	hits, err := x.Search(context.Background(), query.MustParse("NOT zzzz"), policywire.SearchOptions{Limit: 1000, Newest: true})
	if err != nil {
		t.Fatal(err)
	}
	if last := hits[len(hits)-1].Item.Published; last.Before(cut) {
		t.Errorf("an item of %s survived the prune", last)
	}
}

// TestConcurrentIndexAndSearch runs searches while items are indexed; run
// with -race.
func TestConcurrentIndexAndSearch(t *testing.T) {
	items := corpusItems(t)
	x := openWith(t, items[:50])
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 3 {
		wg.Go(func() {
			for range 30 {
				if _, err := x.Search(ctx, query.MustParse(`cyber* OR budget`), policywire.SearchOptions{Limit: 5}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := 50; i < len(items); i += 25 {
			if err := x.Index(items[i:min(i+25, len(items))]); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assertCount(t, x, len(items))
}

func TestClosed(t *testing.T) {
	x := openWith(t, corpusItems(t)[:3])
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := x.Search(context.Background(), query.MustParse("x"), policywire.SearchOptions{}); err == nil {
		t.Error("search on a closed index worked")
	}
	if err := x.Index(corpusItems(t)[:1]); err == nil {
		t.Error("indexing into a closed index worked")
	}
}

// TestOpenOrRebuildEarlierLayout: an index an earlier release wrote, with
// another field layout, is rebuilt at start rather than searched wrongly.
func TestOpenOrRebuildEarlierLayout(t *testing.T) {
	items := corpusItems(t)
	st := archive(t, items)
	dir := partialIndex(t, items[:3], func(x *Index) error {
		return x.idx.SetInternal(versionKey, []byte("policywire-index-2"))
	})
	if _, err := Open(dir, nil); !errors.Is(err, ErrBroken) || !strings.Contains(err.Error(), "policywire-index-2") {
		t.Fatalf("Open of an index of an earlier layout: err = %v, want ErrBroken naming the layout", err)
	}
	if out := rebuildAndCheck(t, dir, st, items); !strings.Contains(out, `msg="search index rebuilt"`) {
		t.Errorf("log does not tell of the rebuild:\n%s", out)
	}
}

// partialIndex writes an index of items alone, changed by alter when it is
// not nil, and returns its directory.
func partialIndex(t *testing.T, items []policywire.Item, alter func(*Index) error) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "index")
	x, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Index(items); err != nil {
		t.Fatal(err)
	}
	if alter != nil {
		if err := alter(x); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// rebuildAndCheck opens the index in dir with OpenOrRebuild, checks that it
// holds and finds every item of the archive, and returns what it logged.
func rebuildAndCheck(t *testing.T, dir string, st *store.Store, items []policywire.Item) string {
	t.Helper()
	logs, logger := newLogBuffer()
	x, err := OpenOrRebuild(context.Background(), dir, st, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	assertCount(t, x, len(items))
	assertSearchable(t, x, items)
	return logs.String()
}
