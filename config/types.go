package config

import (
	"log/slog"
	"time"
)

// Secret holds a token or key. It never prints itself: fmt, slog and JSON
// all see "[redacted]"; Value gives the real string to the code that needs it.
type Secret string

// Value returns the secret itself; call it only where the secret is used.
func (s Secret) Value() string { return string(s) }

// String hides the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the secret from %#v.
func (s Secret) GoString() string { return `config.Secret("[redacted]")` }

// MarshalText hides the secret from encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue hides the secret from log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Source types.
const (
	TypeFeed = "feed"
	TypeHTML = "html"
	TypeJSON = "json"
)

// Config is the whole validated configuration. Durations and sizes are
// parsed, ${VAR} is expanded and defaults are filled in by Load.
type Config struct {
	// Path is the file the config was loaded from.
	Path     string
	DataDir  string
	Timezone string
	Location *time.Location

	Log      Log
	HTTP     HTTP
	Fetch    Fetch
	Defaults Defaults
	Summary  Summary
	Chat     Chat

	// Topics keep the order of the file.
	Topics   []Topic
	Sources  []Source
	Slack    *Slack
	Matrix   *Matrix
	Channels []Channel
	// Admin is the id of the channel told about failing sources and bad
	// reloads; "" for none.
	Admin string
	// Warnings are FILE:LINE:COL messages about a valid config that
	// should still change (a secret written in the file).
	Warnings []string
}

// Chat limits what chat commands may change and what one person may do
// through them.
type Chat struct {
	// MaxSubscriptions bounds the subscriptions of one channel.
	MaxSubscriptions int
	// MaxWatches is how many personal watches one person may keep.
	MaxWatches int
	// CommandsPerMinute is how many commands one person may send a minute
	// on average, with CommandBurst at once; 0 turns the limit off.
	CommandsPerMinute int
	CommandBurst      int
}

// Log sets logging: level is debug, info, warn or error; format is auto
// (text on a terminal, JSON otherwise), text or json.
type Log struct {
	Level  string
	Format string
}

// HTTP is the bot's own listener; Listen "" turns it off. MetricsListen,
// when set, serves /metrics on an address of its own instead (so the
// public Slack endpoint need not expose it).
type HTTP struct {
	Listen        string
	MetricsListen string
}

// Fetch limits every outbound request.
type Fetch struct {
	UserAgent    string
	Timeout      time.Duration
	MaxBytes     int64
	Concurrency  int
	HostDelay    time.Duration
	AllowPrivate bool
}

// Defaults apply to every source that does not set its own.
type Defaults struct {
	Schedule  string
	Backfill  time.Duration
	Retention time.Duration
	// FollowUpWindow is the channels' follow_up_window unless they set one.
	FollowUpWindow time.Duration
}

// Summary configures how summaries are made.
type Summary struct {
	MaxChars     int
	FetchArticle string // auto | always | never
	LLM          LLM
}

// LLM is an optional OpenAI-compatible chat-completions server; URL "" is off.
type LLM struct {
	URL     string
	Model   string
	APIKey  Secret
	Timeout time.Duration
}

// Topic is a named query in the query language. A topic made from a
// topic pack names it in Pack; Query is then the pack's query, ORed with
// the topic's own query when it has one.
type Topic struct {
	ID    string
	Pack  string
	Query string
}

// Source is one publication to poll. Schedule and Backfill are filled from
// Defaults when the source leaves them out.
type Source struct {
	ID       string
	Name     string
	Type     string // feed | html | json
	URL      string
	Schedule string
	Backfill time.Duration
	// Language is used for items and pages that do not declare one.
	Language string
	HTML     *HTMLSource
	JSON     *JSONSource
}

// HTMLSource holds the CSS selectors of an HTML listing page. A selector may
// end in @attr to take an attribute instead of the text.
type HTMLSource struct {
	Item       string
	Title      string
	Link       string
	Date       string
	DateFormat string
	Summary    string
}

// JSONSource holds dotted paths into a JSON document.
type JSONSource struct {
	Items      string
	Title      string
	Link       string
	BaseURL    string
	Date       string
	DateFormat string
	Summary    string
	GUID       string
}

// Slack is the Slack workspace connection.
type Slack struct {
	BotToken      Secret
	SigningSecret Secret
	AppToken      Secret
	Command       string
	APIURL        string
	// Admins are Slack user ids (U…/W…) that may change subscriptions
	// besides the workspace's own admins and owners.
	Admins []string
}

// Matrix is the Matrix account of the bot.
type Matrix struct {
	Homeserver  string
	UserID      string
	AccessToken Secret
	// DeviceID is the device of AccessToken, "" to take it from the
	// homeserver.
	DeviceID string
	// Password logs the bot in on first start, when AccessToken is
	// empty; the device and token it gets are kept in the data dir.
	Password Secret
	// PickleKey encrypts the keys of the bot's device in the data dir;
	// "" turns end-to-end encryption off.
	PickleKey     Secret
	CommandPrefix string
	Admins        []string
	// Autojoin says which invites the bot accepts: AutojoinConfigured
	// (the default), AutojoinAny or AutojoinNone.
	Autojoin string
}

// The values of matrix.autojoin.
const (
	// AutojoinConfigured joins the rooms under channels: and declines
	// other invites, saying how to add the room.
	AutojoinConfigured = "configured"
	// AutojoinAny joins every invite and answers commands there; alerts
	// go only to configured rooms.
	AutojoinAny = "any"
	// AutojoinNone joins no room on invite; invites are left pending.
	AutojoinNone = "none"
)

// MinPickleKeyLength is the shortest matrix.pickle_key accepted.
const MinPickleKeyLength = 16

// Channel is one Slack channel or Matrix room that receives alerts.
type Channel struct {
	ID      string
	Slack   string // Slack channel ID, or ""
	Matrix  string // Matrix room ID, or ""
	Topics  []string
	Sources []string
	Digest  string // cron spec; "" for instant alerts
	// FollowUps is FollowUpThread or FollowUpChannel; FollowUpWindow is
	// how recent the alert a follow-up replies to must be; ReplyBroadcast
	// shows Slack thread replies in the channel too.
	FollowUps      string
	FollowUpWindow time.Duration
	ReplyBroadcast bool
}

// Platform names the chat platform of a channel: "slack" or "matrix".
func (c Channel) Platform() string {
	if c.Slack != "" {
		return "slack"
	}
	return "matrix"
}

// Target is the channel or room id on its platform.
func (c Channel) Target() string {
	if c.Slack != "" {
		return c.Slack
	}
	return c.Matrix
}

// SourceByID returns the source with that id.
func (c *Config) SourceByID(id string) (Source, bool) {
	for _, s := range c.Sources {
		if s.ID == id {
			return s, true
		}
	}
	return Source{}, false
}

// ChannelByID returns the channel with that id.
func (c *Config) ChannelByID(id string) (Channel, bool) {
	for _, ch := range c.Channels {
		if ch.ID == id {
			return ch, true
		}
	}
	return Channel{}, false
}

// TopicByID returns the topic with that id.
func (c *Config) TopicByID(id string) (Topic, bool) {
	for _, t := range c.Topics {
		if t.ID == id {
			return t, true
		}
	}
	return Topic{}, false
}
