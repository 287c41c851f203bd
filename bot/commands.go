package bot

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/query"
	"github.com/policywire/policywire/store"
)

// Searcher searches the archive (store/index implements it; the hit and
// option types are the domain's, so the index needs nothing from bot).
type Searcher interface {
	Search(ctx context.Context, q *query.Query, o policywire.SearchOptions) ([]policywire.SearchHit, error)
}

// CommandRequest is one chat command, as a platform adapter read it.
type CommandRequest struct {
	Platform string // "slack" or "matrix"
	Target   string // Slack channel id or Matrix room id it came from
	User     string
	// MayManage says the platform allows this user to change the room's
	// subscriptions (Matrix: power level >= 50 or matrix.admins; Slack: a
	// workspace admin or owner, or slack.admins).
	MayManage bool
	Text      string // the command line without the prefix ("search cyber")
}

// Entry is one item in an answer.
type Entry struct {
	Title   string
	URL     string
	Meta    string // source · date
	Snippet string // may hold «marked» words
}

// Answer is a command's reply, rendered by each platform in its own markup.
type Answer struct {
	// Text is the lead line (plain text, never markup).
	Text    string
	Entries []Entry
	// Lines follow the entries as plain text.
	Lines []string
	// Public answers are seen by the whole channel; the rest only by the
	// asker where the platform can do that (Slack ephemeral messages).
	Public bool
}

// Plain renders an answer as plain text (Matrix body, Slack fallback, logs).
func (a Answer) Plain() string {
	var b strings.Builder
	b.WriteString(a.Text)
	for i, e := range a.Entries {
		fmt.Fprintf(&b, "\n%d. %s\n   %s\n   %s", i+1, e.Title, e.URL, e.Meta)
		if e.Snippet != "" {
			fmt.Fprintf(&b, "\n   %s", strings.NewReplacer("«", "", "»", "").Replace(e.Snippet))
		}
	}
	for _, l := range a.Lines {
		b.WriteString("\n" + l)
	}
	return b.String()
}

// Commands answers chat commands for every platform.
type Commands struct {
	Bot      *Bot
	Searcher Searcher
	Now      func() time.Time
}

// HelpText lists the commands; prefix is "/policywire" or "!pw".
func HelpText(prefix string) []string {
	return []string{
		prefix + " search QUERY — the best 5 matches in the archive",
		prefix + " latest [N] — the newest N alerts of this channel",
		prefix + " sources — each source with its health",
		prefix + " subscribe QUERY — add a query to this channel",
		prefix + " subscriptions — this channel's queries",
		prefix + " unsubscribe ID — remove one",
		prefix + " help — this list",
		`Queries: words (all must match), "a phrase", word*, OR, NOT or -word, ( ), title: summary: source: lang: ref:`,
	}
}

// Handle answers one command. Errors are for failures of the bot; a bad
// command or query is answered, not returned.
func (c *Commands) Handle(ctx context.Context, req CommandRequest, prefix string) (ans Answer, err error) {
	defer func() {
		// A command that crashes (a bug on some input) fails alone: the
		// listener that runs it, and the daemon, go on.
		if r := recover(); r != nil {
			ans, err = Answer{}, &PanicError{What: fmt.Sprintf("command %q", firstWordOf(req.Text)), Value: r, Stack: debug.Stack()}
		}
	}()
	verb, rest := splitVerb(req.Text)
	switch verb {
	case "", "help":
		return Answer{Text: "policywire commands:", Lines: HelpText(prefix)}, nil
	case "search":
		return c.search(ctx, rest)
	case "latest":
		return c.latest(req, rest)
	case "sources":
		return c.sources()
	case "subscribe":
		return c.subscribe(ctx, req, rest)
	case "subscriptions":
		return c.subscriptions(req)
	case "unsubscribe":
		return c.unsubscribe(req, rest)
	default:
		return Answer{Text: fmt.Sprintf("Unknown command %q. Try %s help.", clip(verb, 40), prefix)}, nil
	}
}

func splitVerb(text string) (string, string) {
	text = strings.TrimSpace(text)
	i := strings.IndexFunc(text, unicode.IsSpace)
	if i < 0 {
		return strings.ToLower(text), ""
	}
	return strings.ToLower(text[:i]), strings.TrimSpace(text[i:])
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func (c *Commands) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// queryError explains a query that does not parse.
func queryError(q string, err error) Answer {
	var se *query.SyntaxError
	if errors.As(err, &se) {
		return Answer{Text: fmt.Sprintf("That query does not parse at column %d: %s.", se.Pos, se.Msg), Lines: []string{"  " + clip(q, 200), "  " + strings.Repeat(" ", max(se.Pos-1, 0)) + "^"}}
	}
	return Answer{Text: "That query does not parse: " + err.Error()}
}

func (c *Commands) search(ctx context.Context, q string) (Answer, error) {
	if q == "" {
		return Answer{Text: "Search for what? For example: search \"digital diplomacy\""}, nil
	}
	parsed, err := query.Parse(q)
	if err != nil {
		return queryError(q, err), nil
	}
	if c.Searcher == nil {
		return Answer{Text: "Search is not available: the archive index is not open."}, nil
	}
	hits, err := c.Searcher.Search(ctx, parsed, policywire.SearchOptions{Limit: 5})
	if err != nil {
		return Answer{}, fmt.Errorf("bot: search: %w", err)
	}
	if len(hits) == 0 {
		return Answer{Text: fmt.Sprintf("Nothing in the archive matches %s.", clip(q, 200))}, nil
	}
	if err := c.Bot.opts.Store.AddStorySources(hits); err != nil {
		return Answer{}, fmt.Errorf("bot: search: %w", err)
	}
	a := Answer{Text: fmt.Sprintf("Best matches for %s:", clip(q, 200))}
	for _, h := range hits {
		a.Entries = append(a.Entries, c.withStory(c.entry(h.Item, h.Snippet), h.Also, 0))
	}
	return a, nil
}

func (c *Commands) entry(it policywire.Item, snippet string) Entry {
	cfg := c.Bot.Config()
	name := it.Source
	if src, ok := cfg.SourceByID(it.Source); ok {
		name = sourceName(src)
	}
	meta := name
	if d := it.Date(); !d.IsZero() {
		meta += " · " + d.In(cfg.Location).Format("2 Jan 2006")
	}
	if snippet == "" {
		snippet = clip(it.Summary, 200)
	}
	return Entry{Title: it.Title, URL: it.URL, Meta: meta, Snippet: snippet}
}

// channelFor finds the configured channel a command came from.
func (c *Commands) channelFor(req CommandRequest) (string, bool) {
	for _, ch := range c.Bot.Config().Channels {
		if ch.Platform() == req.Platform && ch.Target() == req.Target {
			return ch.ID, true
		}
	}
	return "", false
}

func notConfigured() Answer {
	return Answer{Text: "This channel is not one of policywire's channels; an admin adds it under channels: in the config."}
}

func (c *Commands) latest(req CommandRequest, arg string) (Answer, error) {
	n := 5
	if arg != "" {
		v, err := strconv.Atoi(arg)
		if err != nil || v < 1 {
			return Answer{Text: "latest takes a number, for example: latest 10"}, nil
		}
		n = min(v, 20)
	}
	ch, ok := c.channelFor(req)
	if !ok {
		return notConfigured(), nil
	}
	alerts, err := c.Bot.opts.Store.LatestDelivered(ch, n)
	if err != nil {
		return Answer{}, fmt.Errorf("bot: latest: %w", err)
	}
	if len(alerts) == 0 {
		return Answer{Text: "No alerts have been posted here yet."}, nil
	}
	a := Answer{Text: fmt.Sprintf("The newest %d alert%s here:", len(alerts), plural(len(alerts)))}
	for _, al := range alerts {
		a.Entries = append(a.Entries, c.withStory(c.entry(al.Item, ""), al.Also, al.ThreadReplies))
	}
	return a, nil
}

func (c *Commands) sources() (Answer, error) {
	rep, err := Health(c.Bot.Config(), c.Bot.opts.Store, c.now())
	if err != nil {
		return Answer{}, err
	}
	loc := c.Bot.Config().Location
	a := Answer{Text: fmt.Sprintf("%d sources:", len(rep.Sources))}
	for _, s := range rep.Sources {
		line := fmt.Sprintf("• %s — %s, last success %s, %d items", s.Name, s.Status, fmtTime(s.LastSuccess, loc), s.Items)
		if s.Failures > 0 {
			line += fmt.Sprintf(", failed %d× in a row: %s", s.Failures, clip(s.LastError, 160))
		} else if s.Warning != "" {
			line += ", warning: " + clip(s.Warning, 160)
		}
		a.Lines = append(a.Lines, line)
	}
	for _, ch := range rep.Channels {
		if ch.Parked > 0 {
			a.Lines = append(a.Lines, fmt.Sprintf("• channel %s: %d alert%s parked: %s", ch.ID, ch.Parked, plural(ch.Parked), clip(ch.Reason, 160)))
		}
	}
	return a, nil
}

// ManagesSubscriptions says whether a command line changes subscriptions,
// so that a platform looks up the user's rights only when they matter.
func ManagesSubscriptions(text string) bool {
	verb, _ := splitVerb(text)
	return verb == "subscribe" || verb == "unsubscribe"
}

// notAllowed is the refusal of a subscription change, naming who may.
func notAllowed(platform string) Answer {
	if platform == "slack" {
		return Answer{Text: "Only workspace admins and owners, and the users listed under slack.admins in policywire's config, may change subscriptions."}
	}
	return Answer{Text: "Only room moderators (power level 50 or more) and policywire admins may change subscriptions."}
}

func (c *Commands) subscribe(ctx context.Context, req CommandRequest, q string) (Answer, error) {
	if !req.MayManage {
		return notAllowed(req.Platform), nil
	}
	ch, ok := c.channelFor(req)
	if !ok {
		return notConfigured(), nil
	}
	if q == "" {
		return Answer{Text: "Subscribe to what? For example: subscribe \"tech ambassador\""}, nil
	}
	parsed, err := query.Parse(q)
	if err != nil {
		return queryError(q, err), nil
	}
	limit := c.Bot.Config().Chat.MaxSubscriptions
	if limit <= 0 {
		limit = config.DefaultMaxSubscriptions
	}
	sub, err := c.Bot.opts.Store.AddSubscription(store.Subscription{Channel: ch, Query: parsed.String(), By: req.User, Created: c.now()}, limit)
	if errors.Is(err, store.ErrTooManySubscriptions) {
		return Answer{Text: fmt.Sprintf("This channel already has %d subscription%s, the most it may have (chat.max_subscriptions). Remove one with unsubscribe ID first; subscriptions lists them.", limit, plural(limit))}, nil
	}
	if err != nil {
		return Answer{}, fmt.Errorf("bot: subscribe: %w", err)
	}
	if err := c.Bot.RebuildRouter(); err != nil {
		return Answer{}, err
	}
	a := Answer{Public: true, Text: fmt.Sprintf("Subscribed this channel to %s (id %s). New items that match will be posted here.", sub.Query, sub.ID)}
	if c.Searcher != nil {
		hits, err := c.Searcher.Search(ctx, parsed, policywire.SearchOptions{Limit: 3, Newest: true})
		if err == nil && len(hits) > 0 {
			a.Text += " The last items it would have matched:"
			for _, h := range hits {
				a.Entries = append(a.Entries, c.entry(h.Item, ""))
			}
		}
	}
	return a, nil
}

func (c *Commands) subscriptions(req CommandRequest) (Answer, error) {
	ch, ok := c.channelFor(req)
	if !ok {
		return notConfigured(), nil
	}
	subs, err := c.Bot.opts.Store.Subscriptions(ch)
	if err != nil {
		return Answer{}, fmt.Errorf("bot: subscriptions: %w", err)
	}
	if len(subs) == 0 {
		return Answer{Text: "This channel has no subscriptions."}, nil
	}
	a := Answer{Text: "This channel's subscriptions:"}
	for _, s := range subs {
		a.Lines = append(a.Lines, fmt.Sprintf("• %s: %s", s.ID, s.Query))
	}
	return a, nil
}

func (c *Commands) unsubscribe(req CommandRequest, id string) (Answer, error) {
	if !req.MayManage {
		return notAllowed(req.Platform), nil
	}
	ch, ok := c.channelFor(req)
	if !ok {
		return notConfigured(), nil
	}
	if id == "" {
		return Answer{Text: "Unsubscribe which? Give its id, as listed by subscriptions."}, nil
	}
	removed, err := c.Bot.opts.Store.RemoveSubscription(ch, id)
	if err != nil {
		return Answer{}, fmt.Errorf("bot: unsubscribe: %w", err)
	}
	if !removed {
		return Answer{Text: fmt.Sprintf("This channel has no subscription %s.", clip(id, 40))}, nil
	}
	if err := c.Bot.RebuildRouter(); err != nil {
		return Answer{}, err
	}
	return Answer{Public: true, Text: fmt.Sprintf("Removed subscription %s from this channel.", id)}, nil
}

func firstWordOf(s string) string {
	verb, _ := splitVerb(s)
	return verb
}
