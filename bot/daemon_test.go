package bot_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/sources"
)

// runDaemon runs a daemon over the pipeline until the test ends.
func runDaemon(t *testing.T, p *pipeline) *bot.Daemon {
	t.Helper()
	return runThisDaemon(t, &bot.Daemon{Bot: p.bot, Logger: p.bot.Poller.Logger})
}

// runThisDaemon runs d until the test ends.
func runThisDaemon(t *testing.T, d *bot.Daemon) *bot.Daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, 30*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
	return d
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A poll that panics is a failure of its source, not the end of the
// daemon: the other source is polled and delivered, the daemon keeps
// running and stops cleanly.
func TestDaemonSurvivesAPanickingPoll(t *testing.T) {
	fixtures := councilAndEEAS(t, "council-press.rss")
	fake := slackfake.New(t)
	cfg := testConfig(fixtures)
	logger, logs := capturedLogger()
	p := newPipelineLogged(t, cfg, fixtures, t.TempDir(), fake, logger)
	p.bot.Poller.Observe = func(res bot.PollResult, _ *sources.ReadResult) {
		if res.Source == "council-press" {
			panic("parser bug on council-press")
		}
	}
	d := runDaemon(t, p)
	waitFor(t, "the panic recorded as a failure of council-press", func() bool {
		st, err := p.store.SourceState("council-press")
		return err == nil && st.ConsecutiveFailures == 1 && st.LastErrorKind == bot.KindPanic
	})
	waitFor(t, "the EEAS alerts", func() bool { return len(fake.Posts("C0EUDESK")) >= 2 })
	if !d.Ready() {
		t.Fatal("the daemon is no longer ready after a poll panicked")
	}
	if !strings.Contains(logs.String(), "parser bug on council-press") || !strings.Contains(logs.String(), "goroutine") {
		t.Errorf("the panic is not logged with its stack:\n%.3000s", logs.String())
	}
}

// While a poll of a source runs, another poll of it (its schedule ticking,
// or a reload that changes its URL, during the start-up poll) is skipped,
// never run alongside.
func TestDaemonNeverPollsASourceTwiceAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		schedule string
		second   func(t *testing.T, d *bot.Daemon, cfg *config.Config)
	}{
		{"schedule during start-up poll", "@every 1s", func(*testing.T, *bot.Daemon, *config.Config) {}},
		{"reload during start-up poll", "@every 15m", func(t *testing.T, d *bot.Daemon, cfg *config.Config) {
			next := *cfg
			next.Sources = append([]config.Source(nil), cfg.Sources...)
			next.Sources[0].URL += "?moved=1"
			if err := d.Reload(&next); err != nil {
				t.Error(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fixtures := councilAndEEAS(t, "council-press.rss")
			fake := slackfake.New(t)
			cfg := testConfig(fixtures)
			cfg.Sources = cfg.Sources[:1]
			cfg.Sources[0].Schedule = tc.schedule
			logger, logs := capturedLogger()
			p := newPipelineLogged(t, cfg, fixtures, t.TempDir(), fake, logger)
			var mu sync.Mutex
			running, overlapped := 0, false
			release := make(chan struct{})
			var once sync.Once
			p.bot.Poller.Observe = func(bot.PollResult, *sources.ReadResult) {
				mu.Lock()
				running++
				if running > 1 {
					overlapped = true
				}
				mu.Unlock()
				<-release // the first poll holds here until the test has seen what a second one does
				mu.Lock()
				running--
				mu.Unlock()
			}
			defer once.Do(func() { close(release) })
			d := runDaemon(t, p)
			waitFor(t, "the start-up poll", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return running == 1
			})
			tc.second(t, d, cfg)
			waitFor(t, "a second poll of the source to start or be skipped", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return overlapped || strings.Contains(logs.String(), "being polled already")
			})
			mu.Lock()
			defer mu.Unlock()
			if overlapped {
				t.Fatal("the source was polled twice at once")
			}
			once.Do(func() { close(release) })
		})
	}
}

// panicOnce is a Sender whose first Send panics, as a renderer bug would.
type panicOnce struct {
	bot.Sender
	once sync.Once
}

func (s *panicOnce) Send(ctx context.Context, target string, a policywire.Alert) (string, error) {
	s.once.Do(func() { panic("renderer bug") })
	return s.Sender.Send(ctx, target, a)
}

// A send that panics is a failed attempt: the alert is retried and
// delivered, once, and the others go on.
func TestPanickingSendIsRetried(t *testing.T) {
	fixtures := councilAndEEAS(t, "council-press.rss")
	fake := slackfake.New(t)
	cfg := testConfig(fixtures)
	p := newPipeline(t, cfg, fixtures, t.TempDir(), fake)
	p.bot.Dispatcher.Senders["slack"] = &panicOnce{Sender: p.bot.Dispatcher.Senders["slack"]}
	rep, err := p.bot.RunOnce(context.Background(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Undelivered) != 0 {
		t.Fatalf("undelivered: %+v", rep.Undelivered)
	}
	if got := titles(fake.Posts("C0EUDESK")); len(got) != 3 {
		t.Fatalf("posted %q, want the three alerts once each", got)
	}
}

// A source whose polls cannot be stored warns the admin channel like any
// failing source.
func TestUnstorablePollWarnsTheAdminChannel(t *testing.T) {
	fixtures := councilAndEEAS(t, "council-press.rss")
	fake := slackfake.New(t)
	cfg := testConfig(fixtures)
	cfg.Sources = cfg.Sources[:1]
	cfg.Channels = []config.Channel{
		{ID: strings.Repeat("c", 40<<10), Slack: "C0EUDESK"}, // no database can key by it
		{ID: "admin", Slack: "C0ADMIN", Sources: []string{"none"}},
	}
	cfg.Admin = "admin"
	p := newPipeline(t, cfg, fixtures, t.TempDir(), fake)
	runThisDaemon(t, &bot.Daemon{Bot: p.bot, Logger: p.bot.Poller.Logger, FailureThreshold: 1})
	waitFor(t, "a warning in the admin channel", func() bool {
		for _, post := range fake.Posts("C0ADMIN") {
			if strings.Contains(post.Text, "council-press") && strings.Contains(post.Text, "failed 1 times") {
				return true
			}
		}
		return false
	})
}
