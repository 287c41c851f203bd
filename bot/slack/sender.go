// Package slack posts policywire alerts, digests and notices to Slack
// channels through the Web API: it renders them as escaped Block Kit,
// paces posts per channel, classifies Slack's failures into the bot's
// permanent / retry-after / transient kinds, and makes a post idempotent
// per alert by tagging it with message metadata and looking for that tag in
// the channel's history before posting again after an uncertain failure.
// It also answers the /policywire slash command, over HTTP (signature
// checked first) and over Socket Mode. It knows nothing of the store, the outbox or the routing that chose the
// channel.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
)

// Message metadata event types; the payload carries the alert or digest id.
const (
	AlertEventType  = "policywire_alert"
	DigestEventType = "policywire_digest"
)

const (
	defaultPaceInterval  = time.Second
	defaultHistoryWindow = 24 * time.Hour
	defaultSettleDelay   = 2 * time.Second
	defaultHTTPTimeout   = 30 * time.Second
	// defaultRetryAfter is used when Slack rate-limits without saying for
	// how long.
	defaultRetryAfter = 30 * time.Second
	historyPageSize   = 200
	historyMaxPages   = 5
	// maxSuspects bounds the memory of uncertain attempts; the oldest are
	// forgotten first (the outbox still knows the row was attempted).
	maxSuspects = 10000
)

// Options configure a Sender.
type Options struct {
	// Token is the bot token (xoxb-…). It is sent to Slack only, never logged.
	Token string
	// APIURL is the Web API base URL, e.g. "https://slack.com/api/" (the
	// default) or a test server's URL; a missing trailing slash is added.
	APIURL string
	// Location is the time zone dates are shown in (UTC if nil).
	Location *time.Location
	Logger   *slog.Logger
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	// PaceInterval is the least time between two posts to one channel
	// (default 1 s, Slack's per-channel rate).
	PaceInterval time.Duration
	// HistoryWindow is how far back an earlier post of the same alert is
	// looked for (default 24 h).
	HistoryWindow time.Duration
	// SettleDelay is how long to wait after an uncertain failure before
	// looking in the history, so that a post still being processed by Slack
	// shows up (default 2 s).
	SettleDelay time.Duration
}

// Sender posts to Slack. It implements bot.Sender and is safe for
// concurrent use.
type Sender struct {
	client *slack.Client
	loc    *time.Location
	log    *slog.Logger
	pace   time.Duration
	window time.Duration
	settle time.Duration

	mu sync.Mutex
	// next is the earliest time of the next post per channel.
	next map[string]time.Time
	// blocked holds channels Slack rate-limited, until when.
	blocked map[string]time.Time
	// suspects are idempotency keys whose last attempt may have posted
	// without our knowing; the next attempt looks in the history first.
	suspects     map[string]uint64 // key → mark number
	suspectOrder []suspectMark
	marks        uint64
	// ims are the direct message conversations of people: user id → D….
	ims sync.Map
}

var _ bot.Sender = (*Sender)(nil)

// New returns a Sender. It does not contact Slack.
func New(o Options) *Sender {
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultHTTPTimeout}
	}
	opts := []slack.Option{slack.OptionHTTPClient(hc)}
	if o.APIURL != "" {
		u := o.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, slack.OptionAPIURL(u))
	}
	s := &Sender{
		client:   slack.New(o.Token, opts...),
		loc:      o.Location,
		log:      o.Logger,
		pace:     o.PaceInterval,
		window:   o.HistoryWindow,
		settle:   o.SettleDelay,
		next:     map[string]time.Time{},
		blocked:  map[string]time.Time{},
		suspects: map[string]uint64{},
	}
	if s.loc == nil {
		s.loc = time.UTC
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.pace <= 0 {
		s.pace = defaultPaceInterval
	}
	if s.window <= 0 {
		s.window = defaultHistoryWindow
	}
	if s.settle <= 0 {
		s.settle = defaultSettleDelay
	}
	return s
}

// Platform is "slack".
func (s *Sender) Platform() string { return "slack" }

// Client is the underlying Web API client, for the command adapter.
func (s *Sender) Client() *slack.Client { return s.client }

// Send posts one alert and returns its ts. It posts at most once per alert
// id: after an uncertain failure (the request may have reached Slack) it
// looks for the alert in the channel's history before posting again, both
// within this call and in any later call for the same id in this process.
// Rows that may have been in flight in an earlier process must go through
// SendChecked instead.
func (s *Sender) Send(ctx context.Context, channelID string, a policywire.Alert) (string, error) {
	return s.sendAlert(ctx, channelID, a, false)
}

// SendChecked is Send that always looks in the channel's history first.
// Use it for outbox rows that were attempted before, in this process or an
// earlier one (Attempts > 0, or left in flight by a crash).
func (s *Sender) SendChecked(ctx context.Context, channelID string, a policywire.Alert) (string, error) {
	return s.sendAlert(ctx, channelID, a, true)
}

func (s *Sender) sendAlert(ctx context.Context, channelID string, a policywire.Alert, checkFirst bool) (string, error) {
	if err := validTarget(channelID); err != nil {
		return "", err
	}
	if a.ID == "" {
		return "", &bot.PermanentError{Reason: "alert has no id", Err: errors.New("slack: alert without id")}
	}
	blocks, fallback := RenderAlert(a, s.loc)
	m := marker{eventType: AlertEventType, payload: map[string]string{"alert_id": a.ID}, thread: a.ThreadRoot}
	return s.deliver(ctx, channelID, m, checkFirst, append(messageOptions(blocks, fallback, &m), threadOptions(a)...))
}

// SendDigest posts a digest as as many messages as Slack's limits need and
// returns their ts in order. On failure it returns the ts posted so far;
// a retry of the same digest id looks each part up before posting it.
func (s *Sender) SendDigest(ctx context.Context, channelID string, d policywire.Digest) ([]string, error) {
	return s.sendDigest(ctx, channelID, d, false)
}

// SendDigestChecked is SendDigest that looks every part up in the channel's
// history first (for digests that may have been in flight in an earlier
// process).
func (s *Sender) SendDigestChecked(ctx context.Context, channelID string, d policywire.Digest) ([]string, error) {
	return s.sendDigest(ctx, channelID, d, true)
}

func (s *Sender) sendDigest(ctx context.Context, channelID string, d policywire.Digest, checkFirst bool) ([]string, error) {
	if err := validTarget(channelID); err != nil {
		return nil, err
	}
	if d.ID == "" {
		return nil, &bot.PermanentError{Reason: "digest has no id", Err: errors.New("slack: digest without id")}
	}
	parts := renderDigest(d, s.loc)
	markers := make([]marker, len(parts))
	for i := range parts {
		markers[i] = marker{eventType: DigestEventType, payload: map[string]string{
			"digest_id": d.ID,
			"part":      strconv.Itoa(i + 1),
			"parts":     strconv.Itoa(len(parts)),
		}}
	}
	refs := make([]string, 0, len(parts))
	for i, p := range parts {
		ts, err := s.deliver(ctx, channelID, markers[i], checkFirst, messageOptions(p.blocks, p.fallback, &markers[i]))
		if err != nil {
			// Parts already posted must not be posted again by the retry.
			for _, m := range markers[:i] {
				s.markSuspect(m.key())
			}
			return refs, fmt.Errorf("slack: digest %s part %d/%d: %w", d.ID, i+1, len(parts), err)
		}
		refs = append(refs, ts)
	}
	return refs, nil
}

// SendNotice posts a short plain-text notice. Notices carry no idempotency
// marker: a rare duplicate warning is harmless.
func (s *Sender) SendNotice(ctx context.Context, channelID, text string) error {
	if err := validTarget(channelID); err != nil {
		return err
	}
	blocks, fallback := renderNotice(text)
	if _, _, err := s.postOnce(ctx, channelID, messageOptions(blocks, fallback, nil)); err != nil {
		return s.classify(channelID, "chat.postMessage", err)
	}
	return nil
}

// messageOptions are the options of every post: blocks with a plain
// fallback, no parsing of names, no unfurling, and the idempotency marker.
func messageOptions(blocks []slack.Block, fallback string, m *marker) []slack.MsgOption {
	opts := []slack.MsgOption{
		slack.MsgOptionBlocks(blocks...),
		slack.MsgOptionText(fallback, false),
		slack.MsgOptionParse(false),
		slack.MsgOptionLinkNames(false),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(),
	}
	if m != nil {
		opts = append(opts, slack.MsgOptionMetadata(m.metadata()))
	}
	return opts
}

func validTarget(channelID string) error {
	if strings.TrimSpace(channelID) == "" {
		return &bot.PermanentError{Reason: "no channel id", Err: errors.New("slack: empty channel id")}
	}
	return nil
}

// marker is the message metadata that identifies a post.
type marker struct {
	eventType string
	payload   map[string]string
	// thread is the ts of the thread a reply is posted in ("" for none):
	// an earlier copy is looked for among its replies.
	thread string
}

func (m marker) metadata() slack.SlackMetadata {
	p := make(map[string]any, len(m.payload))
	for k, v := range m.payload {
		p[k] = v
	}
	return slack.SlackMetadata{EventType: m.eventType, EventPayload: p}
}

func (m marker) key() string {
	switch m.eventType {
	case DigestEventType:
		return "digest\x00" + m.payload["digest_id"] + "\x00" + m.payload["part"] + "/" + m.payload["parts"]
	default:
		return "alert\x00" + m.payload["alert_id"]
	}
}

func (m marker) matches(md slack.SlackMetadata) bool {
	if md.EventType != m.eventType {
		return false
	}
	for k, want := range m.payload {
		got, ok := md.EventPayload[k]
		if !ok || fmt.Sprint(got) != want {
			return false
		}
	}
	return true
}

// deliver posts one message at most once for its marker.
func (s *Sender) deliver(ctx context.Context, channel string, m marker, checkFirst bool, opts []slack.MsgOption) (string, error) {
	channel, err := s.directChannel(ctx, channel)
	if err != nil {
		return "", err
	}
	key := m.key()
	if checkFirst || s.isSuspect(key) {
		ts, found, err := s.findPosted(ctx, channel, m)
		if err != nil {
			return "", err
		}
		if found {
			s.clearSuspect(key)
			s.log.Info("slack: message already posted, not posting again", "channel", channel, "marker", m.payload, "ts", ts)
			return ts, nil
		}
	}

	ts, sent, err := s.postOnce(ctx, channel, opts)
	if err == nil {
		s.clearSuspect(key)
		return ts, nil
	}
	if !sent || !isUncertain(err) {
		if sent && isServerError(err) {
			// A 5xx may come from a proxy after Slack accepted the post.
			s.markSuspect(key)
		}
		return "", s.classify(channel, "chat.postMessage", err)
	}

	s.markSuspect(key)
	s.log.Warn("slack: post failed after it may have reached Slack; checking history", "channel", channel, "marker", m.payload, "err", err)
	if werr := sleepCtx(ctx, s.settle); werr != nil {
		return "", s.classify(channel, "chat.postMessage", err)
	}
	found, ok, lerr := s.findPosted(ctx, channel, m)
	if lerr != nil {
		if bot.IsPermanent(lerr) {
			return "", lerr
		}
		return "", fmt.Errorf("%w (history lookup: %v)", s.classify(channel, "chat.postMessage", err), lerr)
	}
	if ok {
		s.clearSuspect(key)
		s.log.Info("slack: uncertain post found in history", "channel", channel, "marker", m.payload, "ts", found)
		return found, nil
	}

	ts, _, err = s.postOnce(ctx, channel, opts)
	if err == nil {
		s.clearSuspect(key)
		return ts, nil
	}
	return "", s.classify(channel, "chat.postMessage", err)
}

// postOnce waits for the channel's next slot and posts. sent reports
// whether the request was handed to the HTTP client.
func (s *Sender) postOnce(ctx context.Context, channel string, opts []slack.MsgOption) (ts string, sent bool, err error) {
	if err := s.reserve(ctx, channel); err != nil {
		return "", false, err
	}
	_, ts, err = s.client.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		var rl *slack.RateLimitedError
		if errors.As(err, &rl) {
			s.block(channel, bot.CapRetryAfter(rl.RetryAfter))
		}
		return "", true, err
	}
	return ts, true, nil
}

// reserve takes the channel's next posting slot and waits for it.
func (s *Sender) reserve(ctx context.Context, channel string) error {
	s.mu.Lock()
	now := time.Now()
	if until, ok := s.blocked[channel]; ok {
		if now.Before(until) {
			s.mu.Unlock()
			return &bot.RetryAfterError{After: until.Sub(now), Err: fmt.Errorf("slack: channel %s is rate limited", channel)}
		}
		delete(s.blocked, channel)
	}
	slot := s.next[channel]
	if slot.Before(now) {
		slot = now
	}
	s.next[channel] = slot.Add(s.pace)
	s.mu.Unlock()
	if err := sleepCtx(ctx, time.Until(slot)); err != nil {
		return fmt.Errorf("waiting for the channel's turn: %w", err)
	}
	return nil
}

func (s *Sender) block(channel string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	until := time.Now().Add(d)
	if until.After(s.blocked[channel]) {
		s.blocked[channel] = until
	}
}

// findPosted looks for a message carrying m in the channel's recent history.
func (s *Sender) findPosted(ctx context.Context, channel string, m marker) (string, bool, error) {
	if m.thread != "" {
		return s.findReply(ctx, channel, m)
	}
	oldest := time.Now().Add(-s.window)
	params := &slack.GetConversationHistoryParameters{
		ChannelID:          channel,
		Oldest:             fmt.Sprintf("%d.000000", oldest.Unix()),
		Limit:              historyPageSize,
		IncludeAllMetadata: true,
	}
	for page := 0; page < historyMaxPages; page++ {
		resp, err := s.client.GetConversationHistoryContext(ctx, params)
		if err != nil {
			return "", false, s.classify(channel, "conversations.history", err)
		}
		for _, msg := range resp.Messages {
			if m.matches(msg.Metadata) {
				return msg.Timestamp, true, nil
			}
		}
		if !resp.HasMore || resp.ResponseMetaData.NextCursor == "" {
			return "", false, nil
		}
		params.Cursor = resp.ResponseMetaData.NextCursor
	}
	s.log.Warn("slack: history lookup stopped before the end of the window", "channel", channel, "pages", historyMaxPages, "window", s.window)
	return "", false, nil
}

type suspectMark struct {
	key string
	n   uint64
}

func (s *Sender) isSuspect(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.suspects[key]
	return ok
}

func (s *Sender) markSuspect(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.suspects[key]; ok {
		return
	}
	s.marks++
	s.suspects[key] = s.marks
	s.suspectOrder = append(s.suspectOrder, suspectMark{key, s.marks})
	for len(s.suspects) > maxSuspects {
		old := s.suspectOrder[0]
		s.suspectOrder = s.suspectOrder[1:]
		if s.suspects[old.key] == old.n {
			delete(s.suspects, old.key)
		}
	}
}

func (s *Sender) clearSuspect(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.suspects, key)
	// Cleared keys stay in suspectOrder; compact it once they dominate.
	if len(s.suspectOrder) > 2*len(s.suspects)+64 {
		kept := s.suspectOrder[:0]
		for _, m := range s.suspectOrder {
			if s.suspects[m.key] == m.n {
				kept = append(kept, m)
			}
		}
		s.suspectOrder = kept
	}
}

// permanentCodes are Slack error codes that no retry will fix.
var permanentCodes = map[string]bool{
	"channel_not_found":                        true,
	"not_in_channel":                           true,
	"is_archived":                              true,
	"invalid_auth":                             true,
	"not_authed":                               true,
	"account_inactive":                         true,
	"token_revoked":                            true,
	"token_expired":                            true,
	"no_permission":                            true,
	"missing_scope":                            true,
	"not_allowed_token_type":                   true,
	"access_denied":                            true,
	"ekm_access_denied":                        true,
	"team_access_not_granted":                  true,
	"restricted_action":                        true,
	"restricted_action_read_only_channel":      true,
	"restricted_action_thread_only_channel":    true,
	"restricted_action_non_threadable_channel": true,
	"msg_too_long":                             true,
	"no_text":                                  true,
	"invalid_blocks":                           true,
	"invalid_blocks_format":                    true,
	"invalid_metadata_format":                  true,
	"invalid_metadata_schema":                  true,
	"metadata_too_large":                       true,
	"metadata_must_be_sent_from_app":           true,
	"invalid_arguments":                        true,
	"invalid_arg_name":                         true,
	"invalid_form_data":                        true,
	"method_deprecated":                        true,
	"deprecated_endpoint":                      true,
}

// outageCodes are Slack's answers when Slack itself is failing: every
// message would get them, so they are waited out, never counted against
// one message.
var outageCodes = map[string]bool{
	"internal_error":      true,
	"fatal_error":         true,
	"service_unavailable": true,
	"request_timeout":     true,
}

// classify turns a Slack client error into the bot's error kinds. The
// messages name the method and channel; the token is never part of them.
func (s *Sender) classify(channel, method string, err error) error {
	var (
		rl *bot.RetryAfterError
		pe *bot.PermanentError
	)
	if errors.As(err, &rl) || errors.As(err, &pe) {
		return err
	}
	wrapped := fmt.Errorf("slack: %s to %s: %w", method, channel, err)
	var limited *slack.RateLimitedError
	if errors.As(err, &limited) {
		return &bot.RetryAfterError{After: bot.CapRetryAfter(limited.RetryAfter), Err: wrapped}
	}
	var apiErr slack.SlackErrorResponse
	if errors.As(err, &apiErr) {
		switch {
		case permanentCodes[apiErr.Err]:
			return &bot.PermanentError{Reason: apiErr.Err, Err: wrapped}
		case apiErr.Err == "ratelimited" || apiErr.Err == "rate_limited":
			return &bot.RetryAfterError{After: defaultRetryAfter, Err: wrapped}
		case outageCodes[apiErr.Err]:
			return wrapped
		}
		// An answer naming an error this sender does not know: retried a
		// few times, then the row is parked so the channel goes on.
		return &bot.RejectedError{Reason: apiErr.Err, Err: wrapped}
	}
	var status slack.StatusCodeError
	if errors.As(err, &status) {
		switch {
		case status.Code == http.StatusTooManyRequests:
			return &bot.RetryAfterError{After: defaultRetryAfter, Err: wrapped}
		case status.Code >= 400 && status.Code < 500 && status.Code != http.StatusRequestTimeout:
			return &bot.PermanentError{Reason: "http " + strconv.Itoa(status.Code), Err: wrapped}
		}
		return wrapped
	}
	var badRetryAfter *strconv.NumError
	if errors.As(err, &badRetryAfter) {
		// A 429 whose Retry-After is not a number of seconds.
		return &bot.RetryAfterError{After: defaultRetryAfter, Err: wrapped}
	}
	return wrapped
}

// isUncertain reports whether a failed post may nevertheless have been
// accepted: every failure except Slack's own answers and failures to
// connect at all.
func isUncertain(err error) bool {
	var (
		limited *slack.RateLimitedError
		apiErr  slack.SlackErrorResponse
		status  slack.StatusCodeError
		num     *strconv.NumError
		dnsErr  *net.DNSError
		opErr   *net.OpError
	)
	switch {
	case errors.As(err, &limited), errors.As(err, &apiErr), errors.As(err, &status), errors.As(err, &num):
		return false
	case errors.As(err, &dnsErr):
		return false
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return false
	}
	// A transport failure after connecting (*url.Error: timeout, reset,
	// EOF), or one while reading the answer (a truncated JSON document):
	// the request had been sent.
	return true
}

func isServerError(err error) bool {
	var status slack.StatusCodeError
	return errors.As(err, &status) && status.Code >= 500
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
