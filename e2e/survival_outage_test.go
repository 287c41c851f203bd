package e2e

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/internal/testenv"
)

// TestSurvivalChatOutage: while the daemon has alerts to deliver, Slack
// answers every Web API call with 503 for a while, then rate-limits with
// Retry-After: 3, then recovers; the homeserver answers M_LIMIT_EXCEEDED
// to the first sends. More items are published during the outage. After
// recovery everything is delivered once, in publication order per
// channel, and no request reached a server before the Retry-After it had
// been given for that channel.
func TestSurvivalChatOutage(t *testing.T) {
	t.Parallel()
	sl := slackfake.New(t)
	slProxy := e2eharness.NewChaosProxy(t, sl.URL())
	mx := newMatrixRoom(t)
	mxProxy := e2eharness.NewChaosProxy(t, mx.hs.URL)
	fx := testenv.NewFixtureServer(t)
	const slackChannel = "C0OUTAGE"

	// Slack: 503 for the first 4 s after the first post attempt, then
	// two rate limits, then normal service.
	var mu sync.Mutex
	var outageStart time.Time
	rateLimits := 2
	slProxy.SetRule(func(r *http.Request, _ []byte) *e2eharness.ProxyFault {
		if !slackWebAPI(r) {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if outageStart.IsZero() {
			outageStart = time.Now()
		}
		if time.Since(outageStart) < 4*time.Second {
			return e2eharness.ServerError(http.StatusServiceUnavailable)
		}
		if rateLimits > 0 {
			rateLimits--
			return e2eharness.SlackRateLimited(3 * time.Second)
		}
		return nil
	})
	// Matrix: the first three sends are refused with M_LIMIT_EXCEEDED.
	limited := 3
	mxProxy.SetRule(func(r *http.Request, _ []byte) *e2eharness.ProxyFault {
		if !e2eharness.IsMatrixSend(r) {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if limited > 0 {
			limited--
			return e2eharness.MatrixLimitExceeded(2 * time.Second)
		}
		return nil
	})

	base := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	var items []e2eharness.FeedItem
	var order []string // publication order
	add := func(n int) {
		for range n {
			i := len(items) + 1
			it := e2eharness.FeedItem{
				Title:       fmt.Sprintf("Outage notice %02d", i),
				Link:        fmt.Sprintf("https://news.example.org/outage/%d", i),
				Description: "A statement on cyber diplomacy.",
				Published:   base.Add(time.Duration(i) * time.Minute),
			}
			items = append(items, it)
			order = append(order, it.Title)
		}
		// Newest first, as feeds list them.
		shown := append([]e2eharness.FeedItem(nil), items...)
		sort.Slice(shown, func(a, b int) bool { return shown[a].Published.After(shown[b].Published) })
		fx.Set("/news.rss", e2eharness.RSS("News", fx.URL, shown), e2eharness.RSSContentType)
	}
	add(5)

	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_TOKEN="+mx.botToken)
	env.WriteConfig(setup{
		dataDir: env.DataDir(), slackURL: slProxy.URL + "/", matrixURL: mxProxy.URL, matrixUser: mx.botUser,
		sources:  []source{{id: "news", url: fx.URL + "/news.rss", schedule: "@every 1s"}},
		channels: []channel{{id: "desk", slack: slackChannel}, {id: "room", matrix: string(mx.room)}},
	}.yaml())
	p := env.Start("run")

	// During the outage the source publishes more.
	e2eharness.Eventually(t, 20*time.Second, "the first Slack attempt", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !outageStart.IsZero()
	})
	// A retry (a post, or the history read that checks for an earlier
	// copy) refused too: the outage is under way, the daemon in backoff.
	e2eharness.Eventually(t, 20*time.Second, "a refused retry", func() bool {
		refused := 0
		for _, r := range slProxy.Requests() {
			if r.Status == http.StatusServiceUnavailable {
				refused++
			}
		}
		return refused >= 2
	})
	add(3)

	e2eharness.Eventually(t, 60*time.Second, "every alert to arrive after the outage", func() bool {
		time.Sleep(250 * time.Millisecond)
		return slackDeliveries(sl.Posts(slackChannel)).has(order) && matrixDeliveries(mx.botMessages(t)).has(order)
	})
	e2eharness.Eventually(t, 30*time.Second, "the outbox to drain", func() bool { return outboxDrained(env) })
	p.Signal(syscall.SIGTERM)
	if code, _ := p.Wait(20 * time.Second); code != 0 {
		t.Errorf("daemon exit %d after SIGTERM", code)
	}

	slackGot := slackDeliveries(sl.Posts(slackChannel))
	matrixGot := matrixDeliveries(mx.botMessages(t))
	slackGot.checkExactlyOnce(t, "slack", order)
	matrixGot.checkExactlyOnce(t, "matrix", order)
	for name, got := range map[string][]string{"slack": slackGot.order, "matrix": matrixGot.order} {
		if strings.Join(got, "\n") != strings.Join(order, "\n") {
			t.Errorf("%s received\n  %s\nwant publication order\n  %s", name, strings.Join(got, "\n  "), strings.Join(order, "\n  "))
		}
	}

	// The outage really happened, and every Retry-After was obeyed.
	slackReqs, mxReqs := slProxy.Requests(), mxProxy.Requests()
	count := func(reqs []e2eharness.ProxiedRequest, status int) int {
		n := 0
		for _, r := range reqs {
			if r.Status == status && !r.Forwarded {
				n++
			}
		}
		return n
	}
	if n := count(slackReqs, http.StatusServiceUnavailable); n < 2 {
		t.Errorf("Slack answered 503 %d times; the outage did not take", n)
	}
	if n := count(slackReqs, http.StatusTooManyRequests); n != 2 {
		t.Errorf("Slack rate-limited %d requests, want 2", n)
	}
	if n := count(mxReqs, http.StatusTooManyRequests); n != 3 {
		t.Errorf("the homeserver rate-limited %d sends, want 3", n)
	}
	checkRetryAfter(t, "slack", slackReqs, func(r e2eharness.ProxiedRequest) string {
		if r.Form == nil {
			return ""
		}
		return r.Form.Get("channel")
	})
	checkRetryAfter(t, "matrix", mxReqs, func(r e2eharness.ProxiedRequest) string { return e2eharness.MatrixRoomOf(r.Path) })
}

// checkRetryAfter fails the test when a request about a channel arrived
// before the Retry-After of an earlier answer about that channel ran out.
func checkRetryAfter(t *testing.T, server string, reqs []e2eharness.ProxiedRequest, channelOf func(e2eharness.ProxiedRequest) string) {
	t.Helper()
	checked := 0
	for i, limit := range reqs {
		if limit.RetryAfter <= 0 {
			continue
		}
		ch := channelOf(limit)
		if ch == "" {
			t.Errorf("%s: a rate-limited request names no channel: %s %s", server, limit.Method, limit.Path)
			continue
		}
		notBefore := limit.At.Add(limit.RetryAfter)
		for _, next := range reqs[i+1:] {
			if channelOf(next) != ch {
				continue
			}
			checked++
			if next.At.Before(notBefore) {
				t.Errorf("%s: %s %s for %s arrived %s after a %s Retry-After",
					server, next.Method, next.Path, ch, next.At.Sub(limit.At).Round(time.Millisecond), limit.RetryAfter)
			}
			break
		}
	}
	if checked == 0 {
		t.Errorf("%s: no request followed a rate limit; nothing was checked", server)
	}
}

// TestSurvivalHomeserverDownAtStart: the homeserver is unreachable (502
// from its proxy) when the daemon starts, so the bot cannot check its
// token or join the room it was invited to; the homeserver comes back,
// its /sync (often a worker of its own) a few seconds after the rest. The
// alerts waiting for the room are delivered without a restart.
func TestSurvivalHomeserverDownAtStart(t *testing.T) {
	t.Parallel()
	mx := newMatrixRoom(t)
	mxProxy := e2eharness.NewChaosProxy(t, mx.hs.URL)
	var down sync.Mutex
	var upAt time.Time
	mxProxy.SetRule(func(r *http.Request, _ []byte) *e2eharness.ProxyFault {
		down.Lock()
		defer down.Unlock()
		lag := time.Duration(0)
		if strings.HasSuffix(r.URL.Path, "/sync") {
			lag = 8 * time.Second
		}
		if upAt.IsZero() || time.Now().Before(upAt.Add(lag)) {
			return e2eharness.ServerError(http.StatusBadGateway)
		}
		return nil
	})
	fx := testenv.NewFixtureServer(t)
	items := e2eharness.NumberedItems("Homeserver outage notice", "https://news.example.org/hs-outage", 3, recent())
	fx.Set("/news.rss", e2eharness.RSS("News", fx.URL, items), e2eharness.RSSContentType)
	var want []string
	for _, it := range items {
		want = append(want, it.Title)
	}

	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_TOKEN="+mx.botToken)
	env.WriteConfig(setup{
		dataDir: env.DataDir(), matrixURL: mxProxy.URL, matrixUser: mx.botUser,
		sources:  []source{{id: "news", url: fx.URL + "/news.rss", schedule: "@every 1s"}},
		channels: []channel{{id: "room", matrix: string(mx.room)}},
	}.yaml())
	p := env.Start("run")
	e2eharness.Eventually(t, 20*time.Second, "a failed delivery while the homeserver is down", func() bool {
		return len(p.FindLogs(func(r e2eharness.LogRecord) bool { return r.Msg() == "delivery failed; will retry" })) > 0
	})
	down.Lock()
	upAt = time.Now()
	down.Unlock()

	e2eharness.Eventually(t, 60*time.Second, "the alerts to reach the room after the homeserver came back", func() bool {
		time.Sleep(250 * time.Millisecond)
		return matrixDeliveries(mx.botMessages(t)).has(want)
	})
	p.Signal(syscall.SIGTERM)
	if code, _ := p.Wait(20 * time.Second); code != 0 {
		t.Errorf("daemon exit %d after SIGTERM", code)
	}
	matrixDeliveries(mx.botMessages(t)).checkExactlyOnce(t, "matrix", want)
}
