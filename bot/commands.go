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
	"unicode/utf8"

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
	// Actions are buttons under the answer, where the platform has them.
	Actions []Action
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

// MaxCommandChars is the longest command line answered, in characters.
const MaxCommandChars = 2000

// Commands answers chat commands for every platform.
type Commands struct {
	Bot      *Bot
	Searcher Searcher
	// Now is the clock of time filters and of the per-person rate limit.
	Now func() time.Time

	limiter commandLimiter
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
		prefix + " mute SOURCE — stop one source's alerts here; unmute SOURCE brings them back",
		prefix + " watch QUERY — new items that match, to you by direct message",
		prefix + " watches — your watches",
		prefix + " unwatch ID — remove one of yours",
		prefix + " help — this list",
		`Queries: words (all must match), "a phrase", word* (3 letters or more), OR, NOT or -word, ( ), title: summary: source: lang: ref:`,
		"Time: since:7d since:12h after:2026-01-01 before:2026-06-30 date:2026-11 sort:date; a query is at most " + strconv.Itoa(query.MaxQueryChars) + " characters",
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
	chat := c.Bot.Config().Chat
	if ok, wait := c.limiter.allow(chat, req.Platform+"\x00"+req.User, c.now()); !ok {
		return limited(chat, wait), nil
	}
	if n := utf8.RuneCountInString(req.Text); n > MaxCommandChars {
		return Answer{Text: fmt.Sprintf("That command is too long: %d characters, and the most is %d.", n, MaxCommandChars)}, nil
	}
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
	case "watch":
		return c.watch(ctx, req, rest)
	case "watches":
		return c.watches(req)
	case "unwatch":
		return c.unwatch(req, rest)
	case "mute":
		return c.mute(req, rest)
	case "unmute":
		return c.unmute(req, rest)
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

// localNow is now in the configured zone, whose calendar days a query's
// date: and after: name.
func (c *Commands) localNow() time.Time {
	if loc := c.Bot.Config().Location; loc != nil {
		return c.now().In(loc)
	}
	return c.now()
}

// queryError explains a query that does not parse.
func queryError(q string, err error) Answer {
	var se *query.SyntaxError
	if errors.As(err, &se) {
		// The column counts the characters of the query as Parse read it.
		return Answer{Text: fmt.Sprintf("That query does not parse at column %d: %s.", se.Pos, se.Msg), Lines: []string{"  " + clip(query.Clean(q), 200), "  " + strings.Repeat(" ", max(se.Pos-1, 0)) + "^"}}
	}
	return Answer{Text: "That query does not parse: " + err.Error()}
}

func (c *Commands) search(ctx context.Context, q string) (Answer, error) {
	return c.SearchPage(ctx, q, 1)
}

func (c *Commands) entry(it policywire.Item, snippet string) Entry {
	cfg := c.Bot.Config()
	name := it.Source
	if src, ok := cfg.SourceByID(it.Source); ok {
		name = sourceName(src)
	}
	meta := name
	if d := it.Date(); !d.IsZero() {
		meta += " · " + d.In(cfg.Location).Format(DateLayout)
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
	a := Answer{Text: fmt.Sprintf("%d source%s:", len(rep.Sources), plural(len(rep.Sources)))}
	for _, s := range rep.Sources {
		line := fmt.Sprintf("• %s — %s, last success %s, %d item%s", s.Name, s.Status, fmtTime(s.LastSuccess, loc), s.Items, plural(s.Items))
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
	switch verb {
	case "subscribe", "unsubscribe", "mute", "unmute":
		return true
	}
	return false
}

// notAllowed is the refusal of a subscription or mute change, naming who
// may.
func notAllowed(platform string) Answer {
	if platform == "slack" {
		return Answer{Text: "Only workspace admins and owners, and the users listed under slack.admins in policywire's config, may change subscriptions and mutes."}
	}
	return Answer{Text: "Only room moderators (power level 50 or more) and policywire admins may change subscriptions and mutes."}
}

// managedChannel is the configured channel of a command that changes it
// (subscriptions, mutes), or the answer that refuses the command.
func (c *Commands) managedChannel(req CommandRequest) (string, *Answer) {
	if !req.MayManage {
		a := notAllowed(req.Platform)
		return "", &a
	}
	ch, ok := c.channelFor(req)
	if !ok {
		a := notConfigured()
		return "", &a
	}
	return ch, nil
}

func (c *Commands) subscribe(ctx context.Context, req CommandRequest, q string) (Answer, error) {
	ch, refused := c.managedChannel(req)
	if refused != nil {
		return *refused, nil
	}
	if q == "" {
		return Answer{Text: "Subscribe to what? For example: subscribe \"tech ambassador\""}, nil
	}
	parsed, err := query.Parse(q)
	if err == nil {
		err = query.ForRouting(parsed)
	}
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
	c.addLastMatches(ctx, parsed, &a)
	return a, nil
}

// addLastMatches shows under a new subscription or watch the last items it
// would have matched, when the archive can say.
func (c *Commands) addLastMatches(ctx context.Context, q *query.Query, a *Answer) {
	if c.Searcher == nil {
		return
	}
	hits, err := c.Searcher.Search(ctx, q, policywire.SearchOptions{Limit: 3, Newest: true, Now: c.localNow()})
	if err == nil && len(hits) > 0 {
		a.Text += " The last items it would have matched:"
		for _, h := range hits {
			a.Entries = append(a.Entries, c.entry(h.Item, ""))
		}
	}
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
	muted, err := c.muteLines(ch)
	if err != nil {
		return Answer{}, err
	}
	a := Answer{Text: "This channel's subscriptions:"}
	if len(subs) == 0 {
		a.Text = "This channel has no subscriptions."
	}
	for _, s := range subs {
		a.Lines = append(a.Lines, fmt.Sprintf("• %s: %s", s.ID, s.Query))
	}
	a.Lines = append(a.Lines, muted...)
	return a, nil
}

func (c *Commands) unsubscribe(req CommandRequest, id string) (Answer, error) {
	ch, refused := c.managedChannel(req)
	if refused != nil {
		return *refused, nil
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
