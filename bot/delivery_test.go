package bot_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
	slacksender "github.com/policywire/policywire/bot/slack"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/store"
)

// outboxFixture is a real store whose outbox the tests fill directly, a
// fake Slack, and a dispatcher between them.
type outboxFixture struct {
	path  string
	store *store.Store
	slack *slackfake.Fake
	seq   int
}

func newOutboxFixture(t *testing.T) *outboxFixture {
	t.Helper()
	f := &outboxFixture{path: filepath.Join(t.TempDir(), "policywire.db"), slack: slackfake.New(t)}
	f.reopen(t)
	return f
}

// reopen opens the database file again (a new process after a crash).
func (f *outboxFixture) reopen(t *testing.T) {
	t.Helper()
	if f.store != nil {
		f.store.Close()
	}
	st, err := store.Open(f.path, store.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f.store = st
	t.Cleanup(func() { st.Close() })
}

// enqueue queues one alert per title for channel, as routing a channel
// with (digest) or without a digest does; it returns the titles.
func (f *outboxFixture) enqueue(t *testing.T, channel string, digest bool, n int) []string {
	t.Helper()
	var items []policywire.Item
	var titles []string
	base := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	for range n {
		f.seq++
		title := fmt.Sprintf("Council statement %d of the day", f.seq)
		url := fmt.Sprintf("https://www.consilium.europa.eu/en/press/%d/", f.seq)
		it := policywire.Item{Source: "council-press", GUID: url, URL: url, CanonicalURL: url, Title: title,
			Published: base.Add(time.Duration(f.seq) * time.Minute)}
		it.ID = policywire.Identity(it)
		items = append(items, it)
		titles = append(titles, title)
	}
	st, err := f.store.SourceState("council-press")
	if err != nil {
		t.Fatal(err)
	}
	st.FirstPollDone = true
	route := func(policywire.Item) []store.Route {
		return []store.Route{{Channel: channel, Digest: digest}}
	}
	if _, err := f.store.Ingest(store.Batch{Source: "council-press", SourceName: "Council of the EU", Items: items, State: st}, route); err != nil {
		t.Fatal(err)
	}
	return titles
}

func (f *outboxFixture) slackSender(loc *time.Location) *slacksender.Sender {
	return slacksender.New(slacksender.Options{Token: "xoxb-test", APIURL: f.slack.URL(), Location: loc,
		PaceInterval: time.Millisecond, SettleDelay: time.Millisecond})
}

func (f *outboxFixture) dispatcher(sender bot.Sender, logger *slog.Logger) *bot.Dispatcher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &bot.Dispatcher{Store: f.store, Senders: map[string]bot.Sender{"slack": sender}, Logger: logger, SendTimeout: 10 * time.Second}
}

// pending is the channel's rows still in the outbox (parked included).
func (f *outboxFixture) pending(t *testing.T, channel string) []store.OutboxRow {
	t.Helper()
	rows, err := f.store.Outbox(channel, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// alertCounts counts how often each title was posted to a Slack channel,
// as single alerts (first line of the fallback) and inside digests.
func alertCounts(posts []slackfake.Post, titles []string) map[string]int {
	got := map[string]int{}
	for _, p := range posts {
		for _, title := range titles {
			if strings.Contains(p.Text, title) || bytes.Contains(p.Blocks, []byte(title)) {
				got[title]++
			}
		}
	}
	return got
}

func checkOnce(t *testing.T, posts []slackfake.Post, titles []string) {
	t.Helper()
	counts := alertCounts(posts, titles)
	for _, title := range titles {
		if counts[title] != 1 {
			t.Errorf("%q posted %d times, want once", title, counts[title])
		}
	}
}

func TestDigestRowsOfAChannelThatNoLongerDigestsAreDeliveredAsAlerts(t *testing.T) {
	f := newOutboxFixture(t)
	// 40 rows queued while the channel had a digest: more than one
	// outbox read, so a scan that skips them never reaches the rest.
	titles := f.enqueue(t, "eu-desk", true, 40)
	titles = append(titles, f.enqueue(t, "eu-desk", false, 2)...)
	ch := config.Channel{ID: "eu-desk", Slack: "C0EUDESK"} // digest: removed
	d := f.dispatcher(f.slackSender(time.UTC), nil)
	if _, err := d.Step(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	posts := f.slack.Posts("C0EUDESK")
	if len(posts) != len(titles) {
		t.Fatalf("posted %d alerts, want %d (one per queued row)", len(posts), len(titles))
	}
	checkOnce(t, posts, titles)
	if rows := f.pending(t, "eu-desk"); len(rows) != 0 {
		t.Fatalf("%d rows left in the outbox", len(rows))
	}
}

func TestInstantRowsOfAChannelThatNowDigestsWaitForTheDigest(t *testing.T) {
	f := newOutboxFixture(t)
	titles := f.enqueue(t, "eu-desk", false, 3)
	ch := config.Channel{ID: "eu-desk", Slack: "C0EUDESK", Digest: "0 8 * * *"}
	d := f.dispatcher(f.slackSender(time.UTC), nil)
	if _, err := d.Step(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	if n := len(f.slack.Posts("C0EUDESK")); n != 0 {
		t.Fatalf("a digest channel posted %d single alerts before its digest", n)
	}
	n, err := d.FlushDigest(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("digest held %d rows, want 3", n)
	}
	posts := f.slack.Posts("C0EUDESK")
	if len(posts) != 1 {
		t.Fatalf("%d posts, want one digest", len(posts))
	}
	checkOnce(t, posts, titles)
}

func TestRunOnceReportsDigestRowsOfAnInstantChannelAsUndelivered(t *testing.T) {
	fixtures := councilAndEEAS(t, "council-press.rss")
	fake := slackfake.New(t)
	cfg := testConfig(fixtures)
	cfg.Sources = cfg.Sources[:0]
	fake.ChannelError("C0EUDESK", "channel_not_found")
	p := newPipeline(t, cfg, fixtures, t.TempDir(), fake)
	f := &outboxFixture{store: p.store, slack: fake}
	f.enqueue(t, "eu-desk", true, 2) // left from when eu-desk had a digest
	rep, err := p.bot.RunOnce(context.Background(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Undelivered) != 1 || rep.Undelivered[0].Parked != 2 {
		t.Fatalf("undelivered = %+v, want the 2 rows parked on channel_not_found", rep.Undelivered)
	}
}

// crashAfterDigest posts a digest, then closes the database before the
// dispatcher can record it: what a crash between the two looks like.
type crashAfterDigest struct {
	*slacksender.Sender
	store *store.Store
}

func (c crashAfterDigest) SendDigest(ctx context.Context, target string, d policywire.Digest) ([]string, error) {
	refs, err := c.Sender.SendDigest(ctx, target, d)
	c.store.Close()
	return refs, err
}

func TestSlackDigestIsNotPostedTwiceAfterACrashBeforeItWasRecorded(t *testing.T) {
	f := newOutboxFixture(t)
	ch := config.Channel{ID: "eu-desk", Slack: "C0EUDESK", Digest: "0 8 * * *"}
	first := postDigestThenCrash(t, f, ch)

	// The next process: same database, a new sender with no memory, and
	// one more item queued before the digest runs again.
	f.reopen(t)
	later := f.enqueue(t, "eu-desk", true, 1)
	d := f.dispatcher(f.slackSender(time.UTC), nil)
	if _, err := d.FlushDigest(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	posts := f.slack.Posts("C0EUDESK")
	checkOnce(t, posts, append(first, later...))
	if rows := f.pending(t, "eu-desk"); len(rows) != 0 {
		t.Fatalf("%d rows left in the outbox", len(rows))
	}
}

// failRecording posts an alert, then closes the database so that
// recording the delivery fails while the process goes on.
type failRecording struct {
	*slacksender.Sender
	store *store.Store
	once  sync.Once
}

func (c *failRecording) Send(ctx context.Context, target string, a policywire.Alert) (string, error) {
	ts, err := c.Sender.Send(ctx, target, a)
	c.once.Do(func() { c.store.Close() })
	return ts, err
}

func TestSlackAlertIsNotPostedTwiceWhenRecordingTheDeliveryFailed(t *testing.T) {
	f := newOutboxFixture(t)
	titles := f.enqueue(t, "eu-desk", false, 1)
	ch := config.Channel{ID: "eu-desk", Slack: "C0EUDESK"}
	sender := &failRecording{Sender: f.slackSender(time.UTC), store: f.store}
	d := f.dispatcher(sender, nil)
	if _, err := d.Step(context.Background(), ch); err == nil {
		t.Fatal("recording the delivery on a closed database succeeded")
	}
	// The database comes back (the disk had filled up, say); the same
	// process, the same dispatcher and sender, try again.
	f.reopen(t)
	d.Store = f.store
	if _, err := d.Step(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	checkOnce(t, f.slack.Posts("C0EUDESK"), titles)
	if rows := f.pending(t, "eu-desk"); len(rows) != 0 {
		t.Fatalf("%d rows left in the outbox", len(rows))
	}
}

// logRecorder keeps the messages logged, for tests that wait on them.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }
func (l *logRecorder) has(prefix string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

func TestChangingAChannelsTargetMidSendPostsToOneTargetOnly(t *testing.T) {
	f := newOutboxFixture(t)
	titles := f.enqueue(t, "eu-desk", false, 1)
	logs := &logRecorder{}
	// The post to the old channel is held until the new configuration is
	// being put in force: either the dispatcher says it waits for that
	// send, or a request for the new channel arrives.
	entered := make(chan struct{})
	release := make(chan struct{})
	var releaseOnce, enterOnce sync.Once
	f.slack.Respond(func(r *http.Request, form url.Values) (int, string, bool) {
		switch form.Get("channel") {
		case "C0OLD":
			if r.URL.Path == "/chat.postMessage" || strings.HasSuffix(r.URL.Path, "chat.postMessage") {
				enterOnce.Do(func() { close(entered) })
				<-release
			}
		case "C0NEW":
			releaseOnce.Do(func() { close(release) })
		}
		return 0, "", false
	})
	d := f.dispatcher(f.slackSender(time.UTC), slog.New(logs))
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); d.Wait() }()
	d.Start(ctx, []config.Channel{{ID: "eu-desk", Slack: "C0OLD"}})
	d.Wake()
	<-entered
	reloaded := make(chan struct{})
	go func() {
		defer close(reloaded)
		d.SetChannels(ctx, []config.Channel{{ID: "eu-desk", Slack: "C0NEW"}})
	}()
	go func() {
		for !logs.has("waiting for the channel's delivery in flight") {
			select {
			case <-release:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
		releaseOnce.Do(func() { close(release) })
	}()
	<-reloaded
	waitFor(t, "the outbox to drain", func() bool { return len(f.pending(t, "eu-desk")) == 0 })
	posts := append(f.slack.Posts("C0OLD"), f.slack.Posts("C0NEW")...)
	checkOnce(t, posts, titles)
}

// testClock is a settable time source.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}

func TestAlertSlackKeepsRefusingIsParkedAndTheChannelFlows(t *testing.T) {
	f := newOutboxFixture(t)
	titles := f.enqueue(t, "eu-desk", false, 3)
	poison := titles[0]
	// Slack refuses the first alert every time with an error code the
	// sender does not know; the other alerts are fine.
	f.slack.Respond(func(r *http.Request, form url.Values) (int, string, bool) {
		if strings.HasSuffix(r.URL.Path, "chat.postMessage") && form.Get("channel") == "C0EUDESK" && strings.Contains(form.Get("text"), poison) {
			return http.StatusOK, `{"ok":false,"error":"unexpected_refusal"}`, true
		}
		return 0, "", false
	})
	clock := &testClock{t: time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)}
	cfg := &config.Config{
		Location: time.UTC, Admin: "ops",
		Slack: &config.Slack{BotToken: "xoxb-test"},
		Channels: []config.Channel{
			{ID: "eu-desk", Slack: "C0EUDESK"},
			{ID: "ops", Slack: "C0OPS"},
		},
	}
	b, err := bot.New(bot.Options{Config: cfg, Store: f.store, Now: clock.Now,
		Senders: map[string]bot.Sender{"slack": f.slackSender(time.UTC)}})
	if err != nil {
		t.Fatal(err)
	}
	ch := cfg.Channels[0]
	for step := 0; ; step++ {
		if step > 50 {
			t.Fatal("the channel never finished: the refused alert holds it up")
		}
		next, err := b.Dispatcher.Step(context.Background(), ch)
		if err != nil {
			t.Fatal(err)
		}
		if next.IsZero() {
			break
		}
		clock.Set(next)
	}
	checkOnce(t, f.slack.Posts("C0EUDESK"), titles[1:])
	if n := alertCounts(f.slack.Posts("C0EUDESK"), []string{poison})[poison]; n != 0 {
		t.Fatalf("the refused alert shows %d times in the channel", n)
	}
	rows := f.pending(t, "eu-desk")
	if len(rows) != 1 || !rows[0].Parked || rows[0].Attempts != bot.DefaultRejectLimit-1 {
		t.Fatalf("outbox = %+v, want the refused alert parked after %d tries", rows, bot.DefaultRejectLimit)
	}
	rep, err := bot.Health(cfg, f.store, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c := rep.Channels[0]; c.Parked != 1 || !strings.Contains(c.Reason, "unexpected_refusal") {
		t.Fatalf("health of eu-desk = %+v, want 1 parked naming the refusal", c)
	}
	notices := f.slack.Posts("C0OPS")
	if len(notices) != 1 || !strings.Contains(notices[0].Text, "eu-desk") || !strings.Contains(notices[0].Text, "unexpected_refusal") {
		t.Fatalf("admin notices = %+v, want one naming the channel and the refusal", notices)
	}
}

func TestDigestSlackKeepsRefusingIsParkedAndLaterDigestsFlow(t *testing.T) {
	f := newOutboxFixture(t)
	refused := f.enqueue(t, "eu-desk", true, 2)
	f.slack.Respond(func(r *http.Request, form url.Values) (int, string, bool) {
		if strings.HasSuffix(r.URL.Path, "chat.postMessage") && strings.Contains(form.Get("blocks"), refused[0]) {
			return http.StatusOK, `{"ok":false,"error":"unexpected_refusal"}`, true
		}
		return 0, "", false
	})
	ch := config.Channel{ID: "eu-desk", Slack: "C0EUDESK", Digest: "0 8 * * *"}
	var parked []string
	d := f.dispatcher(f.slackSender(time.UTC), nil)
	d.OnPark = func(_ context.Context, channel, title, reason string) { parked = append(parked, channel+": "+reason) }
	for range bot.DefaultRejectLimit {
		if _, err := d.FlushDigest(context.Background(), ch); err == nil {
			t.Fatal("a refused digest was taken as delivered")
		}
	}
	if len(parked) != 1 || !strings.Contains(parked[0], "unexpected_refusal") {
		t.Fatalf("parked = %q, want the digest parked once, naming the refusal", parked)
	}
	later := f.enqueue(t, "eu-desk", true, 1)
	if n, err := d.FlushDigest(context.Background(), ch); err != nil || n != 1 {
		t.Fatalf("next digest: %d rows, %v; want the new row delivered", n, err)
	}
	checkOnce(t, f.slack.Posts("C0EUDESK"), later)
	for _, r := range f.pending(t, "eu-desk") {
		if !r.Parked {
			t.Fatalf("row %q still pending, want parked", r.Alert.Item.Title)
		}
	}
}

func TestDigestToAChangedTargetWaitsForTheDigestInFlight(t *testing.T) {
	f := newOutboxFixture(t)
	titles := f.enqueue(t, "eu-desk", true, 2)
	logs := &logRecorder{}
	entered := make(chan struct{})
	release := make(chan struct{})
	var releaseOnce, enterOnce sync.Once
	f.slack.Respond(func(r *http.Request, form url.Values) (int, string, bool) {
		switch form.Get("channel") {
		case "C0OLD":
			if strings.HasSuffix(r.URL.Path, "chat.postMessage") {
				enterOnce.Do(func() { close(entered) })
				<-release
			}
		case "C0NEW":
			releaseOnce.Do(func() { close(release) })
		}
		return 0, "", false
	})
	d := f.dispatcher(f.slackSender(time.UTC), slog.New(logs))
	old := config.Channel{ID: "eu-desk", Slack: "C0OLD", Digest: "0 8 * * *"}
	changed := config.Channel{ID: "eu-desk", Slack: "C0NEW", Digest: "0 8 * * *"}
	errs := make(chan error, 2)
	go func() { _, err := d.FlushDigest(context.Background(), old); errs <- err }()
	<-entered
	// The replaced schedule's flush is still posting when the new
	// schedule's flush, to the new target, begins.
	go func() { _, err := d.FlushDigest(context.Background(), changed); errs <- err }()
	go func() {
		for !logs.has("waiting for the channel's digest in flight") {
			select {
			case <-release:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
		releaseOnce.Do(func() { close(release) })
	}()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	checkOnce(t, append(f.slack.Posts("C0OLD"), f.slack.Posts("C0NEW")...), titles)
}

// A digest posted but not recorded before a crash, and a reload that then
// turns the channel instant: its rows are not posted again one by one, the
// digest is finished (found posted) and only later rows go out as alerts.
func TestSlackDigestLeftUnrecordedIsNotPostedAgainWhenTheChannelTurnsInstant(t *testing.T) {
	f := newOutboxFixture(t)
	first := postDigestThenCrash(t, f, config.Channel{ID: "eu-desk", Slack: "C0EUDESK", Digest: "0 8 * * *"})

	f.reopen(t)
	later := f.enqueue(t, "eu-desk", false, 1)
	instant := config.Channel{ID: "eu-desk", Slack: "C0EUDESK"}
	d := f.dispatcher(f.slackSender(time.UTC), nil)
	if _, err := d.Step(context.Background(), instant); err != nil {
		t.Fatal(err)
	}
	posts := f.slack.Posts("C0EUDESK")
	checkOnce(t, posts, append(first, later...))
	if len(posts) != 2 {
		t.Fatalf("%d posts, want the digest and one alert", len(posts))
	}
	if rows := f.pending(t, "eu-desk"); len(rows) != 0 {
		t.Fatalf("%d rows left in the outbox", len(rows))
	}
}

// postDigestThenCrash queues three items for the digest channel ch and
// posts their digest, which the database then fails to record, as a crash
// between the two would leave it. It returns the items' titles.
func postDigestThenCrash(t *testing.T, f *outboxFixture, ch config.Channel) []string {
	t.Helper()
	titles := f.enqueue(t, ch.ID, true, 3)
	d := f.dispatcher(crashAfterDigest{f.slackSender(time.UTC), f.store}, nil)
	if _, err := d.FlushDigest(context.Background(), ch); err == nil {
		t.Fatal("recording the digest on a closed database succeeded")
	}
	if n := len(f.slack.Posts(ch.Slack)); n != 1 {
		t.Fatalf("first digest: %d posts, want 1", n)
	}
	return titles
}
