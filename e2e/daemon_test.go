package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/internal/testenv"
	"github.com/policywire/policywire/store"
)

// isPoll matches the one log line of a poll of source.
func isPoll(source string) func(e2eharness.LogRecord) bool {
	return func(r e2eharness.LogRecord) bool { return r.Msg() == "poll" && r.Str("source") == source }
}

// stop sends SIGTERM and expects a clean exit within 10 s.
func stop(t *testing.T, p *e2eharness.Proc) time.Duration {
	t.Helper()
	p.Signal(syscall.SIGTERM)
	code, took := p.Wait(10 * time.Second)
	if code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0", code)
	}
	return took
}

// TestDaemonNewItemArrivesWithinOnePeriod: while the daemon runs, the feed
// gains an item; its alert reaches Slack within one schedule period plus
// 2 s. Every poll is one log line with source, outcome, new items and
// duration, and there is exactly one line per request the source served.
func TestDaemonNewItemArrivesWithinOnePeriod(t *testing.T) {
	t.Parallel()
	const period = 2 * time.Second
	slack := slackfake.New(t)
	fx, items := feedServer(t, "Digital partnership council", 2)
	env := newEnv(t)
	env.WriteConfig(setup{
		dataDir: env.DataDir(), slackURL: slack.URL(),
		sources:  []source{{id: "partners", url: fx.URL + "/feed.rss", schedule: "@every 2s"}},
		channels: []channel{{id: "eu-desk", slack: "C0DESK"}},
	}.yaml())
	p := env.Start("run")
	e2eharness.Eventually(t, 10*time.Second, "the first alerts", func() bool { return len(slack.Posts("C0DESK")) == len(items) })
	p.WaitLog(10*time.Second, "a poll that finds the feed unchanged", func(r e2eharness.LogRecord) bool {
		return isPoll("partners")(r) && r.Str("outcome") == "not-modified"
	})

	added := e2eharness.FeedItem{
		Title: "Digital partnership council 3", Link: "https://news.example.org/partners/3",
		Description: "A third meeting on cyber diplomacy.", Published: time.Now().Truncate(time.Second),
	}
	items = append(items, added)
	fx.Set("/feed.rss", e2eharness.RSS("Partners", fx.URL, items), e2eharness.RSSContentType)
	changed := time.Now()
	e2eharness.Eventually(t, period+4*time.Second, "the new item's alert", func() bool { return len(slack.Posts("C0DESK")) == len(items) })
	posts := slack.Posts("C0DESK")
	if took := posts[len(posts)-1].At.Sub(changed); took > period+2*time.Second {
		t.Errorf("the new item's alert took %s, want at most one period (%s) plus 2 s", took.Round(time.Millisecond), period)
	}
	exactlyOnce(t, posts, items)
	stop(t, p)

	polls := p.FindLogs(isPoll("partners"))
	if len(polls) < 2 {
		t.Fatalf("%d poll lines, want at least 2", len(polls))
	}
	if served := fx.Requests("/feed.rss"); len(polls) != served {
		t.Errorf("%d poll lines for %d requests served: want one line per poll", len(polls), served)
	}
	outcomes := map[string]int{}
	for _, r := range polls {
		for _, key := range []string{"outcome", "new", "duration"} {
			if !r.Has(key) {
				t.Errorf("poll line without %q: %v", key, r)
			}
		}
		outcomes[r.Str("outcome")]++
	}
	if outcomes["new"] != 2 || outcomes["not-modified"] == 0 {
		t.Errorf("poll outcomes %v, want 2 new (start, added item) and the rest not-modified", outcomes)
	}
}

// TestDaemonReload: a broken config sent with SIGHUP is refused with its
// errors in the log while the running config keeps working; a fixed one
// sent with SIGHUP adds a source whose alert arrives; and a plain write of
// the config file, with no signal, adds another.
func TestDaemonReload(t *testing.T) {
	t.Parallel()
	slack := slackfake.New(t)
	fx := testenv.NewFixtureServer(t)
	serve := func(path, prefix string, n int) []e2eharness.FeedItem {
		items := e2eharness.NumberedItems(prefix, "https://news.example.org"+path, n, recent())
		fx.Set(path, e2eharness.RSS(prefix, fx.URL, items), e2eharness.RSSContentType)
		return items
	}
	first := serve("/first.rss", "First source story", 1)
	second := serve("/second.rss", "Second source story", 1)
	third := serve("/third.rss", "Third source story", 1)
	env := newEnv(t)

	// The config the daemon reads is a link to a file in another folder:
	// editing that file is invisible to the folder watch, so only SIGHUP
	// can make the daemon read it.
	real := filepath.Join(env.Dir, "conf", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(real), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, env.ConfigPath()); err != nil {
		t.Fatal(err)
	}
	writeReal := func(yaml string) {
		t.Helper()
		if err := os.WriteFile(real+".tmp", []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(real+".tmp", real); err != nil {
			t.Fatal(err)
		}
	}
	cfg := setup{
		dataDir: env.DataDir(), slackURL: slack.URL(),
		topics:   map[string]string{"none": `title:"no headline says this"`},
		sources:  []source{{id: "first", url: fx.URL + "/first.rss", schedule: "@every 1s"}},
		channels: []channel{{id: "eu-desk", slack: "C0DESK"}, {id: "ops", slack: "C0ADMIN", topics: []string{"none"}}},
		admin:    "ops",
	}
	writeReal(cfg.yaml())
	p := env.Start("run")
	e2eharness.Eventually(t, 10*time.Second, "the first source's alert", func() bool { return len(slack.Posts("C0DESK")) == 1 })

	// Broken: an unknown key and a schedule that does not parse.
	broken := cfg
	broken.sources = append(append([]source(nil), cfg.sources...), source{id: "second", url: fx.URL + "/second.rss", schedule: "every two seconds"})
	writeReal(strings.Replace(broken.yaml(), "timezone:", "colour: blue\ntimezone:", 1))
	p.Signal(syscall.SIGHUP)
	refused := p.WaitLog(10*time.Second, "the refused reload", func(r e2eharness.LogRecord) bool {
		return strings.HasPrefix(r.Msg(), "config reload refused")
	})
	errText := refused.Str("err")
	for _, want := range []string{"config.yaml:", "colour", "every two seconds"} {
		if !strings.Contains(errText, want) {
			t.Errorf("the refused reload's log does not name %q: %s", want, errText)
		}
	}
	e2eharness.Eventually(t, 10*time.Second, "the refused reload on the admin channel", func() bool { return len(slack.Posts("C0ADMIN")) == 1 })
	if text := slack.Posts("C0ADMIN")[0].Text; !strings.Contains(text, "reload refused") || !strings.Contains(text, "colour") {
		t.Errorf("admin notice of the refused reload: %q", text)
	}
	// The old config still runs: the first source gains an item and it arrives.
	more := append(first, e2eharness.FeedItem{Title: "First source story 2", Link: "https://news.example.org/first.rss/2", Published: time.Now().Truncate(time.Second)})
	fx.Set("/first.rss", e2eharness.RSS("First", fx.URL, more), e2eharness.RSSContentType)
	e2eharness.Eventually(t, 10*time.Second, "the first source's new alert under the old config", func() bool { return len(slack.Posts("C0DESK")) == 2 })
	if n := fx.Requests("/second.rss"); n != 0 {
		t.Errorf("the refused config's source was polled %d times", n)
	}

	// Fixed, by SIGHUP: the second source comes in.
	fixed := cfg
	fixed.sources = append(append([]source(nil), cfg.sources...), source{id: "second", url: fx.URL + "/second.rss", schedule: "@every 1s"})
	writeReal(fixed.yaml())
	p.Signal(syscall.SIGHUP)
	e2eharness.Eventually(t, 10*time.Second, "the second source's alert after SIGHUP", func() bool { return len(slack.Posts("C0DESK")) == 3 })

	// Written in place of the link, no signal: the watch sees it.
	watched := fixed
	watched.sources = append(append([]source(nil), fixed.sources...), source{id: "third", url: fx.URL + "/third.rss", schedule: "@every 1s"})
	env.WriteConfig(watched.yaml())
	e2eharness.Eventually(t, 10*time.Second, "the third source's alert after a file write", func() bool { return len(slack.Posts("C0DESK")) == 4 })

	exactlyOnce(t, slack.Posts("C0DESK"), append(append(more, second...), third...))
	if n := len(p.FindLogs(func(r e2eharness.LogRecord) bool { return r.Msg() == "config reloaded" })); n != 2 {
		t.Errorf("%d reloads logged, want 2 (SIGHUP, file write)", n)
	}
	stop(t, p)
}

// TestDaemonSIGTERMLosesNothing: Slack takes the first post and never
// answers, so the alerts stay pending; SIGTERM ends the daemon with exit 0
// within 10 s. Restarted with Slack healthy, every alert arrives exactly
// once, the one whose answer was lost included.
func TestDaemonSIGTERMLosesNothing(t *testing.T) {
	t.Parallel()
	slack := slackfake.New(t)
	slack.HangAfterPost(1)
	fx, items := feedServer(t, "Ransomware sanctions update", 3)
	env := newEnv(t)
	env.WriteConfig(setup{
		dataDir: env.DataDir(), slackURL: slack.URL(),
		sources:  []source{{id: "sanctions", url: fx.URL + "/feed.rss", schedule: "@every 1h"}},
		channels: []channel{{id: "eu-desk", slack: "C0DESK"}},
	}.yaml())
	p := env.Start("run")
	e2eharness.Eventually(t, 10*time.Second, "the first post to hang", func() bool { return slack.Calls("chat.postMessage") == 1 })
	took := stop(t, p)
	t.Logf("SIGTERM with a post in flight: exit after %s", took.Round(time.Millisecond))
	if n := len(slack.Posts("C0DESK")); n != 1 {
		t.Fatalf("%d posts before the restart, want the 1 whose answer was withheld", n)
	}

	p = env.Start("run")
	e2eharness.Eventually(t, 15*time.Second, "every alert after the restart", func() bool {
		return len(postedTitles(slack.Posts("C0DESK"), items)) == len(items)
	})
	e2eharness.Eventually(t, 15*time.Second, "the outbox to drain", func() bool { return outboxDrained(env) })
	exactlyOnce(t, slack.Posts("C0DESK"), items)
	stop(t, p)
}

// scrape reads /metrics and parses it as Prometheus text.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse as Prometheus text: %v", err)
	}
	return fams
}

// freeLoopbackAddr is a loopback address with a port free right now.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// sample is the value of the family's sample whose labels include want.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	total, found := 0.0, false
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total, found
}

// TestDaemonMetricsAndReadiness: /readyz answers 503 while the daemon is
// starting (here: rebuilding a deleted search index over 1000 archived
// items) and 200 once the schedule is set; /metrics parses as Prometheus
// text, counts the archive, and its fetch counter moves with each poll.
func TestDaemonMetricsAndReadiness(t *testing.T) {
	t.Parallel()
	const archived = 1000
	fx, _ := feedServer(t, "Archive entry", archived)
	env := newEnv(t)
	cfg := setup{
		dataDir: env.DataDir(), listen: true,
		topics:   map[string]string{"none": `title:"no headline says this"`},
		sources:  []source{{id: "archive", url: fx.URL + "/feed.rss", schedule: "@every 1s"}},
		channels: []channel{{id: "quiet", slack: "C0QUIET", topics: []string{"none"}}},
		slackURL: "http://127.0.0.1:9/",
	}
	env.WriteConfig(cfg.yaml())
	if r := env.Run(60*time.Second, "run", "--once"); r.Code != 0 {
		t.Fatalf("filling the archive failed\n%s", r)
	}
	if err := os.RemoveAll(filepath.Join(env.DataDir(), "index")); err != nil {
		t.Fatal(err)
	}

	// A known port, so /readyz is asked from the moment the process starts.
	cfg.listenAddr = freeLoopbackAddr(t)
	env.WriteConfig(cfg.yaml())
	p := env.Start("run")
	base := "http://" + cfg.listenAddr
	var codes []int // each change of answer; 0 is a refused connection
	e2eharness.Eventually(t, 30*time.Second, "/readyz to answer 200", func() bool {
		code, _ := e2eharness.Get(base + "/readyz")
		if len(codes) == 0 || codes[len(codes)-1] != code {
			codes = append(codes, code)
		}
		return code == http.StatusOK
	})
	if codes[0] == 0 {
		codes = codes[1:]
	}
	t.Logf("/readyz answered %v once the port was open", codes)
	if len(codes) != 2 || codes[0] != http.StatusServiceUnavailable {
		t.Errorf("/readyz answered %v from the moment the port opened, want 503 then 200", codes)
	}
	if code, _ := e2eharness.Get(base + "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}

	p.WaitLog(10*time.Second, "the first poll", isPoll("archive"))
	fams := scrape(t, base)
	if n, _ := sample(fams, "policywire_archive_items", nil); n != archived {
		t.Errorf("policywire_archive_items %v, want %d", n, archived)
	}
	before, ok := sample(fams, "policywire_fetches_total", map[string]string{"source": "archive"})
	if !ok || before < 1 {
		t.Fatalf("policywire_fetches_total{source=archive} = %v after a poll", before)
	}
	if _, ok := sample(fams, "policywire_fetch_duration_seconds", map[string]string{"source": "archive"}); !ok {
		t.Errorf("no policywire_fetch_duration_seconds for the source")
	}
	// The schedule polls every second: the counter follows.
	var after float64
	e2eharness.Eventually(t, 10*time.Second, "policywire_fetches_total to move with the next poll", func() bool {
		after, _ = sample(scrape(t, base), "policywire_fetches_total", map[string]string{"source": "archive"})
		return after > before
	})
	if polls := len(p.FindLogs(isPoll("archive"))); float64(polls) < after {
		t.Errorf("policywire_fetches_total is %v but only %d polls were logged", after, polls)
	}
	stop(t, p)
}

// TestDaemonSourceHealthAdminNotices: a source fails three times in a row
// (its backoff scaled to its 1 s schedule): the admin channel gets exactly
// one warning; once the source answers again, exactly one recovery notice.
func TestDaemonSourceHealthAdminNotices(t *testing.T) {
	t.Parallel()
	slack := slackfake.New(t)
	fx, _ := feedServer(t, "Parliament press", 1)
	feed := e2eharness.RSS("Parliament", fx.URL, e2eharness.NumberedItems("Parliament press", "https://news.example.org/ep", 1, recent()))
	fx.SetStatus("/feed.rss", http.StatusInternalServerError, []byte("<html><title>Internal error</title></html>"), "text/html", nil)
	env := newEnv(t)
	env.WriteConfig(setup{
		dataDir: env.DataDir(), slackURL: slack.URL(),
		topics:   map[string]string{"none": `title:"no headline says this"`},
		sources:  []source{{id: "parliament", url: fx.URL + "/feed.rss", schedule: "@every 1s"}},
		channels: []channel{{id: "eu-desk", slack: "C0DESK"}, {id: "ops", slack: "C0ADMIN", topics: []string{"none"}}},
		admin:    "ops",
	}.yaml())
	p := env.Start("run")
	e2eharness.Eventually(t, 20*time.Second, "the admin warning", func() bool { return len(slack.Posts("C0ADMIN")) >= 1 })
	failures := len(p.FindLogs(isPoll("parliament")))
	if failures != 3 {
		t.Errorf("warned after %d failed polls, want 3", failures)
	}
	// A fourth failure must not warn again.
	p.WaitLog(20*time.Second, "a fourth failed poll", func(r e2eharness.LogRecord) bool {
		return len(p.FindLogs(isPoll("parliament"))) >= 4
	})
	fx.Set("/feed.rss", feed, e2eharness.RSSContentType)
	e2eharness.Eventually(t, 30*time.Second, "the recovery notice", func() bool { return len(slack.Posts("C0ADMIN")) >= 2 })
	e2eharness.Eventually(t, 10*time.Second, "the recovered source's alert", func() bool { return len(slack.Posts("C0DESK")) == 1 })
	// Two more polls: a poll's notices are sent before the source's next
	// poll begins, so any notice after the recovery one would be in.
	polls := len(p.FindLogs(isPoll("parliament")))
	e2eharness.Eventually(t, 20*time.Second, "two more polls", func() bool {
		return len(p.FindLogs(isPoll("parliament"))) >= polls+2
	})
	notices := slack.Posts("C0ADMIN")
	if len(notices) != 2 {
		t.Fatalf("%d admin notices, want one warning and one recovery notice", len(notices))
	}
	if w := notices[0].Text; !strings.Contains(w, "parliament") || !strings.Contains(w, "failed 3 times") {
		t.Errorf("warning %q, want it to name the source and its 3 failures", w)
	}
	if r := notices[1].Text; !strings.Contains(r, "parliament") || !strings.Contains(r, "recovered") {
		t.Errorf("recovery notice %q", r)
	}
	rep := env.Sources()
	if len(rep.Sources) != 1 || rep.Sources[0].Status != "ok" || rep.Sources[0].Failures != 0 {
		t.Errorf("sources after recovery: %+v", rep.Sources)
	}
	stop(t, p)
}

// TestDaemonLocalCommands: while the daemon holds the database, `sources`
// (table and JSON), `search` and `backup` work through its socket; the
// backup opens and holds every item.
func TestDaemonLocalCommands(t *testing.T) {
	t.Parallel()
	slack := slackfake.New(t)
	fx, items := feedServer(t, "Cyber diplomacy dialogue", 3)
	fx.SetStatus("/broken.rss", http.StatusForbidden, []byte("<html><title>Request Rejected</title></html>"), "text/html", nil)
	env := newEnv(t)
	env.WriteConfig(setup{
		dataDir: env.DataDir(), slackURL: slack.URL(),
		topics:  map[string]string{"none": `title:"no headline says this"`},
		sources: []source{{id: "dialogue", url: fx.URL + "/feed.rss"}, {id: "rejected", url: fx.URL + "/broken.rss"}},
		// No alerts: nothing competes with the commands.
		channels: []channel{{id: "quiet", slack: "C0QUIET", topics: []string{"none"}}},
	}.yaml())
	p := env.Start("run")
	p.WaitLog(10*time.Second, "the first poll", isPoll("dialogue"))
	p.WaitLog(10*time.Second, "the first poll", isPoll("rejected"))

	rep := env.Sources()
	status := map[string]bot.SourceReport{}
	for _, s := range rep.Sources {
		status[s.ID] = s
	}
	if s := status["dialogue"]; s.Status != "ok" || s.Items != len(items) || s.LastSuccess.IsZero() || s.NextPoll.IsZero() {
		t.Errorf("sources shows dialogue as %+v", s)
	}
	if s := status["rejected"]; s.Status != "failing" || s.Failures != 1 || !strings.Contains(s.LastError, "403") {
		t.Errorf("sources shows rejected as %+v", s)
	}
	table := env.Run(20*time.Second, "sources")
	if table.Code != 0 || !strings.Contains(table.Stdout, "dialogue") || !strings.Contains(table.Stdout, "failing ×1") {
		t.Errorf("sources table while the daemon runs:\n%s", table)
	}

	search := env.Run(20*time.Second, "search", `"cyber diplomacy dialogue 2"`)
	if search.Code != 0 || !strings.Contains(search.Stdout, items[1].Title) {
		t.Errorf("search while the daemon runs:\n%s", search)
	}

	out := filepath.Join(t.TempDir(), "copy.db")
	b := env.Run(30*time.Second, "backup", out)
	if b.Code != 0 || !strings.Contains(b.Stdout, fmt.Sprintf("%d items", len(items))) {
		t.Fatalf("backup while the daemon runs:\n%s", b)
	}
	if !p.Running() {
		t.Fatalf("the daemon stopped during the commands")
	}
	copyDB, err := store.Open(out, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("the backup does not open: %v", err)
	}
	defer copyDB.Close()
	if n, err := copyDB.ItemCount(); err != nil || n != len(items) {
		t.Errorf("the backup holds %d items (%v), want %d", n, err, len(items))
	}
	for _, it := range items {
		found := false
		_ = copyDB.ForEachItem(func(got policywire.Item) error {
			found = found || got.Title == it.Title
			return nil
		})
		if !found {
			t.Errorf("the backup lacks %q", it.Title)
		}
	}
	stop(t, p)
}
