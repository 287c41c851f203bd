package bot

import (
	"fmt"
	"sort"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/query"
	"github.com/policywire/policywire/store"
)

// Router decides which channels want an item: a channel passes an item when
// the item's source is among the channel's sources (or the channel names
// none) and one of its topics or chat subscriptions matches (or it has
// neither, and so takes everything).
type Router struct {
	// Now resolves the time filters of subscriptions (since:7d) when an
	// item is routed; nil means the clock.
	Now func() time.Time
	// loc is the zone whose calendar days date: and after: name.
	loc      *time.Location
	channels []channelRule
	// watches are the personal watches, one rule per person.
	watches []watchRule
	// topicWords are the positive words of every topic, for summaries.
	topicWords map[string][]string
	// muted are the sources muted per channel from chat; their alerts
	// are not routed there.
	muted map[string]map[string]bool
}

type namedQuery struct {
	name  string
	query *query.Query
}

type channelRule struct {
	id       string
	sources  map[string]bool
	topics   []namedQuery
	subs     []namedQuery
	digest   bool
	takesAll bool
}

// NewRouter compiles the topics of cfg and the chat subscriptions subs.
func NewRouter(cfg *config.Config, subs []store.Subscription) (*Router, error) {
	topics := make(map[string]*query.Query, len(cfg.Topics))
	r := &Router{topicWords: make(map[string][]string, len(cfg.Topics)), loc: cfg.Location}
	for _, t := range cfg.Topics {
		q, err := query.ParseTopic(t.Query)
		if err != nil {
			return nil, fmt.Errorf("bot: topic %q: %w", t.ID, err)
		}
		topics[t.ID] = q
		r.topicWords[t.ID] = query.Words(q)
	}
	subsByChannel := make(map[string][]namedQuery)
	for _, s := range subs {
		q, err := query.Parse(s.Query)
		if err != nil {
			// A subscription was valid when stored; a parser change must not
			// stop the bot, so the broken one is left out.
			continue
		}
		subsByChannel[s.Channel] = append(subsByChannel[s.Channel], namedQuery{name: fmt.Sprintf("%q", s.Query), query: q})
	}
	for _, ch := range cfg.Channels {
		rule := channelRule{id: ch.ID, digest: ch.Digest != "", subs: subsByChannel[ch.ID]}
		if len(ch.Sources) > 0 {
			rule.sources = make(map[string]bool, len(ch.Sources))
			for _, s := range ch.Sources {
				rule.sources[s] = true
			}
		}
		for _, t := range ch.Topics {
			q, ok := topics[t]
			if !ok {
				return nil, fmt.Errorf("bot: channel %q names unknown topic %q", ch.ID, t)
			}
			rule.topics = append(rule.topics, namedQuery{name: t, query: q})
		}
		rule.takesAll = len(rule.topics) == 0
		r.channels = append(r.channels, rule)
	}
	return r, nil
}

// Route returns one route per channel that wants the item, with the names
// of the topics (and subscriptions) that matched.
func (r *Router) Route(it policywire.Item) []store.Route {
	var atTime time.Time // read once, when a subscription or watch needs it
	at := func() time.Time {
		if atTime.IsZero() {
			atTime = time.Now()
			if r.Now != nil {
				atTime = r.Now()
			}
			if r.loc != nil {
				atTime = atTime.In(r.loc)
			}
		}
		return atTime
	}
	var doc *query.Doc
	var routes []store.Route
	for _, ch := range r.channels {
		if (ch.sources != nil && !ch.sources[it.Source]) || r.muted[ch.id][it.Source] {
			continue
		}
		if doc == nil && (len(ch.topics) > 0 || len(ch.subs) > 0) {
			doc = query.Prepare(it)
		}
		var matched []string
		for _, t := range ch.topics {
			if t.query.MatchAt(doc, time.Time{}) {
				matched = append(matched, t.name)
			}
		}
		for _, s := range ch.subs {
			if s.query.MatchAt(doc, at()) {
				matched = append(matched, s.name)
			}
		}
		if len(matched) == 0 && !ch.takesAll {
			continue
		}
		routes = append(routes, store.Route{Channel: ch.id, Topics: matched, Digest: ch.digest})
	}
	if len(r.watches) > 0 {
		if doc == nil {
			doc = query.Prepare(it)
		}
		routes = r.matchWatches(doc, it, at, routes)
	}
	return routes
}

// addMutes keeps each muted source out of its channel.
func (r *Router) addMutes(mutes []store.Mute) {
	r.muted = make(map[string]map[string]bool)
	for _, m := range mutes {
		if r.muted[m.Channel] == nil {
			r.muted[m.Channel] = map[string]bool{}
		}
		r.muted[m.Channel][m.Source] = true
	}
}

// Wanted reports whether any channel wants the item.
func (r *Router) Wanted(it policywire.Item) bool { return len(r.Route(it)) > 0 }

// TopicWords returns the words of the named topics, for weighting summaries.
func (r *Router) TopicWords(topics []string) []string {
	seen := map[string]bool{}
	var words []string
	for _, t := range topics {
		for _, w := range r.topicWords[t] {
			if !seen[w] {
				seen[w] = true
				words = append(words, w)
			}
		}
	}
	sort.Strings(words)
	return words
}
