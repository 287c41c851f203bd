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
		mx, err = newMatrixSender(ctx, cfg, logger)
		if err != nil {
			return nil, nil, nil, err
		}
		senders["matrix"] = mx
	}
	return senders, mx, sl, nil
}

// cryptoStorePath is the SQLite file of the bot's Matrix device keys and
// of the state of the rooms it encrypts for.
func cryptoStorePath(cfg *config.Config) string {
	return filepath.Join(cfg.DataDir, "matrix-crypto.db")
}

// sessionPath keeps the login made with matrix.password.
func sessionPath(cfg *config.Config) string {
	return filepath.Join(cfg.DataDir, "matrix-session.json")
}

// newMatrixSender logs in (with the password on first start, when there
// is no access token), checks the token and turns encryption on when a
// pickle key is set. A crypto store that does not fit the device stops
// the start; an unreachable homeserver does not, and alerts wait in the
// outbox.
func newMatrixSender(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*matrix.Sender, error) {
	m := cfg.Matrix
	token, deviceID := m.AccessToken.Value(), m.DeviceID
	if token == "" {
		stored, err := matrix.StoredDeviceID(ctx, cryptoStorePath(cfg))
		if err != nil {
			return nil, err
		}
		sess, err := matrix.PasswordSession(ctx, matrix.PasswordLogin{
			Homeserver: m.Homeserver, UserID: m.UserID, Password: m.Password.Value(),
			Path: sessionPath(cfg), DeviceID: stored,
		})
		if err != nil {
			return nil, err
		}
		token, deviceID = sess.AccessToken, sess.DeviceID
	}
	mx, err := matrix.New(matrix.Options{Homeserver: m.Homeserver, UserID: m.UserID, AccessToken: token, DeviceID: deviceID, Location: cfg.Location, Logger: logger})
	if err != nil {
		return nil, err
	}
	reachable := true
	if err := mx.Whoami(ctx); err != nil {
		if bot.IsPermanent(err) {
			return nil, err
		}
		reachable = false
		logger.Warn("matrix homeserver not reachable yet; alerts wait in the outbox", "err", err)
	}
	if m.PickleKey != "" {
		err := mx.EnableEncryption(ctx, matrix.EncryptionOptions{StorePath: cryptoStorePath(cfg), PickleKey: m.PickleKey.Value()})
		var perm *bot.PermanentError
		switch {
		case errors.As(err, &perm):
			return nil, errors.New(perm.Reason)
		case err != nil:
			logger.Warn("matrix: encryption not ready yet; alerts to encrypted rooms wait in the outbox", "err", err)
		default:
			logger.Info("matrix: end-to-end encryption on", "device_id", mx.DeviceID())
		}
	}
	if reachable {
		if err := mx.JoinRooms(ctx, matrixRooms(cfg)); err != nil {
			logger.Warn("matrix: some rooms could not be joined; their alerts are parked until an invite arrives", "err", err)
		}
	}
	return mx, nil
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
