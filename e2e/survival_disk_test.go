package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/internal/testenv"
)

// TestSurvivalDiskFull: the data directory is a small filesystem that fills
// up while the daemon runs. Alerts queued before (Slack was refusing them)
// are delivered while the disk is full, and a poll finding new items
// cannot store them: the log says so, /readyz answers 503 naming the full
// disk, and the admin channel gets one warning. Once space is back, with
// no restart: one notice that writes work again, /readyz 200, the items
// found meanwhile are archived and delivered, every alert arrived exactly
// once, search finds them, and after a clean stop `check --data` passes
// (database and index intact and in agreement).
func TestSurvivalDiskFull(t *testing.T) {
	t.Parallel()
	fs := testenv.SmallFS(t, 8<<20)
	sl := slackfake.New(t)
	// While closed, posts to the desk are refused with 503, so that alerts
	// wait in the outbox when the disk fills up.
	var deskClosed atomic.Bool
	sl.Respond(func(r *http.Request, form url.Values) (int, string, bool) {
		if deskClosed.Load() && slackfake.Method(r) == "chat.postMessage" && form.Get("channel") == "C0DESK" {
			return http.StatusServiceUnavailable, "unavailable", true
		}
		return 0, "", false
	})
	fx := testenv.NewFixtureServer(t)
	var published []e2eharness.FeedItem
	publish := func(prefix string, n int) []e2eharness.FeedItem {
		items := e2eharness.NumberedItems(prefix, "https://news.example.org/"+strings.ToLower(strings.ReplaceAll(prefix, " ", "-")), n, recent().Add(time.Duration(len(published))*time.Minute))
		for i := range items {
			// Long texts, so that storing them needs new pages.
			items[i].Description += " " + strings.Repeat(fmt.Sprintf("The statement %s %d sets out the position on cyber diplomacy. ", prefix, i+1), 40)
		}
		published = append(published, items...)
		fx.Set("/feed.rss", e2eharness.RSS("Council", fx.URL, published), e2eharness.RSSContentType)
		return items
	}
	env := newEnv(t)
	dataDir := filepath.Join(fs, "data")
	env.WriteConfig(setup{
		dataDir: dataDir, slackURL: sl.URL(), listen: true,
		topics:   map[string]string{"none": `title:"no headline says this"`},
		sources:  []source{{id: "council", url: fx.URL + "/feed.rss", schedule: "@every 1s"}},
		channels: []channel{{id: "desk", slack: "C0DESK", sources: []string{"council"}}, {id: "ops", slack: "C0ADMIN", topics: []string{"none"}}},
		admin:    "ops",
	}.yaml())
	deskHas := func(items []e2eharness.FeedItem) func() bool {
		return func() bool {
			c := postedTitles(sl.Posts("C0DESK"), items)
			for _, it := range items {
				if c[it.Title] == 0 {
					return false
				}
			}
			return true
		}
	}
	adminSays := func(text string) func() bool {
		return func() bool {
			for _, p := range sl.Posts("C0ADMIN") {
				if strings.Contains(p.Text, text) {
					return true
				}
			}
			return false
		}
	}

	before := publish("Council before", 5)
	p := env.Start("run")
	base := p.HTTPAddr(30 * time.Second)
	p.WaitReady(base, 60*time.Second)
	e2eharness.Eventually(t, 60*time.Second, "the first alerts", deskHas(before))

	deskClosed.Store(true)
	queued := publish("Council queued", 5)
	e2eharness.Eventually(t, 60*time.Second, "a refused post of the queued alerts", func() bool {
		return len(p.FindLogs(func(r e2eharness.LogRecord) bool { return r.Msg() == "delivery failed; will retry" })) > 0
	})
	filler := testenv.FillUp(t, fs)
	deskClosed.Store(false)
	during := publish("Council during", 5)

	p.WaitLog(60*time.Second, "the storage failure", func(r e2eharness.LogRecord) bool {
		return r.Msg() == "data directory does not take writes; polls are retried and alerts wait" && strings.Contains(r.Str("problem"), "no space left on device")
	})
	code, body := e2eharness.Get(base + "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "disk full") || !strings.Contains(body, filepath.Join(dataDir, "policywire.db")) {
		t.Errorf("/readyz on a full disk: %d %q, want 503 naming the full disk and the database", code, body)
	}
	e2eharness.Eventually(t, 30*time.Second, "the admin warning", adminSays("cannot write to its data directory"))
	if warning := sl.Posts("C0ADMIN")[0].Text; !strings.Contains(warning, "disk full") || !strings.Contains(warning, dataDir) {
		t.Errorf("admin warning %q, want it to name the full disk and the data directory", warning)
	}
	e2eharness.Eventually(t, 60*time.Second, "a queued alert posted while the disk is full", func() bool {
		return len(postedTitles(sl.Posts("C0DESK"), queued)) > 0
	})
	recorded := p.FindLogs(func(r e2eharness.LogRecord) bool {
		return r.Msg() == "outbox" && strings.Contains(r.Str("err"), "mark delivered")
	})
	t.Logf("while the disk was full: %d posts on the desk, %d deliveries not recorded at first", len(sl.Posts("C0DESK")), len(recorded))

	filler.Release(t)
	e2eharness.Eventually(t, 60*time.Second, "the notice that writes work again", adminSays("can write to its data directory"))
	e2eharness.Eventually(t, 30*time.Second, "/readyz to answer 200 again", func() bool {
		code, _ := e2eharness.Get(base + "/readyz")
		return code == http.StatusOK
	})
	e2eharness.Eventually(t, 90*time.Second, "the queued alerts and those found while the disk was full", deskHas(append(append([]e2eharness.FeedItem(nil), queued...), during...)))

	// A marker published last: once it is delivered, everything before it
	// has had its chance to arrive twice.
	marker := publish("Council marker", 1)
	e2eharness.Eventually(t, 60*time.Second, "the marker alert", deskHas(marker))
	exactlyOnce(t, sl.Posts("C0DESK"), published)
	if n := len(sl.Posts("C0ADMIN")); n != 2 {
		t.Errorf("%d admin notices, want one warning and one recovery notice:\n%v", n, sl.Posts("C0ADMIN"))
	}

	check := searchThenStop(t, env, p, during[2].Title)
	if check.Code != 0 || !strings.Contains(check.Stdout, fmt.Sprintf("ok: %d items", len(published))) {
		t.Errorf("check --data after the disk was full: %s", check)
	}
}
