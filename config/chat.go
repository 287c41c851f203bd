package config

import "gopkg.in/yaml.v3"

// Defaults of the chat section.
const (
	DefaultMaxWatches        = 20
	DefaultCommandsPerMinute = 20
	DefaultCommandBurst      = 10
)

// Chat limits what one person may do through the chat commands.
type Chat struct {
	// MaxWatches is how many personal watches one person may keep.
	MaxWatches int
	// CommandsPerMinute is how many commands one person may send a minute
	// on average, with CommandBurst at once; 0 turns the limit off.
	CommandsPerMinute int
	CommandBurst      int
}

func defaultChat() Chat {
	return Chat{MaxWatches: DefaultMaxWatches, CommandsPerMinute: DefaultCommandsPerMinute, CommandBurst: DefaultCommandBurst}
}

func (l *loader) decodeChat(n *yaml.Node, dst *Chat) {
	f := l.mapping(n, "chat", "chat.", []string{"max_watches", "commands_per_minute", "command_burst"})
	if f == nil {
		return
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
