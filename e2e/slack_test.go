package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/internal/testenv"
)

// feedServer serves one generated feed of n items at /feed.rss.
func feedServer(t *testing.T, prefix string, n int) (*testenv.FixtureServer, []e2eharness.FeedItem) {
	t.Helper()
	fx := testenv.NewFixtureServer(t)
	items := e2eharness.NumberedItems(prefix, "https://news.example.org/"+strings.ToLower(strings.ReplaceAll(prefix, " ", "-")), n, recent())
	fx.Set("/feed.rss", e2eharness.RSS(prefix, fx.URL, items), e2eharness.RSSContentType)
	return fx, items
}

// postedTitles returns, per item title, how many posts of the channel
// contain it (in their text or blocks).
func postedTitles(posts []slackfake.Post, items []e2eharness.FeedItem) map[string]int {
	c := map[string]int{}
	for _, p := range posts {
		all := p.Text + string(p.Blocks)
		for _, it := range items {
			// "Title 1" is a prefix of "Title 10": match the linked title.
			if strings.Contains(all, it.Link+"|"+it.Title+">") || strings.Contains(all, it.Link+`|`+it.Title+`\u003e`) {
				c[it.Title]++
			}
		}
	}
	return c
}

// exactlyOnce fails unless every item is in exactly one post.
func exactlyOnce(t *testing.T, posts []slackfake.Post, items []e2eharness.FeedItem) {
	t.Helper()
	c := postedTitles(posts, items)
	for _, it := range items {
		if c[it.Title] != 1 {
			t.Errorf("%q posted %d times, want once", it.Title, c[it.Title])
		}
	}
	if len(posts) != len(items) {
		t.Errorf("%d posts for %d items", len(posts), len(items))
	}
}

// TestRunOnceParksChannelNotFound: Slack answers channel_not_found for one
// channel. run --once still delivers the other channel's alerts, exits 1
// naming the channel, its parked alerts and the reason, and `sources`
// shows them parked.
func TestRunOnceParksChannelNotFound(t *testing.T) {
	t.Parallel()
	slack := slackfake.New(t)
	slack.ChannelError("C0GONE", "channel_not_found")
	fx, items := feedServer(t, "Sanctions notice", 2)
	env := newEnv(t)
	env.WriteConfig(setup{
		dataDir: env.DataDir(), slackURL: slack.URL(),
		sources:  []source{{id: "notices", url: fx.URL + "/feed.rss"}},
		channels: []channel{{id: "gone-desk", slack: "C0GONE"}, {id: "eu-desk", slack: "C0DESK"}},
	}.yaml())

	r := env.Run(60*time.Second, "run", "--once")
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.Code, r)
	}
	for _, want := range []string{"alerts left undelivered", "gone-desk", "2 parked", "channel_not_found"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr does not say %q\n%s", want, r)
		}
	}
	if strings.Contains(r.Stderr, "eu-desk:") {
		t.Errorf("stderr names eu-desk as undelivered\n%s", r)
	}
	exactlyOnce(t, slack.Posts("C0DESK"), items)
	if n := len(slack.Posts("C0GONE")); n != 0 {
		t.Errorf("%d posts recorded in the missing channel", n)
	}

	rep := env.Sources()
	byID := map[string]bot.ChannelReport{}
	for _, c := range rep.Channels {
		byID[c.ID] = c
	}
	if c := byID["gone-desk"]; c.Parked != 2 || c.Pending != 0 || !strings.Contains(c.Reason, "channel_not_found") {
		t.Errorf("sources shows gone-desk as %+v, want 2 parked for channel_not_found", c)
	}
	if c := byID["eu-desk"]; c.Parked != 0 || c.Pending != 0 {
		t.Errorf("sources shows eu-desk as %+v, want nothing waiting", c)
	}
}

// TestRunOnceDryRun: --dry-run prints the alerts, posts nothing and keeps
// no state, so the real run that follows posts every alert.
func TestRunOnceDryRun(t *testing.T) {
	t.Parallel()
	slack := slackfake.New(t)
	fx, items := feedServer(t, "Tech envoy appointment", 2)
	env := newEnv(t)
	env.WriteConfig(setup{
		dataDir: env.DataDir(), slackURL: slack.URL(),
		sources:  []source{{id: "envoys", url: fx.URL + "/feed.rss"}},
		channels: []channel{{id: "eu-desk", slack: "C0DESK"}},
	}.yaml())

	r := env.Run(60*time.Second, "run", "--once", "--dry-run")
	if r.Code != 0 {
		t.Fatalf("dry run failed\n%s", r)
	}
	for _, it := range items {
		if !strings.Contains(r.Stdout, it.Title) || !strings.Contains(r.Stdout, it.Link) {
			t.Errorf("dry run does not print %q with its link\n%s", it.Title, r)
		}
	}
	if !strings.Contains(r.Stdout, "eu-desk") {
		t.Errorf("dry run does not say which channel the alerts are for\n%s", r)
	}
	if n := slack.Calls("chat.postMessage"); n != 0 {
		t.Errorf("dry run made %d chat.postMessage calls", n)
	}
	if _, err := os.Stat(filepath.Join(env.DataDir(), "policywire.db")); err == nil {
		t.Errorf("dry run wrote a database")
	}
	for _, s := range env.Sources().Sources {
		if s.Status != "waiting" || s.Items != 0 {
			t.Errorf("after a dry run sources shows %s as %s with %d items, want waiting with none", s.ID, s.Status, s.Items)
		}
	}

	r = env.Run(60*time.Second, "run", "--once")
	if r.Code != 0 {
		t.Fatalf("real run after the dry run failed\n%s", r)
	}
	exactlyOnce(t, slack.Posts("C0DESK"), items)
}

// TestDigestChannel: a digest channel gets nothing when the items arrive
// and one message listing them all at its time; the next time, with
// nothing new, it gets nothing.
func TestDigestChannel(t *testing.T) {
	t.Parallel()
	slack := slackfake.New(t)
	fx, items := feedServer(t, "Weekly cyber brief", 3)
	env := newEnv(t)
	env.WriteConfig(withConfig(setup{
		dataDir: env.DataDir(), slackURL: slack.URL(),
		sources:  []source{{id: "briefs", url: fx.URL + "/feed.rss", schedule: "@every 1h"}},
		channels: []channel{{id: "digest-desk", slack: "C0DIGEST", digest: "@every 3s"}},
	}.yaml(), "level: info", "level: debug")) // debug: the log tells of a digest time with nothing new

	start := time.Now()
	p := env.Start("run")
	poll := p.WaitLog(10*time.Second, "the first poll", func(r e2eharness.LogRecord) bool {
		return r.Msg() == "poll" && r.Str("source") == "briefs"
	})
	if poll.Str("outcome") != "new" {
		t.Fatalf("first poll: %v", poll)
	}
	polled := time.Now()
	e2eharness.Eventually(t, 10*time.Second, "the digest", func() bool { return len(slack.Posts("C0DIGEST")) > 0 })
	posts := slack.Posts("C0DIGEST")
	if len(posts) != 1 {
		t.Fatalf("%d digest posts, want 1", len(posts))
	}
	if wait := posts[0].At.Sub(start); wait < 2*time.Second {
		t.Errorf("digest posted %s after start: before its time (every 3 s)", wait)
	}
	if posts[0].At.Before(polled.Add(-time.Second)) {
		t.Errorf("digest posted before the items were polled")
	}
	c := postedTitles(posts, items)
	for _, it := range items {
		if c[it.Title] != 1 {
			t.Errorf("the digest lists %q %d times, want once\n%s\n%s", it.Title, c[it.Title], posts[0].Text, posts[0].Blocks)
		}
	}
	// One more digest time passes: nothing new, nothing posted.
	e2eharness.Eventually(t, 10*time.Second, "the next digest time", func() bool {
		delivered := false
		for _, r := range p.Logs() {
			delivered = delivered || r.Msg() == "digest delivered"
			if delivered && r.Msg() == "digest: nothing new" && r.Str("channel") == "digest-desk" {
				return true
			}
		}
		return false
	})
	if n := len(slack.Posts("C0DIGEST")); n != 1 {
		t.Errorf("%d posts after the next digest time, want still 1", n)
	}
	p.Signal(syscall.SIGTERM)
	if code, _ := p.Wait(15 * time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}
