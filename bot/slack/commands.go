package slack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/policywire/policywire/bot"
)

const (
	// DefaultCommand is the slash command policywire answers.
	DefaultCommand = "/policywire"
	// DefaultAnswerWithin is how long a command may take to be answered
	// inline; Slack wants an answer within 3 s.
	DefaultAnswerWithin = 2500 * time.Millisecond
	// DefaultCommandTimeout bounds the work of one command.
	DefaultCommandTimeout = time.Minute

	// maxCommandBody caps a slash command request; Slack's are a few KiB.
	maxCommandBody = 64 << 10
	// signatureWindow is how far a request's timestamp may be from now.
	signatureWindow = 5 * time.Minute
	// responsePostTimeout bounds one post to a response_url.
	responsePostTimeout = 15 * time.Second
	workingText         = "Working on it…"
)

// CommandOptions configure the slash command endpoint.
type CommandOptions struct {
	// SigningSecret checks that a request comes from Slack. Without it
	// every request is refused.
	SigningSecret string
	// Commands answers the commands; required.
	Commands *bot.Commands
	// Command is the slash command, "/policywire" by default. Requests for
	// another command of the same app are refused politely.
	Command string
	Logger  *slog.Logger
	// HTTPClient posts late answers to response_url (default: 15 s timeout).
	HTTPClient *http.Client
	// Now is the clock the request timestamp is checked against.
	Now func() time.Time
	// AnswerWithin is how long to wait for an answer before replying
	// "Working on it…" and posting the answer to response_url later
	// (default 2.5 s).
	AnswerWithin time.Duration
	// CommandTimeout bounds one command's work (default 1 min).
	CommandTimeout time.Duration
	// AllowResponseURL decides which response_url a late answer may be
	// posted to (default: AllowResponseURLsFor(APIURL)). An answer ready in
	// time goes in the HTTP response whatever the response_url.
	AllowResponseURL func(u *url.URL) bool
	// BotToken and APIURL reach the Web API to look up whether a member
	// who changes subscriptions is a workspace admin or owner (users.info);
	// without a token only Admins may. APIURL's host may also receive late
	// command answers (see AllowResponseURLsFor).
	BotToken string
	APIURL   string
	// Admins are user ids that may change subscriptions whatever their
	// workspace role.
	Admins []string
}

// CommandHandler serves POST /slack/commands. Commands that take longer
// than AnswerWithin finish in the background; Close stops them.
type CommandHandler struct {
	secret string
	now    func() time.Time
	run    *commandRunner
}

// NewCommandHandler returns the handler of Slack's slash command requests.
// The request's signature is checked before anything else is done with it.
func NewCommandHandler(o CommandOptions) *CommandHandler {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &CommandHandler{
		secret: o.SigningSecret,
		now:    now,
		run: newCommandRunner(runnerOptions{
			commands:     o.Commands,
			command:      o.Command,
			log:          o.Logger,
			httpClient:   o.HTTPClient,
			answerWithin: o.AnswerWithin,
			timeout:      o.CommandTimeout,
			allow:        o.AllowResponseURL,
			apiURL:       o.APIURL,
			roles:        newRoles(webAPIClient(o.BotToken, o.APIURL, o.HTTPClient), o.Admins, o.Logger),
		}),
	}
}

// webAPIClient is a Web API client for the bot token, nil without one.
func webAPIClient(token, apiURL string, hc *http.Client, extra ...slack.Option) *slack.Client {
	if strings.TrimSpace(token) == "" {
		return nil
	}
	if hc == nil {
		hc = &http.Client{Timeout: defaultHTTPTimeout}
	}
	opts := append([]slack.Option{slack.OptionHTTPClient(hc)}, extra...)
	if apiURL != "" {
		if !strings.HasSuffix(apiURL, "/") {
			apiURL += "/"
		}
		opts = append(opts, slack.OptionAPIURL(apiURL))
	}
	return slack.New(token, opts...)
}

// Close cancels the commands still running in the background and waits
// for them to end.
func (h *CommandHandler) Close() error {
	h.run.close()
	return nil
}

// readSigned reads the body of a POST from Slack and checks its signature
// before anything else is done with it; on failure it has answered (405,
// 413, 400 or 401) and returns false. what names the request in the log.
func (h *CommandHandler) readSigned(w http.ResponseWriter, r *http.Request, what string) ([]byte, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCommandBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return nil, false
		}
		http.Error(w, "cannot read request", http.StatusBadRequest)
		return nil, false
	}
	if err := VerifySignature(r.Header, body, h.secret, h.now()); err != nil {
		h.run.log.Warn("slack: refused a "+what+" request", "reason", err.Error(), "remote", r.RemoteAddr)
		http.Error(w, "invalid request signature", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

// ServeHTTP answers one slash command request.
func (h *CommandHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readSigned(w, r, "command")
	if !ok {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	cmd, err := slack.SlashCommandParse(r)
	if err != nil {
		http.Error(w, "malformed command form", http.StatusBadRequest)
		return
	}
	resp := h.run.answer(cmd, nil)
	out, err := json.Marshal(resp)
	if err != nil {
		h.run.log.Error("slack: encode command answer", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(out)
}

// Reasons a request signature is refused.
var (
	ErrMissingSignature = errors.New("slack: request is not signed")
	ErrStaleTimestamp   = errors.New("slack: request timestamp outside the 5-minute window")
	ErrBadSignature     = errors.New("slack: request signature does not match")
	ErrNoSigningSecret  = errors.New("slack: no signing secret configured")
)

// VerifySignature checks Slack's v0 request signature: an HMAC-SHA256 with
// the signing secret over "v0:timestamp:body", where the timestamp must be
// within 5 minutes of now. slack.NewSecretsVerifier does the same against
// the wall clock; this one takes the clock as an argument.
func VerifySignature(header http.Header, body []byte, secret string, now time.Time) error {
	if secret == "" {
		return ErrNoSigningSecret
	}
	ts := header.Get("X-Slack-Request-Timestamp")
	sig := header.Get("X-Slack-Signature")
	if ts == "" || sig == "" {
		return ErrMissingSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: malformed timestamp", ErrStaleTimestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > signatureWindow || d < -signatureWindow {
		return ErrStaleTimestamp
	}
	hexSig, ok := strings.CutPrefix(sig, "v0=")
	if !ok {
		return fmt.Errorf("%w: unknown signature version", ErrBadSignature)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: malformed signature", ErrBadSignature)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), got) {
		return ErrBadSignature
	}
	return nil
}

// SignRequest returns the v0 signature headers of a body, as Slack sends
// them (for tools and tests that talk to the endpoint).
func SignRequest(secret string, body []byte, at time.Time) http.Header {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", ts)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return h
}

// slackDomains are where Slack's own response_urls live: slack.com and
// GovSlack's slack-gov.com, with their subdomains (hooks.slack.com).
var slackDomains = []string{"slack.com", "slack-gov.com"}

// AllowSlackResponseURL is the response_url check without slack.api_url:
// https on slack.com, slack-gov.com or a subdomain of either.
func AllowSlackResponseURL(u *url.URL) bool {
	if u == nil || u.Scheme != "https" || u.User != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, d := range slackDomains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// AllowResponseURLsFor is the response_url check for a Slack whose Web API
// is at apiURL (slack.api_url; "" for slack.com): AllowSlackResponseURL, or
// the scheme, host and port of apiURL, as a Slack-compatible gateway hands
// out response_urls on its own host.
func AllowResponseURLsFor(apiURL string) func(u *url.URL) bool {
	api, err := url.Parse(apiURL)
	if apiURL == "" || err != nil || api.Host == "" {
		return AllowSlackResponseURL
	}
	return func(u *url.URL) bool {
		if AllowSlackResponseURL(u) {
			return true
		}
		return u != nil && u.User == nil && strings.EqualFold(u.Scheme, api.Scheme) && strings.EqualFold(u.Host, api.Host)
	}
}

type runnerOptions struct {
	commands     *bot.Commands
	command      string
	log          *slog.Logger
	httpClient   *http.Client
	answerWithin time.Duration
	timeout      time.Duration
	allow        func(*url.URL) bool
	apiURL       string
	roles        *roles
}

// commandRunner is what the HTTP endpoint and Socket Mode share: it runs a
// slash command, answers at once when the answer is ready in time, and
// otherwise posts it to the command's response_url when it is.
type commandRunner struct {
	runnerOptions
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func newCommandRunner(o runnerOptions) *commandRunner {
	if o.command == "" {
		o.command = DefaultCommand
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.httpClient == nil {
		o.httpClient = &http.Client{Timeout: responsePostTimeout}
	}
	if o.answerWithin <= 0 {
		o.answerWithin = DefaultAnswerWithin
	}
	if o.timeout <= 0 {
		o.timeout = DefaultCommandTimeout
	}
	if o.allow == nil {
		o.allow = AllowResponseURLsFor(o.apiURL)
	}
	if o.roles == nil {
		o.roles = newRoles(nil, nil, o.log)
	}
	if o.roles.log == nil {
		o.roles.log = o.log
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &commandRunner{runnerOptions: o, ctx: ctx, cancel: cancel}
}

func (r *commandRunner) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}

// spawn runs fn in a goroutine that close waits for; it refuses once the
// runner is closed.
func (r *commandRunner) spawn(fn func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() {
			// A command that crashes must not end the daemon.
			if p := recover(); p != nil {
				r.log.Error("slack: command panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		fn()
	}()
	return true
}

// answer runs one slash command and returns what to reply at once: the
// answer itself when it is ready within answerWithin (and fits, when fits
// is given), otherwise "Working on it…", the answer following through
// response_url. A response_url that allow refuses is never requested: the
// answer is given at once when it is ready in time, and otherwise the
// reply says why it cannot follow.
func (r *commandRunner) answer(cmd slack.SlashCommand, fits func(CommandResponse) bool) CommandResponse {
	if cmd.Command != "" && !strings.EqualFold(cmd.Command, r.command) {
		return ephemeralText(fmt.Sprintf("This app answers %s only.", r.command))
	}
	responseURL, err := url.Parse(cmd.ResponseURL)
	lateOK := err == nil && cmd.ResponseURL != "" && r.allow(responseURL)
	host := ""
	if err == nil {
		host = clip(responseURL.Host, 80)
	}
	cannotFollow := func(why string) CommandResponse {
		r.log.Warn("slack: late command answer not posted: the response_url is not on Slack or slack.api_url", "host", host, "channel", cmd.ChannelID, "user", cmd.UserID)
		return ephemeralText(fmt.Sprintf("Sorry, %s, and it cannot follow later: this command's response_url (%q) is not on slack.com, slack-gov.com or the host of slack.api_url. Try a narrower query, or set slack.api_url to this Slack's API address.", why, host))
	}
	post := func(resp CommandResponse) {
		if lateOK {
			r.post(cmd.ResponseURL, resp)
		}
	}
	req := bot.CommandRequest{
		Platform: "slack",
		Target:   cmd.ChannelID,
		User:     cmd.UserID,
		Text:     cmd.Text,
	}

	ready := make(chan CommandResponse)
	late := make(chan struct{})
	started := r.spawn(func() {
		if bot.ManagesSubscriptions(req.Text) {
			ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
			req.MayManage = r.roles.mayManage(ctx, req.User)
			cancel()
		}
		resp := r.handle(req)
		select {
		case ready <- resp:
		case <-late:
			post(resp)
		}
	})
	if !started {
		return ephemeralText("Sorry, policywire is shutting down; try again in a moment.")
	}

	timer := time.NewTimer(r.answerWithin)
	defer timer.Stop()
	select {
	case resp := <-ready:
		if fits == nil || fits(resp) {
			return resp
		}
		if !lateOK {
			return cannotFollow("that answer is too long to give here")
		}
		if !r.spawn(func() { post(resp) }) {
			return ephemeralText("Sorry, policywire is shutting down; try again in a moment.")
		}
	case <-timer.C:
		close(late)
		if !lateOK {
			return cannotFollow("that is taking longer than Slack waits for an answer")
		}
	case <-r.ctx.Done():
		close(late)
	}
	return ephemeralText(workingText)
}

// handle runs the command with its own deadline; a failure is answered
// and logged, never returned.
func (r *commandRunner) handle(req bot.CommandRequest) (resp CommandResponse) {
	ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
	defer cancel()
	verb, _, _ := strings.Cut(strings.TrimSpace(req.Text), " ")
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("slack: command panicked", "command", clip(verb, 40), "channel", req.Target, "panic", fmt.Sprint(p))
			resp = ephemeralText("Sorry, that failed: internal error.")
		}
	}()
	if r.commands == nil {
		return ephemeralText("Sorry, that failed: commands are not available.")
	}
	a, err := r.commands.Handle(ctx, req, r.command)
	if err != nil {
		r.log.Error("slack: command failed", "command", clip(verb, 40), "channel", req.Target, "user", req.User, "err", err)
		return ephemeralText("Sorry, that failed: " + shortError(err))
	}
	return NewCommandResponse(a)
}

// post delivers a late answer to the command's response_url.
func (r *commandRunner) post(responseURL string, resp CommandResponse) {
	ctx, cancel := context.WithTimeout(r.ctx, responsePostTimeout)
	defer cancel()
	if err := postResponse(ctx, r.httpClient, responseURL, resp); err != nil {
		r.log.Error("slack: late command answer lost", "err", err)
	}
}

// shortError is the last, most specific part of an error chain, clipped:
// enough for the asker, with the details left to the log.
func shortError(err error) string {
	msg := err.Error()
	if errors.Is(err, context.DeadlineExceeded) {
		return "it took too long."
	}
	if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
		msg = msg[i+2:]
	}
	return clip(msg, 200)
}
