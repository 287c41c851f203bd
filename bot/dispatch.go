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

// DeliveryEvent is told to Dispatcher.Observe after every attempt.
type DeliveryEvent struct {
	Channel  string
	Platform string
	Err      error // nil: delivered
	Parked   bool
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

	started time.Time
	mu      sync.Mutex
	workers map[string]*channelWorker
	wg      sync.WaitGroup
}

type channelWorker struct {
	channel config.Channel
	wake    chan struct{}
	cancel  context.CancelFunc
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
// of removed ones.
func (d *Dispatcher) SetChannels(ctx context.Context, channels []config.Channel) {
	d.mu.Lock()
	defer d.mu.Unlock()
	want := map[string]config.Channel{}
	for _, ch := range channels {
		want[ch.ID] = ch
	}
	for id, w := range d.workers {
		if ch, ok := want[id]; !ok || !sameChannel(ch, w.channel) {
			w.cancel()
			delete(d.workers, id)
		}
	}
	for id, ch := range want {
		if _, ok := d.workers[id]; ok {
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		w := &channelWorker{channel: ch, wake: make(chan struct{}, 1), cancel: cancel}
		d.workers[id] = w
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
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

// Step delivers the due instant rows of one channel, in order, until the
// outbox of the channel is empty (zero time), the head row must wait (the
// time it may be tried again), or the head row ran out of attempts
// (ErrGaveUp).
func (d *Dispatcher) Step(ctx context.Context, ch config.Channel) (time.Time, error) {
	sender := d.Senders[ch.Platform()]
	if s, ok := d.Senders["*"]; ok {
		sender = s
	}
	for ctx.Err() == nil {
		rows, err := d.Store.Outbox(ch.ID, false, 32)
		if err != nil {
			return time.Time{}, fmt.Errorf("bot: outbox %s: %w", ch.ID, err)
		}
		progressed := false
		for _, row := range rows {
			if row.Digest {
				continue
			}
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
				if err := d.Store.Park(ch.ID, row.Key, "no "+ch.Platform()+" connection configured"); err != nil {
					return time.Time{}, fmt.Errorf("bot: park: %w", err)
				}
				continue
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
	var ref string
	var err error
	checked, canCheck := sender.(CheckedSender)
	if canCheck && (row.Attempts > 0 || row.Enqueued.Before(d.started)) {
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
		if err := d.Store.DeliveredMessage(ch.ID, row.Key, store.Message{Target: ch.Target(), Ref: ref, Thread: row.Alert.ThreadRoot}); err != nil {
			return time.Time{}, fmt.Errorf("bot: mark delivered: %w", err)
		}
		d.Logger.Debug("delivered", "channel", ch.ID, "alert", row.Alert.ID, "title", row.Alert.Item.Title)
		return time.Time{}, nil
	}
	var perm *PermanentError
	if errors.As(err, &perm) {
		ev.Parked = true
		d.Logger.Error("alert parked", "channel", ch.ID, "alert", row.Alert.ID, "reason", perm.Reason)
		if err := d.Store.Park(ch.ID, row.Key, perm.Reason); err != nil {
			return time.Time{}, fmt.Errorf("bot: park: %w", err)
		}
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
	return next, nil
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

// FlushDigest sends every pending digest row of a channel as one digest
// (split by the sender as its platform needs) and marks them delivered.
func (d *Dispatcher) FlushDigest(ctx context.Context, ch config.Channel) (int, error) {
	sender := d.Senders[ch.Platform()]
	if s, ok := d.Senders["*"]; ok {
		sender = s
	}
	if sender == nil {
		return 0, fmt.Errorf("bot: digest %s: no %s connection configured", ch.ID, ch.Platform())
	}
	rows, err := d.Store.Outbox(ch.ID, false, 0)
	if err != nil {
		return 0, fmt.Errorf("bot: digest %s: %w", ch.ID, err)
	}
	var keys [][]byte
	dg := policywire.Digest{Channel: ch.ID}
	h := sha256.New()
	for _, row := range rows {
		if !row.Digest {
			continue
		}
		keys = append(keys, row.Key)
		dg.Alerts = append(dg.Alerts, row.Alert)
		h.Write([]byte(row.Alert.ID))
	}
	if len(keys) == 0 {
		return 0, nil
	}
	dg.ID = "digest-" + hex.EncodeToString(h.Sum(nil)[:12])
	dg.Title = fmt.Sprintf("policywire digest: %d new item%s", len(keys), plural(len(keys)))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*d.sendTimeout())
	defer cancel()
	refs, err := sender.SendDigest(sctx, ch.Target(), dg)
	if d.Observe != nil {
		d.Observe(DeliveryEvent{Channel: ch.ID, Platform: ch.Platform(), Err: err})
	}
	if err != nil {
		return 0, fmt.Errorf("bot: digest %s: %w", ch.ID, err)
	}
	if err := d.Store.DeliveredDigest(ch.ID, keys, refs); err != nil {
		return 0, fmt.Errorf("bot: digest %s: %w", ch.ID, err)
	}
	return len(keys), nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
