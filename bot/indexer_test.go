package bot

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/policywire/policywire"
)

// countingIndex records the batches it is given.
type countingIndex struct {
	mu      sync.Mutex
	batches []int
}

func (c *countingIndex) Index(items []policywire.Item) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, len(items))
	return nil
}

func (c *countingIndex) total() (n, batches int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.batches {
		n += b
	}
	return n, len(c.batches)
}

func items(n int) []policywire.Item {
	out := make([]policywire.Item, n)
	for i := range out {
		out[i] = policywire.Item{ID: fmt.Sprint(i), Title: fmt.Sprint("item ", i)}
	}
	return out
}

func TestBatchIndexerGathersPollsIntoBatches(t *testing.T) {
	idx := &countingIndex{}
	x := newBatchIndexer(idx, slog.New(slog.DiscardHandler))
	// Forty polls of 20 items: nothing reaches the index until a flush,
	// and then as one batch.
	for range 40 {
		if err := x.Index(items(20)); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, b := idx.total(); n != 800 || b != 1 {
		t.Fatalf("800 items should arrive as one batch; got %d items in %d batches", n, b)
	}
	// A full batch is written by the poll that filled it.
	if err := x.Index(items(indexBatchSize)); err != nil {
		t.Fatal(err)
	}
	if n, b := idx.total(); n != 800+indexBatchSize || b != 2 {
		t.Fatalf("a full batch must be written at once; got %d items in %d batches", n, b)
	}
	// Close writes what is left.
	if err := x.Index(items(3)); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if n, _ := idx.total(); n != 803+indexBatchSize {
		t.Fatalf("Close lost items: %d indexed", n)
	}
}

func TestBatchIndexerBoundsTheTextOfABatch(t *testing.T) {
	idx := &countingIndex{}
	x := newBatchIndexer(idx, slog.New(slog.DiscardHandler))
	defer x.Close()
	// Items of full articles: 300 KB each. The fourth passes a megabyte of
	// text, and its poll writes the batch.
	long := policywire.Item{Title: "long", Content: strings.Repeat("word ", 60_000)}
	for i := range 4 {
		long.ID = fmt.Sprint(i)
		if err := x.Index([]policywire.Item{long}); err != nil {
			t.Fatal(err)
		}
		if n, _ := idx.total(); i < 3 && n != 0 {
			t.Fatalf("%d items of 300 KB were written before a megabyte gathered", n)
		}
	}
	if n, b := idx.total(); n != 4 || b != 1 {
		t.Fatalf("four items of 300 KB should be one batch, written by the fourth poll; got %d items in %d batches", n, b)
	}
}
