package bot_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/testenv"
	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
	"github.com/policywire/policywire/store"
)

// TestDaemonBoundsPollsInFlight: at start every source is due at once; the
// daemon keeps no more polls under way — fetched, parsed, waiting for the
// store — than fetch.concurrency, as run --once does, so a first poll of
// many sources does not hold all their bodies and items at the same time.
// With a concurrency of one, no source is fetched while another's poll
// is still being finished.
func TestDaemonBoundsPollsInFlight(t *testing.T) {
	const n = 4
	fixtures := testenv.NewFixtureServer(t)
	cfg := testConfig(fixtures)
	cfg.Fetch.Concurrency = 1
	cfg.Channels = nil
	cfg.Slack = nil
	cfg.Sources = nil
	paths := make([]string, n)
	for i := range n {
		paths[i] = fmt.Sprintf("/feed-%d.rss", i)
		items := e2eharness.NumberedItems(fmt.Sprintf("Notice %d", i), fmt.Sprintf("https://news.example.org/%d", i), 3, time.Now())
		fixtures.Set(paths[i], e2eharness.RSS("Notices", fixtures.URL, items), e2eharness.RSSContentType)
		cfg.Sources = append(cfg.Sources, config.Source{ID: fmt.Sprintf("src-%d", i), Type: config.TypeFeed, URL: fixtures.URL + paths[i], Schedule: "@every 24h"})
	}
	requests := func() int {
		total := 0
		for _, p := range paths {
			total += fixtures.Requests(p)
		}
		return total
	}

	st, err := store.Open(filepath.Join(t.TempDir(), "policywire.db"), store.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fetcher := sources.NewFetcher(wiring.FetcherOptions(cfg.Fetch))
	t.Cleanup(fetcher.Close)

	// Each poll, while it is still under way (its observer runs before it
	// returns), notes how many fetches the server has answered; the first
	// holds on until a second fetch arrives or a while has passed.
	var mu sync.Mutex
	var seen []int
	done := make(chan struct{})
	first := true
	observe := func(bot.PollResult, *sources.ReadResult) {
		mu.Lock()
		hold := first
		first = false
		mu.Unlock()
		if hold {
			deadline := time.Now().Add(3 * time.Second)
			for requests() < 2 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
		}
		mu.Lock()
		seen = append(seen, requests())
		if len(seen) == n {
			close(done)
		}
		mu.Unlock()
	}
	b, err := bot.New(bot.Options{Config: cfg, Store: st, Fetcher: fetcher, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), OnPoll: observe})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	d := &bot.Daemon{Bot: b, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx, 5*time.Second) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the daemon did not poll every source at start")
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for k, got := range seen {
		if got != k+1 {
			t.Fatalf("fetches answered while each poll was under way: %v; want 1, 2, 3, 4 (one poll at a time)", seen)
		}
	}
}
