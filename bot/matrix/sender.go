// Package matrix posts policywire alerts, digests and notices to Matrix
// rooms through the client-server API (mautrix-go), and joins the rooms the
// configuration names. It renders each alert as an m.notice with a plain
// body and sanitized HTML that cannot ping anyone, makes every send
// idempotent through the transaction ID, and classifies failures for the
// outbox dispatcher (bot.PermanentError, bot.RetryAfterError). Its
// Listener reads !pw commands from the rooms through /sync and answers
// them as replies. With a pickle key it encrypts for encrypted rooms
// (Megolm, mautrix's Olm machine, keys in a SQLite crypto store) and reads
// encrypted commands; a room that asks for encryption never gets
// plaintext. It knows nothing of the store, the routing of items or the configuration file.
package matrix

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	// DeviceID is the device of the access token, when the configuration
	// names it; Whoami checks that the token is of that device.
	DeviceID string
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
		slog.String("device_id", o.DeviceID),
	)
}

// String shows the options without the access token.
func (o Options) String() string {
	return fmt.Sprintf("matrix.Options{Homeserver: %q, UserID: %q, AccessToken: <redacted>}", o.Homeserver, o.UserID)
}

// EncryptionOptions configure end-to-end encryption of a Sender.
type EncryptionOptions struct {
	// StorePath is the SQLite file of the device's keys and of the state
	// of the rooms it encrypts for (members, encryption settings).
	StorePath string
	// PickleKey encrypts the keys in that file. It is never logged.
	PickleKey string
}

// LogValue shows the options without the pickle key.
func (o EncryptionOptions) LogValue() slog.Value {
	return slog.GroupValue(slog.String("store_path", o.StorePath), slog.Bool("pickle_key_set", o.PickleKey != ""))
}

// String shows the options without the pickle key.
func (o EncryptionOptions) String() string {
	return fmt.Sprintf("matrix.EncryptionOptions{StorePath: %q, PickleKey: <redacted>}", o.StorePath)
}

// roomCrypto is the end-to-end encryption of the bot's device: Megolm
// for the rooms that ask for it, and the state it needs.
type roomCrypto interface {
	// isEncrypted reports whether the state store knows the room as
	// encrypted.
	isEncrypted(ctx context.Context, room id.RoomID) (bool, error)
	markEncrypted(ctx context.Context, room id.RoomID, content *event.EncryptionEventContent) error
	encrypt(ctx context.Context, room id.RoomID, evType event.Type, content any) (*event.EncryptedEventContent, error)
	decrypt(ctx context.Context, ev *event.Event) (*event.Event, error)
	missingKey(err error) bool
	requestKey(ctx context.Context, ev *event.Event)
	processSync(ctx context.Context, resp *mautrix.RespSync, since string)
	setupCrossSigning(ctx context.Context, password, recoveryKey string) (string, error)
	crossSigned(ctx context.Context) (bool, error)
	close() error
}

// Sender posts to Matrix rooms. It is safe for concurrent use.
type Sender struct {
	client   *mautrix.Client
	userID   id.UserID
	deviceID id.DeviceID
	render   *renderer
	log      *slog.Logger
	direct   directRooms
	// crypto encrypts for encrypted rooms; nil when encryption is off,
	// and then such rooms get nothing. cryptoOpts is set when encryption
	// is wanted; while crypto could not be opened yet (homeserver down at
	// start) it is tried again when needed.
	cryptoMu   sync.Mutex
	crypto     roomCrypto
	cryptoOpts *EncryptionOptions
	// encrypted remembers rooms seen encrypted: encryption cannot be
	// turned off in a room.
	encrypted sync.Map // id.RoomID → true
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
	return &Sender{client: cli, userID: userID, deviceID: id.DeviceID(strings.TrimSpace(o.DeviceID)), render: newRenderer(o.Location), log: log}, nil
}

// DeviceID is the bot's device: the one configured, or once Whoami has
// run, the access token's.
func (s *Sender) DeviceID() string { return s.deviceID.String() }

// EnableEncryption turns end-to-end encryption on: the device's keys
// and the rooms' state are kept in o.StorePath, sealed with o.PickleKey.
// It opens the store now; a PermanentError (a store of another device, or
// lost) must stop the start. Any other failure (homeserver unreachable)
// is tried again when a room needs encryption, and until then encrypted
// rooms wait.
func (s *Sender) EnableEncryption(ctx context.Context, o EncryptionOptions) error {
	if len(o.PickleKey) == 0 {
		return errors.New("matrix: encryption needs a pickle key (matrix.pickle_key)")
	}
	if !EncryptionBuiltIn {
		// Said at once, whether or not the homeserver answers.
		_, err := openCrypto(ctx, s, o)
		return err
	}
	s.cryptoMu.Lock()
	defer s.cryptoMu.Unlock()
	s.cryptoOpts = &o
	_, err := s.cryptoLocked(ctx)
	return err
}

// roomCryptoNow is the crypto machine, opened on first need; nil with no
// error when encryption is off.
func (s *Sender) roomCryptoNow(ctx context.Context) (roomCrypto, error) {
	s.cryptoMu.Lock()
	defer s.cryptoMu.Unlock()
	return s.cryptoLocked(ctx)
}

func (s *Sender) cryptoLocked(ctx context.Context) (roomCrypto, error) {
	if s.crypto != nil || s.cryptoOpts == nil {
		return s.crypto, nil
	}
	if s.deviceID == "" {
		if err := s.Whoami(ctx); err != nil {
			return nil, err
		}
	}
	c, err := openCrypto(ctx, s, *s.cryptoOpts)
	if err != nil {
		return nil, err
	}
	s.crypto = c
	return c, nil
}

// Encrypting reports whether end-to-end encryption is on and ready.
func (s *Sender) Encrypting() bool {
	s.cryptoMu.Lock()
	defer s.cryptoMu.Unlock()
	return s.crypto != nil
}

// Close releases the crypto store, when encryption is on.
func (s *Sender) Close() error {
	s.cryptoMu.Lock()
	defer s.cryptoMu.Unlock()
	if s.crypto == nil {
		return nil
	}
	err := s.crypto.close()
	s.crypto, s.cryptoOpts = nil, nil
	return err
}

// SetupCrossSigning makes the bot's cross-signing keys and signs its
// device, so that people who verify the bot see it as verified; it returns
// the recovery key of the secret storage that keeps them, to be shown
// once. The homeserver asks for the account's password. With a recovery
// key it reuses the keys made before instead and returns "".
func (s *Sender) SetupCrossSigning(ctx context.Context, password, recoveryKey string) (string, error) {
	rc, err := s.roomCryptoNow(ctx)
	if err != nil {
		return "", err
	}
	if rc == nil {
		return "", errors.New("matrix: encryption is off (set matrix.pickle_key)")
	}
	key, err := rc.setupCrossSigning(ctx, password, recoveryKey)
	if err != nil {
		return "", classifyUIA(err)
	}
	return key, nil
}

// CrossSigned reports whether the bot's device is signed by its
// cross-signing keys.
func (s *Sender) CrossSigned(ctx context.Context) (bool, error) {
	rc, err := s.roomCryptoNow(ctx)
	if err != nil || rc == nil {
		return false, err
	}
	return rc.crossSigned(ctx)
}

// classifyUIA names a refused password, the usual cause of a failed key
// upload.
func classifyUIA(err error) error {
	var httpErr mautrix.HTTPError
	if errors.As(err, &httpErr) && httpErr.RespError != nil && httpErr.RespError.ErrCode == mautrix.MForbidden.ErrCode {
		return fmt.Errorf("%w (is the password right?)", err)
	}
	return err
}

// storeError is a crypto store that does not fit the device: nothing is
// sent until the operator fixes it.
func storeError(format string, args ...any) error {
	return &bot.PermanentError{Reason: fmt.Sprintf(format, args...)}
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
	if s.deviceID != "" && resp.DeviceID != "" && resp.DeviceID != s.deviceID {
		return &bot.PermanentError{Reason: fmt.Sprintf("matrix: the access token is of device %s, not of the configured device_id %s", resp.DeviceID, s.deviceID)}
	}
	if resp.DeviceID != "" {
		s.deviceID = resp.DeviceID
		s.client.DeviceID = resp.DeviceID
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
	rc, _ := s.roomCryptoNow(ctx)
	filter := &mautrix.FilterPart{Senders: []id.UserID{s.userID}, Types: []event.Type{event.EventMessage, event.EventEncrypted}}
	from := ""
	for seen := 0; seen < historyScan; {
		resp, err := s.client.Messages(ctx, room, from, "", mautrix.DirectionBackward, filter, 100)
		if err != nil {
			return "", err
		}
		for _, ev := range resp.Chunk {
			if ev.Sender != s.userID {
				continue
			}
			raw := ev.Content.Raw
			if ev.Type == event.EventEncrypted && rc != nil {
				// The bot keeps the keys of its own sessions, so it
				// can read its own encrypted history.
				ev.RoomID = room
				dec, err := rc.decrypt(ctx, ev)
				if err != nil {
					s.log.Debug("matrix: own event not decrypted while looking for an alert", "room", room.String(), "event", ev.ID.String(), "err", err)
					continue
				}
				raw = dec.Content.Raw
			}
			if raw[AlertIDField] == alertID {
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

// send posts one m.room.message, encrypted when the room asks for it.
// It fails closed: a room whose encryption state cannot be read, or that
// is encrypted while the bot cannot encrypt, gets nothing.
func (s *Sender) send(ctx context.Context, roomID, txn string, c content, kind, ref string) (string, error) {
	room := id.RoomID(roomID)
	rc, cryptoErr := s.roomCryptoNow(ctx)
	encrypted, err := s.roomEncrypted(ctx, rc, room)
	if err != nil {
		return "", err
	}
	evType, payload := event.EventMessage, any(&c)
	if encrypted {
		if cryptoErr != nil {
			return "", fmt.Errorf("matrix: room %s is encrypted and encryption is not ready: %w", roomID, cryptoErr)
		}
		if rc == nil {
			return "", &bot.PermanentError{Reason: fmt.Sprintf("matrix: room %s is encrypted and encryption is off (set matrix.pickle_key)", roomID)}
		}
		enc, err := rc.encrypt(ctx, room, event.EventMessage, &c)
		if err != nil {
			return "", err
		}
		evType, payload = event.EventEncrypted, enc
	}
	// The transaction ID stays the one of the plaintext: a retry of an
	// encrypted send gets the first event back even though its ciphertext
	// differs.
	resp, err := s.client.SendMessageEvent(ctx, room, evType, payload, mautrix.ReqSendEvent{TransactionID: txn, DontEncrypt: true})
	if err != nil {
		return "", classify("send to", roomID, err)
	}
	s.log.Debug("matrix: sent "+kind, "room", roomID, "ref", ref, "event", resp.EventID.String(), "encrypted", encrypted)
	return resp.EventID.String(), nil
}

// roomEncrypted tells whether the room has m.room.encryption. A room once
// seen encrypted stays so; any other is asked of the homeserver before
// every send, so a room switched to encryption a moment ago never gets
// plaintext.
func (s *Sender) roomEncrypted(ctx context.Context, rc roomCrypto, room id.RoomID) (bool, error) {
	if _, ok := s.encrypted.Load(room); ok {
		return true, nil
	}
	if rc != nil {
		if enc, err := rc.isEncrypted(ctx, room); err != nil {
			return false, fmt.Errorf("matrix: room %s: read the state store: %w", room, err)
		} else if enc {
			s.encrypted.Store(room, true)
			return true, nil
		}
	}
	var content event.EncryptionEventContent
	u := s.client.BuildClientURL("v3", "rooms", room, "state", event.StateEncryption.Type, "")
	if _, err := s.client.MakeRequest(ctx, http.MethodGet, u, nil, &content); err != nil {
		var httpErr mautrix.HTTPError
		if errors.As(err, &httpErr) && httpErr.RespError != nil && httpErr.RespError.ErrCode == mautrix.MNotFound.ErrCode {
			return false, nil
		}
		return false, classify("send to", room.String(), err)
	}
	if content.Algorithm == "" {
		// An empty answer is a redacted encryption event, which still
		// makes the room encrypted, or (dendrite) the answer to a bot
		// that is not in the room, whose send then fails as before.
		joined, err := s.client.JoinedRooms(ctx)
		if err != nil {
			return false, classify("list the joined rooms", "", err)
		}
		if !slices.Contains(joined.JoinedRooms, room) {
			return false, nil
		}
		content.Algorithm = id.AlgorithmMegolmV1
	}
	if rc != nil {
		if err := rc.markEncrypted(ctx, room, &content); err != nil {
			return false, fmt.Errorf("matrix: room %s: write the state store: %w", room, err)
		}
	}
	s.encrypted.Store(room, true)
	s.log.Info("matrix: room is encrypted", "room", room.String(), "algorithm", string(content.Algorithm))
	return true, nil
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
