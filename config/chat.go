package config

import "gopkg.in/yaml.v3"

// Defaults of the chat section.
const (
	DefaultMaxWatches        = 20
	DefaultCommandsPerMinute = 20
	DefaultCommandBurst      = 10
)

func defaultChat() Chat {
	return Chat{MaxSubscriptions: DefaultMaxSubscriptions, MaxWatches: DefaultMaxWatches, CommandsPerMinute: DefaultCommandsPerMinute, CommandBurst: DefaultCommandBurst}
}

func (l *loader) decodeChat(n *yaml.Node, dst *Chat) {
	f := l.mapping(n, "chat", "chat.", []string{"max_subscriptions", "max_watches", "commands_per_minute", "command_burst"})
	if f == nil {
		return
	}
	if v, ok := l.integer(f, "max_subscriptions"); ok {
		if v <= 0 || v > 1000 {
			l.errAt(f.vals["max_subscriptions"], "chat.max_subscriptions: must be from 1 to 1000, got %d", v)
		} else {
			dst.MaxSubscriptions = v
		}
	}
	atLeast := func(key string, min int, dst *int) {
		if v, ok := l.integer(f, key); ok {
			if v < min {
				l.errAt(f.vals[key], "chat.%s: must be at least %d, got %d", key, min, v)
				return
			}
			*dst = v
		}
	}
	atLeast("max_watches", 0, &dst.MaxWatches)
	atLeast("commands_per_minute", 0, &dst.CommandsPerMinute)
	atLeast("command_burst", 1, &dst.CommandBurst)
}
