package matrix

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/testenv"
	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
	"github.com/policywire/policywire/store"
)

// councilFeed is an RSS feed of one Council press release per title,
// published an hour ago.
func councilFeed(titles ...string) []byte {
	var items strings.Builder
	for i, title := range titles {
		fmt.Fprintf(&items, `<item><guid isPermaLink="false">w%d</guid><link>https://www.consilium.europa.eu/en/press/w%d/</link><title>%s</title><description>%s.</description><pubDate>%s</pubDate></item>`,
			i, i, title, title, time.Now().Add(-time.Hour).Format(time.RFC1123Z))
	}
	return []byte(`<?xml version="1.0"?><rss version="2.0"><channel><title>Press releases</title><link>https://www.consilium.europa.eu/</link>` + items.String() + `</channel></rss>`)
}

// TestWatchDeliversToADirectRoom: watch "tech envoy" in Matrix (dendrite):
// the next poll's matching item arrives in a direct room made for that
// person only, created with is_direct and recorded in the bot's m.direct;
// unwatch stops it.
func TestWatchDeliversToADirectRoom(t *testing.T) {
	hs := homeserver.Get(t)
	ctx := testContext(t)
	botID, botToken := hs.Register(t, uniqueLocalpart(t, "bot"), false)
	aliceID, aliceToken := hs.Register(t, uniqueLocalpart(t, "alice"), false)
	bobID, _ := hs.Register(t, uniqueLocalpart(t, "bob"), false)
	alice := hs.Client(t, aliceID, aliceToken)

	fixtures := testenv.NewFixtureServer(t)
	fixtures.Set("/council.rss", councilFeed("Fisheries: Council agrees on catch limits"), "application/rss+xml")
	cfg := &config.Config{
		Location: brussels(t),
		Fetch:    config.Fetch{UserAgent: "policywire-test", Timeout: 5 * time.Second, MaxBytes: 1 << 20, Concurrency: 1, AllowPrivate: true},
		Sources:  []config.Source{{ID: "council-press", Name: "Council", Type: config.TypeFeed, URL: fixtures.URL + "/council.rss", Schedule: "@hourly"}},
		Matrix:   &config.Matrix{Homeserver: hs.URL, UserID: botID, AccessToken: config.Secret(botToken), CommandPrefix: "!pw"},
		Chat:     config.Chat{MaxWatches: 5},
	}
	st, err := store.Open(t.TempDir()+"/policywire.db", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fetcher := sources.NewFetcher(wiring.FetcherOptions(cfg.Fetch))
	t.Cleanup(fetcher.Close)
	sender := newSender(t, hs, botID, botToken)
	b, err := bot.New(bot.Options{Config: cfg, Store: st, Fetcher: fetcher, Senders: map[string]bot.Sender{"matrix": sender}, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	commands := &bot.Commands{Bot: b}
	command := func(user, text string) string {
		a, err := commands.Handle(ctx, bot.CommandRequest{Platform: "matrix", Target: "!elsewhere:localhost", User: user, Text: text}, "!pw")
		if err != nil {
			t.Fatal(err)
		}
		return a.Text
	}
	runOnce := func() {
		rep, err := b.RunOnce(ctx, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Undelivered) != 0 {
			t.Fatalf("undelivered: %+v", rep.Undelivered)
		}
	}
	runOnce()
	if got := command(aliceID, `watch "tech envoy"`); !strings.Contains(got, `Watching "tech envoy" for you (id w1)`) {
		t.Fatalf("watch answered %q", got)
	}
	if got := command(bobID, "watch fisheries"); !strings.Contains(got, "Watching fisheries") {
		t.Fatalf("bob's watch answered %q", got)
	}
	fixtures.Set("/council.rss", councilFeed("Fisheries: Council agrees on catch limits", "Council appoints the first EU tech envoy to Silicon Valley"), "application/rss+xml")
	runOnce()

	var direct map[id.UserID][]id.RoomID
	if err := sender.Client().GetAccountData(ctx, event.AccountDataDirectChats.Type, &direct); err != nil {
		t.Fatalf("m.direct: %v", err)
	}
	rooms := direct[id.UserID(aliceID)]
	if len(rooms) != 1 || len(direct) != 1 {
		t.Fatalf("m.direct = %v, want one room, with alice", direct)
	}
	var invite event.MemberEventContent
	if err := sender.Client().StateEvent(ctx, rooms[0], event.StateMember, aliceID, &invite); err != nil {
		t.Fatal(err)
	}
	if invite.Membership != event.MembershipInvite || !invite.IsDirect {
		t.Errorf("alice's membership in the direct room: %+v, want an invite with is_direct", invite)
	}
	if _, err := alice.JoinRoomByID(ctx, rooms[0]); err != nil {
		t.Fatal(err)
	}
	members, err := alice.JoinedMembers(ctx, rooms[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(members.Joined) != 2 {
		t.Errorf("the direct room has %d members, want the bot and alice", len(members.Joined))
	}
	// alerts waits until alice sees a message of her own sent now, so that
	// everything the bot sent before is visible too, and returns the bot's.
	alerts := func() []string {
		sentinel, err := alice.SendText(ctx, rooms[0], "sentinel")
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := alice.Messages(ctx, rooms[0], "", "", mautrix.DirectionBackward, nil, 100)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			seen := false
			for _, ev := range resp.Chunk {
				seen = seen || ev.ID == sentinel.EventID
				if ev.Type == event.EventMessage && ev.Sender.String() == botID {
					body, _ := ev.Content.Raw["body"].(string)
					out = append(out, strings.SplitN(body, "\n", 2)[0])
				}
			}
			if seen {
				return out
			}
			if time.Now().After(deadline) {
				t.Fatal("alice's own message did not show in 30 s")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	got := alerts()
	if len(got) != 1 || !strings.Contains(got[0], "Council appoints the first EU tech envoy to Silicon Valley") {
		t.Fatalf("alice's direct room holds %q", got)
	}

	if got := command(aliceID, "unwatch w1"); got != "Removed your watch w1." {
		t.Fatalf("unwatch answered %q", got)
	}
	fixtures.Set("/council.rss", councilFeed("Fisheries: Council agrees on catch limits", "Council appoints the first EU tech envoy to Silicon Valley", "A tech envoy for Africa"), "application/rss+xml")
	runOnce()
	if got := alerts(); len(got) != 1 {
		t.Errorf("after unwatch, alice's direct room holds %q", got)
	}
}
