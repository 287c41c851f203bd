package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/query"
	"github.com/policywire/policywire/store"
)

const testSigningSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// searchFunc is a bot.Searcher made of a function.
type searchFunc func(ctx context.Context, q *query.Query, o policywire.SearchOptions) ([]policywire.SearchHit, error)

func (f searchFunc) Search(ctx context.Context, q *query.Query, o policywire.SearchOptions) ([]policywire.SearchHit, error) {
	return f(ctx, q, o)
}

// archive is a small searchable archive: it matches items with the query
// language and marks the query's words in the summary, as the index does.
type archive struct {
	items []policywire.Item
	calls atomic.Int32
	// gate, when set, holds every search until it is closed.
	gate chan struct{}
	err  error
}

func (a *archive) Search(ctx context.Context, q *query.Query, o policywire.SearchOptions) ([]policywire.SearchHit, error) {
	a.calls.Add(1)
	if a.gate != nil {
		select {
		case <-a.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if a.err != nil {
		return nil, a.err
	}
	var hits []policywire.SearchHit
	skip := o.Offset
	for _, it := range a.items {
		if !q.MatchItem(it) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		hits = append(hits, policywire.SearchHit{Item: it, Score: 1, Snippet: markWords(it.Summary, query.Words(q))})
		if o.Limit > 0 && len(hits) == o.Limit {
			break
		}
	}
	return hits, nil
}

// markWords puts « » around the words of s that the query words match.
func markWords(s string, words []string) string {
	fields := strings.Fields(s)
	for i, f := range fields {
		core := strings.Trim(f, ".,;:!?()\"'")
		folded := query.Fold(core)
		for _, w := range words {
			prefix, isPrefix := strings.CutSuffix(w, "*")
			if folded == w || (isPrefix && strings.HasPrefix(folded, prefix)) {
				fields[i] = strings.Replace(f, core, "«"+core+"»", 1)
				break
			}
		}
	}
	return strings.Join(fields, " ")
}

var (
	cyberItem = policywire.Item{
		ID:        "u:https://www.consilium.europa.eu/en/press/press-releases/2026/03/02/cyber-resilience/",
		Source:    "council-press",
		URL:       "https://www.consilium.europa.eu/en/press/press-releases/2026/03/02/cyber-resilience/?utm=x&lang=en",
		Title:     "Cyber resilience act: Council adopts new security rules",
		Summary:   "The Council adopted the cyber resilience act, which sets security requirements for connected products.",
		Published: time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC),
	}
	diplomacyItem = policywire.Item{
		ID:        "u:https://www.consilium.europa.eu/en/press/press-releases/2026/02/20/digital-diplomacy/",
		Source:    "council-press",
		URL:       "https://www.consilium.europa.eu/en/press/press-releases/2026/02/20/digital-diplomacy/",
		Title:     "Council conclusions on EU digital diplomacy",
		Summary:   "The Council approved conclusions on digital diplomacy & tech ambassadors.",
		Published: time.Date(2026, 2, 20, 9, 0, 0, 0, time.UTC),
	}
)

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	return &config.Config{
		DataDir:  t.TempDir(),
		Timezone: "Europe/Brussels",
		Location: brussels(t),
		Topics:   []config.Topic{{ID: "treaties", Query: "treaty"}},
		Sources: []config.Source{{
			ID:       "council-press",
			Name:     "Council of the EU – press releases",
			Type:     config.TypeFeed,
			URL:      "https://www.consilium.europa.eu/en/rss/pressreleases.ashx",
			Schedule: "@every 10m",
		}},
		Slack: &config.Slack{
			SigningSecret: config.Secret(testSigningSecret),
			Command:       "/policywire",
		},
		Channels: []config.Channel{{ID: "eu-desk", Slack: "C1", Topics: []string{"treaties"}}},
	}
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// hookPost is one request that arrived at the response_url server.
type hookPost struct {
	ContentType string
	Body        []byte
}

// cmdEnv is the slash command endpoint on loopback, with a real store, a
// real bot and a TLS server standing in for hooks.slack.com.
type cmdEnv struct {
	store    *store.Store
	bot      *bot.Bot
	archive  *archive
	commands *bot.Commands
	handler  *CommandHandler
	server   *httptest.Server
	hooks    *httptest.Server
	posts    chan hookPost
	logs     *syncBuffer
	now      time.Time
	// slack answers users.info; U1, who sends the commands, is a
	// workspace admin unless a test says otherwise.
	slack *slackfake.Fake
	user  string
}

func newCmdEnv(t *testing.T, mod ...func(*CommandOptions)) *cmdEnv {
	t.Helper()
	cfg := testConfig(t)
	st, err := store.Open(filepath.Join(cfg.DataDir, "policywire.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b, err := bot.New(bot.Options{Config: cfg, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	env := &cmdEnv{
		store:   st,
		bot:     b,
		archive: &archive{items: []policywire.Item{cyberItem, diplomacyItem}},
		posts:   make(chan hookPost, 8),
		logs:    &syncBuffer{},
		now:     time.Now(),
		slack:   slackfake.New(t),
		user:    "U1",
	}
	env.slack.SetUser("U1", slackfake.UserRole{Admin: true})
	env.commands = &bot.Commands{Bot: b, Searcher: env.archive, Now: func() time.Time { return env.now }}

	env.hooks = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		env.posts <- hookPost{ContentType: r.Header.Get("Content-Type"), Body: body}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(env.hooks.Close)
	hooksHost := strings.TrimPrefix(env.hooks.URL, "https://")

	o := CommandOptions{
		SigningSecret: testSigningSecret,
		Commands:      env.commands,
		Command:       "/policywire",
		Logger:        slog.New(slog.NewTextHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HTTPClient:    env.hooks.Client(),
		AnswerWithin:  2 * time.Second,
		BotToken:      "xoxb-test",
		APIURL:        env.slack.URL(),
		AllowResponseURL: func(u *url.URL) bool {
			return u.Scheme == "https" && u.Host == hooksHost
		},
	}
	for _, m := range mod {
		m(&o)
	}
	env.handler = NewCommandHandler(o)
	env.server = httptest.NewServer(env.handler)
	t.Cleanup(func() {
		env.server.Close()
		env.handler.Close()
	})
	return env
}

func (e *cmdEnv) responseURL() string { return e.hooks.URL + "/commands/T1/123/abc" }

func (e *cmdEnv) form(text string) url.Values {
	return url.Values{
		"token":        {"legacy-verification-token"},
		"team_id":      {"T1"},
		"channel_id":   {"C1"},
		"channel_name": {"eu-desk"},
		"user_id":      {e.user},
		"user_name":    {"alice"},
		"command":      {"/policywire"},
		"text":         {text},
		"response_url": {e.responseURL()},
		"trigger_id":   {"1.2.3"},
	}
}

// post sends a request to the endpoint with the given headers.
func (e *cmdEnv) post(t *testing.T, body string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.server.URL+"/slack/commands", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := e.server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// command sends a correctly signed command and decodes the answer.
func (e *cmdEnv) command(t *testing.T, text string) commandReply {
	t.Helper()
	body := e.form(text).Encode()
	resp := e.post(t, body, SignRequest(testSigningSecret, []byte(body), time.Now()))
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %s: %s", resp.Status, msg)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	return decodeReply(t, resp.Body)
}

// commandReply is a command answer as Slack reads it.
type commandReply struct {
	ResponseType    string            `json:"response_type"`
	Text            string            `json:"text"`
	Blocks          []json.RawMessage `json:"blocks"`
	ReplaceOriginal *bool             `json:"replace_original"`
	raw             []byte
}

func decodeReply(t *testing.T, r io.Reader) commandReply {
	t.Helper()
	raw, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var reply commandReply
	if err := json.Unmarshal(raw, &reply); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, raw)
	}
	reply.raw = raw
	return reply
}

// texts returns the mrkdwn of every block (checking that it is verbatim).
func (r commandReply) texts(t *testing.T) []string {
	t.Helper()
	var blocks []slack.Block
	for _, raw := range r.Blocks {
		var b slack.Blocks
		if err := json.Unmarshal([]byte("["+string(raw)+"]"), &b); err != nil {
			t.Fatalf("block %s: %v", raw, err)
		}
		blocks = append(blocks, b.BlockSet...)
	}
	return blockTexts(t, blocks)
}

func (r commandReply) joined(t *testing.T) string { return strings.Join(r.texts(t), "\n") }

func TestCommandSignatureRefusesAndDoesNothing(t *testing.T) {
	env := newCmdEnv(t)
	body := env.form("subscribe cyber* AND security").Encode()
	now := time.Now()
	good := SignRequest(testSigningSecret, []byte(body), now)
	tampered := []byte(body)
	tampered[strings.Index(body, "cyber")] = 'k' // "kyber": the signature no longer fits

	for _, tc := range []struct {
		name   string
		body   string
		header http.Header
	}{
		{"unsigned", body, nil},
		{"bad signature", body, SignRequest("another-secret", []byte(body), now)},
		{"six minutes old", body, SignRequest(testSigningSecret, []byte(body), now.Add(-6*time.Minute))},
		{"six minutes ahead", body, SignRequest(testSigningSecret, []byte(body), now.Add(6*time.Minute))},
		{"tampered body", string(tampered), good},
		{"timestamp changed", body, func() http.Header {
			h := good.Clone()
			h.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now.Unix()-1, 10))
			return h
		}()},
		{"signature without version", body, func() http.Header {
			h := good.Clone()
			h.Set("X-Slack-Signature", strings.TrimPrefix(h.Get("X-Slack-Signature"), "v0="))
			return h
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := env.post(t, tc.body, tc.header)
			msg, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %s, want 401: %s", resp.Status, msg)
			}
			if strings.Contains(string(msg), "{") || len(msg) > 100 {
				t.Errorf("401 body should be a short plain message, got %q", msg)
			}
		})
	}
	subs, err := env.store.Subscriptions("")
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 0 {
		t.Errorf("refused requests stored subscriptions: %+v", subs)
	}
	if n := env.archive.calls.Load(); n != 0 {
		t.Errorf("refused requests searched the archive %d times", n)
	}
	if got := env.bot.Router().Route(cyberItem); len(got) != 0 {
		t.Errorf("refused requests changed routing: %+v", got)
	}
	select {
	case p := <-env.posts:
		t.Errorf("refused request posted to response_url: %s", p.Body)
	default:
	}
	if logs := env.logs.String(); strings.Contains(logs, testSigningSecret) {
		t.Errorf("logs hold the signing secret: %s", logs)
	}

	// The same request, signed, is carried out.
	resp := env.post(t, body, good)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signed request: status %s", resp.Status)
	}
	if subs, _ := env.store.Subscriptions("eu-desk"); len(subs) != 1 {
		t.Errorf("signed subscribe stored %d subscriptions, want 1", len(subs))
	}
}

func TestCommandEndpointRefusesOtherMethodsAndBigBodies(t *testing.T) {
	env := newCmdEnv(t)
	resp, err := env.server.Client().Get(env.server.URL + "/slack/commands")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("GET: status %s, Allow %q", resp.Status, resp.Header.Get("Allow"))
	}

	big := env.form("search " + strings.Repeat("word ", 14000)).Encode()
	r := env.post(t, big, SignRequest(testSigningSecret, []byte(big), time.Now()))
	if r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("%d-byte body: status %s, want 413", len(big), r.Status)
	}
	if n := env.archive.calls.Load(); n != 0 {
		t.Errorf("oversized request searched %d times", n)
	}
}

func TestVerifySignatureMatchesSlackExample(t *testing.T) {
	// The worked example of Slack's "Verifying requests from Slack".
	body := "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", "1531420618")
	h.Set("X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503")
	at := time.Unix(1531420618, 0).Add(30 * time.Second)
	if err := VerifySignature(h, []byte(body), testSigningSecret, at); err != nil {
		t.Fatalf("Slack's own example refused: %v", err)
	}
	if err := VerifySignature(h, []byte(body), testSigningSecret, at.Add(10*time.Minute)); !errors.Is(err, ErrStaleTimestamp) {
		t.Errorf("10 minutes later: %v, want ErrStaleTimestamp", err)
	}
	if err := VerifySignature(h, []byte(body+"x"), testSigningSecret, at); !errors.Is(err, ErrBadSignature) {
		t.Errorf("changed body: %v, want ErrBadSignature", err)
	}
	if err := VerifySignature(h, []byte(body), "", at); !errors.Is(err, ErrNoSigningSecret) {
		t.Errorf("no secret: %v, want ErrNoSigningSecret", err)
	}
}

func TestCommandHelpListsCommands(t *testing.T) {
	env := newCmdEnv(t)
	reply := env.command(t, "help")
	if reply.ResponseType != "ephemeral" {
		t.Errorf("help is %q, want ephemeral", reply.ResponseType)
	}
	all := reply.joined(t)
	for _, want := range []string{"policywire commands:", "/policywire search QUERY", "/policywire subscribe QUERY", "/policywire unsubscribe ID", "/policywire latest [N]", "/policywire sources"} {
		if !strings.Contains(all, want) {
			t.Errorf("help lacks %q:\n%s", want, all)
		}
		if !strings.Contains(reply.Text, want) {
			t.Errorf("fallback text lacks %q:\n%s", want, reply.Text)
		}
	}
	// An empty command is help too.
	if got := env.command(t, "").joined(t); got != all {
		t.Errorf("empty command answered differently from help:\n%s", got)
	}
}

func TestCommandSubscribeTellsTheChannelAndRoutes(t *testing.T) {
	env := newCmdEnv(t)
	if routes := env.bot.Router().Route(cyberItem); len(routes) != 0 {
		t.Fatalf("before subscribing the item is routed: %+v", routes)
	}
	reply := env.command(t, "subscribe cyber* AND security")
	if reply.ResponseType != "in_channel" {
		t.Errorf("subscribe answered %q, want in_channel", reply.ResponseType)
	}
	subs, err := env.store.Subscriptions("eu-desk")
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 1 || subs[0].By != "U1" {
		t.Fatalf("subscriptions: %+v", subs)
	}
	all := reply.joined(t)
	if !strings.Contains(all, "Subscribed this channel to") || !strings.Contains(all, "(id "+subs[0].ID+")") {
		t.Errorf("answer does not confirm the subscription:\n%s", all)
	}
	if !strings.Contains(all, "The last items it would have matched:") || !strings.Contains(all, "Cyber resilience act") {
		t.Errorf("answer lacks the matching items:\n%s", all)
	}
	routes := env.bot.Router().Route(cyberItem)
	if len(routes) != 1 || routes[0].Channel != "eu-desk" {
		t.Fatalf("after subscribing, routes = %+v, want eu-desk", routes)
	}
	if other := env.bot.Router().Route(diplomacyItem); len(other) != 0 {
		t.Errorf("an item the subscription does not match is routed: %+v", other)
	}

	// subscriptions is for the asker; unsubscribe tells the channel.
	list := env.command(t, "subscriptions")
	if list.ResponseType != "ephemeral" || !strings.Contains(list.joined(t), subs[0].ID) {
		t.Errorf("subscriptions: %s %s", list.ResponseType, list.joined(t))
	}
	un := env.command(t, "unsubscribe "+subs[0].ID)
	if un.ResponseType != "in_channel" {
		t.Errorf("unsubscribe answered %q, want in_channel", un.ResponseType)
	}
	if routes := env.bot.Router().Route(cyberItem); len(routes) != 0 {
		t.Errorf("after unsubscribing the item is still routed: %+v", routes)
	}
}

func TestCommandSlowSearchAnswersThroughResponseURL(t *testing.T) {
	env := newCmdEnv(t, func(o *CommandOptions) { o.AnswerWithin = 200 * time.Millisecond })
	env.archive.gate = make(chan struct{})

	start := time.Now()
	reply := env.command(t, "search cyber")
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the acknowledgement took %v; Slack gives up after 3 s", took)
	}
	if reply.ResponseType != "ephemeral" || reply.Text != "Working on it…" {
		t.Errorf("immediate answer = %q %q, want ephemeral Working on it…", reply.ResponseType, reply.Text)
	}
	select {
	case p := <-env.posts:
		t.Fatalf("answer posted before the search finished: %s", p.Body)
	default:
	}

	close(env.archive.gate) // the search finishes now
	var p hookPost
	select {
	case p = <-env.posts:
	case <-time.After(5 * time.Second):
		t.Fatal("no answer arrived at response_url")
	}
	if !strings.HasPrefix(p.ContentType, "application/json") {
		t.Errorf("response_url post Content-Type %q", p.ContentType)
	}
	late := decodeReply(t, bytes.NewReader(p.Body))
	if late.ResponseType != "ephemeral" {
		t.Errorf("late answer is %q, want ephemeral", late.ResponseType)
	}
	if late.ReplaceOriginal == nil || *late.ReplaceOriginal {
		t.Errorf("late answer must say replace_original false: %s", p.Body)
	}
	texts := late.texts(t)
	if len(texts) != 2 {
		t.Fatalf("blocks = %q, want the lead and one entry", texts)
	}
	if texts[0] != "Best matches for cyber:" {
		t.Errorf("lead = %q", texts[0])
	}
	wantEntry := "*<https://www.consilium.europa.eu/en/press/press-releases/2026/03/02/cyber-resilience/?utm=x&amp;lang=en|Cyber resilience act: Council adopts new security rules>*\n" +
		"Council of the EU – press releases · 2 Mar 2026 11:30 CET\n" +
		"The Council adopted the *cyber* resilience act, which sets security requirements for connected products."
	if texts[1] != wantEntry {
		t.Errorf("entry =\n%s\nwant\n%s", texts[1], wantEntry)
	}
	if !strings.Contains(late.Text, "Cyber resilience act") || strings.Contains(late.Text, "«") {
		t.Errorf("fallback text = %q", late.Text)
	}
}

func TestCommandFailureIsAnsweredAndLogged(t *testing.T) {
	env := newCmdEnv(t)
	env.archive.err = errors.New("index: read segment 7: disk on fire")
	reply := env.command(t, "search cyber")
	if reply.ResponseType != "ephemeral" {
		t.Errorf("failure answered %q, want ephemeral", reply.ResponseType)
	}
	if reply.Text != "Sorry, that failed: disk on fire" {
		t.Errorf("failure text = %q", reply.Text)
	}
	logs := env.logs.String()
	if !strings.Contains(logs, "disk on fire") || !strings.Contains(logs, "command failed") {
		t.Errorf("failure not logged:\n%s", logs)
	}
	if strings.Contains(logs, testSigningSecret) {
		t.Errorf("logs hold the signing secret")
	}
}

func TestCommandRefusesOtherCommands(t *testing.T) {
	env := newCmdEnv(t)
	for _, tc := range []struct {
		name string
		edit func(url.Values)
		want string
	}{
		{"other command", func(f url.Values) { f.Set("command", "/other") }, "This app answers /policywire only."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := env.form("subscribe cyber*")
			tc.edit(f)
			body := f.Encode()
			resp := env.post(t, body, SignRequest(testSigningSecret, []byte(body), time.Now()))
			reply := decodeReply(t, resp.Body)
			if resp.StatusCode != http.StatusOK || reply.ResponseType != "ephemeral" || reply.Text != tc.want {
				t.Errorf("got %s %q %q, want ephemeral %q", resp.Status, reply.ResponseType, reply.Text, tc.want)
			}
		})
	}
	if subs, _ := env.store.Subscriptions(""); len(subs) != 0 {
		t.Errorf("refused commands stored subscriptions: %+v", subs)
	}
}

func TestAllowSlackResponseURL(t *testing.T) {
	for raw, want := range map[string]bool{
		"https://hooks.slack.com/commands/T1/123/abc": true,
		"https://slack.com/x":                         true,
		"https://HOOKS.SLACK.COM/commands/T1":         true,
		"http://hooks.slack.com/commands/T1":          false,
		"https://hooks.slack.com.evil.example/c":      false,
		"https://evilslack.com/c":                     false,
		"https://evil.example/hooks.slack.com":        false,
		"https://user:pw@hooks.slack.com/c":           false,
		"hooks.slack.com/commands":                    false,
		"":                                            false,
	} {
		u, err := url.Parse(raw)
		if got := err == nil && AllowSlackResponseURL(u); got != want {
			t.Errorf("AllowSlackResponseURL(%q) = %v, want %v", raw, got, want)
		}
	}
}

func TestCommandAnswerIsInert(t *testing.T) {
	env := newCmdEnv(t)
	evil := policywire.Item{
		ID:        "u:https://www.consilium.europa.eu/en/press/evil/",
		Source:    "council-press",
		URL:       "https://www.consilium.europa.eu/en/press/evil/",
		Title:     "Cyber <!channel> <https://evil.example|x> @here & <@U999>",
		Summary:   "Cyber news <!everyone> <javascript:alert(1)|y> \u202Egnp.exe\u202C",
		Published: time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC),
	}
	env.archive.items = []policywire.Item{evil}
	reply := env.command(t, "search cyber")
	texts := reply.texts(t)
	if len(texts) != 2 {
		t.Fatalf("blocks = %q", texts)
	}
	for _, text := range texts {
		assertInert(t, "block", text, "https://www.consilium.europa.eu/en/press/evil/")
	}
	assertInert(t, "fallback", reply.Text)
	all := strings.Join(texts, "\n")
	for _, bad := range []string{"<!channel>", "<https://evil.example", "<!everyone>", "<@U999>", "<javascript:", "\u202E"} {
		if strings.Contains(all, bad) || strings.Contains(reply.Text, bad) {
			t.Errorf("answer holds %q:\n%s", bad, reply.raw)
		}
	}
	if !strings.Contains(texts[1], "&lt;!channel&gt; &lt;https://evil.example|x&gt;") {
		t.Errorf("the title should show as text: %q", texts[1])
	}
}

func TestRenderAnswerWithinSlackLimits(t *testing.T) {
	long := strings.Repeat("Ω&<", 2000)
	a := bot.Answer{Text: long}
	for i := range 70 {
		a.Entries = append(a.Entries, bot.Entry{
			Title:   long,
			URL:     "https://example.org/" + strings.Repeat("a", 2500) + string(rune('a'+i%26)),
			Meta:    long,
			Snippet: "«" + long + "» " + long,
		})
	}
	for range 200 {
		a.Lines = append(a.Lines, long)
	}
	blocks, text := RenderAnswer(a)
	if len(blocks) > maxBlocks {
		t.Fatalf("%d blocks, Slack takes %d", len(blocks), maxBlocks)
	}
	for i, s := range blockTexts(t, blocks) {
		if n := utf16Len(s); n > maxSectionText {
			t.Errorf("block %d: %d characters", i, n)
		}
		assertInert(t, "block", s)
	}
	if n := utf16Len(text); n > maxFallbackText {
		t.Errorf("fallback: %d characters", n)
	}
	last := blockTexts(t, blocks[len(blocks)-1:])[0]
	if last != "… and 22 more not shown." {
		t.Errorf("last block = %q", last)
	}
}

func TestRenderAnswerMarksAndLines(t *testing.T) {
	a := bot.Answer{
		Text: "That query does not parse at column 7: expected a term.",
		Entries: []bot.Entry{{
			Title:   "Digital diplomacy",
			URL:     "javascript:alert(1)",
			Meta:    "EEAS · 1 Mar 2026",
			Snippet: "on « digital » diplomacy «and» stray» end « open",
		}},
		Lines: []string{"  cyber AND", "            ^", "• s1: cyber*"},
	}
	blocks, _ := RenderAnswer(a)
	texts := blockTexts(t, blocks)
	want := []string{
		"That query does not parse at column 7: expected a term.",
		"*Digital diplomacy*\nEEAS · 1 Mar 2026\non *digital* diplomacy *and* stray end open",
		"```\n  cyber AND\n            ^\n```\n• s1: cyber*",
	}
	if len(texts) != len(want) {
		t.Fatalf("blocks = %q", texts)
	}
	for i := range want {
		if texts[i] != want[i] {
			t.Errorf("block %d =\n%q\nwant\n%q", i, texts[i], want[i])
		}
	}
}

func TestRenderSearchAnswerGolden(t *testing.T) {
	env := newCmdEnv(t)
	a, err := env.commands.Handle(context.Background(), bot.CommandRequest{Platform: "slack", Target: "C1", User: "U1", Text: "search council"}, "/policywire")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(NewCommandResponse(a))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Join("testdata", "commands"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	golden(t, filepath.Join("commands", "search_answer.golden.json"), buf.Bytes())
}

func TestCommandSubscriptionChangesNeedAWorkspaceAdminOrAConfiguredAdmin(t *testing.T) {
	env := newCmdEnv(t, func(o *CommandOptions) { o.Admins = []string{"U4CONFIG"} })
	env.slack.SetUser("U2MEMBER", slackfake.UserRole{})
	env.slack.SetUser("U3OWNER", slackfake.UserRole{Owner: true})
	env.slack.SetUser("U5PRIMARY", slackfake.UserRole{PrimaryOwner: true})
	stored := func() int {
		subs, err := env.store.Subscriptions("eu-desk")
		if err != nil {
			t.Fatal(err)
		}
		return len(subs)
	}

	env.user = "U2MEMBER"
	reply := env.command(t, "subscribe cyber*")
	if reply.ResponseType != "ephemeral" || !strings.Contains(reply.joined(t), "Only workspace admins and owners") {
		t.Errorf("a plain member's subscribe answered %s %q, want the refusal naming who may", reply.ResponseType, reply.joined(t))
	}
	if n := stored(); n != 0 {
		t.Fatalf("a plain member's subscribe stored %d subscriptions", n)
	}
	// A user Slack does not know is refused too.
	env.user = "U9UNKNOWN"
	if env.command(t, "subscribe cyber*"); stored() != 0 {
		t.Fatal("an unknown user's subscribe was stored")
	}

	for i, user := range []string{"U3OWNER", "U5PRIMARY", "U4CONFIG", "U1"} {
		env.user = user
		if reply := env.command(t, fmt.Sprintf("subscribe cyber%d*", i)); reply.ResponseType != "in_channel" {
			t.Errorf("%s: subscribe answered %s %q, want it done", user, reply.ResponseType, reply.joined(t))
		}
	}
	if n := stored(); n != 4 {
		t.Fatalf("%d subscriptions stored, want 4", n)
	}
	subs, _ := env.store.Subscriptions("eu-desk")
	env.user = "U2MEMBER"
	if reply := env.command(t, "unsubscribe "+subs[0].ID); !strings.Contains(reply.joined(t), "Only workspace admins") {
		t.Errorf("a plain member's unsubscribe answered %q", reply.joined(t))
	}
	if n := stored(); n != 4 {
		t.Fatalf("a plain member removed a subscription: %d left", n)
	}
	// Searching needs no role, and asks Slack nothing.
	before := env.slack.Calls("users.info")
	env.command(t, "search cyber")
	// A member's role is asked once, then remembered for a while.
	env.user = "U3OWNER"
	env.command(t, "unsubscribe "+subs[0].ID)
	if got := env.slack.Calls("users.info") - before; got != 0 {
		t.Errorf("users.info asked %d times for a search and a known owner, want 0", got)
	}
}

func TestCommandSubscribeIsRefusedWhenTheChannelHasTheMost(t *testing.T) {
	env := newCmdEnv(t)
	cfg := *env.bot.Config()
	cfg.Chat.MaxSubscriptions = 2
	if err := env.bot.SetConfig(context.Background(), &cfg); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if reply := env.command(t, fmt.Sprintf("subscribe cyber%d*", i)); reply.ResponseType != "in_channel" {
			t.Fatalf("subscribe %d answered %q", i, reply.joined(t))
		}
	}
	reply := env.command(t, "subscribe one*")
	if !strings.Contains(reply.joined(t), "already has 2 subscriptions") || reply.ResponseType != "ephemeral" {
		t.Errorf("subscribe over the bound answered %s %q", reply.ResponseType, reply.joined(t))
	}
	subs, err := env.store.Subscriptions("eu-desk")
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 2 {
		t.Fatalf("%d subscriptions stored, want the bound of 2", len(subs))
	}
}
