package config

import "time"

// Follow-up settings of a channel.
const (
	// FollowUpThread posts an item that shares a policy reference with a
	// recent alert of the channel as a reply in that alert's thread.
	FollowUpThread = "thread"
	// FollowUpChannel posts every alert in the channel itself.
	FollowUpChannel = "channel"
	// DefaultFollowUpWindow is how recent an alert must be for a
	// follow-up to reply to it.
	DefaultFollowUpWindow = 90 * 24 * time.Hour
)

var followUpKeys = []string{"follow_ups", "follow_up_window", "reply_broadcast"}

// decodeFollowUps reads a channel's follow-up keys; the window is filled
// from defaults.follow_up_window later (fillFollowUpWindows).
func (l *loader) decodeFollowUps(f *fields, ch *Channel) bool {
	ch.FollowUps = FollowUpThread
	valid := l.enum(f, "follow_ups", &ch.FollowUps, FollowUpThread, FollowUpChannel)
	valid = l.positiveDuration(f, "follow_up_window", &ch.FollowUpWindow) && valid
	if v, ok := l.boolean(f, "reply_broadcast"); ok {
		if v && ch.Slack == "" {
			l.errAt(f.vals["reply_broadcast"], "%sreply_broadcast: only a Slack channel can show thread replies in the channel too", f.prefix)
			return false
		}
		ch.ReplyBroadcast = v
	} else if f.has("reply_broadcast") {
		valid = false
	}
	return valid
}

func fillFollowUpWindows(cfg *Config) {
	if cfg.Defaults.FollowUpWindow <= 0 {
		cfg.Defaults.FollowUpWindow = DefaultFollowUpWindow
	}
	for i := range cfg.Channels {
		if cfg.Channels[i].FollowUpWindow <= 0 {
			cfg.Channels[i].FollowUpWindow = cfg.Defaults.FollowUpWindow
		}
	}
}
