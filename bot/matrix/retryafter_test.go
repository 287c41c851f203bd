package matrix

import (
	"net/http"
	"testing"
	"time"

	"maunium.net/go/mautrix"

	"github.com/policywire/policywire/bot"
)

// A rate limit asking for days (or for more milliseconds than a Duration
// holds) waits bot.MaxRetryAfter, not for ever.
func TestRetryAfterIsCapped(t *testing.T) {
	cases := []struct {
		name string
		err  mautrix.HTTPError
		want time.Duration
	}{
		{"retry_after_ms as given", mautrix.HTTPError{RespError: &mautrix.RespError{ExtraData: map[string]any{"retry_after_ms": float64(2000)}}}, 2 * time.Second},
		{"retry_after_ms of a week", mautrix.HTTPError{RespError: &mautrix.RespError{ExtraData: map[string]any{"retry_after_ms": float64(7 * 24 * 3600 * 1000)}}}, bot.MaxRetryAfter},
		{"retry_after_ms beyond a Duration", mautrix.HTTPError{RespError: &mautrix.RespError{ExtraData: map[string]any{"retry_after_ms": 1e300}}}, bot.MaxRetryAfter},
		{"Retry-After header of a year", mautrix.HTTPError{Response: &http.Response{Header: http.Header{"Retry-After": {"31536000"}}}}, bot.MaxRetryAfter},
		{"Retry-After header beyond a Duration", mautrix.HTTPError{Response: &http.Response{Header: http.Header{"Retry-After": {"9223372036854775807"}}}}, bot.MaxRetryAfter},
	}
	for _, tc := range cases {
		if got := retryAfter(tc.err); got != tc.want {
			t.Errorf("%s: wait %s, want %s", tc.name, got, tc.want)
		}
	}
}
