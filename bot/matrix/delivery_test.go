package matrix

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/store"
)

// crashAfterDigest posts a digest, then closes the database before the
// dispatcher can record it: what a crash between the two looks like.
type crashAfterDigest struct {
	*Sender
	store *store.Store
}

func (c crashAfterDigest) SendDigest(ctx context.Context, room string, d policywire.Digest) ([]string, error) {
	ids, err := c.Sender.SendDigest(ctx, room, d)
	c.store.Close()
	return ids, err
}

func TestDigestIsNotPostedTwiceAfterACrashBeforeItWasRecorded(t *testing.T) {
	f := setupRoom(t)
	path := filepath.Join(t.TempDir(), "policywire.db")
	open := func() *store.Store {
		st, err := store.Open(path, store.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	seq := 0
	enqueue := func(st *store.Store, n int) []string {
		var items []policywire.Item
		var titles []string
		for range n {
			seq++
			url := fmt.Sprintf("https://ec.europa.eu/commission/presscorner/detail/en/ip_26_%d", seq)
			it := policywire.Item{Source: "ec-press", GUID: url, URL: url, CanonicalURL: url,
				Title: fmt.Sprintf("Commission statement %d of the day", seq), Published: time.Date(2026, 11, 26, 8, seq, 0, 0, time.UTC)}
			it.ID = policywire.Identity(it)
			items = append(items, it)
			titles = append(titles, it.Title)
		}
		state := store.SourceState{Source: "ec-press", FirstPollDone: true}
		route := func(policywire.Item) []store.Route { return []store.Route{{Channel: "eu-desk", Digest: true}} }
		if _, err := st.Ingest(store.Batch{Source: "ec-press", Items: items, State: state}, route); err != nil {
			t.Fatal(err)
		}
		return titles
	}
	ch := config.Channel{ID: "eu-desk", Matrix: f.room, Digest: "0 8 * * *"}
	dispatcher := func(st *store.Store, s bot.Sender) *bot.Dispatcher {
		return &bot.Dispatcher{Store: st, Senders: map[string]bot.Sender{"matrix": s}, Logger: slog.New(slog.DiscardHandler)}
	}

	st := open()
	first := enqueue(st, 3)
	if _, err := dispatcher(st, crashAfterDigest{f.sender, st}).FlushDigest(testContext(t), ch); err == nil {
		t.Fatal("recording the digest on a closed database succeeded")
	}
	// The next process: the database again, a new sender, one more item.
	st = open()
	later := enqueue(st, 1)
	if _, err := dispatcher(st, newSender(t, f.hs, f.botID, f.token)).FlushDigest(testContext(t), ch); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, ev := range f.botMessages(t) {
		body, _ := rawContent(t, ev)["body"].(string)
		for _, title := range append(first, later...) {
			if strings.Contains(body, title) {
				counts[title]++
			}
		}
	}
	for _, title := range append(first, later...) {
		if counts[title] != 1 {
			t.Errorf("%q is in %d messages, want 1", title, counts[title])
		}
	}
}
