package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/config"
)

// SyncTokenKey is the store.Meta key under which the listener keeps its
// /sync position, so that a restart neither replays nor loses commands.
const SyncTokenKey = "matrix.sync.next_batch"

// DefaultPrefix starts every Matrix command.
const DefaultPrefix = "!pw"

const (
	// pollTimeout is how long one /sync waits on the server for news.
	pollTimeout = 30 * time.Second
	// joinRetryPoll shortens the long poll while a join waits for a retry.
	joinRetryPoll = 5 * time.Second
	// syncGrace is added to the long poll for the answer to arrive.
	syncGrace = 60 * time.Second
	// staleMargin: commands sent up to this long before the listener
	// started are still answered (a quick restart loses nothing); older
	// ones are history.
	staleMargin = 2 * time.Minute
	// commandTimeout bounds answering one command, sending included.
	commandTimeout = 60 * time.Second
	// maxCommandChars is the longest command line looked at, in characters.
	maxCommandChars = 2000
	// Backoff between failed syncs and joins.
	minBackoff = time.Second
	maxBackoff = 2 * time.Minute
	// maxRetryAfter caps a rate-limit wait the server asks for.
	maxRetryAfter = 5 * time.Minute
	// answerAttempts is how often a reply is tried before it is given up.
	answerAttempts = 3
	// timelineLimit is the most events of one room one sync returns.
	timelineLimit = 50
	// rememberedEvents bounds the set of commands answered in this run,
	// which keeps an overlapping sync from answering twice.
	rememberedEvents = 1024
	// managerLevel is the power level that may change subscriptions.
	managerLevel = 50
	// keyWait is how long an encrypted command whose room key has not
	// arrived yet is kept for another try after each sync.
	keyWait = 2 * time.Minute
	// maxPendingDecrypts bounds the encrypted events kept waiting for
	// their keys.
	maxPendingDecrypts = 256
)

// SyncStore keeps small values across restarts (store.Store does).
type SyncStore interface {
	Meta(key string) ([]byte, error)
	PutMeta(key string, val []byte) error
}

// ListenerOptions configure a Listener.
type ListenerOptions struct {
	// Sender posts the answers; its client reads /sync.
	Sender *Sender
	// Commands answers the commands.
	Commands *bot.Commands
	// Store keeps the sync token (under SyncTokenKey); *store.Store is one.
	Store SyncStore
	// Prefix starts a command; DefaultPrefix when empty. It is matched
	// without regard to case and must be followed by white space or the
	// end of the message.
	Prefix string
	// Admins may subscribe and unsubscribe in every room, whatever their
	// power level.
	Admins []string
	// Rooms returns the configured room IDs. It is called on every sync,
	// so a reloaded configuration takes effect.
	Rooms func() []string
	// Autojoin is matrix.autojoin: which invites are accepted
	// (config.AutojoinConfigured when "": the configured rooms; others are
	// declined with a reason naming the fix).
	Autojoin string
	// RoomsChanged cuts the current long poll short when it receives, so
	// that a room a reload added is joined at once.
	RoomsChanged <-chan struct{}
	// Logger receives what the listener does; discarded when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Listener reads chat commands from the rooms the bot is in, through the
// client-server /sync API, answers each as a reply, and joins the
// configured rooms it is invited to.
type Listener struct {
	o       ListenerOptions
	client  *mautrix.Client
	self    id.UserID
	log     *slog.Logger
	running atomic.Bool
}

// NewListener builds a listener; Run starts it.
func NewListener(o ListenerOptions) *Listener {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rooms == nil {
		o.Rooms = func() []string { return nil }
	}
	if o.Autojoin == "" {
		o.Autojoin = config.AutojoinConfigured
	}
	l := &Listener{o: o, log: o.Logger}
	if o.Sender != nil {
		l.client = o.Sender.client
		l.self = o.Sender.userID
	}
	return l
}

// Run syncs until ctx is cancelled, then returns nil. Failures of the
// homeserver or the network are logged and retried with backoff; it
// returns an error only when it cannot work at all (missing options, or
// Run already running).
func (l *Listener) Run(ctx context.Context) error {
	if l.client == nil || l.o.Commands == nil || l.o.Store == nil {
		return errors.New("matrix: listener needs a Sender, Commands and a Store")
	}
	if !l.running.CompareAndSwap(false, true) {
		return errors.New("matrix: listener is already running")
	}
	defer l.running.Store(false)

	r := &run{
		l:       l,
		started: l.o.Now(),
		power:   map[id.RoomID]*roomPower{},
		joins:   map[id.RoomID]*pendingJoin{},
		ignored: map[id.RoomID]id.UserID{},
		joined:  map[id.RoomID]bool{},
		seen:    map[id.EventID]string{},
	}
	l.log.Info("matrix: listening for commands", "user_id", l.self.String(), "prefix", l.o.Prefix)
	backoff := minBackoff
	for ctx.Err() == nil {
		err := r.step(ctx)
		if ctx.Err() != nil {
			break
		}
		if err == nil {
			backoff = minBackoff
			continue
		}
		wait := backoff
		var ra *bot.RetryAfterError
		if errors.As(err, &ra) {
			wait = min(max(ra.After, minBackoff), maxRetryAfter)
		} else {
			backoff = min(backoff*2, maxBackoff)
		}
		wait = jitter(wait)
		level := slog.LevelWarn
		if bot.IsPermanent(err) {
			// A rejected token or a refusal: retried all the same, since
			// the fix (a new token, a server back in order) comes from
			// outside, but loudly.
			level = slog.LevelError
		}
		l.log.Log(ctx, level, "matrix: sync failed; retrying", "err", err, "retry_in", wait.Round(time.Millisecond).String())
		if !sleep(ctx, wait) {
			break
		}
	}
	l.log.Info("matrix: listener stopped")
	return nil
}

// run is the state of one Run: only its goroutine touches it.
type run struct {
	l       *Listener
	started time.Time
	filter  string // filter ID of the long polls, "" until made
	// primeFilter is the filter of the start-up sync, which wants the
	// state and not the timeline.
	primeFilter string
	since       string // next_batch of the last handled sync
	primed      bool   // the start-up sync was done
	power       map[id.RoomID]*roomPower
	joins       map[id.RoomID]*pendingJoin
	// ignored holds invites to rooms not configured at the time, with the
	// inviter, in case a reload adds the room.
	ignored map[id.RoomID]id.UserID
	// joined are the rooms the bot is in, as the syncs told.
	joined map[id.RoomID]bool
	// seen holds the commands answered (and the edits read), each with
	// the command text it was answered for.
	seen  map[id.EventID]string
	order []id.EventID
	// undecrypted are encrypted events whose room key had not arrived;
	// they are tried again after every sync until keyWait has passed.
	undecrypted []pendingDecrypt
}

type pendingDecrypt struct {
	room    id.RoomID
	ev      *event.Event
	giveUp  time.Time
	askedAt time.Time
}

type pendingJoin struct {
	next    time.Time
	backoff time.Duration
}

// savedToken is the value kept under SyncTokenKey. The account and server
// are kept with it, since a token means nothing to another account.
type savedToken struct {
	Homeserver string `json:"homeserver"`
	UserID     string `json:"user_id"`
	NextBatch  string `json:"next_batch"`
}

// step does one round: the start-up sync first, then one long poll.
func (r *run) step(ctx context.Context) error {
	for _, f := range []struct {
		id    *string
		limit int
	}{{&r.filter, timelineLimit}, {&r.primeFilter, 1}} {
		if *f.id != "" {
			continue
		}
		fctx, cancel := withTimeout(ctx)
		resp, err := r.l.client.CreateFilter(fctx, syncFilter(r.l.self, f.limit))
		cancel()
		if err != nil {
			return classify("create the sync filter", "", err)
		}
		*f.id = resp.FilterID
	}
	if !r.primed {
		return r.prime(ctx)
	}
	r.retryJoins(ctx)
	timeout := pollTimeout
	if len(r.joins) > 0 {
		timeout = joinRetryPoll
	}
	rctx, cancel := context.WithTimeout(ctx, timeout+syncGrace)
	defer cancel()
	woken := r.wakeOnRoomsChanged(rctx, cancel)
	resp, err := r.l.client.FullSyncRequest(rctx, mautrix.ReqSync{
		Timeout: int(timeout / time.Millisecond), Since: r.since, FilterID: r.filter,
		SetPresence: event.PresenceOffline,
	})
	if err != nil && woken.Load() && ctx.Err() == nil {
		// The configured rooms changed: join the new ones now (an invite
		// still pending, or a room anyone may join) and poll again from
		// the same position.
		if r.l.o.Autojoin != config.AutojoinNone {
			for room := range r.configured() {
				if !r.joined[room] && r.joins[room] == nil {
					r.joins[room] = &pendingJoin{backoff: minBackoff}
				}
			}
		}
		r.retryJoins(ctx)
		return nil
	}
	if err != nil {
		if badSince(err) {
			// The server no longer knows the position (its database was
			// reset, or the token is corrupt): start again from now.
			r.l.log.Warn("matrix: the homeserver refused the stored sync position; starting from now", "err", err)
			r.primed = false
			r.since = ""
			if perr := r.l.o.Store.PutMeta(SyncTokenKey, nil); perr != nil {
				r.l.log.Error("matrix: forget the sync position", "err", perr)
			}
			return nil
		}
		return classify("sync", "", err)
	}
	r.processCrypto(ctx, resp, r.since)
	r.handle(ctx, resp, true)
	r.retryDecrypts(ctx)
	r.save(resp.NextBatch)
	return nil
}

// wakeOnRoomsChanged cancels the long poll when the configured rooms
// change, and says whether it did.
func (r *run) wakeOnRoomsChanged(ctx context.Context, cancel context.CancelFunc) *atomic.Bool {
	woken := &atomic.Bool{}
	if r.l.o.RoomsChanged == nil {
		return woken
	}
	go func() {
		select {
		case <-r.l.o.RoomsChanged:
			woken.Store(true)
			cancel()
		case <-ctx.Done():
		}
	}()
	return woken
}

// processCrypto gives the sync answer to the crypto machine first, so
// that room keys sent to the device before a command are there when the
// command is decrypted.
func (r *run) processCrypto(ctx context.Context, resp *mautrix.RespSync, since string) {
	c, err := r.l.o.Sender.roomCryptoNow(ctx)
	if err != nil {
		r.l.log.Error("matrix: encryption not ready; encrypted rooms wait", "err", err)
		return
	}
	if c != nil {
		c.processSync(ctx, resp, since)
	}
}

// prime does the start-up sync: a snapshot of every room's state (for
// power levels) and of pending invites. Its timeline is history and is not
// answered. The stored position, when there is one, is kept, so commands
// sent while the bot was down for a moment are still answered.
func (r *run) prime(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, syncGrace)
	defer cancel()
	resp, err := r.l.client.FullSyncRequest(sctx, mautrix.ReqSync{
		Timeout: 0, FilterID: r.primeFilter, FullState: true, SetPresence: event.PresenceOffline,
	})
	if err != nil {
		return classify("sync", "", err)
	}
	r.processCrypto(ctx, resp, "")
	r.handle(ctx, resp, false)
	r.since = r.loadToken()
	if r.since == "" {
		r.since = resp.NextBatch
		r.save(resp.NextBatch)
		r.l.log.Info("matrix: first start; earlier messages are not answered")
	}
	r.primed = true
	r.retryJoins(ctx)
	return nil
}

func (r *run) loadToken() string {
	raw, err := r.l.o.Store.Meta(SyncTokenKey)
	if err != nil {
		r.l.log.Error("matrix: read the sync position", "err", err)
		return ""
	}
	if raw == nil {
		return ""
	}
	var t savedToken
	if err := json.Unmarshal(raw, &t); err != nil || t.NextBatch == "" {
		r.l.log.Warn("matrix: stored sync position is unreadable; starting from now")
		return ""
	}
	if t.UserID != r.l.self.String() || t.Homeserver != r.l.client.HomeserverURL.String() {
		r.l.log.Info("matrix: stored sync position belongs to another account; starting from now", "stored_user_id", t.UserID)
		return ""
	}
	return t.NextBatch
}

func (r *run) save(next string) {
	if next == "" {
		return
	}
	r.since = next
	raw, err := json.Marshal(savedToken{Homeserver: r.l.client.HomeserverURL.String(), UserID: r.l.self.String(), NextBatch: next})
	if err == nil {
		err = r.l.o.Store.PutMeta(SyncTokenKey, raw)
	}
	if err != nil {
		// The position stays in memory; a restart may see these events
		// again, and the reply transaction IDs keep the answers single.
		r.l.log.Error("matrix: save the sync position", "err", err)
	}
}

// handle applies one sync answer: left rooms, invites, then each joined
// room's state and timeline in order. Commands are answered only when
// answer is set.
func (r *run) handle(ctx context.Context, resp *mautrix.RespSync, answer bool) {
	for room := range resp.Rooms.Leave {
		delete(r.power, room)
		delete(r.joins, room)
		delete(r.ignored, room)
		delete(r.joined, room)
	}
	configured := r.configured()
	for _, room := range sortedRooms(resp.Rooms.Invite) {
		if _, joined := resp.Rooms.Join[room]; joined {
			continue
		}
		inviter := inviterOf(resp.Rooms.Invite[room], r.l.self)
		mode := r.l.o.Autojoin
		if (configured[room] && mode == config.AutojoinConfigured) || mode == config.AutojoinAny {
			if r.joins[room] == nil {
				r.joins[room] = &pendingJoin{backoff: minBackoff}
			}
			continue
		}
		_, known := r.ignored[room]
		r.ignored[room] = inviter
		if known {
			continue
		}
		if mode == config.AutojoinNone {
			r.l.log.Info("matrix: invite left pending (matrix.autojoin is none)", "room", room.String(), "inviter", inviter.String())
			continue
		}
		r.decline(ctx, room, inviter)
	}
	for _, room := range sortedRooms(resp.Rooms.Join) {
		// A room just joined has only history before the join: no command
		// for the bot was skipped there.
		wasJoined := r.joined[room]
		r.joined[room] = true
		delete(r.joins, room)
		delete(r.ignored, room)
		jr := resp.Rooms.Join[room]
		for _, ev := range jr.State.Events {
			r.applyState(room, ev)
		}
		// Only a full timeline means messages came faster than a sync
		// returns them: dendrite also marks limited the short timeline of
		// a sync soon after a join, which skipped nothing for the bot.
		if answer && jr.Timeline.Limited && wasJoined && len(jr.Timeline.Events) >= timelineLimit {
			r.skippedNotice(ctx, room, jr.Timeline.PrevBatch)
		}
		edited := editedInTimeline(jr.Timeline.Events)
		for _, ev := range jr.Timeline.Events {
			if ev.StateKey != nil {
				r.applyState(room, ev)
				continue
			}
			if answer && !edited[ev.ID] {
				r.command(ctx, room, ev)
			}
		}
	}
}

// editedInTimeline are the events that a later event of the same sync
// edits (m.replace): a command typed and fixed before the bot read it is
// answered once, for its new text.
func editedInTimeline(events []*event.Event) map[id.EventID]bool {
	var edited map[id.EventID]bool
	for _, ev := range events {
		var c incoming
		if ev.Type.Type != event.EventMessage.Type || json.Unmarshal(ev.Content.VeryRaw, &c) != nil || c.RelatesTo == nil || c.RelatesTo.RelType != string(event.RelReplace) {
			continue
		}
		if edited == nil {
			edited = map[id.EventID]bool{}
		}
		edited[id.EventID(c.RelatesTo.EventID)] = true
	}
	return edited
}

// skippedNotice tells a room that messages came faster than one sync
// returns (a limited timeline: more than timelineLimit since the last
// one), so older commands among them were not read: they are not answered
// in silence. The notice's transaction id is the gap's, so a sync replayed
// after a crash posts it once.
func (r *run) skippedNotice(ctx context.Context, room id.RoomID, gap string) {
	text := fmt.Sprintf("More than %d messages arrived here at once; the older commands among them were not read. Send again any that got no answer.", timelineLimit)
	if _, err := r.l.o.Sender.send(ctx, room.String(), txnID("skipped/"+room.String()+"/"+gap), r.l.o.Sender.render.notice(text), "notice", gap); err != nil && ctx.Err() == nil {
		r.l.log.Error("matrix: could not post the skipped-commands notice", "room", room.String(), "err", err)
	}
	r.l.log.Warn("matrix: a sync skipped messages; told the room", "room", room.String())
}

// declineReason tells the inviter why the bot does not join, and the fix.
func declineReason(room id.RoomID) string {
	return fmt.Sprintf("policywire joins only the rooms under channels: in its config (matrix.autojoin: configured). Add this room (matrix: %s) there, reload, and invite the bot again; or set matrix.autojoin: any.", room)
}

// decline refuses an invite to a room that is not configured, with a
// reason the inviter sees.
func (r *run) decline(ctx context.Context, room id.RoomID, inviter id.UserID) {
	lctx, cancel := withTimeout(ctx)
	defer cancel()
	if _, err := r.l.client.LeaveRoom(lctx, room, &mautrix.ReqLeave{Reason: declineReason(room)}); err != nil {
		r.l.log.Warn("matrix: could not decline an invite to a room that is not configured", "room", room.String(), "inviter", inviter.String(), "err", classify("decline", room.String(), err))
		return
	}
	r.l.log.Info("matrix: declined an invite to a room that is not configured", "room", room.String(), "inviter", inviter.String())
}

func (r *run) configured() map[id.RoomID]bool {
	rooms := r.l.o.Rooms()
	m := make(map[id.RoomID]bool, len(rooms))
	for _, room := range rooms {
		m[id.RoomID(room)] = true
	}
	return m
}

// retryJoins joins the configured rooms with a pending invite whose turn
// has come, including invites ignored earlier whose room a reload added.
func (r *run) retryJoins(ctx context.Context) {
	configured := r.configured()
	mode := r.l.o.Autojoin
	for room := range r.ignored {
		if configured[room] && mode != config.AutojoinNone {
			delete(r.ignored, room)
			r.joins[room] = &pendingJoin{backoff: minBackoff}
		}
	}
	now := r.l.o.Now()
	for _, room := range sortedRooms(r.joins) {
		pj := r.joins[room]
		if !configured[room] && mode != config.AutojoinAny {
			delete(r.joins, room)
			continue
		}
		if now.Before(pj.next) || ctx.Err() != nil {
			continue
		}
		jctx, cancel := withTimeout(ctx)
		_, err := r.l.client.JoinRoomByID(jctx, room)
		cancel()
		if err == nil {
			delete(r.joins, room)
			r.l.log.Info("matrix: joined room on invite", "room", room.String())
			continue
		}
		err = classify("join", room.String(), err)
		var ra *bot.RetryAfterError
		switch {
		case errors.As(err, &ra):
			pj.next = now.Add(min(ra.After, maxRetryAfter))
		case bot.IsPermanent(err):
			delete(r.joins, room)
			r.l.log.Error("matrix: cannot join invited room", "room", room.String(), "err", err)
			continue
		default:
			pj.next = now.Add(jitter(pj.backoff))
			pj.backoff = min(pj.backoff*2, maxBackoff)
		}
		r.l.log.Warn("matrix: join failed; will retry", "room", room.String(), "err", err, "retry_at", pj.next.Format(time.RFC3339))
	}
}

// incoming is the part of an m.room.message content a command needs.
type incoming struct {
	MsgType    string          `json:"msgtype"`
	Body       string          `json:"body"`
	NewContent json.RawMessage `json:"m.new_content"`
	RelatesTo  *struct {
		RelType   string `json:"rel_type"`
		EventID   string `json:"event_id"`
		InReplyTo *struct {
			EventID string `json:"event_id"`
		} `json:"m.in_reply_to"`
	} `json:"m.relates_to"`
}

// command answers ev when it is a command for the bot; an encrypted
// event is decrypted first.
func (r *run) command(ctx context.Context, room id.RoomID, ev *event.Event) {
	if ev.Type.Type == event.EventEncrypted.Type && ev.Sender != r.l.self {
		dec, ok := r.decrypt(ctx, room, ev)
		if !ok {
			return
		}
		ev = dec
	}
	if ev.Type.Type != event.EventMessage.Type || ev.Sender == r.l.self || ev.Sender == "" || ev.ID == "" {
		return
	}
	if time.UnixMilli(ev.Timestamp).Before(r.started.Add(-staleMargin)) {
		return
	}
	var c incoming
	if err := json.Unmarshal(ev.Content.VeryRaw, &c); err != nil {
		return
	}
	// Notices are bot output, by the bot itself or others.
	if c.MsgType != string(event.MsgText) {
		return
	}
	text, cmd, ok := r.commandText(ev, c)
	if !ok {
		return
	}

	thread := ""
	if cmd == ev.ID && c.RelatesTo != nil && c.RelatesTo.RelType == string(event.RelThread) {
		thread = c.RelatesTo.EventID
	}
	cctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	log := r.l.log.With("room", room.String(), "user", ev.Sender.String(), "event", ev.ID.String())
	var answer bot.Answer
	if utf8.RuneCountInString(text) > maxCommandChars {
		answer = bot.Answer{Text: fmt.Sprintf("That command is too long (more than %d characters).", maxCommandChars)}
	} else {
		req := bot.CommandRequest{
			Platform:  "matrix",
			Target:    room.String(),
			User:      ev.Sender.String(),
			MayManage: r.mayManage(cctx, room, ev.Sender),
			Text:      text,
		}
		var err error
		answer, err = r.l.o.Commands.Handle(cctx, req, r.l.o.Prefix)
		if err != nil {
			log.Error("matrix: command failed", "command", clipRunes(text, 200), "err", err)
			answer = bot.Answer{Text: "Sorry, that command failed on policywire's side; the details are in its log."}
		}
	}
	c2 := r.l.o.Sender.render.answer(answer)
	c2.RelatesTo = &event.RelatesTo{InReplyTo: &event.InReplyTo{EventID: cmd}}
	// The asker is notified of the answer, and nobody else is.
	c2.Mentions = &event.Mentions{UserIDs: []id.UserID{ev.Sender}}
	if thread != "" {
		c2.RelatesTo.Type = event.RelThread
		c2.RelatesTo.EventID = id.EventID(thread)
	}
	if err := r.reply(cctx, room, ev.ID, c2); err != nil {
		if ctx.Err() == nil {
			log.Error("matrix: could not answer a command", "err", err)
		}
		return
	}
	log.Info("matrix: answered command", "command", clipRunes(firstWord(text), 40))
}

// reply posts an answer. Its transaction ID comes from the command's event
// ID, so a command seen twice (a sync replayed after a crash) is answered
// once by the homeserver.
func (r *run) reply(ctx context.Context, room id.RoomID, cmd id.EventID, c content) error {
	var err error
	for attempt := range answerAttempts {
		_, err = r.l.o.Sender.send(ctx, room.String(), txnID("reply/"+cmd.String()), c, "answer", cmd.String())
		if err == nil || bot.IsPermanent(err) || attempt == answerAttempts-1 {
			return err
		}
		wait := minBackoff << attempt
		var ra *bot.RetryAfterError
		if errors.As(err, &ra) {
			wait = ra.After
		}
		if !sleep(ctx, wait) {
			return err
		}
	}
	return err
}

// decrypt returns the plaintext of an encrypted event. One whose room key
// has not arrived is kept for another try after the next syncs; other
// failures are logged, since the person who wrote the command gets no
// answer.
func (r *run) decrypt(ctx context.Context, room id.RoomID, ev *event.Event) (*event.Event, bool) {
	log := r.l.log.With("room", room.String(), "user", ev.Sender.String(), "event", ev.ID.String())
	c, err := r.l.o.Sender.roomCryptoNow(ctx)
	if c == nil {
		log.Warn("matrix: encrypted message not read: encryption is off (set matrix.pickle_key) or not ready", "err", err)
		return nil, false
	}
	ev.RoomID = room
	dec, err := c.decrypt(ctx, ev)
	if err == nil {
		return dec, true
	}
	if c.missingKey(err) {
		if len(r.undecrypted) < maxPendingDecrypts {
			now := r.l.o.Now()
			r.undecrypted = append(r.undecrypted, pendingDecrypt{room: room, ev: ev, giveUp: now.Add(keyWait)})
			log.Debug("matrix: room key of an encrypted message not here yet; waiting for it")
		} else {
			log.Warn("matrix: encrypted message not read: too many wait for their room keys", "err", err)
		}
		return nil, false
	}
	log.Warn("matrix: could not decrypt a message", "err", err)
	return nil, false
}

// retryDecrypts tries again, after each sync, the encrypted events still
// waiting for their keys; the first retry that still lacks the key asks
// the sender's devices for it.
func (r *run) retryDecrypts(ctx context.Context) {
	if len(r.undecrypted) == 0 {
		return
	}
	c, _ := r.l.o.Sender.roomCryptoNow(ctx)
	if c == nil {
		return
	}
	waiting := r.undecrypted
	r.undecrypted = nil
	now := r.l.o.Now()
	for _, p := range waiting {
		dec, err := c.decrypt(ctx, p.ev)
		switch {
		case err == nil:
			r.command(ctx, p.room, dec)
		case c.missingKey(err) && now.Before(p.giveUp):
			if p.askedAt.IsZero() {
				c.requestKey(ctx, p.ev)
				p.askedAt = now
			}
			r.undecrypted = append(r.undecrypted, p)
		default:
			r.l.log.Warn("matrix: could not decrypt a message; its room key never arrived", "room", p.room.String(), "user", p.ev.Sender.String(), "event", p.ev.ID.String(), "err", err)
		}
	}
}

// commandText is the command an event asks for, and the event the answer
// replies to: the event itself, or for an edit (m.replace) the command it
// fixes, answered for its new text unless that text was answered already.
// An event is read once.
func (r *run) commandText(ev *event.Event, c incoming) (string, id.EventID, bool) {
	if _, read := r.seen[ev.ID]; read {
		return "", "", false
	}
	body, cmd := c.Body, ev.ID
	if c.RelatesTo != nil && c.RelatesTo.RelType == string(event.RelReplace) {
		var nc incoming
		if c.RelatesTo.EventID == "" || json.Unmarshal(c.NewContent, &nc) != nil || nc.MsgType != string(event.MsgText) {
			return "", "", false
		}
		body, cmd = nc.Body, id.EventID(c.RelatesTo.EventID)
	} else if len(c.NewContent) > 0 {
		return "", "", false
	} else if c.RelatesTo != nil && c.RelatesTo.InReplyTo != nil {
		body = stripReplyFallback(body)
	}
	text, ok := parseCommand(body, r.l.o.Prefix)
	if !ok {
		return "", "", false
	}
	if answered, ok := r.seen[cmd]; ok && cmd != ev.ID && answered == text {
		r.remember(ev.ID, text)
		return "", "", false
	}
	r.remember(ev.ID, text)
	if cmd != ev.ID {
		r.remember(cmd, text)
	}
	return text, cmd, true
}

func (r *run) remember(ev id.EventID, text string) {
	if _, ok := r.seen[ev]; ok {
		r.seen[ev] = text
		return
	}
	r.seen[ev] = text
	r.order = append(r.order, ev)
	if len(r.order) > rememberedEvents {
		delete(r.seen, r.order[0])
		r.order = r.order[1:]
	}
}

// roomPower is what decides power in a room: its create event and its
// power levels, as far as they are known.
type roomPower struct {
	haveCreate, haveLevels bool
	creator                id.UserID
	version                id.RoomVersion
	additional             []id.UserID
	levels                 *powerLevels // nil: the room has none
}

// powerLevels is the part of m.room.power_levels the bot reads. Old room
// versions allow levels written as strings, so both forms are accepted.
type powerLevels struct {
	Users        map[id.UserID]flexInt `json:"users"`
	UsersDefault flexInt               `json:"users_default"`
}

type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	var n json.Number
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		n = json.Number(strings.TrimSpace(s))
	} else if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	v, err := n.Int64()
	if err != nil {
		fv, ferr := n.Float64()
		if ferr != nil {
			return err
		}
		v = int64(fv)
	}
	*f = flexInt(v)
	return nil
}

type createContent struct {
	RoomVersion        id.RoomVersion `json:"room_version"`
	Creator            id.UserID      `json:"creator"`
	AdditionalCreators []id.UserID    `json:"additional_creators"`
}

func (r *run) roomPower(room id.RoomID) *roomPower {
	rp := r.power[room]
	if rp == nil {
		rp = &roomPower{}
		r.power[room] = rp
	}
	return rp
}

func (r *run) applyState(room id.RoomID, ev *event.Event) {
	if ev.StateKey == nil || *ev.StateKey != "" {
		return
	}
	switch ev.Type.Type {
	case event.StateCreate.Type:
		r.roomPower(room).setCreate(ev.Sender, ev.Content.VeryRaw)
	case event.StatePowerLevels.Type:
		r.roomPower(room).setLevels(ev.Content.VeryRaw, r.l.log)
	}
}

func (rp *roomPower) setCreate(sender id.UserID, raw json.RawMessage) {
	var c createContent
	_ = json.Unmarshal(raw, &c) // a create event is validated by the server
	rp.haveCreate = true
	rp.creator = sender
	if c.RoomVersion == "" {
		c.RoomVersion = id.RoomV1
	}
	if c.RoomVersion.CreatorInContent() && c.Creator != "" {
		rp.creator = c.Creator
	}
	rp.version = c.RoomVersion
	rp.additional = c.AdditionalCreators
}

func (rp *roomPower) setLevels(raw json.RawMessage, log *slog.Logger) {
	rp.haveLevels = true
	if len(raw) == 0 || string(raw) == "{}" || string(raw) == "null" {
		// A redacted power-levels event leaves defaults: everybody 0.
		rp.levels = &powerLevels{}
		return
	}
	var pl powerLevels
	if err := json.Unmarshal(raw, &pl); err != nil {
		log.Warn("matrix: unreadable power levels; treating everybody as level 0", "err", err)
		pl = powerLevels{}
	}
	rp.levels = &pl
}

// level is the user's power level, or false when the room's state is not
// fully known.
func (rp *roomPower) level(user id.UserID) (int64, bool) {
	if !rp.haveCreate || !rp.haveLevels {
		return 0, false
	}
	isCreator := user == rp.creator || (rp.version.PrivilegedRoomCreators() && slices.Contains(rp.additional, user))
	if isCreator && rp.version.PrivilegedRoomCreators() {
		return 1 << 53, true
	}
	if rp.levels == nil {
		// No power-levels event: the creator has 100, everybody else 0.
		if isCreator {
			return 100, true
		}
		return 0, true
	}
	if l, ok := rp.levels.Users[user]; ok {
		return int64(l), true
	}
	return int64(rp.levels.UsersDefault), true
}

// mayManage says whether the user may change the room's subscriptions:
// a configured admin, or power level 50 or more in the room.
func (r *run) mayManage(ctx context.Context, room id.RoomID, user id.UserID) bool {
	if slices.Contains(r.l.o.Admins, user.String()) {
		return true
	}
	rp := r.roomPower(room)
	if err := r.loadPower(ctx, room, rp); err != nil {
		r.l.log.Warn("matrix: could not read the room's power levels; treating the user as level 0", "room", room.String(), "err", err)
		return false
	}
	lvl, ok := rp.level(user)
	return ok && lvl >= managerLevel
}

// loadPower reads the room's state when the syncs have not shown its
// create and power-levels events (a room joined before a restart whose
// start-up sync failed to show them).
func (r *run) loadPower(ctx context.Context, room id.RoomID, rp *roomPower) error {
	if rp.haveCreate && rp.haveLevels {
		return nil
	}
	rctx, cancel := withTimeout(ctx)
	defer cancel()
	var state []*event.Event
	u := r.l.client.BuildClientURL("v3", "rooms", room, "state")
	if _, err := r.l.client.MakeRequest(rctx, http.MethodGet, u, nil, &state); err != nil {
		return classify("read the state of", room.String(), err)
	}
	for _, ev := range state {
		r.applyState(room, ev)
	}
	if !rp.haveCreate {
		return fmt.Errorf("matrix: room %s: no create event in its state", room)
	}
	if !rp.haveLevels {
		// The room has no power-levels event.
		rp.haveLevels, rp.levels = true, nil
	}
	return nil
}

// parseCommand returns the command line after the prefix when body is a
// command: the prefix (any case) at the start, followed by white space or
// the end.
func parseCommand(body, prefix string) (string, bool) {
	body = strings.TrimLeftFunc(body, unicode.IsSpace)
	if len(body) < len(prefix) || !strings.EqualFold(body[:len(prefix)], prefix) {
		return "", false
	}
	rest := body[len(prefix):]
	if rest != "" {
		r, _ := utf8.DecodeRuneInString(rest)
		if !unicode.IsSpace(r) {
			return "", false
		}
	}
	return strings.TrimSpace(rest), true
}

// stripReplyFallback removes the quoted "> <@user> ..." lines that older
// clients put before the text of a reply.
func stripReplyFallback(body string) string {
	if !strings.HasPrefix(body, ">") {
		return body
	}
	lines := strings.Split(body, "\n")
	i := 0
	for i < len(lines) && strings.HasPrefix(lines[i], ">") {
		i++
	}
	if i < len(lines) && strings.TrimSpace(lines[i]) == "" {
		i++
	}
	return strings.Join(lines[i:], "\n")
}

// badSince reports a /sync refused for its since token, which only a fresh
// start cures.
func badSince(err error) bool {
	var httpErr mautrix.HTTPError
	if !errors.As(err, &httpErr) || httpErr.Response == nil || httpErr.Response.StatusCode != http.StatusBadRequest {
		return false
	}
	return httpErr.RespError == nil || httpErr.RespError.ErrCode == "M_INVALID_PARAM" || httpErr.RespError.ErrCode == mautrix.MUnknown.ErrCode || httpErr.RespError.ErrCode == mautrix.MBadJSON.ErrCode
}

// syncFilter keeps /sync to what the listener reads: messages from others
// (plain and encrypted), the state that decides power and the state the
// crypto machine needs. To-device events and device lists are not
// filtered.
func syncFilter(self id.UserID, limit int) *mautrix.Filter {
	none := func() *mautrix.FilterPart { return &mautrix.FilterPart{NotTypes: []event.Type{{Type: "*"}}} }
	power := []event.Type{event.StateCreate, event.StatePowerLevels}
	// Members, encryption settings and history visibility feed the
	// crypto machine: whom room keys go to, and how often they rotate.
	cryptoState := []event.Type{event.StateMember, event.StateEncryption, event.StateHistoryVisibility}
	state := append(append([]event.Type{}, power...), cryptoState...)
	return &mautrix.Filter{
		EventFormat: mautrix.EventFormatClient,
		AccountData: none(),
		Presence:    none(),
		Room: &mautrix.RoomFilter{
			AccountData: none(),
			Ephemeral:   none(),
			State:       &mautrix.FilterPart{Types: state},
			Timeline: &mautrix.FilterPart{
				Types:      append([]event.Type{event.EventMessage, event.EventEncrypted}, state...),
				NotSenders: []id.UserID{self},
				Limit:      limit,
			},
		},
	}
}

func inviterOf(room *mautrix.SyncInvitedRoom, self id.UserID) id.UserID {
	if room == nil {
		return ""
	}
	for _, ev := range room.State.Events {
		if ev.Type.Type == event.StateMember.Type && ev.StateKey != nil && *ev.StateKey == self.String() {
			return ev.Sender
		}
	}
	return ""
}

func sortedRooms[V any](m map[id.RoomID]V) []id.RoomID {
	rooms := make([]id.RoomID, 0, len(m))
	for room := range m {
		rooms = append(rooms, room)
	}
	slices.Sort(rooms)
	return rooms
}

func firstWord(s string) string {
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		return s[:i]
	}
	return s
}

func clipRunes(s string, n int) string { return truncateRunes(s, n) }

// jitter spreads retries of many bots over ±20% of d.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d - d/5 + time.Duration(rand.Int64N(int64(d/5)*2+1))
}

// sleep waits d or until ctx ends; it reports whether the wait was full.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
