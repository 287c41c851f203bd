package bot

import (
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/policywire/policywire/config"
)

// maxLimiters bounds the people whose command rate is remembered; past it
// the limiters of people back at a full allowance are forgotten, which
// changes nothing for them.
const maxLimiters = 10000

// commandLimiter is the per-person command rate limit: a token bucket per
// platform and user, refilled at chat.commands_per_minute and holding
// chat.command_burst. It reads the time it is given, never the clock.
type commandLimiter struct {
	mu       sync.Mutex
	settings config.Chat
	people   map[string]*rate.Limiter
}

// allow takes one command of person at now; when the person is over the
// limit it says how long until the next one passes.
func (l *commandLimiter) allow(settings config.Chat, person string, now time.Time) (bool, time.Duration) {
	if settings.CommandsPerMinute <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.people == nil || l.settings.CommandsPerMinute != settings.CommandsPerMinute || l.settings.CommandBurst != settings.CommandBurst {
		// A reload changed the limit: everyone starts with a full allowance.
		l.settings, l.people = settings, map[string]*rate.Limiter{}
	}
	every := rate.Limit(float64(settings.CommandsPerMinute) / 60)
	lim, ok := l.people[person]
	if !ok {
		if len(l.people) >= maxLimiters {
			for p, other := range l.people {
				if other.TokensAt(now) >= float64(settings.CommandBurst) {
					delete(l.people, p)
				}
			}
		}
		lim = rate.NewLimiter(every, max(settings.CommandBurst, 1))
		l.people[person] = lim
	}
	if lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - lim.TokensAt(now)
	return false, time.Duration(math.Ceil(missing/float64(every))) * time.Second
}

// limited is the answer to a person over the command rate limit.
func limited(settings config.Chat, wait time.Duration) Answer {
	return Answer{Text: fmt.Sprintf("You are sending commands faster than policywire answers them (%d a minute, %d at once). Try again in %d s; everyone else's commands still go through.",
		settings.CommandsPerMinute, settings.CommandBurst, max(int(wait/time.Second), 1))}
}
