package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/policywire/policywire/bot"
)

// maxAckBytes keeps a Socket Mode acknowledgement under Slack's 20 KiB
// limit, beyond which Slack drops it silently; a bigger answer goes to
// response_url instead.
const maxAckBytes = 20*1024 - 64

// SocketOptions configure Socket Mode.
type SocketOptions struct {
	// AppToken (xapp-…) opens the Socket Mode connection; BotToken is the
	// Web API token of the app. Neither is ever logged.
	AppToken string
	BotToken string
	// APIURL is the Web API base URL (default https://slack.com/api/).
	APIURL   string
	Commands *bot.Commands
	// Command is the slash command, "/policywire" by default.
	Command string
	Logger  *slog.Logger
	// HTTPClient calls the Web API and posts late answers (default: 30 s
	// timeout).
	HTTPClient *http.Client
	// AnswerWithin, CommandTimeout and AllowResponseURL are as in
	// CommandOptions.
	AnswerWithin     time.Duration
	CommandTimeout   time.Duration
	AllowResponseURL func(u *url.URL) bool
	// Admins are as in CommandOptions; workspace admins and owners are
	// looked up with BotToken.
	Admins []string
}

// RunSocketMode answers slash commands over Slack's Socket Mode until ctx
// ends, which needs no public URL. Reconnecting is the socketmode client's
// job; RunSocketMode returns nil when ctx ends and an error when the
// connection cannot be kept (a refused token, for one).
func RunSocketMode(ctx context.Context, o SocketOptions) error {
	if strings.TrimSpace(o.AppToken) == "" {
		return errors.New("slack: socket mode: no app token")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultHTTPTimeout}
	}
	opts := []slack.Option{slack.OptionHTTPClient(hc), slack.OptionAppLevelToken(o.AppToken)}
	if o.APIURL != "" {
		u := o.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, slack.OptionAPIURL(u))
	}
	client := socketmode.New(slack.New(o.BotToken, opts...))
	runner := newCommandRunner(runnerOptions{
		commands:     o.Commands,
		command:      o.Command,
		log:          log,
		httpClient:   hc,
		answerWithin: o.AnswerWithin,
		timeout:      o.CommandTimeout,
		allow:        o.AllowResponseURL,
		apiURL:       o.APIURL,
		roles:        newRoles(webAPIClient(o.BotToken, o.APIURL, hc), o.Admins, log),
	})
	defer runner.close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- client.RunContext(ctx) }()

	for {
		select {
		case err := <-done:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("slack: socket mode: %w", err)
		case evt := <-client.Events:
			handleSocketEvent(evt, client, runner, log)
		case <-ctx.Done():
			<-done
			return nil
		}
	}
}

// acker acknowledges a Socket Mode request (socketmode.Client does).
type acker interface {
	Ack(req socketmode.Request, payload ...any) error
}

// handleSocketEvent reacts to one event of the Socket Mode client. Slash
// commands are answered in their own goroutine, so that a slow one does
// not delay the acknowledgement of the next.
func handleSocketEvent(evt socketmode.Event, ack acker, runner *commandRunner, log *slog.Logger) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		log.Debug("slack: socket mode connecting")
	case socketmode.EventTypeConnected:
		log.Info("slack: socket mode connected")
	case socketmode.EventTypeConnectionError:
		if ce, ok := evt.Data.(*slack.ConnectionErrorEvent); ok {
			log.Warn("slack: socket mode connection failed; retrying", "attempt", ce.Attempt, "backoff", ce.Backoff, "err", ce.Error())
		} else {
			log.Warn("slack: socket mode connection failed; retrying")
		}
	case socketmode.EventTypeInvalidAuth:
		log.Error("slack: socket mode refused the app token")
	case socketmode.EventTypeErrorBadMessage, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed:
		log.Warn("slack: socket mode error", "type", string(evt.Type))
	case socketmode.EventTypeSlashCommand:
		if evt.Request == nil {
			return
		}
		req := *evt.Request
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok {
			log.Warn("slack: socket mode slash command without a command")
			if err := ack.Ack(req); err != nil {
				log.Warn("slack: socket mode ack failed", "err", err)
			}
			return
		}
		started := runner.spawn(func() { answerSocketCommand(req, cmd, ack, runner, log) })
		if !started {
			if err := ack.Ack(req, ephemeralText("Sorry, policywire is shutting down; try again in a moment.")); err != nil {
				log.Warn("slack: socket mode ack failed", "err", err)
			}
		}
	case socketmode.EventTypeInteractive:
		// The buttons under answers; acknowledged at once, answered
		// through the interaction's response_url.
		if evt.Request != nil {
			if err := ack.Ack(*evt.Request); err != nil {
				log.Warn("slack: socket mode ack failed", "err", err)
			}
		}
		if cb, ok := evt.Data.(slack.InteractionCallback); ok {
			runner.pressButtons(cb)
		}
	case socketmode.EventTypeEventsAPI:
		// Not used by policywire; acknowledged so that Slack does not
		// deliver them again.
		if evt.Request != nil {
			if err := ack.Ack(*evt.Request); err != nil {
				log.Warn("slack: socket mode ack failed", "err", err)
			}
		}
	}
}

// answerSocketCommand acknowledges a slash command with its answer, or
// with "Working on it…" when the answer is late or too big for an
// acknowledgement, in which case it follows through response_url.
func answerSocketCommand(req socketmode.Request, cmd slack.SlashCommand, ack acker, runner *commandRunner, log *slog.Logger) {
	fits := func(resp CommandResponse) bool {
		raw, err := json.Marshal(socketmode.Response{EnvelopeID: req.EnvelopeID, Payload: resp})
		return err == nil && len(raw) < maxAckBytes
	}
	resp := runner.answer(cmd, fits)
	if err := ack.Ack(req, resp); err != nil {
		log.Error("slack: socket mode ack failed", "err", err)
	}
}
