package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/query"
	"github.com/policywire/policywire/store"
)

// dmPrefix starts the outbox channel of one person's direct messages:
// "dm:slack:U123", "dm:matrix:@alice:example.org". Their rows go through
// the outbox like any channel's, one worker per person.
const dmPrefix = "dm:"

// DirectChannel is the delivery channel of one person's watches; its
// target is the person's user id, which each sender turns into a direct
// conversation (Slack conversations.open, a Matrix direct room).
func DirectChannel(platform, user string) config.Channel {
	ch := config.Channel{ID: dmPrefix + platform + ":" + user}
	if platform == "slack" {
		ch.Slack = user
	} else {
		ch.Matrix = user
	}
	return ch
}

// IsDirectChannel reports whether a channel id is one person's direct
// messages.
func IsDirectChannel(id string) bool { return strings.HasPrefix(id, dmPrefix) }

// watchRule is one person's watches, compiled.
type watchRule struct {
	channel string
	queries []namedQuery
}

// addWatches compiles the watches into one rule per person, and returns
// the delivery channels of the people who have any.
func (r *Router) addWatches(watches []store.Watch) []config.Channel {
	byPerson := map[string]int{}
	var chans []config.Channel
	for _, w := range watches {
		q, err := query.Parse(w.Query)
		if err != nil {
			continue // valid when stored; a parser change must not stop the bot
		}
		ch := DirectChannel(w.Platform, w.User)
		i, ok := byPerson[ch.ID]
		if !ok {
			i = len(r.watches)
			byPerson[ch.ID] = i
			r.watches = append(r.watches, watchRule{channel: ch.ID})
			chans = append(chans, ch)
		}
		r.watches[i].queries = append(r.watches[i].queries, namedQuery{name: fmt.Sprintf("watch %q", w.Query), query: q})
	}
	return chans
}

// deliveryChannels are the configured channels and the direct messages of
// everyone who has a watch.
func (b *Bot) deliveryChannels(cfg *config.Config) []config.Channel {
	out := append([]config.Channel(nil), cfg.Channels...)
	if dms := b.directChannels.Load(); dms != nil {
		out = append(out, *dms...)
	}
	return out
}

// InstantChannels are the delivery channels that post each alert as it
// comes: every one but the digest channels.
func (b *Bot) InstantChannels(cfg *config.Config) []config.Channel {
	var out []config.Channel
	for _, ch := range b.deliveryChannels(cfg) {
		if ch.Digest == "" {
			out = append(out, ch)
		}
	}
	return out
}

// watchesChanged tells the running dispatcher about new or gone people.
func (b *Bot) watchesChanged() {
	if fn := b.onChannels.Load(); fn != nil {
		(*fn)()
	}
}

func (c *Commands) watch(ctx context.Context, req CommandRequest, q string) (Answer, error) {
	if q == "" {
		return Answer{Text: `Watch what? For example: watch "tech envoy" — new items that match come to you as a direct message.`}, nil
	}
	limit := c.Bot.Config().Chat.MaxWatches
	if limit <= 0 {
		return Answer{Text: "Personal watches are turned off here (chat.max_watches is 0)."}, nil
	}
	parsed, err := query.Parse(q)
	if err == nil {
		err = query.ForRouting(parsed)
	}
	if err != nil {
		return queryError(q, err), nil
	}
	w, err := c.Bot.opts.Store.AddWatch(store.Watch{Platform: req.Platform, User: req.User, Query: parsed.String(), Created: c.now()}, limit)
	if errors.Is(err, store.ErrTooManyWatches) {
		return Answer{Text: fmt.Sprintf("You already have %d watches, the most one person may keep. Remove one with unwatch ID (watches lists them).", limit)}, nil
	}
	if err != nil {
		return Answer{}, fmt.Errorf("bot: watch: %w", err)
	}
	if err := c.Bot.RebuildRouter(); err != nil {
		return Answer{}, err
	}
	c.Bot.watchesChanged()
	a := Answer{Text: fmt.Sprintf("Watching %s for you (id %s). New items that match will come to you as a direct message; unwatch %s stops it.", w.Query, w.ID, w.ID)}
	c.addLastMatches(ctx, parsed, &a)
	return a, nil
}

func (c *Commands) watches(req CommandRequest) (Answer, error) {
	ws, err := c.Bot.opts.Store.Watches(req.Platform, req.User)
	if err != nil {
		return Answer{}, fmt.Errorf("bot: watches: %w", err)
	}
	if len(ws) == 0 {
		return Answer{Text: `You have no watches. Add one with watch QUERY, for example: watch "tech envoy"`}, nil
	}
	a := Answer{Text: fmt.Sprintf("Your watches (%d of %d):", len(ws), c.Bot.Config().Chat.MaxWatches)}
	for _, w := range ws {
		a.Lines = append(a.Lines, fmt.Sprintf("• %s: %s", w.ID, w.Query))
	}
	return a, nil
}

func (c *Commands) unwatch(req CommandRequest, id string) (Answer, error) {
	if id == "" {
		return Answer{Text: "Unwatch which? Give its id, as listed by watches."}, nil
	}
	removed, err := c.Bot.opts.Store.RemoveWatch(req.Platform, req.User, id)
	if err != nil {
		return Answer{}, fmt.Errorf("bot: unwatch: %w", err)
	}
	if !removed {
		return Answer{Text: fmt.Sprintf("You have no watch %s.", clip(id, 40))}, nil
	}
	if err := c.Bot.RebuildRouter(); err != nil {
		return Answer{}, err
	}
	c.Bot.watchesChanged()
	return Answer{Text: fmt.Sprintf("Removed your watch %s.", id)}, nil
}

// matchWatches adds a route per person whose watch matches the item.
func (r *Router) matchWatches(doc *query.Doc, it policywire.Item, at func() time.Time, routes []store.Route) []store.Route {
	for _, w := range r.watches {
		var matched []string
		for _, q := range w.queries {
			if q.query.MatchAt(doc, at()) {
				matched = append(matched, q.name)
			}
		}
		if len(matched) > 0 {
			routes = append(routes, store.Route{Channel: w.channel, Topics: matched})
		}
	}
	return routes
}
