package matrix

import (
	"context"
	"encoding/json"
	"log/slog"
)

// slogWriter takes the JSON lines of a zerolog logger (mautrix logs
// through zerolog) and writes them to a slog logger, so that the crypto
// machine's warnings land in policywire's log with its format.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	var fields map[string]any
	if err := json.Unmarshal(p, &fields); err != nil {
		w.log.Warn("matrix crypto: " + string(p))
		return len(p), nil
	}
	level := slog.LevelWarn
	switch fields["level"] {
	case "error", "fatal", "panic":
		level = slog.LevelError
	case "info":
		level = slog.LevelInfo
	case "debug", "trace":
		level = slog.LevelDebug
	}
	msg, _ := fields["message"].(string)
	attrs := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		if k == "level" || k == "message" || k == "time" {
			continue
		}
		attrs = append(attrs, k, v)
	}
	w.log.Log(context.Background(), level, "matrix crypto: "+msg, attrs...)
	return len(p), nil
}

func discardSlog() *slog.Logger { return slog.New(slog.DiscardHandler) }
