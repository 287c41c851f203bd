package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/store"
)

// CheckedSender is a Sender that can look for an earlier copy of an alert
// before posting (Slack's metadata check). The dispatcher uses it for rows
// that may have been in flight when a previous attempt or process died.
type CheckedSender interface {
	SendChecked(ctx context.Context, target string, a policywire.Alert) (string, error)
}

// CheckedDigestSender is a Sender that can look for the parts of a digest
// already posted before posting them (Slack). The dispatcher uses it for a
// digest attempted before; a sender without it must make SendDigest
// idempotent for a digest id by itself (Matrix: the transaction id).
type CheckedDigestSender interface {
	SendDigestChecked(ctx context.Context, target string, d policywire.Digest) ([]string, error)
}

// DefaultRejectLimit is how many times in a row the chat server may refuse
// a row (RejectedError) before it is parked: enough to ride out a refusal
// that clears by itself, few enough that a channel is held up for at most
// the first backoff steps (about a minute).
const DefaultRejectLimit = 5

// DeliveryEvent is told to Dispatcher.Observe after every attempt.
type DeliveryEvent struct {
	Channel  string
	Platform string
	Err      error // nil: delivered
	Parked   bool
	// Edit marks the edit of a message already delivered: it is no new
	// alert, so counts of delivered alerts leave it out.
	Edit bool
}

// Dispatcher drains the outbox into chat: per channel, in publication
// order, one row at a time, with backoff. A failing channel never holds up
// another, because each channel has its own worker.
type Dispatcher struct {
	Store   *store.Store
	Senders map[string]Sender // by platform: "slack", "matrix", "console"
	Logger  *slog.Logger
	Now     func() time.Time
	// MaxAttempts bounds the attempts of a row (0: unlimited); run --once
	// sets it so that a dead chat server ends the run.
	MaxAttempts int
	// SendTimeout bounds one attempt; it is also how long a delivery in
	// flight may take to finish after shutdown began.
	SendTimeout time.Duration
	// Observe, when set, is told about every attempt (metrics).
	Observe func(DeliveryEvent)
	// RejectLimit is how many refusals in a row park a row (0:
	// DefaultRejectLimit).
	RejectLimit int
	// OnPark, when set, is told about every row (or digest) parked, after it
	// was recorded (admin notice).
	OnPark func(ctx context.Context, channel, title, reason string)

	started time.Time
	mu      sync.Mutex
	workers map[string]*channelWorker
	wg      sync.WaitGroup

	// uncertain holds the rows (channel, alert id) of this process whose
	// last attempt has no recorded outcome: the send may have posted but
	// recording it failed. Their next attempt takes the checked path.
	flightMu  sync.Mutex
	uncertain map[string]bool
	// digestLocks serialise the digests of a channel: a flush started by
	// a replaced schedule (a reload that changed the target) finishes and
	// records before the next one reads the rows.
	digestLocks map[string]*sync.Mutex
}

type channelWorker struct {
	channel config.Channel
	wake    chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Dispatcher) sendTimeout() time.Duration {
	if d.SendTimeout > 0 {
		return d.SendTimeout
	}
	return 30 * time.Second
}

// Start begins a worker for every instant channel. Call SetChannels on
// reload and Wait after ctx is cancelled.
func (d *Dispatcher) Start(ctx context.Context, channels []config.Channel) {
	d.mu.Lock()
	if d.started.IsZero() {
		d.started = d.now()
	}
	if d.workers == nil {
		d.workers = map[string]*channelWorker{}
	}
	d.mu.Unlock()
	d.SetChannels(ctx, channels)
}

// SetChannels starts workers for new or changed channels and stops those
// of removed ones. A changed channel's old worker is stopped and waited
// for before its new one starts: a send in flight to the old target
// finishes (within SendTimeout) and is recorded first, so the new worker
// never posts the same row to the new target as well.
func (d *Dispatcher) SetChannels(ctx context.Context, channels []config.Channel) {
	d.mu.Lock()
	defer d.mu.Unlock()
	want := map[string]config.Channel{}
	for _, ch := range channels {
		want[ch.ID] = ch
	}
	var stopping []*channelWorker
	for id, w := range d.workers {
		if ch, ok := want[id]; !ok || !sameChannel(ch, w.channel) {
			w.cancel()
			delete(d.workers, id)
			stopping = append(stopping, w)
		}
	}
	for _, w := range stopping {
		select {
		case <-w.done:
		default:
			d.Logger.Info("waiting for the channel's delivery in flight to finish before the change", "channel", w.channel.ID)
			<-w.done
		}
	}
	for id, ch := range want {
		if _, ok := d.workers[id]; ok {
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		w := &channelWorker{channel: ch, wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
		d.workers[id] = w
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer close(w.done)
			d.work(wctx, w)
		}()
	}
}

func sameChannel(a, b config.Channel) bool {
	return a.ID == b.ID && a.Slack == b.Slack && a.Matrix == b.Matrix && a.Digest == b.Digest &&
		a.FollowUps == b.FollowUps && a.FollowUpWindow == b.FollowUpWindow && a.ReplyBroadcast == b.ReplyBroadcast
}

// Wake tells every worker that new rows may be waiting.
func (d *Dispatcher) Wake() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.workers {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Wait returns when every worker has stopped.
func (d *Dispatcher) Wait() { d.wg.Wait() }

// sendRecovered runs one send; a panic in it (a renderer bug, say) is an
// error of that attempt, retried with backoff like any other, and the
// worker lives on.
func (d *Dispatcher) sendRecovered(ch config.Channel, send func() (string, error)) (ref string, err error) {
	defer func() {
		if r := recover(); r != nil {
			d.Logger.Error("send panicked; the alert will be retried", "channel", ch.ID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			ref, err = "", fmt.Errorf("bot: send to %s panicked: %v", ch.ID, r)
		}
	}()
	return send()
}

// stepRecovered is Step, with a panic outside the send logged and
// retried later instead of ending the daemon.
func (d *Dispatcher) stepRecovered(ctx context.Context, ch config.Channel) (next time.Time, err error) {
	defer func() {
		if r := recover(); r != nil {
			d.Logger.Error("outbox worker panicked", "channel", ch.ID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			next, err = time.Time{}, fmt.Errorf("bot: outbox %s: panic: %v", ch.ID, r)
		}
	}()
	return d.Step(ctx, ch)
}

func (d *Dispatcher) work(ctx context.Context, w *channelWorker) {
	for {
		next, err := d.stepRecovered(ctx, w.channel)
		if err != nil && ctx.Err() == nil {
			d.Logger.Error("outbox", "channel", w.channel.ID, "err", err)
			next = d.now().Add(5 * time.Second)
		}
		var timer *time.Timer
		var fire <-chan time.Time
		if !next.IsZero() {
			timer = time.NewTimer(max(next.Sub(d.now()), 0))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// ErrGaveUp marks a row whose attempts ran out (run --once).
var ErrGaveUp = errors.New("bot: attempts exhausted")

// Step delivers the due rows of one instant channel, in order, until the
// outbox of the channel is empty (zero time), the head row must wait (the
// time it may be tried again), or the head row ran out of attempts
// (ErrGaveUp). A channel's rows follow its current settings: rows queued
// while it had a digest are delivered one by one like any other (but for a
// digest already attempted, which is finished as a digest), and a channel
// that now has a digest delivers nothing here (FlushDigest does).
func (d *Dispatcher) Step(ctx context.Context, ch config.Channel) (time.Time, error) {
	if ch.Digest != "" {
		return time.Time{}, nil
	}
	sender := d.sender(ch)
	for ctx.Err() == nil {
		rows, err := d.Store.Outbox(ch.ID, false, 32)
		if err != nil {
			return time.Time{}, fmt.Errorf("bot: outbox %s: %w", ch.ID, err)
		}
		progressed := false
		for _, row := range rows {
			if ctx.Err() != nil {
				return time.Time{}, nil
			}
			if d.MaxAttempts > 0 && row.Attempts >= d.MaxAttempts {
				return time.Time{}, fmt.Errorf("%w: channel %s: %s", ErrGaveUp, ch.ID, row.LastError)
			}
			if wait := row.NotBefore; wait.After(d.now()) {
				return wait, nil
			}
			if sender == nil {
				if err := d.park(ctx, ch, row, "no "+ch.Platform()+" connection configured"); err != nil {
					return time.Time{}, err
				}
				progressed = true
				continue
			}
			if row.DigestID != "" {
				// The row was sent in a digest before the channel stopped
				// digesting, and that digest may have been posted: it is
				// finished as it began, checked, not posted again row by
				// row. Its other rows are then gone, so the outbox is read
				// anew.
				if err := d.finishDigest(ctx, ch, sender, row.DigestID); err != nil {
					return time.Time{}, err
				}
				progressed = true
				break
			}
			next, err := d.deliver(ctx, ch, sender, row)
			if err != nil || !next.IsZero() {
				return next, err
			}
			progressed = true
		}
		if !progressed {
			return time.Time{}, nil
		}
	}
	return time.Time{}, nil
}

func (d *Dispatcher) sender(ch config.Channel) Sender {
	if s, ok := d.Senders["*"]; ok {
		return s
	}
	return d.Senders[ch.Platform()]
}

func (d *Dispatcher) rejectLimit() int {
	if d.RejectLimit > 0 {
		return d.RejectLimit
	}
	return DefaultRejectLimit
}

// markUncertain notes, before a send, that the row's outcome is not
// recorded yet, and says whether an earlier attempt of this process left
// it so.
func (d *Dispatcher) markUncertain(key string) (was bool) {
	d.flightMu.Lock()
	defer d.flightMu.Unlock()
	if d.uncertain == nil {
		d.uncertain = map[string]bool{}
	}
	was = d.uncertain[key]
	d.uncertain[key] = true
	return was
}

// settled forgets a row whose outcome is recorded in the store.
func (d *Dispatcher) settled(key string) {
	d.flightMu.Lock()
	defer d.flightMu.Unlock()
	delete(d.uncertain, key)
}

// deliver makes one attempt at one row. It returns a non-zero time when the
// channel must wait before its next attempt.
func (d *Dispatcher) deliver(ctx context.Context, ch config.Channel, sender Sender, row store.OutboxRow) (time.Time, error) {
	if row.Edit != nil {
		return d.deliverEdit(ctx, ch, sender, row)
	}
	row.Alert = d.followUp(ch, row.Alert)
	// A delivery under way is finished even when shutdown begins; the
	// timeout bounds how long that can take.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.sendTimeout())
	defer cancel()
	// Any row that may have posted already takes the checked path: one
	// attempted before (recorded), one left in flight by an earlier
	// process, one whose outcome this process failed to record, and one
	// first attempted as part of a digest.
	flightKey := ch.ID + "\x00" + row.Alert.ID
	wasUncertain := d.markUncertain(flightKey)
	var ref string
	var err error
	checked, canCheck := sender.(CheckedSender)
	if canCheck && (wasUncertain || row.Attempts > 0 || row.DigestID != "" || row.Enqueued.Before(d.started)) {
		ref, err = d.sendRecovered(ch, func() (string, error) { return checked.SendChecked(sctx, ch.Target(), row.Alert) })
	} else {
		ref, err = d.sendRecovered(ch, func() (string, error) { return sender.Send(sctx, ch.Target(), row.Alert) })
	}
	ev := DeliveryEvent{Channel: ch.ID, Platform: ch.Platform(), Err: err}
	defer func() {
		if d.Observe != nil {
			d.Observe(ev)
		}
	}()
	if err == nil {
		if err := d.Store.DeliveredMessage(ch.ID, row.Key, store.Message{Target: ch.Target(), Ref: ref, Thread: row.Alert.ThreadRoot, Sent: &row.Alert}); err != nil {
			return time.Time{}, fmt.Errorf("bot: mark delivered: %w", err)
		}
		d.settled(flightKey)
		d.Logger.Debug("delivered", "channel", ch.ID, "alert", row.Alert.ID, "title", row.Alert.Item.Title)
		return time.Time{}, nil
	}
	if reason, park := d.parkReason(err, row.Attempts+1); park {
		ev.Parked = true
		if err := d.park(ctx, ch, row, reason); err != nil {
			return time.Time{}, err
		}
		d.settled(flightKey)
		return time.Time{}, nil
	}
	wait := RetryBackoff(row.Attempts + 1)
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		wait = max(ra.After, time.Second)
	}
	next := d.now().Add(wait)
	d.Logger.Warn("delivery failed; will retry", "channel", ch.ID, "alert", row.Alert.ID, "attempt", row.Attempts+1, "retry_in", wait.Round(time.Millisecond), "err", err)
	if err := d.Store.Retry(ch.ID, row.Key, err.Error(), next); err != nil {
		return time.Time{}, fmt.Errorf("bot: record retry: %w", err)
	}
	d.settled(flightKey) // Attempts > 0 now sends it checked
	return next, nil
}

// parkReason says whether a failed attempt (the attempts-th) parks its
// row, and why: a permanent failure at once, a refusal once it repeated
// RejectLimit times.
func (d *Dispatcher) parkReason(err error, attempts int) (string, bool) {
	var perm *PermanentError
	if errors.As(err, &perm) {
		return perm.Reason, true
	}
	var rej *RejectedError
	if errors.As(err, &rej) && attempts >= d.rejectLimit() {
		return fmt.Sprintf("refused %d times by the chat server: %s", attempts, rej.Reason), true
	}
	return "", false
}

// park sets a row aside, says so in the log and tells OnPark.
func (d *Dispatcher) park(ctx context.Context, ch config.Channel, row store.OutboxRow, reason string) error {
	if err := d.Store.Park(ch.ID, row.Key, reason); err != nil {
		return fmt.Errorf("bot: park: %w", err)
	}
	d.Logger.Error("alert parked", "channel", ch.ID, "alert", row.Alert.ID, "reason", reason)
	if d.OnPark != nil {
		d.OnPark(ctx, ch.ID, row.Alert.Item.Title, reason)
	}
	return nil
}

// RetryBackoff is the wait before attempt n+1: 2 s doubling, at most
// 15 min, with full jitter in its upper half so channels do not retry in step.
func RetryBackoff(n int) time.Duration {
	d := time.Duration(float64(2*time.Second) * math.Pow(2, float64(min(max(n-1, 0), 12))))
	if d > 15*time.Minute {
		d = 15 * time.Minute
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// FlushDigest sends every pending row of a digest channel as digests
// (split by the sender as its platform needs) and marks them delivered.
// Rows queued while the channel had no digest join it too: a channel's
// rows follow its current settings.
//
// A digest's identity is fixed when it is first attempted: its rows are
// recorded as members of its id before the send, so a digest left
// unrecorded by a failure or a crash is sent again with the same rows
// under the same id (through the checked path), and rows that arrived
// since go into the next digest. The chat servers' idempotency checks
// (Slack's metadata lookup, Matrix transaction ids) then recognise it.
func (d *Dispatcher) FlushDigest(ctx context.Context, ch config.Channel) (int, error) {
	sender := d.sender(ch)
	if sender == nil {
		return 0, fmt.Errorf("bot: digest %s: no %s connection configured", ch.ID, ch.Platform())
	}
	lock := d.digestLock(ch.ID)
	if !lock.TryLock() {
		d.Logger.Info("waiting for the channel's digest in flight to finish", "channel", ch.ID)
		lock.Lock()
	}
	defer lock.Unlock()
	total := 0
	for ctx.Err() == nil {
		rows, err := d.Store.Outbox(ch.ID, false, 0)
		if err != nil {
			return total, fmt.Errorf("bot: digest %s: %w", ch.ID, err)
		}
		members, id := nextDigest(rows)
		if len(members) == 0 {
			return total, nil
		}
		retry := id != ""
		if !retry {
			id = digestID(members)
			keys := make([][]byte, len(members))
			for i, r := range members {
				keys[i] = r.Key
			}
			if err := d.Store.AssignDigest(ch.ID, keys, id); err != nil {
				return total, fmt.Errorf("bot: digest %s: %w", ch.ID, err)
			}
		}
		n, err := d.sendDigest(ctx, ch, sender, id, members, retry)
		total += n
		if err != nil || !retry {
			// Rows newer than a first digest wait for the next flush.
			return total, err
		}
	}
	return total, nil
}

// finishDigest sends again, through the checked path, the digest id that
// was attempted with the rows it holds.
func (d *Dispatcher) finishDigest(ctx context.Context, ch config.Channel, sender Sender, id string) error {
	lock := d.digestLock(ch.ID)
	lock.Lock()
	defer lock.Unlock()
	rows, err := d.Store.Outbox(ch.ID, false, 0)
	if err != nil {
		return fmt.Errorf("bot: outbox %s: %w", ch.ID, err)
	}
	var members []store.OutboxRow
	for _, r := range rows {
		if r.DigestID == id {
			members = append(members, r)
		}
	}
	if len(members) == 0 {
		return nil
	}
	_, err = d.sendDigest(ctx, ch, sender, id, members, true)
	return err
}

func (d *Dispatcher) digestLock(channel string) *sync.Mutex {
	d.flightMu.Lock()
	defer d.flightMu.Unlock()
	if d.digestLocks == nil {
		d.digestLocks = map[string]*sync.Mutex{}
	}
	l, ok := d.digestLocks[channel]
	if !ok {
		l = &sync.Mutex{}
		d.digestLocks[channel] = l
	}
	return l
}

// nextDigest picks the rows of the digest to send next: the oldest digest
// already attempted, or else every row. id is empty for a new digest.
func nextDigest(rows []store.OutboxRow) ([]store.OutboxRow, string) {
	for _, r := range rows {
		if r.DigestID == "" {
			continue
		}
		var members []store.OutboxRow
		for _, m := range rows {
			if m.DigestID == r.DigestID {
				members = append(members, m)
			}
		}
		return members, r.DigestID
	}
	var fresh []store.OutboxRow
	for _, r := range rows {
		// An edit row rewrites a message of its own; it is no digest entry.
		if r.DigestID == "" && r.Edit == nil {
			fresh = append(fresh, r)
		}
	}
	return fresh, ""
}

func digestID(rows []store.OutboxRow) string {
	h := sha256.New()
	for _, r := range rows {
		h.Write([]byte(r.Alert.ID))
		h.Write([]byte{0})
	}
	return "digest-" + hex.EncodeToString(h.Sum(nil)[:12])
}

// sendDigest makes one attempt at one digest and records its outcome on
// its rows.
func (d *Dispatcher) sendDigest(ctx context.Context, ch config.Channel, sender Sender, id string, rows []store.OutboxRow, retry bool) (int, error) {
	keys := make([][]byte, len(rows))
	dg := policywire.Digest{Channel: ch.ID, ID: id}
	attempts := 0
	for i, r := range rows {
		keys[i] = r.Key
		dg.Alerts = append(dg.Alerts, r.Alert)
		attempts = max(attempts, r.Attempts)
	}
	dg.Title = fmt.Sprintf("policywire digest: %d new item%s", len(rows), plural(len(rows)))
	flightKey := ch.ID + "\x00" + id
	wasUncertain := d.markUncertain(flightKey)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*d.sendTimeout())
	defer cancel()
	var refs []string
	var err error
	if checked, ok := sender.(CheckedDigestSender); ok && (retry || wasUncertain) {
		refs, err = checked.SendDigestChecked(sctx, ch.Target(), dg)
	} else {
		refs, err = sender.SendDigest(sctx, ch.Target(), dg)
	}
	ev := DeliveryEvent{Channel: ch.ID, Platform: ch.Platform(), Err: err}
	defer func() {
		if d.Observe != nil {
			d.Observe(ev)
		}
	}()
	if err == nil {
		if err := d.Store.DeliveredDigest(ch.ID, keys, refs); err != nil {
			return 0, fmt.Errorf("bot: digest %s: %w", ch.ID, err)
		}
		d.settled(flightKey)
		return len(keys), nil
	}
	if reason, park := d.parkReason(err, attempts+1); park {
		ev.Parked = true
		if perr := d.Store.ParkRows(ch.ID, keys, reason); perr != nil {
			return 0, fmt.Errorf("bot: digest %s: %w", ch.ID, perr)
		}
		d.settled(flightKey)
		d.Logger.Error("digest parked", "channel", ch.ID, "digest", id, "items", len(keys), "reason", reason)
		if d.OnPark != nil {
			d.OnPark(ctx, ch.ID, dg.Title, reason)
		}
		return 0, fmt.Errorf("bot: digest %s parked: %s", ch.ID, reason)
	}
	if rerr := d.Store.RetryRows(ch.ID, keys, err.Error(), time.Time{}); rerr != nil {
		return 0, fmt.Errorf("bot: digest %s: %w (recording the failure: %v)", ch.ID, err, rerr)
	}
	d.settled(flightKey)
	return 0, fmt.Errorf("bot: digest %s: %w", ch.ID, err)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
