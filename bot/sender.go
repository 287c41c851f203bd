// Package bot is what policywire does: it schedules sources, polls them,
// routes new items to channels, drains the durable outbox into chat, and
// answers chat commands. It knows the chat platforms only through the
// Sender and command-adapter interfaces; bot/slack and bot/matrix implement them.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/policywire/policywire"
)

// Sender posts to one chat platform. Implementations classify their
// failures with PermanentError and RetryAfterError; any other error is
// retried with backoff.
type Sender interface {
	// Platform is "slack", "matrix" or "console".
	Platform() string
	// Send posts one alert to a channel or room and returns the platform's
	// reference for the message (Slack ts, Matrix event id). It must be
	// idempotent for the same alert ID: a retry after an ambiguous failure
	// must not post twice.
	Send(ctx context.Context, target string, a policywire.Alert) (string, error)
	// SendDigest posts a digest, split into as many messages as the
	// platform's size limits need; it returns their references.
	SendDigest(ctx context.Context, target string, d policywire.Digest) ([]string, error)
	// SendNotice posts a short plain-text notice (admin warnings).
	SendNotice(ctx context.Context, target, text string) error
}

// PermanentError is a failure that retrying will not fix (channel not
// found, bot not in channel, bad token, forbidden). The row is parked with
// Reason until the config changes.
type PermanentError struct {
	Reason string
	Err    error
}

func (e *PermanentError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("bot: permanent failure: %s: %v", e.Reason, e.Err)
	}
	return "bot: permanent failure: " + e.Reason
}
func (e *PermanentError) Unwrap() error { return e.Err }

// RejectedError is a refusal of one message by the chat server that is
// neither known to be permanent nor a rate limit (an error code the sender
// does not know). It is retried with backoff like a transient failure, but
// a row refused RejectLimit times in a row is parked, so that the channel's
// later rows still flow. Network failures and server errors (5xx) are never
// RejectedErrors: they are outages, and every row waits them out.
type RejectedError struct {
	Reason string
	Err    error
}

func (e *RejectedError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("bot: rejected: %s: %v", e.Reason, e.Err)
	}
	return "bot: rejected: " + e.Reason
}
func (e *RejectedError) Unwrap() error { return e.Err }

// RetryAfterError is a rate limit: nothing may be sent to that channel
// before After has passed.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("bot: rate limited, retry after %s: %v", e.After, e.Err)
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// MaxRetryAfter caps the wait a chat server's rate limit asks for
// (Retry-After, retry_after_ms): a broken or hostile answer must not
// silence a channel for days. It is the longest retry backoff too.
const MaxRetryAfter = 15 * time.Minute

// CapRetryAfter bounds a rate-limit wait to MaxRetryAfter. A negative
// wait is one that overflowed on the way in: it is capped too.
func CapRetryAfter(d time.Duration) time.Duration {
	if d < 0 || d > MaxRetryAfter {
		return MaxRetryAfter
	}
	return d
}

// CapRetryAfterMillis is CapRetryAfter for a wait in milliseconds, as
// Matrix gives it, before it can overflow a Duration.
func CapRetryAfterMillis(ms float64) time.Duration {
	if ms > float64(MaxRetryAfter/time.Millisecond) || ms != ms {
		return MaxRetryAfter
	}
	return CapRetryAfter(time.Duration(ms * float64(time.Millisecond)))
}

// IsPermanent reports whether err is a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// PanicError is a panic recovered and turned into the error of the work
// that panicked. Its message is short (it may reach a chat answer); a log
// record of it carries the stack.
type PanicError struct {
	What  string
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("bot: %s panicked: %v", e.What, e.Value) }

// LogValue shows the stack in logs.
func (e *PanicError) LogValue() slog.Value {
	return slog.GroupValue(slog.String("msg", e.Error()), slog.String("stack", string(e.Stack)))
}
