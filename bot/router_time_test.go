package bot_test

import (
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/store"
)

// TestRouterSubscriptionTimeFilter: a subscription's since: applies to a new
// item's date when it is routed, by the router's clock, so an old item found
// late stays out of the channel.
func TestRouterSubscriptionTimeFilter(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Brussels")
	cfg := &config.Config{
		Location: loc,
		Topics:   []config.Topic{{ID: "dd", Query: `"digital diplomacy"`}},
		Channels: []config.Channel{{ID: "desk", Slack: "C0DESK", Topics: []string{"dd"}}},
	}
	r, err := bot.NewRouter(cfg, []store.Subscription{{Channel: "desk", Query: "cyber since:2d"}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, loc)
	r.Now = func() time.Time { return now }
	fresh := policywire.Item{Title: "Cyber note", Published: now.Add(-time.Hour)}
	old := policywire.Item{Title: "Cyber note", Published: now.Add(-5 * 24 * time.Hour)}
	if routes := r.Route(fresh); len(routes) != 1 || routes[0].Channel != "desk" {
		t.Errorf("a fresh item: routes %+v, want desk", routes)
	}
	if routes := r.Route(old); len(routes) != 0 {
		t.Errorf("an item five days old: routes %+v, want none", routes)
	}
	if _, err := bot.NewRouter(&config.Config{Topics: []config.Topic{{ID: "t", Query: "cyber since:2d"}}}, nil); err == nil {
		t.Error("NewRouter accepted a topic with a time filter")
	}
}
