package e2e

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/slackfake"
)

// slackAlertID is the alert id a post carries in its metadata ("" when
// it has none).
func slackAlertID(p slackfake.Post) string {
	if p.Metadata == nil {
		return ""
	}
	id, _ := p.Metadata.EventPayload["alert_id"].(string)
	return id
}

// slackTitle is the title at the head of a post's fallback text.
func slackTitle(p slackfake.Post) string {
	title, _, _ := strings.Cut(p.Text, " — ")
	return title
}

// deliveries tells, per title, how often a channel received it, and
// lists the titles in arrival order.
type deliveries struct {
	count map[string]int
	order []string
	// alerts counts the posts per alert id.
	alerts map[string]int
}

func slackDeliveries(posts []slackfake.Post) deliveries {
	d := deliveries{count: map[string]int{}, alerts: map[string]int{}}
	for _, p := range posts {
		t := slackTitle(p)
		d.count[t]++
		d.order = append(d.order, t)
		d.alerts[slackAlertID(p)]++
	}
	return d
}

func matrixDeliveries(ns []notice) deliveries {
	d := deliveries{count: map[string]int{}, alerts: map[string]int{}}
	for _, n := range ns {
		t := firstLine(n.body)
		d.count[t]++
		d.order = append(d.order, t)
		d.alerts[n.alertID]++
	}
	return d
}

// has reports whether every wanted title arrived at least once.
func (d deliveries) has(want []string) bool {
	for _, w := range want {
		if d.count[w] == 0 {
			return false
		}
	}
	return true
}

// checkExactlyOnce fails the test unless the channel received every
// wanted title exactly once, each under its own alert id, and nothing else.
func (d deliveries) checkExactlyOnce(t *testing.T, channel string, want []string) {
	t.Helper()
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[w] = true
		switch n := d.count[w]; {
		case n == 0:
			t.Errorf("%s: %q never arrived (lost)", channel, w)
		case n > 1:
			t.Errorf("%s: %q arrived %d times (doubled)", channel, w, n)
		}
	}
	for title, n := range d.count {
		if !wanted[title] {
			t.Errorf("%s: unexpected message %q (%d times)", channel, title, n)
		}
	}
	for id, n := range d.alerts {
		if id == "" {
			t.Errorf("%s: %d messages carry no alert id", channel, n)
		} else if n > 1 {
			t.Errorf("%s: alert %s posted %d times", channel, id, n)
		}
	}
}

// flaky returns a proxy rule failing about rate of the requests rule
// picks, each time in one of the given ways.
func flaky(rate float64, pick func(r *http.Request) bool, faults ...func(r *http.Request) *e2eharness.ProxyFault) e2eharness.ProxyRule {
	return func(r *http.Request, _ []byte) *e2eharness.ProxyFault {
		if !pick(r) || rand.Float64() >= rate {
			return nil
		}
		return faults[rand.IntN(len(faults))](r)
	}
}

// slackWebAPI picks the Web API calls that deliver alerts.
func slackWebAPI(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, "/chat.postMessage") || strings.HasSuffix(r.URL.Path, "/conversations.history")
}

// matrixNonSync picks every client-server call but the /sync long poll.
func matrixNonSync(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/_matrix/client/") && !strings.HasSuffix(r.URL.Path, "/sync")
}

// withConfig applies plain text replacements to a rendered config, for
// the few keys the shared setup does not cover.
func withConfig(yaml string, pairs ...string) string {
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(yaml, pairs[i]) {
			panic("withConfig: no " + pairs[i] + " in the config")
		}
		yaml = strings.Replace(yaml, pairs[i], pairs[i+1], 1)
	}
	return yaml
}

// sleepJitter sleeps between lo and hi.
func sleepJitter(lo, hi time.Duration) {
	time.Sleep(lo + time.Duration(rand.Int64N(int64(hi-lo)+1)))
}

// outboxDrained reports whether no channel has an alert waiting. A row
// leaves the outbox only once its delivery is recorded, and only a row
// still there can be posted again; so once every alert arrived and the
// outbox is drained, no second copy can follow, and a test may check that
// none came without waiting for one.
func outboxDrained(env *e2eharness.Env) bool {
	for _, ch := range env.Sources().Channels {
		if ch.Pending > 0 {
			return false
		}
	}
	return true
}
