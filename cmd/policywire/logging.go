package main

import (
	"io"
	"log/slog"
	"os"

	"github.com/mattn/go-isatty"
)

// newLogger logs to w at level (debug, info, warn, error) in format: text,
// json, or auto (text on a terminal, JSON otherwise, for log collectors).
// Secrets are config.Secret values, which log as "[redacted]".
func newLogger(w io.Writer, level, format string, withSource bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: parseLevel(level), AddSource: withSource}
	if format == "text" || (format != "json" && isTerminal(w)) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func parseLevel(level string) slog.Level {
	switch level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
