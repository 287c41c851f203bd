package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/store"
)

// TestWatchCrashMidDelivery: a person's watch matches a dozen new items;
// run --once is killed with SIGKILL while it sends them to the person's
// direct messages. A second run --once sends the rest, and the person has
// every item exactly once; the channel, whose topic matches none, nothing.
func TestWatchCrashMidDelivery(t *testing.T) {
	t.Parallel()
	const total = 12
	fake := slackfake.New(t)
	fx, items := feedServer(t, "Tech envoy briefing", total)

	env := newEnv(t)
	env.WriteConfig(setup{
		dataDir: env.DataDir(), slackURL: fake.URL(),
		topics:   map[string]string{"fisheries": "fisheries"},
		sources:  []source{{id: "briefings", url: fx.URL + "/feed.rss"}},
		channels: []channel{{id: "desk", slack: "C0DESK", topics: []string{"fisheries"}}},
	}.yaml())
	// The watch as `watch "tech envoy"` stores it.
	st, err := store.Open(filepath.Join(env.DataDir(), "policywire.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddWatch(store.Watch{Platform: "slack", User: "U1ALICE", Query: `"tech envoy"`}, 20); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	dm := slackfake.DirectChannel("U1ALICE")
	p := env.Start("run", "--once")
	e2eharness.Eventually(t, 60*time.Second, "the first direct message", func() bool {
		if !p.Running() {
			t.Fatalf("run --once ended before it could be killed mid-delivery (%d sent)", len(fake.Posts(dm)))
		}
		return len(fake.Posts(dm)) >= 1
	})
	p.Kill()
	if seen := len(fake.Posts(dm)); seen >= total {
		t.Fatalf("after SIGKILL %d of %d direct messages were sent; the kill did not land mid-delivery", seen, total)
	}
	if r := env.Run(90*time.Second, "run", "--once"); r.Code != 0 {
		t.Fatalf("run --once after the crash failed\n%s", r)
	}
	exactlyOnce(t, fake.Posts(dm), items)
	if n := len(fake.Posts("C0DESK")); n != 0 {
		t.Errorf("the channel got %d posts", n)
	}
}
