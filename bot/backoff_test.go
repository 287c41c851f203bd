package bot

import (
	"errors"
	"testing"
	"time"

	"github.com/policywire/policywire/sources"
)

func TestFailureBackoffScalesWithShortSchedules(t *testing.T) {
	network := &sources.Error{Kind: sources.KindNetwork, Err: errors.New("connection refused")}
	refused := &sources.Error{Kind: sources.KindStatus, Status: 403, Err: errors.New("403 Forbidden")}
	tests := []struct {
		name   string
		err    error
		n      int
		period time.Duration
		want   time.Duration // before the ±10% jitter
	}{
		{"network, 15 min schedule, first failure", network, 1, 15 * time.Minute, time.Minute},
		{"network, 15 min schedule, third failure", network, 3, 15 * time.Minute, 4 * time.Minute},
		{"refusal, hourly schedule", refused, 2, time.Hour, 20 * time.Minute},
		{"network, unknown schedule", network, 1, 0, time.Minute},
		{"network, 2 s schedule", network, 1, 2 * time.Second, 2 * time.Second},
		{"network, 2 s schedule, third failure", network, 3, 2 * time.Second, 8 * time.Second},
		{"refusal, 2 s schedule", refused, 1, 2 * time.Second, 20 * time.Second},
		{"cap at a day", network, 30, time.Hour, 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 20 {
				got := FailureBackoff(tt.err, tt.n, tt.period)
				lo, hi := time.Duration(float64(tt.want)*0.9), time.Duration(float64(tt.want)*1.1)
				if got < lo || got > hi {
					t.Fatalf("FailureBackoff = %s, want %s ±10%%", got, tt.want)
				}
			}
		})
	}
}

func TestSchedulePeriod(t *testing.T) {
	for spec, want := range map[string]time.Duration{
		"@every 2s":   2 * time.Second,
		"@every 15m":  15 * time.Minute,
		"@hourly":     time.Hour,
		"*/5 * * * *": 5 * time.Minute,
		"not a spec":  0,
	} {
		if got := schedulePeriod(spec, time.UTC); got != want {
			t.Errorf("schedulePeriod(%q) = %s, want %s", spec, got, want)
		}
	}
}
