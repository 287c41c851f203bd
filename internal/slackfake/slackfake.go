// Package slackfake is a Slack Web API server for tests, built on
// slacktest: it records every chat.postMessage with its channel, text,
// blocks, metadata and arrival time, serves those posts back through
// conversations.history (with metadata when asked), answers auth.test and
// users.info (with the roles a test gives its members), and
// lets a test script failures — HTTP errors with Retry-After, ok:false
// errors per channel, and a connection dropped or an answer withheld after
// the post was recorded, which is how a post that Slack accepted but whose
// answer was lost looks to a client. It checks Slack's block limits so that
// an oversized message fails here as it would in Slack. It knows nothing of
// policywire beyond the Slack API.
//
// slacktest's own chat.postMessage handler only forwards messages to its
// RTM websocket hub and slacktest has no conversations.history, so the fake
// registers its own handlers for those methods through slacktest's Binder
// (the first registration of a path wins); every other path is served by
// slacktest's defaults.
package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

// Identity the fake answers auth.test with and attributes posts to.
const (
	BotUserID = "U0000FAKEBOT"
	BotID     = "B0000FAKEBOT"
	TeamID    = "T0000FAKE"
)

// Post is one message the fake accepted (or recorded before failing).
type Post struct {
	Channel string
	TS      string
	Text    string
	// Blocks is the blocks JSON exactly as posted (nil if none).
	Blocks json.RawMessage
	// Metadata is the message metadata as posted (nil if none).
	Metadata *slack.SlackMetadata
	// Form holds every posted parameter except the token.
	Form url.Values
	At   time.Time
	// ThreadTS is the thread a reply was posted in; Broadcast says it was
	// also sent to the channel.
	ThreadTS  string
	Broadcast bool
	// Edits counts the chat.update calls applied (see threads.go), with
	// the parameters of each; Deleted is set by Delete.
	Edits       int
	EditedAt    time.Time
	UpdateForms []url.Values
	Deleted     bool
}

// Fault is the fate of one scripted request. The zero Fault lets the
// request through unchanged, so that a script can say "the second one
// fails".
type Fault struct {
	// Status is the HTTP status to answer with (0 = 200).
	Status int
	// RetryAfter is sent as the Retry-After header when not empty.
	RetryAfter string
	// Error, when set, makes the answer {"ok":false,"error":Error}.
	Error string
	// Record keeps the post (chat.postMessage only) even though the
	// answer is a failure: Slack accepted it, the answer says otherwise.
	Record bool
	// Drop records the post, then closes the connection without answering.
	Drop bool
	// Hang records the post, then withholds the answer until the client
	// gives up or the fake is closed.
	Hang bool
	// DropBefore closes the connection without doing anything: the request
	// was sent, Slack never processed it.
	DropBefore bool
}

// Responder may answer a request itself; handled=false lets the fake go on.
type Responder func(r *http.Request, form url.Values) (status int, body string, handled bool)

// Fake is a running fake Slack. Its methods are safe for concurrent use.
type Fake struct {
	srv    *slacktest.Server
	closed chan struct{}
	once   sync.Once

	mu            sync.Mutex
	posts         []Post
	lastTS        int64 // microseconds
	faults        map[string][]Fault
	channelErrors map[string]string
	responder     Responder
	responses     []Response
	calls         map[string]int
	token         string
	users         map[string]UserRole
}

// UserRole is a workspace member's role as users.info tells it.
type UserRole struct {
	Admin, Owner, PrimaryOwner bool
}

// New starts a fake and closes it when the test ends.
func New(tb testing.TB) *Fake {
	tb.Helper()
	f := Start()
	tb.Cleanup(f.Close)
	return f
}

// Start starts a fake; Close stops it.
func Start() *Fake {
	f := &Fake{
		closed:        make(chan struct{}),
		faults:        map[string][]Fault{},
		channelErrors: map[string]string{},
		calls:         map[string]int{},
		users:         map[string]UserRole{},
	}
	f.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", f.wrap("chat.postMessage", f.postMessage))
		c.Handle("/conversations.history", f.wrap("conversations.history", f.history))
		c.Handle("/auth.test", f.wrap("auth.test", f.authTest))
		c.Handle("/chat.update", f.wrap("chat.update", f.updateMessage))
		c.Handle("/conversations.replies", f.wrap("conversations.replies", f.replies))
		c.Handle("/users.info", f.wrap("users.info", f.usersInfo))
		c.Handle("/response/", f.response)
		c.Handle("/conversations.open", f.wrap("conversations.open", f.openConversation))
	})
	f.srv.Start()
	return f
}

// URL is the Web API base URL (ending in "/") for the client's API URL option.
func (f *Fake) URL() string { return f.srv.GetAPIURL() }

// Response is one late slash command answer posted to a response_url the
// fake handed out.
type Response struct {
	Path string // what follows /response/
	Body json.RawMessage
}

// ResponseURL is a response_url on the fake's own host, as a Slack whose
// Web API is at URL() would give with a slash command.
func (f *Fake) ResponseURL(id string) string { return f.URL() + "response/" + id }

// Responses are the answers posted to the fake's response_urls so far.
func (f *Fake) Responses() []Response {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Response(nil), f.responses...)
}

func (f *Fake) response(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost || !json.Valid(body) {
		http.Error(w, "a response_url takes a POST of JSON", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.responses = append(f.responses, Response{Path: strings.TrimPrefix(r.URL.Path, "/response/"), Body: body})
	f.mu.Unlock()
	_, _ = io.WriteString(w, "ok")
}

// DirectChannel is the id of the direct message conversation the fake
// opens with a user: posts to it are Posts(DirectChannel(user)).
func DirectChannel(user string) string { return "D" + user }

// openConversation answers conversations.open for one user with their
// direct message conversation; ChannelError(user, code) makes it fail, as
// Slack does for a person who left (user_not_found, user_disabled).
func (f *Fake) openConversation(w http.ResponseWriter, r *http.Request, form url.Values, fault *Fault) {
	if fault != nil {
		f.failAfterwards(w, r, *fault)
		return
	}
	users := strings.Split(form.Get("users"), ",")
	if len(users) != 1 || users[0] == "" {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "users_list_not_supplied"})
		return
	}
	f.mu.Lock()
	code := f.channelErrors[users[0]]
	f.mu.Unlock()
	if code != "" {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": code})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "channel": map[string]any{"id": DirectChannel(users[0]), "is_im": true, "user": users[0]}})
}

// Server is the underlying slacktest server.
func (f *Fake) Server() *slacktest.Server { return f.srv }

// Close releases hanging requests and stops the server.
func (f *Fake) Close() {
	f.once.Do(func() {
		close(f.closed)
		f.srv.Stop()
	})
}

// RequireToken makes every request with another token fail with
// invalid_auth (or not_authed without one).
func (f *Fake) RequireToken(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token = token
}

// Script queues faults for the next requests of a Web API method
// ("chat.postMessage", "conversations.history", "auth.test"), one per
// request, in order.
func (f *Fake) Script(method string, faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[method] = append(f.faults[method], faults...)
}

// FailNext makes the next n chat.postMessage requests answer with status
// (and Retry-After, when not empty) without posting.
func (f *Fake) FailNext(n, status int, retryAfter string) {
	for range n {
		f.Script("chat.postMessage", Fault{Status: status, RetryAfter: retryAfter})
	}
}

// DropAfterPost makes the next n chat.postMessage requests post, then
// lose their answer: the connection is closed.
func (f *Fake) DropAfterPost(n int) {
	for range n {
		f.Script("chat.postMessage", Fault{Drop: true})
	}
}

// HangAfterPost makes the next n chat.postMessage requests post, then
// never answer.
func (f *Fake) HangAfterPost(n int) {
	for range n {
		f.Script("chat.postMessage", Fault{Hang: true})
	}
}

// ChannelError makes every post to, and history read of, channel fail with
// the Slack error code (for example "channel_not_found"); "" clears it.
func (f *Fake) ChannelError(channel, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if code == "" {
		delete(f.channelErrors, channel)
		return
	}
	f.channelErrors[channel] = code
}

// Respond installs a function consulted first for every request the fake
// serves itself; nil removes it.
func (f *Fake) Respond(fn Responder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.responder = fn
}

// Posts returns the messages recorded for channel, oldest first.
func (f *Fake) Posts(channel string) []Post {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Post
	for _, p := range f.posts {
		if p.Channel == channel {
			out = append(out, p)
		}
	}
	return out
}

// AllPosts returns every recorded message, oldest first.
func (f *Fake) AllPosts() []Post {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Post(nil), f.posts...)
}

// Calls counts the requests received for a Web API method, faults included.
func (f *Fake) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// wrap parses the form, counts the call, checks the token and applies the
// responder and scripted faults before the method's own handler.
func (f *Fake) wrap(method string, serve func(w http.ResponseWriter, r *http.Request, form url.Values, fault *Fault)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		form, err := readForm(r)
		if err != nil {
			writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_form_data"})
			return
		}
		f.mu.Lock()
		f.calls[method]++
		want := f.token
		responder := f.responder
		var fault *Fault
		if q := f.faults[method]; len(q) > 0 {
			if q[0] != (Fault{}) {
				fault = &q[0]
			}
			f.faults[method] = q[1:]
		}
		f.mu.Unlock()

		if want != "" {
			got := form.Get("token")
			if got == "" {
				got = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			}
			switch {
			case got == "":
				writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "not_authed"})
				return
			case got != want:
				writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_auth"})
				return
			}
		}
		if responder != nil {
			if status, body, handled := responder(r, form); handled {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.WriteHeader(status)
				_, _ = io.WriteString(w, body)
				return
			}
		}
		if fault != nil && fault.DropBefore {
			dropConnection(w)
			return
		}
		if fault != nil && !fault.Drop && !fault.Hang && !fault.Record {
			writeFault(w, *fault)
			return
		}
		serve(w, r, form, fault)
	}
}

func readForm(r *http.Request) (url.Values, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	for k, v := range r.URL.Query() {
		if _, ok := form[k]; !ok {
			form[k] = v
		}
	}
	return form, nil
}

func writeFault(w http.ResponseWriter, fault Fault) {
	if fault.RetryAfter != "" {
		w.Header().Set("Retry-After", fault.RetryAfter)
	}
	status := fault.Status
	if status == 0 {
		status = http.StatusOK
	}
	if fault.Error != "" {
		writeJSON(w, status, map[string]any{"ok": false, "error": fault.Error})
		return
	}
	if status == http.StatusOK {
		writeJSON(w, status, map[string]any{"ok": true})
		return
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<html><body>%d %s</body></html>", status, http.StatusText(status))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// SetUser makes users.info know a member with a role; users the fake does
// not know are answered with user_not_found, as Slack does.
func (f *Fake) SetUser(userID string, role UserRole) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[userID] = role
}

func (f *Fake) usersInfo(w http.ResponseWriter, r *http.Request, form url.Values, fault *Fault) {
	if fault != nil {
		f.failAfterwards(w, r, *fault)
		return
	}
	id := form.Get("user")
	f.mu.Lock()
	role, ok := f.users[id]
	f.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "user_not_found"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "user": map[string]any{
		"id": id, "team_id": TeamID, "name": strings.ToLower(id),
		"is_admin": role.Admin, "is_owner": role.Owner, "is_primary_owner": role.PrimaryOwner,
	}})
}

func (f *Fake) authTest(w http.ResponseWriter, r *http.Request, form url.Values, fault *Fault) {
	if fault != nil {
		f.failAfterwards(w, r, *fault)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ok":      true,
		"url":     "https://policywire-fake.slack.com/",
		"team":    "policywire fake",
		"user":    "policywire",
		"team_id": TeamID,
		"user_id": BotUserID,
		"bot_id":  BotID,
	})
}

func (f *Fake) postMessage(w http.ResponseWriter, r *http.Request, form url.Values, fault *Fault) {
	channel := form.Get("channel")
	post, ok := f.acceptMessage(w, channel, form)
	if !ok {
		return
	}

	f.mu.Lock()
	post.At = time.Now()
	post.TS = f.nextTS(post.At)
	f.posts = append(f.posts, post)
	f.mu.Unlock()

	if fault != nil {
		f.failAfterwards(w, r, *fault)
		return
	}
	resp := map[string]any{
		"ok":      true,
		"channel": channel,
		"ts":      post.TS,
		"message": messageJSON(post, true),
	}
	writeJSON(w, http.StatusOK, resp)
}

// failAfterwards ends a request whose work is done with the fault's failure.
func (f *Fake) failAfterwards(w http.ResponseWriter, r *http.Request, fault Fault) {
	switch {
	case fault.Drop:
		dropConnection(w)
	case fault.Hang:
		select {
		case <-r.Context().Done():
		case <-f.closed:
			dropConnection(w)
		}
	default:
		writeFault(w, fault)
	}
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("slackfake: connection cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	_ = conn.Close()
}

// nextTS returns a unique, increasing Slack timestamp; f.mu is held.
func (f *Fake) nextTS(at time.Time) string {
	us := at.UnixMicro()
	if us <= f.lastTS {
		us = f.lastTS + 1
	}
	f.lastTS = us
	return fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
}

// parsePost validates a chat.postMessage the way Slack does, for the
// limits that matter to a sender: text or blocks present, blocks valid
// JSON, at most 50 blocks, section and context texts at most 3000
// characters, text at most 40000 characters, metadata valid JSON.
func parsePost(form url.Values) (Post, string, string) {
	p := Post{Channel: form.Get("channel"), Text: form.Get("text"), Form: url.Values{},
		ThreadTS: form.Get("thread_ts"), Broadcast: isTrue(form.Get("reply_broadcast"))}
	for k, v := range form {
		if k != "token" {
			p.Form[k] = append([]string(nil), v...)
		}
	}
	if raw := form.Get("blocks"); raw != "" {
		var blocks []map[string]any
		if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
			return p, "invalid_blocks_format", err.Error()
		}
		if len(blocks) > 50 {
			return p, "invalid_blocks", fmt.Sprintf("%d blocks, at most 50 allowed", len(blocks))
		}
		for i, b := range blocks {
			if msg := checkBlock(b); msg != "" {
				return p, "invalid_blocks", fmt.Sprintf("[ERROR] block %d: %s", i, msg)
			}
		}
		if len(blocks) > 0 {
			p.Blocks = json.RawMessage(raw)
		}
	}
	if p.Text == "" && p.Blocks == nil {
		return p, "no_text", ""
	}
	if utf16Len(p.Text) > 40000 {
		return p, "msg_too_long", ""
	}
	if raw := form.Get("metadata"); raw != "" {
		var md slack.SlackMetadata
		if err := json.Unmarshal([]byte(raw), &md); err != nil || md.EventType == "" {
			return p, "invalid_metadata_format", ""
		}
		p.Metadata = &md
	}
	return p, "", ""
}

func checkBlock(b map[string]any) string {
	textOf := func(v any) (string, bool) {
		obj, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		s, ok := obj["text"].(string)
		return s, ok
	}
	switch b["type"] {
	case "section":
		if s, ok := textOf(b["text"]); ok && utf16Len(s) > 3000 {
			return fmt.Sprintf("section text is %d characters, at most 3000 allowed", utf16Len(s))
		}
	case "context":
		elems, _ := b["elements"].([]any)
		if len(elems) == 0 || len(elems) > 10 {
			return "context needs 1 to 10 elements"
		}
		for _, e := range elems {
			if s, ok := textOf(e); ok && utf16Len(s) > 3000 {
				return "context text longer than 3000 characters"
			}
		}
	case "header":
		if s, ok := textOf(b["text"]); ok && utf16Len(s) > 150 {
			return "header text longer than 150 characters"
		}
	case nil:
		return "block without type"
	}
	return ""
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// messageJSON is a post as conversations.history shows it.
func messageJSON(p Post, withMetadata bool) map[string]any {
	m := map[string]any{
		"type":    "message",
		"user":    BotUserID,
		"bot_id":  BotID,
		"text":    p.Text,
		"ts":      p.TS,
		"team":    TeamID,
		"channel": p.Channel,
	}
	if p.Blocks != nil {
		m["blocks"] = p.Blocks
	}
	if p.ThreadTS != "" {
		m["thread_ts"] = p.ThreadTS
	}
	if p.Edits > 0 {
		m["edited"] = map[string]any{"user": BotUserID, "ts": fmt.Sprintf("%d.000000", p.EditedAt.Unix())}
	}
	if withMetadata && p.Metadata != nil {
		m["metadata"] = p.Metadata
	}
	return m
}

func (f *Fake) history(w http.ResponseWriter, r *http.Request, form url.Values, fault *Fault) {
	if fault != nil {
		f.failAfterwards(w, r, *fault)
		return
	}
	channel := form.Get("channel")
	f.mu.Lock()
	code := f.channelErrors[channel]
	posts := make([]Post, 0, len(f.posts))
	for _, p := range f.posts {
		if p.Channel == channel && inHistory(p) {
			posts = append(posts, p)
		}
	}
	f.mu.Unlock()
	if channel == "" {
		code = "channel_not_found"
	}
	if code != "" {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": code})
		return
	}

	inclusive := isTrue(form.Get("inclusive"))
	oldest, latest := parseTS(form.Get("oldest")), parseTS(form.Get("latest"))
	var selected []Post
	for _, p := range posts {
		ts := parseTS(p.TS)
		if oldest > 0 && (ts < oldest || (ts == oldest && !inclusive)) {
			continue
		}
		if latest > 0 && (ts > latest || (ts == latest && !inclusive)) {
			continue
		}
		selected = append(selected, p)
	}
	sort.SliceStable(selected, func(i, j int) bool { return parseTS(selected[i].TS) > parseTS(selected[j].TS) })

	limit, _ := strconv.Atoi(form.Get("limit"))
	if limit <= 0 || limit > 999 {
		limit = 100
	}
	start, _ := strconv.Atoi(form.Get("cursor"))
	if start < 0 || start > len(selected) {
		start = len(selected)
	}
	end := min(start+limit, len(selected))
	withMetadata := isTrue(form.Get("include_all_metadata"))
	msgs := make([]map[string]any, 0, end-start)
	for _, p := range selected[start:end] {
		msgs = append(msgs, messageJSON(p, withMetadata))
	}
	next := ""
	if end < len(selected) {
		next = strconv.Itoa(end)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ok":                true,
		"messages":          msgs,
		"has_more":          next != "",
		"pin_count":         0,
		"response_metadata": map[string]any{"next_cursor": next},
	})
}

// parseTS reads a Slack timestamp as microseconds (0 when empty or invalid).
func parseTS(ts string) int64 {
	if ts == "" {
		return 0
	}
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0
	}
	frac = (frac + "000000")[:6]
	us, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0
	}
	return s*1e6 + us
}

func isTrue(v string) bool { return v == "1" || v == "true" }

// Method returns the Web API method a request is for, for Responders.
func Method(r *http.Request) string { return path.Base(r.URL.Path) }

// acceptMessage checks a chat.postMessage or chat.update request as Slack
// does, the channel first, then the message; on a refusal it writes the
// error answer and returns false.
func (f *Fake) acceptMessage(w http.ResponseWriter, channel string, form url.Values) (Post, bool) {
	f.mu.Lock()
	code := f.channelErrors[channel]
	f.mu.Unlock()
	if channel == "" {
		code = "channel_not_found"
	}
	if code != "" {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": code})
		return Post{}, false
	}
	post, code, detail := parsePost(form)
	if code != "" {
		resp := map[string]any{"ok": false, "error": code}
		if detail != "" {
			resp["response_metadata"] = map[string]any{"messages": []string{detail}}
		}
		writeJSON(w, http.StatusOK, resp)
		return Post{}, false
	}
	return post, true
}
