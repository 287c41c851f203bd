package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/bot/matrix"
	slacksender "github.com/policywire/policywire/bot/slack"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
	"github.com/policywire/policywire/store"
	"github.com/policywire/policywire/summary"
)

// dbPath is the database file of a config.
func dbPath(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "policywire.db") }

// indexDir is the search index folder of a config.
func indexDir(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "index") }

// openStore opens the database; a database held by a running daemon is
// reported as such. Commands that write check every page first, so that a
// damaged file is refused with its name rather than written to.
func openStore(cfg *config.Config, readOnly bool, timeout time.Duration) (*store.Store, error) {
	st, err := store.Open(dbPath(cfg), store.Options{Timeout: timeout, ReadOnly: readOnly, Check: !readOnly})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// newFetcher builds the one hardened fetcher of the process.
func newFetcher(cfg *config.Config, logger *slog.Logger) *sources.Fetcher {
	o := wiring.FetcherOptions(cfg.Fetch)
	o.Logger = logger
	return sources.NewFetcher(o)
}

// newSummarizer builds the summarizer of items that will be posted: it
// reads the article page through the fetcher when the feed says little,
// and keeps the extracted text in the store.
func newSummarizer(cfg *config.Config, f *sources.Fetcher, st *store.Store, logger *slog.Logger) *summary.Summarizer {
	return summary.New(summary.Options{Config: cfg.Summary, Pages: f, Cache: st, Logger: logger})
}

// newSenders connects to the chat platforms the config uses. A Matrix
// token the homeserver rejects is an error: nothing could be delivered.
func newSenders(ctx context.Context, cfg *config.Config, logger *slog.Logger) (map[string]bot.Sender, *matrix.Sender, *slacksender.Sender, error) {
	senders := map[string]bot.Sender{}
	var mx *matrix.Sender
	var sl *slacksender.Sender
	if cfg.Slack != nil {
		sl = slacksender.New(slacksender.Options{Token: cfg.Slack.BotToken.Value(), APIURL: cfg.Slack.APIURL, Location: cfg.Location, Logger: logger})
		senders["slack"] = sl
	}
	if cfg.Matrix != nil {
		var err error
		mx, err = matrix.New(matrix.Options{Homeserver: cfg.Matrix.Homeserver, UserID: cfg.Matrix.UserID, AccessToken: cfg.Matrix.AccessToken.Value(), Location: cfg.Location, Logger: logger})
		if err != nil {
			return nil, nil, nil, err
		}
		if err := mx.Whoami(ctx); err != nil {
			if bot.IsPermanent(err) {
				return nil, nil, nil, err
			}
			logger.Warn("matrix homeserver not reachable yet; alerts wait in the outbox", "err", err)
		} else if err := mx.JoinRooms(ctx, matrixRooms(cfg)); err != nil {
			logger.Warn("matrix: some rooms could not be joined; their alerts are parked until an invite arrives", "err", err)
		}
		senders["matrix"] = mx
	}
	return senders, mx, sl, nil
}

func matrixRooms(cfg *config.Config) []string {
	var rooms []string
	for _, ch := range cfg.Channels {
		if ch.Matrix != "" {
			rooms = append(rooms, ch.Matrix)
		}
	}
	return rooms
}

// lockedHint explains what to do when the database is held by a daemon.
func lockedHint(err error) error {
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("%w; commands that only read ask the running daemon through its socket", err)
	}
	return err
}
