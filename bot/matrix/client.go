package matrix

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/policywire/policywire/bot"
)

// defaultRetryAfter is the wait when a rate limit names none.
const defaultRetryAfter = 5 * time.Second

// newClient builds a mautrix client that never retries or sleeps on its
// own: the outbox dispatcher owns retries and rate-limit waits.
func newClient(homeserver string, userID id.UserID, token string, httpClient *http.Client) (*mautrix.Client, error) {
	cli, err := mautrix.NewClient(homeserver, userID, token)
	if err != nil {
		return nil, err
	}
	cli.DefaultHTTPRetries = 0
	cli.IgnoreRateLimit = true
	cli.UserAgent = "policywire (" + mautrix.DefaultUserAgent + ")"
	if httpClient != nil {
		cli.Client = httpClient
	} else {
		// No overall timeout: the command listener long-polls /sync with
		// this client; each Sender call bounds itself with its context.
		cli.Client = &http.Client{}
	}
	return cli, nil
}

// txnSafe are transaction IDs sent as they are; others are hashed so that
// no ID can upset the URL path or the server's length limits.
var txnSafe = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,64}$`)

// txnID derives the transaction ID of an event from a stable key (the
// alert ID, or a digest ID and part number). The homeserver answers a
// repeated PUT with the same transaction ID with the first event instead of
// posting again.
func txnID(key string) string {
	if txnSafe.MatchString(key) {
		return "pw." + key
	}
	sum := sha256.Sum256([]byte(key))
	return "pw-" + hex.EncodeToString(sum[:16])
}

// classify turns a mautrix error into the dispatcher's error classes:
// RetryAfterError for rate limits, PermanentError for what a retry cannot
// fix (bad token, forbidden, unknown room, any other refusal of the
// request), and a plain wrapped error for the rest (5xx, network), which is
// retried with backoff. action is "join" or "send to"; room may be empty.
func classify(action, room string, err error) error {
	if err == nil {
		return nil
	}
	where := "matrix: " + action
	if room != "" {
		where += " room " + room
	}
	var httpErr mautrix.HTTPError
	if !errors.As(err, &httpErr) || httpErr.Response == nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	status := httpErr.Response.StatusCode
	code := ""
	if httpErr.RespError != nil {
		code = httpErr.RespError.ErrCode
	}
	switch {
	case code == mautrix.MLimitExceeded.ErrCode || status == http.StatusTooManyRequests:
		return &bot.RetryAfterError{After: retryAfter(httpErr), Err: fmt.Errorf("%s: %w", where, err)}
	case code == mautrix.MUnknownToken.ErrCode:
		return &bot.PermanentError{Reason: "matrix: access token rejected (M_UNKNOWN_TOKEN)", Err: err}
	case code == mautrix.MMissingToken.ErrCode:
		return &bot.PermanentError{Reason: "matrix: access token missing (M_MISSING_TOKEN)", Err: err}
	case status >= 500 || status == http.StatusRequestTimeout:
		return fmt.Errorf("%s: %w", where, err)
	case status >= 400:
		if code == "" {
			code = "HTTP " + strconv.Itoa(status)
		}
		reason := fmt.Sprintf("matrix: cannot %s (%s)", action, code)
		if room != "" {
			reason = fmt.Sprintf("matrix: cannot %s room %s (%s)", action, room, code)
		}
		return &bot.PermanentError{Reason: reason, Err: err}
	}
	return fmt.Errorf("%s: %w", where, err)
}

// retryAfter reads the wait from retry_after_ms in the body, else the
// Retry-After header, else uses defaultRetryAfter.
func retryAfter(e mautrix.HTTPError) time.Duration {
	if e.RespError != nil {
		if ms, ok := e.RespError.ExtraData["retry_after_ms"].(float64); ok && ms > 0 {
			return bot.CapRetryAfterMillis(ms)
		}
	}
	if e.Response != nil {
		if d, ok := parseRetryAfter(e.Response.Header.Get("Retry-After"), time.Now()); ok {
			return bot.CapRetryAfter(d)
		}
	}
	return defaultRetryAfter
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP
// date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs <= 0 {
			return 0, false
		}
		if secs > int(bot.MaxRetryAfter/time.Second) {
			return bot.MaxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
	}
	return 0, false
}
