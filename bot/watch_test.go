package bot_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/internal/testenv"
)

// councilWith is the Council fixture with one more press release on top,
// published an hour ago.
func councilWith(t *testing.T, guid, title string) []byte {
	t.Helper()
	feed := string(testenv.SourceFixture(t, "council-press.rss"))
	item := fmt.Sprintf(`<item><guid isPermaLink="false">%s</guid><link>https://www.consilium.europa.eu/en/press/press-releases/extra/%s/</link><title>%s</title><description>%s.</description><a10:updated>%s</a10:updated></item>`,
		guid, guid, title, title, time.Now().Add(-time.Hour).Format(time.RFC3339))
	at := strings.Index(feed, "<item>")
	return []byte(feed[:at] + item + feed[at:])
}

func (p *pipeline) command(t *testing.T, user, text string) bot.Answer {
	t.Helper()
	c := &bot.Commands{Bot: p.bot}
	a, err := c.Handle(context.Background(), bot.CommandRequest{Platform: "slack", Target: "C0EUDESK", User: user, Text: text}, "/policywire")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (p *pipeline) runOnce(t *testing.T) {
	t.Helper()
	if _, err := p.bot.RunOnce(context.Background(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestWatchDeliversByDirectMessage: watch "tech envoy" in Slack (fake):
// the next poll's matching item arrives as a direct message to that person
// only (conversations.open, then a post to the IM); the watch survives a
// restart; unwatch stops it; a person who left has their direct messages
// parked, not retried.
func TestWatchDeliversByDirectMessage(t *testing.T) {
	fixtures := councilAndEEAS(t, "council-press.rss")
	fake := slackfake.New(t)
	cfg := testConfig(fixtures)
	cfg.Chat.MaxWatches = 2
	dir := t.TempDir()
	p := newPipeline(t, cfg, fixtures, dir, fake)
	p.runOnce(t) // what is there already

	if a := p.command(t, "U1ALICE", `watch "tech envoy"`); !strings.Contains(a.Text, `Watching "tech envoy" for you (id w1)`) || a.Public {
		t.Fatalf("watch answered %q (public %v)", a.Text, a.Public)
	}
	p.command(t, "U2BOB", "watch fisheries")
	p.command(t, "U3GONE", `watch "tech envoy"`)
	fake.ChannelError("U3GONE", "user_not_found")
	if a := p.command(t, "U2BOB", "watch a"); !strings.Contains(a.Text, "no letters") && !strings.Contains(a.Text, "Watching") {
		t.Fatalf("second watch: %q", a.Text)
	}
	if a := p.command(t, "U2BOB", "watch b"); !strings.Contains(a.Text, "You already have 2 watches, the most one person may keep") {
		t.Fatalf("a watch over chat.max_watches answered %q", a.Text)
	}

	fixtures.Set("/council.rss", councilWith(t, "900001", "Council appoints the first EU tech envoy to Silicon Valley"), testenv.ContentTypeFor(".rss"))
	p.runOnce(t)
	dm := titles(fake.Posts(slackfake.DirectChannel("U1ALICE")))
	if !slices.Equal(dm, []string{"Council appoints the first EU tech envoy to Silicon Valley"}) {
		t.Fatalf("alice's direct messages: %q", dm)
	}
	if got := titles(fake.Posts(slackfake.DirectChannel("U2BOB"))); len(got) != 0 {
		t.Errorf("bob, who watches fisheries, got %q", got)
	}
	for _, post := range fake.Posts("C0EUDESK") {
		if strings.Contains(post.Text, "tech envoy") {
			t.Errorf("the watched item reached the channel: %q", post.Text)
		}
	}
	rows, err := p.store.Outbox("dm:slack:U3GONE", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || !rows[0].Parked || !strings.Contains(rows[0].ParkReason, "user_not_found") {
		t.Fatalf("the direct message of a person who left: %+v, want one row parked", rows)
	}

	// A restart keeps the watch.
	if err := p.bot.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.store.Close(); err != nil {
		t.Fatal(err)
	}
	p = newPipeline(t, cfg, fixtures, dir, fake)
	if a := p.command(t, "U1ALICE", "watches"); !strings.Contains(strings.Join(a.Lines, "\n"), `w1: "tech envoy"`) {
		t.Fatalf("after a restart, watches answered %q %q", a.Text, a.Lines)
	}
	fixtures.Set("/council.rss", councilWith(t, "900002", "EU tech envoy opens a Bangalore office"), testenv.ContentTypeFor(".rss"))
	p.runOnce(t)
	dm = titles(fake.Posts(slackfake.DirectChannel("U1ALICE")))
	if len(dm) != 2 || dm[1] != "EU tech envoy opens a Bangalore office" {
		t.Fatalf("after a restart, alice's direct messages: %q", dm)
	}
	// The parked rows of the person who left are not tried again.
	opens := fake.Calls("conversations.open")
	p.runOnce(t)
	if n := fake.Calls("conversations.open") - opens; n != 0 {
		t.Errorf("a run with nothing new called conversations.open %d times", n)
	}
	if rows, _ := p.store.Outbox("dm:slack:U3GONE", true, 0); len(rows) != 2 || !rows[0].Parked {
		t.Errorf("rows of the person who left: %+v", rows)
	}

	if a := p.command(t, "U2BOB", "unwatch w1"); !strings.Contains(a.Text, "You have no watch w1") {
		t.Errorf("bob removed alice's watch: %q", a.Text)
	}
	if a := p.command(t, "U1ALICE", "unwatch w1"); a.Text != "Removed your watch w1." {
		t.Fatalf("unwatch answered %q", a.Text)
	}
	fixtures.Set("/council.rss", councilWith(t, "900003", "A tech envoy for Africa"), testenv.ContentTypeFor(".rss"))
	p.runOnce(t)
	if dm := titles(fake.Posts(slackfake.DirectChannel("U1ALICE"))); len(dm) != 2 {
		t.Errorf("after unwatch, alice's direct messages: %q", dm)
	}
}
