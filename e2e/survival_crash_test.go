package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/internal/testenv"
	"github.com/policywire/policywire/store"
)

// TestSurvivalCrash: the daemon polls two sources every second, which keep
// publishing, and delivers to two Slack channels and a Matrix room; it is
// killed with SIGKILL at random moments (during start, polls, deliveries)
// and started again, crashKills times. In the end every item has reached
// every channel that wants it exactly once: Matrix through its transaction
// ids and history check, Slack through the metadata check of rows that
// were in flight when the process died. The database passes bbolt's check.
func TestSurvivalCrash(t *testing.T) {
	t.Parallel()
	sl := slackfake.New(t)
	slProxy := e2eharness.NewChaosProxy(t, sl.URL())
	mx := newMatrixRoom(t)
	mxProxy := e2eharness.NewChaosProxy(t, mx.hs.URL)
	fx := testenv.NewFixtureServer(t)
	const chanAll, chanBeta = "C0CRASHALL", "C0CRASHBETA"

	var mu sync.Mutex
	feeds := map[string][]e2eharness.FeedItem{}
	var wantAll, wantBeta []string
	publish := func(src string, it e2eharness.FeedItem) {
		mu.Lock()
		defer mu.Unlock()
		feeds[src] = append(feeds[src], it)
		wantAll = append(wantAll, it.Title)
		if src == "beta" {
			wantBeta = append(wantBeta, it.Title)
		}
		fx.Set("/"+src+".rss", e2eharness.RSS(src, fx.URL, feeds[src]), e2eharness.RSSContentType)
	}
	n := 0
	item := func(src string) e2eharness.FeedItem {
		n++
		return e2eharness.FeedItem{
			Title:       fmt.Sprintf("Crash bulletin %s %d", src, n),
			Link:        fmt.Sprintf("https://news.example.org/%s/%d", src, n),
			Description: "A statement on cyber diplomacy.",
			Published:   time.Now().Add(-time.Hour + time.Duration(n)*time.Second).Truncate(time.Second),
		}
	}
	for _, src := range []string{"alpha", "beta"} {
		publish(src, item(src))
		publish(src, item(src))
	}

	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_TOKEN="+mx.botToken)
	env.WriteConfig(setup{
		dataDir: env.DataDir(), slackURL: slProxy.URL + "/", matrixURL: mxProxy.URL, matrixUser: mx.botUser,
		sources: []source{
			{id: "alpha", url: fx.URL + "/alpha.rss", schedule: "@every 1s"},
			{id: "beta", url: fx.URL + "/beta.rss", schedule: "@every 1s"},
		},
		channels: []channel{
			{id: "all-news", slack: chanAll},
			{id: "beta-news", slack: chanBeta, sources: []string{"beta"}},
			{id: "room", matrix: string(mx.room)},
		},
	}.yaml())

	// Every third post is accepted by the server but its answer withheld,
	// so that kills land while a delivery is in flight.
	var posts, sends atomic.Int32
	hang := &e2eharness.ProxyFault{ForwardThenHang: true}
	slProxy.SetRule(func(r *http.Request, _ []byte) *e2eharness.ProxyFault {
		if strings.HasSuffix(r.URL.Path, "/chat.postMessage") && posts.Add(1)%3 == 0 {
			return hang
		}
		return nil
	})
	mxProxy.SetRule(func(r *http.Request, _ []byte) *e2eharness.ProxyFault {
		if e2eharness.IsMatrixSend(r) && sends.Add(1)%3 == 0 {
			return hang
		}
		return nil
	})

	// The sources keep publishing while the daemon dies and comes back.
	stop := make(chan struct{})
	published := make(chan struct{})
	go func() {
		defer close(published)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(1200+rand.IntN(800)) * time.Millisecond):
			}
			src := []string{"alpha", "beta"}[rand.IntN(2)]
			publish(src, item(src))
		}
	}()
	start := time.Now()
	for k := range crashKills {
		p := env.Start("run")
		// Early kills land in the start and first polls, later ones in
		// deliveries and the checks after a restart.
		sleepJitter(100*time.Millisecond, 3*time.Second)
		if !p.Running() {
			t.Fatalf("the daemon exited by itself before kill %d\n%s", k+1, p.Stderr())
		}
		p.Kill()
	}
	close(stop)
	<-published
	killed := time.Since(start)
	slProxy.SetRule(nil)
	mxProxy.SetRule(nil)
	hung := 0
	for _, r := range append(slProxy.Requests(), mxProxy.Requests()...) {
		if r.Forwarded && r.Status == 0 {
			hung++
		}
	}
	if hung == 0 {
		t.Fatalf("no kill landed while a post was in flight")
	}

	p := env.Start("run")
	mu.Lock()
	all, beta := append([]string(nil), wantAll...), append([]string(nil), wantBeta...)
	mu.Unlock()
	e2eharness.Eventually(t, 90*time.Second, "every alert to reach every channel", func() bool {
		time.Sleep(250 * time.Millisecond)
		return slackDeliveries(sl.Posts(chanAll)).has(all) &&
			slackDeliveries(sl.Posts(chanBeta)).has(beta) &&
			matrixDeliveries(mx.botMessages(t)).has(all)
	})
	e2eharness.Eventually(t, 30*time.Second, "the outbox to drain", func() bool { return outboxDrained(env) })
	p.Signal(syscall.SIGTERM)
	if code, _ := p.Wait(20 * time.Second); code != 0 {
		t.Errorf("daemon exit %d after SIGTERM", code)
	}
	t.Logf("%d kills in %s, %d of them with a post in flight; %d items; all delivered %s after the last restart",
		crashKills, killed.Round(time.Millisecond), hung, len(all), time.Since(start.Add(killed)).Round(time.Millisecond))

	slackDeliveries(sl.Posts(chanAll)).checkExactlyOnce(t, chanAll, all)
	slackDeliveries(sl.Posts(chanBeta)).checkExactlyOnce(t, chanBeta, beta)
	matrixDeliveries(mx.botMessages(t)).checkExactlyOnce(t, "matrix room", all)
	checkDatabase(t, filepath.Join(env.DataDir(), "policywire.db"))
}

// checkDatabase opens a database file that no process holds and runs
// bbolt's consistency check on it.
func checkDatabase(t *testing.T, path string) int {
	t.Helper()
	st, err := store.Open(path, store.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Fatalf("bbolt check of %s: %v", path, err)
	}
	n, err := st.ItemCount()
	if err != nil {
		t.Fatalf("count items of %s: %v", path, err)
	}
	return n
}
