//go:build soak

package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/internal/testenv"
)

// crashKills is how often TestSurvivalCrash kills the daemon under
// `make soak`.
const crashKills = 100

// soakSample is one look at the daemon.
type soakSample struct {
	at         time.Duration
	rss        int64
	goroutines float64
	outbox     int
}

// TestSoak runs the daemon for POLICYWIRE_SOAK_DURATION (default 30m) on
// POLICYWIRE_SOAK_SOURCES sources (default 1,000) polled every minute, 1%
// of which gain an item each minute, while the fake Slack and dendrite fail
// 5% of the requests (5xx, rate limits, answers lost after the work was
// done). It samples resident memory and goroutines, then checks that every
// new item reached both channels exactly once. The figures are logged and,
// when POLICYWIRE_SOAK_REPORT names a file, written there as Markdown.
func TestSoak(t *testing.T) {
	duration := 30 * time.Minute
	if v := os.Getenv("POLICYWIRE_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("POLICYWIRE_SOAK_DURATION: %v", err)
		}
		duration = d
	}
	nSources := 1000
	if v := os.Getenv("POLICYWIRE_SOAK_SOURCES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("POLICYWIRE_SOAK_SOURCES: %q", v)
		}
		nSources = n
	}
	const flakeRate = 0.05

	// Chat servers behind flaky proxies.
	sl := slackfake.New(t)
	slProxy := e2eharness.NewChaosProxy(t, sl.URL())
	mx := newMatrixRoom(t)
	mxProxy := e2eharness.NewChaosProxy(t, mx.hs.URL)
	const slackChannel = "C0SOAK"

	// Sources: a few old items each (archived, not posted: older than the
	// backfill window), then new items published now.
	fx := testenv.NewFixtureServer(t)
	old := time.Now().Add(-72 * time.Hour)
	feeds := make([][]e2eharness.FeedItem, nSources)
	srcs := make([]source, nSources)
	for i := range nSources {
		feeds[i] = e2eharness.NumberedItems(fmt.Sprintf("Archive s%04d", i), fmt.Sprintf("https://news.example.org/s%04d/archive", i), 3, old)
		fx.Set(feedPath(i), e2eharness.RSS("Source "+strconv.Itoa(i), fx.URL, feeds[i]), e2eharness.RSSContentType)
		srcs[i] = source{id: fmt.Sprintf("s%04d", i), url: fx.URL + feedPath(i), schedule: "@every 1m"}
	}

	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_TOKEN="+mx.botToken)
	env.WriteConfig(withConfig(setup{
		dataDir: env.DataDir(), listen: true,
		slackURL: slProxy.URL + "/", matrixURL: mxProxy.URL, matrixUser: mx.botUser,
		sources: srcs,
		channels: []channel{
			{id: "soak-slack", slack: slackChannel},
			{id: "soak-room", matrix: string(mx.room)},
		},
	}.yaml(), "backfill: 0s", "backfill: 1h"))

	p := env.Start("run")
	base := p.HTTPAddr(30 * time.Second)
	p.WaitReady(base, 60*time.Second)
	start := time.Now()

	// From now on 5% of the chat requests fail.
	slProxy.SetRule(flaky(flakeRate, slackWebAPI,
		func(*http.Request) *e2eharness.ProxyFault {
			return e2eharness.ServerError(http.StatusServiceUnavailable)
		},
		func(*http.Request) *e2eharness.ProxyFault { return e2eharness.SlackRateLimited(time.Second) },
		func(*http.Request) *e2eharness.ProxyFault { return &e2eharness.ProxyFault{ForwardThenDrop: true} },
	))
	mxProxy.SetRule(flaky(flakeRate, matrixNonSync,
		func(*http.Request) *e2eharness.ProxyFault { return e2eharness.ServerError(http.StatusBadGateway) },
		func(*http.Request) *e2eharness.ProxyFault {
			return e2eharness.MatrixLimitExceeded(700 * time.Millisecond)
		},
		func(*http.Request) *e2eharness.ProxyFault { return &e2eharness.ProxyFault{ForwardThenDrop: true} },
	))

	// 1% of the sources gain an item each minute, spread evenly.
	var mu sync.Mutex
	var expected []string
	stop := make(chan struct{})
	changerDone := make(chan struct{})
	every := time.Minute / time.Duration(max(nSources/100, 1))
	go func() {
		defer close(changerDone)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			i := rand.IntN(nSources)
			it := e2eharness.FeedItem{
				Title:       fmt.Sprintf("Soak s%04d news %d", i, n),
				Link:        fmt.Sprintf("https://news.example.org/s%04d/news/%d", i, n),
				Description: "A new statement on cyber diplomacy.",
				Published:   time.Now().Truncate(time.Second),
			}
			mu.Lock()
			feeds[i] = append(feeds[i], it)
			expected = append(expected, it.Title)
			body := e2eharness.RSS("Source "+strconv.Itoa(i), fx.URL, feeds[i])
			mu.Unlock()
			fx.Set(feedPath(i), body, e2eharness.RSSContentType)
		}
	}()

	sampleEvery := max(duration/60, 10*time.Second)
	var samples []soakSample
	take := func() {
		rss, err := e2eharness.ResidentBytes(p.Pid())
		if err != nil {
			t.Fatalf("sample: %v", err)
		}
		g, err := e2eharness.Metric(base, "go_goroutines")
		if err != nil {
			t.Fatalf("sample: %v", err)
		}
		s := soakSample{at: time.Since(start), rss: rss, goroutines: g}
		_, metrics := e2eharness.Get(base + "/metrics")
		for line := range strings.SplitSeq(metrics, "\n") {
			if strings.HasPrefix(line, "policywire_outbox_depth{") {
				_, v, _ := strings.Cut(line, "} ")
				n, _ := strconv.ParseFloat(v, 64)
				s.outbox += int(n)
			}
		}
		samples = append(samples, s)
		t.Logf("t=%s rss=%.1f MiB goroutines=%.0f outbox=%d", s.at.Round(time.Second), float64(rss)/(1<<20), g, s.outbox)
	}
	take()
	deadline := time.After(duration)
	tick := time.NewTicker(sampleEvery)
loop:
	for {
		select {
		case <-deadline:
			break loop
		case <-tick.C:
			if !p.Running() {
				t.Fatalf("the daemon died")
			}
			take()
		}
	}
	tick.Stop()
	close(stop)
	<-changerDone
	take()

	// Every new item reaches both channels; then nothing more arrives.
	mu.Lock()
	want := append([]string(nil), expected...)
	mu.Unlock()
	drainStart := time.Now()
	e2eharness.Eventually(t, 10*time.Minute, "every alert to reach both channels", func() bool {
		return slackDeliveries(sl.Posts(slackChannel)).has(want) && matrixDeliveries(mx.botMessages(t)).has(want)
	})
	drained := time.Since(drainStart)
	e2eharness.Eventually(t, 5*time.Minute, "the outbox to drain", func() bool { return outboxDrained(env) })
	take()
	slackGot := slackDeliveries(sl.Posts(slackChannel))
	matrixGot := matrixDeliveries(mx.botMessages(t))
	slackGot.checkExactlyOnce(t, "slack", want)
	matrixGot.checkExactlyOnce(t, "matrix", want)

	p.Signal(syscall.SIGTERM)
	if code, took := p.Wait(30 * time.Second); code != 0 {
		t.Errorf("daemon exit %d after SIGTERM (%s)", code, took)
	}
	rep := env.Sources()
	polled, failing := 0, 0
	for _, s := range rep.Sources {
		if s.Status != "waiting" {
			polled++
		}
		if s.Failures > 0 {
			failing++
		}
	}
	for _, c := range rep.Channels {
		if c.Pending+c.Parked != 0 {
			t.Errorf("channel %s still has %d pending and %d parked alerts: %s", c.ID, c.Pending, c.Parked, c.Reason)
		}
	}
	if failing > 0 {
		t.Errorf("%d sources failing at the end", failing)
	}

	// The figures.
	faults := func(reqs []e2eharness.ProxiedRequest) (total, failed int) {
		for _, r := range reqs {
			total++
			if !r.Forwarded || r.Status == 0 || r.Status >= 400 {
				failed++
			}
		}
		return
	}
	slTotal, slFailed := faults(slProxy.Requests())
	mxTotal, mxFailed := faults(mxProxy.Requests())
	// Polls start together at each minute of the schedule, so a single
	// sample may catch a burst of goroutines: compare medians of windows.
	early, late := window(samples, 0.2, 0.4), window(samples, 0.8, 1.0)
	var rss []int64
	var gor []float64
	for _, s := range samples {
		rss = append(rss, s.rss)
		gor = append(gor, s.goroutines)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| figure | value |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| duration of load | %s |\n", duration)
	fmt.Fprintf(&b, "| sources, polled every minute | %d (%d polled at least once) |\n", nSources, polled)
	fmt.Fprintf(&b, "| new items (1%% of sources per minute) | %d |\n", len(want))
	fmt.Fprintf(&b, "| Slack: posts / Web API requests / failed by the proxy or lost | %d / %d / %d (%.1f%%) |\n", len(slackGot.order), slTotal, slFailed, 100*float64(slFailed)/float64(max(slTotal, 1)))
	fmt.Fprintf(&b, "| Matrix: notices / requests / failed by the proxy or lost | %d / %d / %d (%.1f%%) |\n", len(matrixGot.order), mxTotal, mxFailed, 100*float64(mxFailed)/float64(max(mxTotal, 1)))
	fmt.Fprintf(&b, "| lost / doubled | %d / %d |\n", lost(slackGot, want)+lost(matrixGot, want), doubled(slackGot)+doubled(matrixGot))
	fmt.Fprintf(&b, "| time to drain after the load stopped | %s |\n", drained.Round(time.Second))
	fmt.Fprintf(&b, "| VmRSS median of 20-40%% / of 80-100%% of the run / max | %.1f / %.1f / %.1f MiB |\n", mib(early.rss), mib(late.rss), mib(slices.Max(rss)))
	fmt.Fprintf(&b, "| go_goroutines median of 20-40%% / of 80-100%% of the run / max | %.0f / %.0f / %.0f |\n", early.goroutines, late.goroutines, slices.Max(gor))
	fmt.Fprintf(&b, "| samples (every %s) | %d |\n", sampleEvery, len(samples))
	fmt.Fprintf(&b, "\n| t | VmRSS MiB | goroutines | outbox |\n| --- | --- | --- | --- |\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "| %s | %.1f | %.0f | %d |\n", s.at.Round(time.Second), mib(s.rss), s.goroutines, s.outbox)
	}
	t.Logf("soak figures:\n%s", b.String())
	if path := os.Getenv("POLICYWIRE_SOAK_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Errorf("write report: %v", err)
		}
	}

	// Flat: a leak of one goroutine per poll or per delivery would add
	// thousands; memory may grow with the archive, not without bound.
	if late.goroutines > early.goroutines+50 {
		t.Errorf("goroutines grew from %.0f to %.0f", early.goroutines, late.goroutines)
	}
	if float64(late.rss) > 1.5*float64(early.rss)+32<<20 {
		t.Errorf("resident memory grew from %.1f MiB to %.1f MiB", mib(early.rss), mib(late.rss))
	}
}

// window is the median RSS and goroutine count of the samples taken
// between the fractions from and to of the run.
func window(samples []soakSample, from, to float64) soakSample {
	end := samples[len(samples)-1].at
	var rss []int64
	var gor []float64
	for _, s := range samples {
		if f := float64(s.at) / float64(max(end, 1)); f >= from && f <= to {
			rss = append(rss, s.rss)
			gor = append(gor, s.goroutines)
		}
	}
	if len(rss) == 0 {
		last := samples[len(samples)-1]
		return last
	}
	slices.Sort(rss)
	slices.Sort(gor)
	return soakSample{rss: rss[len(rss)/2], goroutines: gor[len(gor)/2]}
}

func feedPath(i int) string { return fmt.Sprintf("/feeds/s%04d.rss", i) }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func lost(d deliveries, want []string) int {
	n := 0
	for _, w := range want {
		if d.count[w] == 0 {
			n++
		}
	}
	return n
}

func doubled(d deliveries) int {
	n := 0
	keys := make([]string, 0, len(d.count))
	for k := range d.count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		n += max(d.count[k]-1, 0)
	}
	return n
}
