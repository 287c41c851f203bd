package bot_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/internal/testenv"
)

// syncBuffer is a log destination that tests read while the bot writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func capturedLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// rssFeed is an RSS 2.0 feed of (guid, link, title) items dated today.
func rssFeed(items ...[3]string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Council</title><link>https://www.consilium.europa.eu/</link>`)
	date := time.Now().UTC().Add(-time.Hour).Format(time.RFC1123Z)
	for _, it := range items {
		fmt.Fprintf(&b, "<item><guid isPermaLink=\"false\">%s</guid><link>%s</link><title>%s</title><description>%s</description><pubDate>%s</pubDate></item>",
			it[0], it[1], it[2], it[2]+" — the text.", date)
	}
	b.WriteString(`</channel></rss>`)
	return []byte(b.String())
}

// One item with a 40 KB link and one with a 40 KB GUID must not stop a
// source: the poll succeeds, every item is posted (the first without its
// link), and a warning names what was dropped.
func TestOversizedLinkAndGUIDDoNotStopTheSource(t *testing.T) {
	fixtures := testenv.NewFixtureServer(t)
	long := "https://www.consilium.europa.eu/en/press/?q=" + strings.Repeat("a", 40<<10)
	fixtures.Set("/council.rss", rssFeed(
		[3]string{"1", "https://www.consilium.europa.eu/en/press/1", "Cyber diplomacy: Council approves conclusions"},
		[3]string{"2", long, "Cyber diplomacy: Council agrees on the digital networks act"},
		[3]string{strings.Repeat("g", 40<<10), "https://www.consilium.europa.eu/en/press/3", "Cyber diplomacy: a new tech ambassador"},
	), "application/rss+xml")
	fake := slackfake.New(t)
	cfg := testConfig(fixtures)
	cfg.Sources = cfg.Sources[:1]
	cfg.Channels[0].Topics = nil
	logger, logs := capturedLogger()
	p := newPipelineLogged(t, cfg, fixtures, t.TempDir(), fake, logger)

	rep, err := p.bot.RunOnce(context.Background(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Polls) != 1 || rep.Polls[0].Outcome != bot.OutcomeNew || rep.Polls[0].New != 3 {
		t.Fatalf("poll: %+v, want three new items", rep.Polls)
	}
	posts := fake.Posts("C0EUDESK")
	if len(posts) != 3 {
		t.Fatalf("posted %d alerts, want 3: %q", len(posts), titles(posts))
	}
	for _, post := range posts {
		if strings.Contains(string(post.Blocks), strings.Repeat("a", 1000)) {
			t.Errorf("the 40 KB link reached Slack: %.200s", post.Blocks)
		}
	}
	if !strings.Contains(logs.String(), "link of") || !strings.Contains(logs.String(), "GUID of") {
		t.Errorf("no warning about the dropped link and hashed GUID in the log:\n%.2000s", logs.String())
	}
	// The next poll sees the same items as known.
	fixtures.Set("/council.rss", append(rssFeed(
		[3]string{"1", "https://www.consilium.europa.eu/en/press/1", "Cyber diplomacy: Council approves conclusions"},
		[3]string{"2", long, "Cyber diplomacy: Council agrees on the digital networks act"},
		[3]string{strings.Repeat("g", 40<<10), "https://www.consilium.europa.eu/en/press/3", "Cyber diplomacy: a new tech ambassador"},
	), ' '), "application/rss+xml")
	if _, err := p.bot.RunOnce(context.Background(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Posts("C0EUDESK")); n != 3 {
		t.Fatalf("second poll posted again: %d posts", n)
	}
}

// A poll whose finds cannot be stored is a failure of the source like any
// other: counted, backed off, shown by `sources`, and its validators are
// not kept (the next poll must fetch the body again, not get a 304).
func TestPollThatCannotBeStoredIsACountedFailure(t *testing.T) {
	fixtures := councilAndEEAS(t, "council-press.rss")
	fake := slackfake.New(t)
	cfg := testConfig(fixtures)
	cfg.Sources = cfg.Sources[:1]
	// A channel id no database can key by: every alert for it fails to store.
	cfg.Channels = []config.Channel{{ID: strings.Repeat("c", 40<<10), Slack: "C0EUDESK"}}
	p := newPipeline(t, cfg, fixtures, t.TempDir(), fake)

	rep, err := p.bot.RunOnce(context.Background(), 30*time.Second)
	if err != nil {
		t.Fatalf("run: %v (a storage failure of one source must not stop the run)", err)
	}
	if len(rep.Polls) != 1 || rep.Polls[0].Outcome != bot.OutcomeFailed {
		t.Fatalf("poll: %+v, want a failed poll", rep.Polls)
	}
	st, err := p.store.SourceState("council-press")
	if err != nil {
		t.Fatal(err)
	}
	if st.ConsecutiveFailures != 1 || st.LastErrorKind != bot.KindStore || !st.NextAllowed.After(time.Now()) || st.ETag != "" {
		t.Fatalf("state after a poll that could not be stored: %+v", st)
	}
	health, err := bot.Health(cfg, p.store, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(health.Sources) != 1 || health.Sources[0].Failures != 1 || health.Sources[0].ErrorKind != bot.KindStore {
		t.Fatalf("sources report: %+v", health.Sources)
	}
}

// A token in a source URL's query never reaches the log, the source's
// recorded error or the `sources` report.
func TestSourceURLTokenIsNotShown(t *testing.T) {
	fixtures := testenv.NewFixtureServer(t)
	fixtures.SetStatus("/api/items", 500, []byte("<html><head><title>Server Error</title></head></html>"), "text/html", nil)
	fake := slackfake.New(t)
	cfg := testConfig(fixtures)
	cfg.Sources = cfg.Sources[:1]
	cfg.Sources[0].URL = fixtures.URL + "/api/items?api_key=k-5ecret-value&page=1&access_token=t-5ecret-value"
	logger, logs := capturedLogger()
	p := newPipelineLogged(t, cfg, fixtures, t.TempDir(), fake, logger)
	rep, err := p.bot.RunOnce(context.Background(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Polls[0].Outcome != bot.OutcomeFailed {
		t.Fatalf("poll: %+v, want the 500 to fail it", rep.Polls[0])
	}
	health, err := bot.Health(cfg, p.store, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var report bytes.Buffer
	if err := bot.WriteHealth(&report, health, time.UTC); err != nil {
		t.Fatal(err)
	}
	shown := logs.String() + "\n" + health.Sources[0].LastError + "\n" + report.String() + "\n" + rep.Polls[0].Err.Error()
	if strings.Contains(shown, "5ecret") {
		t.Fatalf("a token of the source URL is shown:\n%s", shown)
	}
	if !strings.Contains(health.Sources[0].LastError, "api_key=REDACTED&page=1") {
		t.Errorf("the recorded error should still name the URL: %q", health.Sources[0].LastError)
	}
}
