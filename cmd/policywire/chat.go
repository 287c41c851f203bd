package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/bot/matrix"
	slacksender "github.com/policywire/policywire/bot/slack"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/store"
)

// slackCommandHandler serves POST /slack/commands and POST
// /slack/interactions (the buttons under answers); nil when no signing
// secret is set.
func (a *app) slackCommandHandler(commands *bot.Commands, cfg *config.Config) http.Handler {
	if cfg.Slack == nil || cfg.Slack.SigningSecret.Value() == "" {
		return nil
	}
	o := slacksender.CommandOptions{
		SigningSecret: cfg.Slack.SigningSecret.Value(), Commands: commands, Command: cfg.Slack.Command,
		Logger: a.logger(cfg), BotToken: cfg.Slack.BotToken.Value(), APIURL: cfg.Slack.APIURL, Admins: cfg.Slack.Admins,
	}
	mux := http.NewServeMux()
	mux.Handle("/slack/commands", slacksender.NewCommandHandler(o))
	mux.Handle("/slack/interactions", slacksender.NewInteractionHandler(o))
	return mux
}

// startChat starts the chat listeners the config asks for: Slack Socket
// Mode when an app token is set, the Matrix command listener when Matrix
// is configured. The returned group ends when ctx does.
func (a *app) startChat(ctx context.Context, cfg *config.Config, b *bot.Bot, commands *bot.Commands, mx *matrix.Sender, st *store.Store, logger *slog.Logger) *sync.WaitGroup {
	var wg sync.WaitGroup
	if cfg.Slack != nil && cfg.Slack.AppToken.Value() != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer logPanic(logger, "slack socket mode")
			err := slacksender.RunSocketMode(ctx, slacksender.SocketOptions{
				AppToken: cfg.Slack.AppToken.Value(), BotToken: cfg.Slack.BotToken.Value(), APIURL: cfg.Slack.APIURL,
				Commands: commands, Command: cfg.Slack.Command, Logger: logger, Admins: cfg.Slack.Admins,
			})
			if err != nil && ctx.Err() == nil {
				logger.Error("slack socket mode stopped", "err", err)
			}
		}()
	}
	if mx != nil {
		l := matrix.NewListener(matrix.ListenerOptions{
			Sender: mx, Commands: commands, Store: st, Prefix: cfg.Matrix.CommandPrefix, Admins: cfg.Matrix.Admins,
			Rooms: func() []string { return matrixRooms(b.Config()) }, Logger: logger,
			Autojoin: cfg.Matrix.Autojoin, RoomsChanged: a.roomsChanged,
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer logPanic(logger, "matrix command listener")
			if err := l.Run(ctx); err != nil && ctx.Err() == nil {
				logger.Error("matrix command listener stopped", "err", err)
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer logPanic(logger, "matrix room retries")
			retryParkedRooms(ctx, b, st, mx, logger)
		}()
	}
	return &wg
}

// logPanic, deferred at the top of a listener's goroutine, turns a crash of
// the listener into a log record with its stack: the listener stops, the
// daemon (polls, deliveries) goes on.
func logPanic(logger *slog.Logger, what string) {
	if r := recover(); r != nil {
		logger.Error(what+" crashed and stopped; restart policywire to bring it back", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	}
}
