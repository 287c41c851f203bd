// Package matrix posts policywire alerts, digests and notices to Matrix
// rooms through the client-server API (mautrix-go), and joins the rooms the
// configuration names. It renders each alert as an m.notice with a plain
// body and sanitized HTML that cannot ping anyone, makes every send
// idempotent through the transaction ID, and classifies failures for the
// outbox dispatcher (bot.PermanentError, bot.RetryAfterError). Its
// Listener reads !pw commands from the rooms through /sync and answers
// them as replies. It knows nothing of the store, the routing of items or the configuration file.
package matrix

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
)

// requestTimeout bounds one call to the homeserver when the caller's
// context has no earlier deadline.
const requestTimeout = 30 * time.Second

// historyScan is how many of its own recent events SendChecked looks
// through for an earlier copy of an alert.
const historyScan = 200

// Options configure a Sender.
type Options struct {
	// Homeserver is the client-server API base URL, e.g.
	// "https://matrix.example.org".
	Homeserver string
	// UserID is the bot's Matrix ID, e.g. "@policywire:example.org".
	UserID string
	// AccessToken authenticates the bot. It is never logged.
	AccessToken string
	// Location is the time zone dates are shown in; UTC when nil.
	Location *time.Location
	// Logger receives debug and info lines; discarded when nil.
	Logger *slog.Logger
	// HTTPClient makes the requests; when nil a client without an overall
	// timeout is used (each call is bounded by its context).
	HTTPClient *http.Client
}

// LogValue shows the options without the access token.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("homeserver", o.Homeserver),
		slog.String("user_id", o.UserID),
		slog.Bool("access_token_set", o.AccessToken != ""),
	)
}

// String shows the options without the access token.
func (o Options) String() string {
	return fmt.Sprintf("matrix.Options{Homeserver: %q, UserID: %q, AccessToken: <redacted>}", o.Homeserver, o.UserID)
}

// Sender posts to Matrix rooms. It is safe for concurrent use.
type Sender struct {
	client *mautrix.Client
	userID id.UserID
	render *renderer
	log    *slog.Logger
	direct directRooms
}

var (
	_ bot.Sender        = (*Sender)(nil)
	_ bot.CheckedSender = (*Sender)(nil)
)

// New checks the options and builds a Sender. It does not contact the
// homeserver; call Whoami for that.
func New(o Options) (*Sender, error) {
	hs := strings.TrimSpace(o.Homeserver)
	if hs == "" {
		return nil, errors.New("matrix: homeserver is empty")
	}
	u, err := url.Parse(hs)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("matrix: homeserver %q is not an http(s) URL", o.Homeserver)
	}
	userID := id.UserID(strings.TrimSpace(o.UserID))
	if userID == "" {
		return nil, errors.New("matrix: user_id is empty")
	}
	if _, _, err := userID.ParseAndValidateRelaxed(); err != nil {
		return nil, fmt.Errorf("matrix: user_id %q is not a Matrix user ID like @bot:example.org: %w", o.UserID, err)
	}
	if strings.TrimSpace(o.AccessToken) == "" {
		return nil, errors.New("matrix: access_token is empty")
	}
	cli, err := newClient(hs, userID, o.AccessToken, o.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("matrix: homeserver %q: %w", o.Homeserver, err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{client: cli, userID: userID, render: newRenderer(o.Location), log: log}, nil
}

// Platform is "matrix".
func (s *Sender) Platform() string { return "matrix" }

// Client is the underlying mautrix client, for the command listener. It
// never retries or sleeps on rate limits by itself.
func (s *Sender) Client() *mautrix.Client { return s.client }

// Whoami checks the access token. A rejected token is a PermanentError
// saying so; a token of another user than the configured one too.
func (s *Sender) Whoami(ctx context.Context) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	resp, err := s.client.Whoami(ctx)
	if err != nil {
		return classify("check the access token", "", err)
	}
	if resp.UserID != s.userID {
		return &bot.PermanentError{Reason: fmt.Sprintf("matrix: the access token belongs to %s, not to the configured user_id %s", resp.UserID, s.userID)}
	}
	s.log.Debug("matrix: access token accepted", "user_id", resp.UserID.String(), "device_id", resp.DeviceID.String())
	return nil
}

// JoinRooms joins each room the bot is not in yet, which works when the bot
// was invited or the room is public. Every room is tried; the failures are
// joined, each naming its room: M_FORBIDDEN (not invited, banned) and
// unknown rooms are PermanentErrors, rate limits RetryAfterErrors.
func (s *Sender) JoinRooms(ctx context.Context, roomIDs []string) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	joined, err := s.client.JoinedRooms(ctx)
	if err != nil {
		return classify("list the joined rooms", "", err)
	}
	in := make(map[id.RoomID]bool, len(joined.JoinedRooms))
	for _, r := range joined.JoinedRooms {
		in[r] = true
	}
	var errs []error
	for _, room := range roomIDs {
		if err := checkRoomID(room); err != nil {
			errs = append(errs, err)
			continue
		}
		if in[id.RoomID(room)] {
			continue
		}
		if _, err := s.client.JoinRoomByID(ctx, id.RoomID(room)); err != nil {
			errs = append(errs, classify("join", room, err))
			continue
		}
		in[id.RoomID(room)] = true
		s.log.Info("matrix: joined room", "room", room)
	}
	return errors.Join(errs...)
}

// Send posts one alert as an m.notice and returns its event ID. The
// transaction ID comes from the alert ID, so a retry after an ambiguous
// failure gets the first event back instead of a second post.
func (s *Sender) Send(ctx context.Context, roomID string, a policywire.Alert) (string, error) {
	roomID, err := s.roomFor(ctx, roomID)
	if err != nil {
		return "", err
	}
	if a.ID == "" {
		return "", &bot.PermanentError{Reason: "matrix: alert has no ID, so it cannot be sent idempotently"}
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	c := s.render.alert(a)
	threadAlert(&c, a)
	return s.send(ctx, roomID, txnID(a.ID), c, "alert", a.ID)
}

// SendChecked looks through the bot's recent events in the room for an
// earlier copy of the alert and returns its event ID; only when there is
// none does it Send. It covers what the transaction ID cannot: a homeserver
// that forgot its transactions (restart, expiry) or a new access token.
func (s *Sender) SendChecked(ctx context.Context, roomID string, a policywire.Alert) (string, error) {
	roomID, err := s.roomFor(ctx, roomID)
	if err != nil {
		return "", err
	}
	if a.ID != "" {
		lctx, cancel := withTimeout(ctx)
		evID, err := s.findAlert(lctx, id.RoomID(roomID), a.ID)
		cancel()
		if err != nil {
			return "", classify("read the history of", roomID, err)
		}
		if evID != "" {
			s.log.Debug("matrix: alert already in room", "room", roomID, "alert", a.ID, "event", evID.String())
			return evID.String(), nil
		}
	}
	return s.Send(ctx, roomID, a)
}

func (s *Sender) findAlert(ctx context.Context, room id.RoomID, alertID string) (id.EventID, error) {
	filter := &mautrix.FilterPart{Senders: []id.UserID{s.userID}, Types: []event.Type{event.EventMessage}}
	from := ""
	for seen := 0; seen < historyScan; {
		resp, err := s.client.Messages(ctx, room, from, "", mautrix.DirectionBackward, filter, 100)
		if err != nil {
			return "", err
		}
		for _, ev := range resp.Chunk {
			if ev.Sender == s.userID && ev.Content.Raw[AlertIDField] == alertID {
				return ev.ID, nil
			}
		}
		seen += len(resp.Chunk)
		if len(resp.Chunk) == 0 || resp.End == "" || resp.End == from {
			break
		}
		from = resp.End
	}
	return "", nil
}

// SendDigest posts a digest split into events of at most 60 items and
// about 40 KB each, and returns their event IDs in order. Each part's
// transaction ID comes from the digest ID and the part number, so a retry
// does not repeat the parts already posted. On failure it returns the IDs
// of the parts posted so far with the error.
func (s *Sender) SendDigest(ctx context.Context, roomID string, d policywire.Digest) ([]string, error) {
	if err := checkRoomID(roomID); err != nil {
		return nil, err
	}
	if d.ID == "" {
		return nil, &bot.PermanentError{Reason: "matrix: digest has no ID, so it cannot be sent idempotently"}
	}
	if len(d.Alerts) == 0 {
		return nil, nil
	}
	var ids []string
	for i, part := range s.render.digest(d) {
		pctx, cancel := withTimeout(ctx)
		evID, err := s.send(pctx, roomID, txnID(d.ID+"/"+strconv.Itoa(i)), part, "digest", d.ID)
		cancel()
		if err != nil {
			return ids, err
		}
		ids = append(ids, evID)
	}
	return ids, nil
}

// SendNotice posts a short plain-text m.notice (admin warnings).
func (s *Sender) SendNotice(ctx context.Context, roomID, text string) error {
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	_, err := s.send(ctx, roomID, s.client.TxnID(), s.render.notice(text), "notice", "")
	return err
}

func (s *Sender) send(ctx context.Context, roomID, txn string, c content, kind, ref string) (string, error) {
	resp, err := s.client.SendMessageEvent(ctx, id.RoomID(roomID), event.EventMessage, &c, mautrix.ReqSendEvent{TransactionID: txn})
	if err != nil {
		return "", classify("send to", roomID, err)
	}
	s.log.Debug("matrix: sent "+kind, "room", roomID, "ref", ref, "event", resp.EventID.String())
	return resp.EventID.String(), nil
}

// checkRoomID accepts room IDs ("!opaque:server"); aliases and other
// strings are a configuration error.
func checkRoomID(room string) error {
	if !strings.HasPrefix(room, "!") || len(room) < 2 || len(room) > 255 || strings.ContainsAny(room, " \t\r\n/") {
		return &bot.PermanentError{Reason: fmt.Sprintf("matrix: %q is not a room ID (like !abcdef:example.org)", room)}
	}
	return nil
}

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= requestTimeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, requestTimeout)
}
