package bot_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire/bot"
	slacksender "github.com/policywire/policywire/bot/slack"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/internal/testenv"
	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
	"github.com/policywire/policywire/store"
)

// pipeline is one bot wired to a fixture server and a fake Slack.
type pipeline struct {
	cfg      *config.Config
	store    *store.Store
	slack    *slackfake.Fake
	fixtures *testenv.FixtureServer
	bot      *bot.Bot
}

func testConfig(fixtures *testenv.FixtureServer) *config.Config {
	loc, _ := time.LoadLocation("Europe/Brussels")
	return &config.Config{
		Timezone: "Europe/Brussels", Location: loc,
		Fetch:    config.Fetch{UserAgent: "policywire-test", Timeout: 5 * time.Second, MaxBytes: 10 << 20, Concurrency: 4, AllowPrivate: true},
		Defaults: config.Defaults{Schedule: "@every 15m"},
		Topics: []config.Topic{
			{ID: "digital-diplomacy", Query: `"digital diplomacy" OR "cyber diplomacy" OR "tech ambassador"`},
			{ID: "cyber", Query: `cyber* AND (security OR resilience OR attack OR attacks OR ransomware)`},
		},
		Sources: []config.Source{
			{ID: "council-press", Name: "Council of the EU – press releases", Type: config.TypeFeed, URL: fixtures.URL + "/council.rss", Schedule: "@every 15m"},
			{ID: "eeas-press", Name: "EEAS – press material", Type: config.TypeHTML, URL: fixtures.URL + "/eeas.html", Schedule: "@every 15m",
				HTML: &config.HTMLSource{Item: ".view-content .card", Title: "h3.card-title a", Link: "h3.card-title a@href", Date: ".card-footer", DateFormat: "02.01.2006", Summary: ".card-text"}},
		},
		Slack:    &config.Slack{BotToken: "xoxb-test", Command: "/policywire"},
		Channels: []config.Channel{{ID: "eu-desk", Slack: "C0EUDESK", Topics: []string{"digital-diplomacy"}}},
	}
}

// councilAndEEAS serves a Council fixture at /council.rss and the EEAS
// listing at /eeas.html, as testConfig expects.
func councilAndEEAS(t *testing.T, council string) *testenv.FixtureServer {
	t.Helper()
	fixtures := testenv.NewFixtureServer(t)
	fixtures.Set("/council.rss", testenv.SourceFixture(t, council), testenv.ContentTypeFor(council))
	fixtures.Set("/eeas.html", testenv.SourceFixture(t, "eeas-press.html"), testenv.ContentTypeFor(".html"))
	return fixtures
}

func newPipeline(t *testing.T, cfg *config.Config, fixtures *testenv.FixtureServer, dir string, fake *slackfake.Fake) *pipeline {
	t.Helper()
	return newPipelineLogged(t, cfg, fixtures, dir, fake, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// newPipelineLogged is newPipeline with the bot logging to logger.
func newPipelineLogged(t *testing.T, cfg *config.Config, fixtures *testenv.FixtureServer, dir string, fake *slackfake.Fake, logger *slog.Logger) *pipeline {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "policywire.db"), store.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fetcher := sources.NewFetcher(wiring.FetcherOptions(cfg.Fetch))
	t.Cleanup(fetcher.Close)
	b, err := bot.New(bot.Options{
		Config: cfg, Store: st, Fetcher: fetcher, Logger: logger, MaxAttempts: 3,
		Senders: map[string]bot.Sender{"slack": slacksender.New(slacksender.Options{
			Token: "xoxb-test", APIURL: fake.URL(), Location: cfg.Location, PaceInterval: time.Millisecond, SettleDelay: time.Millisecond,
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &pipeline{cfg: cfg, store: st, slack: fake, fixtures: fixtures, bot: b}
}

func titles(posts []slackfake.Post) []string {
	var out []string
	for _, p := range posts {
		out = append(out, strings.SplitN(p.Text, " — ", 2)[0])
	}
	return out
}

func TestRunOnceDeliversEachStoryOnceWithAlsoReportedBy(t *testing.T) {
	fixtures := councilAndEEAS(t, "council-press.rss")
	fake := slackfake.New(t)
	cfg := testConfig(fixtures)
	p := newPipeline(t, cfg, fixtures, t.TempDir(), fake)

	rep, err := p.bot.RunOnce(context.Background(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Undelivered) != 0 {
		t.Fatalf("undelivered: %+v", rep.Undelivered)
	}
	for _, r := range rep.Polls {
		if r.Err != nil {
			t.Fatalf("poll %s failed: %v", r.Source, r.Err)
		}
	}
	posts := fake.Posts("C0EUDESK")
	got := titles(posts)
	want := map[string]bool{
		"Digital diplomacy: Council approves conclusions on a stronger EU voice in global tech governance":   true,
		"EU-Japan Digital Partnership Council: joint statement on secure connectivity and digital diplomacy": true,
		"EU Digital Diplomacy Office opens in San Francisco":                                                 true,
	}
	if len(got) != len(want) {
		t.Fatalf("posted %d alerts, want %d: %q", len(got), len(want), got)
	}
	for _, g := range got {
		if !want[g] {
			t.Errorf("unexpected alert %q", g)
		}
	}
	// The EU-Japan story came from both sources: one alert naming the other.
	for _, post := range posts {
		if strings.HasPrefix(post.Text, "EU-Japan") {
			if !strings.Contains(string(post.Blocks), "Also reported by") {
				t.Errorf("EU-Japan alert lacks 'Also reported by': %s", post.Blocks)
			}
		}
	}
	// A second pass finds nothing new and posts nothing.
	if _, err := p.bot.RunOnce(context.Background(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Posts("C0EUDESK")); n != len(want) {
		t.Fatalf("second run posted again: %d posts", n)
	}
}

func TestRunOnceParksChannelNotFoundAndReportsIt(t *testing.T) {
	fixtures := councilAndEEAS(t, "council-press.rss")
	fake := slackfake.New(t)
	fake.ChannelError("C0EUDESK", "channel_not_found")
	cfg := testConfig(fixtures)
	p := newPipeline(t, cfg, fixtures, t.TempDir(), fake)
	rep, err := p.bot.RunOnce(context.Background(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Undelivered) != 1 || rep.Undelivered[0].Parked != 3 || !strings.Contains(rep.Undelivered[0].Reason, "channel_not_found") {
		t.Fatalf("want 3 alerts parked with channel_not_found, got %+v", rep.Undelivered)
	}
	health, err := bot.Health(cfg, p.store, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if health.Channels[0].Parked != 3 {
		t.Fatalf("sources report does not show the parked alerts: %+v", health.Channels)
	}
}

func TestFailingSourceIsRecordedAndOthersStillDeliver(t *testing.T) {
	fixtures := councilAndEEAS(t, "council-challenge.html")
	fake := slackfake.New(t)
	cfg := testConfig(fixtures)
	p := newPipeline(t, cfg, fixtures, t.TempDir(), fake)
	rep, err := p.bot.RunOnce(context.Background(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var council bot.PollResult
	for _, r := range rep.Polls {
		if r.Source == "council-press" {
			council = r
		}
	}
	if council.Outcome != bot.OutcomeFailed || sources.KindOf(council.Err) != sources.KindUnexpected {
		t.Fatalf("challenge page: want an unexpected-page failure, got %v (%v)", council.Outcome, council.Err)
	}
	st, err := p.store.SourceState("council-press")
	if err != nil {
		t.Fatal(err)
	}
	if st.ConsecutiveFailures != 1 || !strings.Contains(st.LastError, "Just a moment") || !st.NextAllowed.After(time.Now()) {
		t.Fatalf("failure not recorded with backoff: %+v", st)
	}
	if n := len(fake.Posts("C0EUDESK")); n != 2 {
		t.Fatalf("the EEAS alerts should still arrive: %d posts", n)
	}
}

func TestRetentionPrunesOldItemsButNeverAlertsThemAgain(t *testing.T) {
	fixtures := councilAndEEAS(t, "council-press.rss")
	fake := slackfake.New(t)
	cfg := testConfig(fixtures)
	cfg.Channels[0].Topics = nil // every item, so pruned items would show
	// The fixtures are dated from late September to early November 2026.
	cutoff := time.Date(2026, 10, 18, 0, 0, 0, 0, time.UTC)
	cfg.Defaults.Retention = time.Since(cutoff)
	p := newPipeline(t, cfg, fixtures, t.TempDir(), fake)
	if _, err := p.bot.RunOnce(context.Background(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	posted := len(fake.Posts("C0EUDESK"))
	n, err := p.store.ItemCount()
	if err != nil {
		t.Fatal(err)
	}
	// 6 Council items and 5 EEAS cards, one story shared: those dated
	// before the cutoff are gone from the archive.
	if n == 0 || n >= 11 {
		t.Fatalf("archive holds %d items after pruning; want fewer than 11 and more than 0", n)
	}
	// The feeds still list the pruned items: no alert comes back.
	fixtures.Set("/council.rss", append(testenv.SourceFixture(t, "council-press.rss"), '\n'), testenv.ContentTypeFor(".rss"))
	if _, err := p.bot.RunOnce(context.Background(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if again := len(fake.Posts("C0EUDESK")); again != posted {
		t.Fatalf("pruned items were alerted again: %d posts, then %d", posted, again)
	}
}

func TestTruncatedFeedKeepsItsItemsAndWarnsInSourceHealth(t *testing.T) {
	fixtures := councilAndEEAS(t, "council-press.rss")
	cut, err := os.ReadFile(filepath.Join("..", "sources", "testdata", "feeds", "truncated.rss"))
	if err != nil {
		t.Fatal(err)
	}
	fixtures.Set("/council.rss", cut, testenv.ContentTypeFor(".rss"))
	fake := slackfake.New(t)
	cfg := testConfig(fixtures)
	p := newPipeline(t, cfg, fixtures, t.TempDir(), fake)
	if _, err := p.bot.RunOnce(context.Background(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := p.store.SourceState("council-press")
	if err != nil {
		t.Fatal(err)
	}
	if st.ConsecutiveFailures != 0 || st.Items != 12 {
		t.Fatalf("a feed cut short must succeed with its 12 complete items: %+v", st)
	}
	health, err := bot.Health(cfg, p.store, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var council bot.SourceReport
	for _, s := range health.Sources {
		if s.ID == "council-press" {
			council = s
		}
	}
	if council.Status != "ok" || !strings.HasPrefix(council.Warning, "feed truncated after item 12; item 13 dropped") {
		t.Fatalf("source health: %+v", council)
	}
	var out strings.Builder
	if err := bot.WriteHealth(&out, health, cfg.Location); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "warning: feed truncated after item 12") {
		t.Errorf("sources table lacks the warning:\n%s", out.String())
	}

	// The next whole read clears it.
	fixtures.Set("/council.rss", testenv.SourceFixture(t, "council-press.rss"), testenv.ContentTypeFor(".rss"))
	if _, err := p.bot.RunOnce(context.Background(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if st, err = p.store.SourceState("council-press"); err != nil || st.LastWarning != "" {
		t.Fatalf("warning after a whole read: %q, %v", st.LastWarning, err)
	}
}
