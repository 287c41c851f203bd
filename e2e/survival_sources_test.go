package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/internal/testenv"
)

// challengePage is what a WAF answers with 200 instead of the feed.
const challengePage = `<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head>
<body><div id="challenge-running">Checking if the site connection is secure</div>
<noscript>Enable JavaScript and cookies to continue</noscript></body></html>`

// TestSurvivalSourceChaos runs `run --once` three times over seven
// sources. The first pass is healthy. In the second, one source times out,
// one answers 500, one serves a challenge page with 200, one changes its
// ETag but not its content, one re-orders its items, one drops items and
// one re-publishes an item under a new GUID (and a tracking parameter on
// its link): nothing is posted, the run still succeeds, and each failure
// shows in `policywire sources --json` with its kind. In the third the
// failing sources recover, the dropped items come back and one item is
// really new: exactly that one is posted.
func TestSurvivalSourceChaos(t *testing.T) {
	t.Parallel()
	sl := slackfake.New(t)
	srv := testenv.NewFixtureServer(t)
	published := time.Now().Add(-3 * time.Hour).Truncate(time.Second)

	ids := []string{"slow", "broken", "waf", "etag", "reorder", "flicker", "guid"}
	feeds := map[string][]e2eharness.GUIDItem{}
	for _, id := range ids {
		for i := 1; i <= 3; i++ {
			feeds[id] = append(feeds[id], e2eharness.GUIDItem{
				FeedItem: e2eharness.FeedItem{
					Title:       fmt.Sprintf("Chaos %s statement %d", id, i),
					Link:        fmt.Sprintf("https://news.example.org/%s/statement-%d", id, i),
					Description: "A statement on cyber diplomacy.",
					Published:   published.Add(time.Duration(i) * time.Minute),
				},
				GUID: fmt.Sprintf("urn:%s:%d", id, i),
			})
		}
	}
	serve := func(id string, items []e2eharness.GUIDItem, mod func(*testenv.FixtureResponse)) {
		r := testenv.FixtureResponse{Body: e2eharness.RSSWithGUIDs(id, srv.URL, items), ContentType: e2eharness.RSSContentType}
		if mod != nil {
			mod(&r)
		}
		srv.SetResponse("/"+id+".rss", r)
	}
	for _, id := range ids {
		serve(id, feeds[id], func(r *testenv.FixtureResponse) { r.ETag = `"v1"` })
	}

	env := newEnv(t)
	var srcs []source
	var chans []channel
	for _, id := range ids {
		srcs = append(srcs, source{id: id, url: srv.URL + "/" + id + ".rss"})
		// One channel per source: Slack paces posts per channel.
		chans = append(chans, channel{id: "ch-" + id, slack: "C0" + strings.ToUpper(id), sources: []string{id}})
	}
	env.WriteConfig(withConfig(setup{dataDir: env.DataDir(), slackURL: sl.URL(), sources: srcs, channels: chans}.yaml(),
		"timeout: 5s", "timeout: 1s"))

	runOnce := func(pass string) e2eharness.Result {
		t.Helper()
		r := env.Run(60*time.Second, "run", "--once")
		if r.Code != 0 {
			t.Fatalf("%s: run --once failed; failing sources must not fail it\n%s", pass, r)
		}
		return r
	}
	postsOf := func() map[string][]string {
		out := map[string][]string{}
		for _, id := range ids {
			for _, p := range sl.Posts("C0" + strings.ToUpper(id)) {
				out[id] = append(out[id], slackTitle(p))
			}
		}
		return out
	}

	// Pass 1: healthy.
	runOnce("healthy pass")
	want := map[string][]string{}
	for _, id := range ids {
		for _, it := range feeds[id] {
			want[id] = append(want[id], it.Title)
		}
	}
	checkPosts(t, "healthy pass", postsOf(), want)

	// Pass 2: chaos.
	serve("slow", feeds["slow"], func(r *testenv.FixtureResponse) { r.Delay = 3 * time.Second })
	serve("broken", nil, func(r *testenv.FixtureResponse) {
		r.Status, r.Body, r.ContentType = http.StatusInternalServerError, []byte("<h1>Internal Server Error</h1>"), "text/html"
	})
	serve("waf", nil, func(r *testenv.FixtureResponse) {
		r.Body, r.ContentType = []byte(challengePage), "text/html; charset=UTF-8"
	})
	serve("etag", feeds["etag"], func(r *testenv.FixtureResponse) { r.ETag = `"v2"` })
	serve("reorder", reversed(feeds["reorder"]), nil)
	serve("flicker", feeds["flicker"][:1], nil)
	republished := slices.Clone(feeds["guid"])
	republished[1].GUID = "urn:guid:2:revised-" + time.Now().Format("150405")
	republished[1].Link += "?utm_source=rss&utm_medium=feed"
	serve("guid", republished, nil)
	etagRequests := srv.Requests("/etag.rss")

	r := runOnce("chaos pass")
	checkPosts(t, "chaos pass", postsOf(), want)
	if srv.Requests("/etag.rss") != etagRequests+1 {
		t.Errorf("the source with a new ETag was not fetched again")
	}
	for _, id := range []string{"slow", "broken", "waf"} {
		if !strings.Contains(r.Stderr, "source "+id+" failed") {
			t.Errorf("run --once does not report that %s failed:\n%s", id, r.Stderr)
		}
	}
	rep := env.Sources()
	checkHealth(t, rep, map[string]string{
		"slow": string(sourcesKindNetwork), "broken": string(sourcesKindStatus), "waf": string(sourcesKindUnexpected),
	}, []string{"etag", "reorder", "flicker", "guid"})
	for _, s := range rep.Sources {
		switch s.ID {
		case "broken":
			if !strings.Contains(s.LastError, "500") {
				t.Errorf("broken: last error %q does not name the status", s.LastError)
			}
		case "waf":
			if !strings.Contains(s.LastError, "Just a moment") {
				t.Errorf("waf: last error %q does not show what the page was", s.LastError)
			}
		}
	}

	// Pass 3: recovery, and one item that is really new.
	for _, id := range []string{"slow", "broken", "waf", "flicker"} {
		serve(id, feeds[id], nil)
	}
	serve("etag", feeds["etag"], func(r *testenv.FixtureResponse) { r.ETag = `"v3"` })
	fresh := e2eharness.GUIDItem{
		FeedItem: e2eharness.FeedItem{
			Title: "Chaos reorder statement 4", Link: "https://news.example.org/reorder/statement-4",
			Description: "A new statement on cyber diplomacy.", Published: published.Add(time.Hour),
		},
		GUID: "urn:reorder:4",
	}
	serve("reorder", append([]e2eharness.GUIDItem{fresh}, feeds["reorder"]...), nil)
	runOnce("recovery pass")
	want["reorder"] = append(want["reorder"], fresh.Title)
	checkPosts(t, "recovery pass", postsOf(), want)
	checkHealth(t, env.Sources(), nil, ids)
}

// The error kinds `sources --json` reports (sources.ErrorKind values).
const (
	sourcesKindNetwork    = "network"
	sourcesKindStatus     = "http-status"
	sourcesKindUnexpected = "unexpected"
)

func reversed(items []e2eharness.GUIDItem) []e2eharness.GUIDItem {
	out := slices.Clone(items)
	slices.Reverse(out)
	return out
}

// checkPosts compares what each channel received with what it should
// have, in order: a missing post is a lost alert, an extra one a
// duplicate or false alert.
func checkPosts(t *testing.T, pass string, got, want map[string][]string) {
	t.Helper()
	for id, w := range want {
		if strings.Join(got[id], "|") != strings.Join(w, "|") {
			t.Errorf("%s: channel of %s received %q, want %q", pass, id, got[id], w)
		}
	}
}

// checkHealth checks that the failing sources show as failing with their
// error kind and the others as ok.
func checkHealth(t *testing.T, rep bot.HealthReport, failing map[string]string, healthy []string) {
	t.Helper()
	byID := map[string]bot.SourceReport{}
	for _, s := range rep.Sources {
		byID[s.ID] = s
	}
	for id, kind := range failing {
		s := byID[id]
		if s.Status != "failing" || s.Failures != 1 || s.ErrorKind != kind || s.LastError == "" {
			t.Errorf("sources: %s is %q with %d failures, kind %q, error %q; want failing once with kind %q",
				id, s.Status, s.Failures, s.ErrorKind, s.LastError, kind)
		}
		if s.LastSuccess.IsZero() {
			t.Errorf("sources: %s lost its last success", id)
		}
	}
	for _, id := range healthy {
		s := byID[id]
		if s.Status != "ok" || s.Failures != 0 || s.LastError != "" {
			t.Errorf("sources: %s is %q with %d failures, error %q; want ok", id, s.Status, s.Failures, s.LastError)
		}
	}
	for _, c := range rep.Channels {
		if c.Pending+c.Parked > 0 {
			t.Errorf("sources: channel %s has %d pending, %d parked: %s", c.ID, c.Pending, c.Parked, c.Reason)
		}
	}
}
