package slack

import (
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire/config"
)

// commandAs sends a signed command from user.
func (e *cmdEnv) commandAs(t *testing.T, user, text string) commandReply {
	t.Helper()
	return e.commandWith(t, text, "user_id", user)
}

// TestCommandRateLimitPerPerson: 30 signed slash commands in 10 s of the
// bot's clock from one person meet the limit, which answers kindly, while
// another person's commands sent among them all pass.
func TestCommandRateLimitPerPerson(t *testing.T) {
	env := newCmdEnv(t)
	env.bot.Config().Chat = config.Chat{CommandsPerMinute: 20, CommandBurst: 10, MaxWatches: 20}
	start := env.now
	var passed, limited int
	for i := range 30 {
		env.now = start.Add(time.Duration(i) * 10 * time.Second / 30)
		reply := env.commandAs(t, "U1", "help")
		switch {
		case strings.HasPrefix(reply.Text, "policywire commands:"):
			passed++
		case strings.Contains(reply.Text, "faster than policywire answers them (20 a minute, 10 at once)"):
			limited++
		default:
			t.Fatalf("command %d: unexpected answer %q", i, reply.Text)
		}
		if i%5 == 0 {
			if other := env.commandAs(t, "U2", "help"); !strings.HasPrefix(other.Text, "policywire commands:") {
				t.Fatalf("another person's command %d was answered %q", i, other.Text)
			}
		}
	}
	// A bucket of 10 refilled at one every 3 s lets 10 + 3 through in 10 s.
	if passed != 13 || limited != 17 {
		t.Errorf("passed %d, limited %d; want 13 and 17", passed, limited)
	}
	env.now = start.Add(time.Minute)
	if reply := env.commandAs(t, "U1", "help"); !strings.HasPrefix(reply.Text, "policywire commands:") {
		t.Errorf("a minute later: %q", reply.Text)
	}
}
