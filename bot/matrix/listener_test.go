package matrix

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/query"
	"github.com/policywire/policywire/store"
)

// archiveSearcher searches a few items the way the archive index does:
// every item the query matches, newest first, with the query's words
// «marked» in the snippet.
type archiveSearcher struct{ items []policywire.Item }

func (s archiveSearcher) Search(_ context.Context, q *query.Query, o policywire.SearchOptions) ([]policywire.SearchHit, error) {
	var hits []policywire.SearchHit
	for _, it := range s.items {
		if q.Match(query.Prepare(it)) {
			hits = append(hits, policywire.SearchHit{Item: it, Score: 1, Snippet: markWords(it.Summary, query.Words(q))})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].Item.Date().After(hits[j].Item.Date()) })
	if o.Limit > 0 && len(hits) > o.Limit {
		hits = hits[:o.Limit]
	}
	return hits, nil
}

func markWords(text string, words []string) string {
	fields := strings.Fields(text)
	for i, f := range fields {
		core := strings.TrimRight(f, ".,;:")
		if slices.Contains(words, query.Fold(core)) {
			fields[i] = "«" + core + "»" + f[len(core):]
		}
	}
	return strings.Join(fields, " ")
}

func archiveItems() []policywire.Item {
	return []policywire.Item{
		{
			Source:    "council-press",
			URL:       "https://www.consilium.europa.eu/en/press/press-releases/2026/06/26/council-approves-conclusions-on-eu-digital-diplomacy/",
			Title:     "Council approves conclusions on EU digital diplomacy",
			Summary:   "The Council approved conclusions on EU digital diplomacy, calling for a stronger EU voice on technology standards, connectivity and human rights online.",
			Published: time.Date(2026, 6, 26, 10, 30, 0, 0, time.UTC),
			Language:  "en",
		},
		{
			Source:    "eeas-press",
			URL:       "https://www.eeas.europa.eu/eeas/eu-appoints-first-tech-ambassador-silicon-valley_en",
			Title:     "EU appoints its first tech ambassador to Silicon Valley",
			Summary:   "The new tech ambassador will lead the EU's office in San Francisco and its dialogue with technology companies.",
			Published: time.Date(2026, 9, 1, 7, 0, 0, 0, time.UTC),
			Language:  "en",
		},
		{
			Source:    "ec-press",
			URL:       "https://ec.europa.eu/commission/presscorner/detail/en/ip_26_1402",
			Title:     "Digital Markets Act: Commission opens proceedings against a gatekeeper",
			Summary:   "The Commission opened proceedings to assess whether a gatekeeper complies with its obligations under the Digital Markets Act.",
			Published: time.Date(2026, 10, 14, 9, 0, 0, 0, time.UTC),
			Language:  "en",
		},
		{
			Source:    "council-press",
			URL:       "https://www.consilium.europa.eu/en/press/press-releases/2026/10/20/fisheries-council-sets-2027-catch-limits-baltic-sea/",
			Title:     "Fisheries: Council sets 2027 catch limits in the Baltic Sea",
			Summary:   "Ministers agreed on the fishing opportunities for 2027 in the Baltic Sea.",
			Published: time.Date(2026, 10, 20, 18, 45, 0, 0, time.UTC),
			Language:  "en",
		},
	}
}

const channelID = "diplomacy-room"

// listenerEnv is a room with a reader (its creator, power 100) and a bot
// account, and the bot's parts: a store, a bot.Bot whose only channel is
// the room, and the commands.
type listenerEnv struct {
	*roomFixture
	readerID string
	store    *store.Store
	cfg      *config.Config
	app      *bot.Bot
	commands *bot.Commands
	admins   []string
}

// newListenerEnv registers the accounts and creates the room; invite says
// whether the reader invites the bot at once.
func newListenerEnv(t *testing.T, invite bool) *listenerEnv {
	t.Helper()
	hs := homeserver.Get(t)
	ctx := testContext(t)
	botLocal := uniqueLocalpart(t, "bot")
	botID, botToken := hs.Register(t, botLocal, false)
	readerID, readerToken := hs.Register(t, uniqueLocalpart(t, "reader"), false)
	reader := hs.Client(t, readerID, readerToken)
	req := &mautrix.ReqCreateRoom{Preset: "private_chat"}
	if invite {
		req.Invite = []id.UserID{id.UserID(botID)}
	}
	room, err := reader.CreateRoom(ctx, req)
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	st, err := store.Open(t.TempDir()+"/policywire.db", store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := &config.Config{
		Timezone: "Europe/Brussels",
		Location: brussels(t),
		Topics:   []config.Topic{{ID: "cyber", Query: "cyber* AND (security OR resilience OR attack)"}},
		Sources: []config.Source{
			{ID: "council-press", Name: "Council of the EU – press releases", Type: config.TypeFeed, URL: "https://www.consilium.europa.eu/en/rss/pressreleases.ashx"},
			{ID: "eeas-press", Name: "EEAS – press material", Type: config.TypeHTML, URL: "https://www.eeas.europa.eu/eeas/press-material_en"},
		},
		Matrix:   &config.Matrix{Homeserver: hs.URL, UserID: botID, AccessToken: config.Secret(botToken), CommandPrefix: "!pw"},
		Channels: []config.Channel{{ID: channelID, Matrix: room.RoomID.String(), Topics: []string{"cyber"}}},
	}
	sender := newSender(t, hs, botID, botToken)
	b, err := bot.New(bot.Options{Config: cfg, Store: st, Senders: map[string]bot.Sender{"matrix": sender}})
	if err != nil {
		t.Fatalf("bot.New: %v", err)
	}
	return &listenerEnv{
		roomFixture: &roomFixture{hs: hs, sender: sender, botID: botID, token: botToken, bot: botLocal, reader: reader, room: room.RoomID.String()},
		readerID:    readerID,
		store:       st,
		cfg:         cfg,
		app:         b,
		commands:    &bot.Commands{Bot: b, Searcher: archiveSearcher{items: archiveItems()}},
	}
}

// startListener runs a listener for the env's room until the returned
// stop function is called (or the test ends); stop waits for Run to
// return and fails the test if it returned an error.
func (e *listenerEnv) startListener(t *testing.T, sender *Sender, mods ...func(*ListenerOptions)) (stop func()) {
	t.Helper()
	o := ListenerOptions{
		Sender:   sender,
		Commands: e.commands,
		Store:    e.store,
		Prefix:   "!pw",
		Admins:   e.admins,
		Rooms:    func() []string { return []string{e.room} },
		Logger:   testLogger(t),
	}
	for _, m := range mods {
		m(&o)
	}
	l := NewListener(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil after cancel", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return within 10s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitJoined waits until the bot is a member of room.
func (e *listenerEnv) waitJoined(t *testing.T, room string) {
	t.Helper()
	ctx := testContext(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		joined, err := e.sender.Client().JoinedRooms(ctx)
		if err != nil {
			t.Fatalf("joined rooms: %v", err)
		}
		if slices.Contains(joined.JoinedRooms, id.RoomID(room)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bot has not joined %s after 30s", room)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitPrimed waits until the listener has stored a sync position other
// than old: from then on, new commands are answered.
func (e *listenerEnv) waitPrimed(t *testing.T, old string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		raw, err := e.store.Meta(SyncTokenKey)
		if err != nil {
			t.Fatal(err)
		}
		var tok savedToken
		if raw != nil && json.Unmarshal(raw, &tok) == nil && tok.NextBatch != "" && tok.NextBatch != old {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("listener stored no new sync position after 30s (have %s)", raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func send(t *testing.T, cli *mautrix.Client, room, text string) id.EventID {
	t.Helper()
	resp, err := cli.SendText(testContext(t), id.RoomID(room), text)
	if err != nil {
		t.Fatalf("send %q as %s: %v", text, cli.UserID, err)
	}
	return resp.EventID
}

func sendContent(t *testing.T, cli *mautrix.Client, room string, c map[string]any) id.EventID {
	t.Helper()
	resp, err := cli.SendMessageEvent(testContext(t), id.RoomID(room), event.EventMessage, c)
	if err != nil {
		t.Fatalf("send %v: %v", c, err)
	}
	return resp.EventID
}

// replyTo is the event a message replies to, or "".
func replyTo(t *testing.T, ev *event.Event) string {
	rel, _ := rawContent(t, ev)["m.relates_to"].(map[string]any)
	irt, _ := rel["m.in_reply_to"].(map[string]any)
	s, _ := irt["event_id"].(string)
	return s
}

// waitReply waits until the bot's reply to cmd is visible to the reader.
func (e *listenerEnv) waitReply(t *testing.T, cmd id.EventID) *event.Event {
	t.Helper()
	ctx := testContext(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		msgs, _ := e.readAll(t, ctx, "")
		for _, ev := range msgs {
			if replyTo(t, ev) == cmd.String() {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reply to %s after 30s", cmd)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// replies counts the bot's replies per command event, after everything
// sent so far has been processed by the homeserver.
func (e *listenerEnv) replies(t *testing.T) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, ev := range e.botMessages(t) {
		if r := replyTo(t, ev); r != "" {
			n[r]++
		}
	}
	return n
}

func body(t *testing.T, ev *event.Event) string {
	s, _ := rawContent(t, ev)["body"].(string)
	return s
}

func formatted(t *testing.T, ev *event.Event) string {
	s, _ := rawContent(t, ev)["formatted_body"].(string)
	return s
}

// goldenContent is the content as contentJSON gives it, without the keys
// that name events of this run.
func goldenContent(t *testing.T, ev *event.Event, drop ...string) []byte {
	t.Helper()
	m := rawContent(t, ev)
	for _, k := range drop {
		delete(m, k)
	}
	return indentJSON(t, m)
}

func TestListenerJoinsOnInviteAndAnswersCommands(t *testing.T) {
	e := newListenerEnv(t, true)
	ctx := testContext(t)
	// An invite to a room that is not configured, pending at start.
	other, err := e.reader.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{id.UserID(e.botID)}})
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	e.startListener(t, e.sender)
	e.waitJoined(t, e.room)

	search := send(t, e.reader, e.room, "!pw search digital diplomacy")
	reply := e.waitReply(t, search)
	c := rawContent(t, reply)
	if c["msgtype"] != "m.notice" {
		t.Errorf("reply msgtype = %v, want m.notice", c["msgtype"])
	}
	// The asker is mentioned, so notified; nobody else is.
	if m, ok := c["m.mentions"].(map[string]any); !ok || len(m) != 1 || fmt.Sprint(m["user_ids"]) != "["+e.readerID+"]" {
		t.Errorf("m.mentions = %#v, want the asker alone", c["m.mentions"])
	}
	b, h := body(t, reply), formatted(t, reply)
	if !strings.Contains(b, "Council approves conclusions on EU digital diplomacy") ||
		!strings.Contains(b, "https://www.consilium.europa.eu/en/press/press-releases/2026/06/26/council-approves-conclusions-on-eu-digital-diplomacy/") ||
		!strings.Contains(b, "Council of the EU – press releases · 26 Jun 2026") {
		t.Errorf("reply body does not name the matching item with its link, source and date:\n%s", b)
	}
	for _, other := range []string{"Digital Markets Act", "Fisheries", "tech ambassador"} {
		if strings.Contains(b, other) {
			t.Errorf("reply names %q, which does not match:\n%s", other, b)
		}
	}
	if !strings.Contains(h, `<ul><li><a href="https://www.consilium.europa.eu/en/press/press-releases/2026/06/26/council-approves-conclusions-on-eu-digital-diplomacy/">Council approves conclusions on EU digital diplomacy</a>`) ||
		!strings.Contains(h, "<b>digital</b> <b>diplomacy</b>") {
		t.Errorf("formatted_body lacks the linked title or the marked words:\n%s", h)
	}
	checkHTMLInert(t, h)
	// m.mentions names the asker, whose id differs from run to run; it is
	// checked above.
	golden(t, "listener/search_answer.json", goldenContent(t, reply, "m.relates_to", "m.mentions"))

	// What must not be answered.
	send(t, e.reader, e.room, "pw help")
	send(t, e.reader, e.room, "!pwhelp")
	send(t, e.reader, e.room, "please run !pw help")
	sendContent(t, e.reader, e.room, map[string]any{"msgtype": "m.notice", "body": "!pw help"})
	sendContent(t, e.reader, e.room, map[string]any{
		"msgtype": "m.text", "body": "* !pw search digital diplomacy",
		"m.new_content": map[string]any{"msgtype": "m.text", "body": "!pw search digital diplomacy"},
		"m.relates_to":  map[string]any{"rel_type": "m.replace", "event_id": search.String()},
	})
	if err := e.sender.SendNotice(ctx, e.room, "!pw help"); err != nil {
		t.Fatalf("bot notice: %v", err)
	}
	// What must be answered.
	help := send(t, e.reader, e.room, "!pw help")
	upper := send(t, e.reader, e.room, "  !PW   sources")
	unknown := send(t, e.reader, e.room, "!pw frobnicate")
	fallback := sendContent(t, e.reader, e.room, map[string]any{
		"msgtype":      "m.text",
		"body":         "> <" + e.botID + "> policywire commands:\n\n!pw search \"digital diplomacy\"",
		"m.relates_to": map[string]any{"m.in_reply_to": map[string]any{"event_id": reply.ID.String()}},
	})
	inThread := sendContent(t, e.reader, e.room, map[string]any{
		"msgtype":      "m.text",
		"body":         "!pw subscriptions",
		"m.relates_to": map[string]any{"rel_type": "m.thread", "event_id": search.String(), "is_falling_back": true, "m.in_reply_to": map[string]any{"event_id": search.String()}},
	})
	last := send(t, e.reader, e.room, "!pw help")
	e.waitReply(t, last)

	msgs := e.botMessages(t)
	byCmd := map[string]*event.Event{}
	for _, ev := range msgs {
		if r := replyTo(t, ev); r != "" {
			if byCmd[r] != nil {
				t.Errorf("command %s answered twice", r)
			}
			byCmd[r] = ev
		}
	}
	want := []id.EventID{search, help, upper, unknown, fallback, inThread, last}
	if len(byCmd) != len(want) {
		t.Errorf("bot answered %d commands, want %d (the others must be ignored)", len(byCmd), len(want))
	}
	for _, cmd := range want {
		if byCmd[cmd.String()] == nil {
			t.Errorf("command %s not answered", cmd)
		}
	}
	if ev := byCmd[help.String()]; ev != nil {
		if b := body(t, ev); !strings.Contains(b, "!pw search QUERY") || !strings.Contains(b, "!pw subscribe QUERY") {
			t.Errorf("help answer lacks the commands:\n%s", b)
		}
	}
	if ev := byCmd[upper.String()]; ev != nil && !strings.Contains(body(t, ev), "2 sources:") {
		t.Errorf("sources answer = %q, want the two sources", body(t, ev))
	}
	if ev := byCmd[unknown.String()]; ev != nil && !strings.Contains(body(t, ev), `Unknown command "frobnicate"`) {
		t.Errorf("unknown command answer = %q", body(t, ev))
	}
	if ev := byCmd[fallback.String()]; ev != nil && !strings.Contains(body(t, ev), "Council approves conclusions on EU digital diplomacy") {
		t.Errorf("command after a reply fallback answered %q, want the search result", body(t, ev))
	}
	if ev := byCmd[inThread.String()]; ev != nil {
		rel, _ := rawContent(t, ev)["m.relates_to"].(map[string]any)
		if rel["rel_type"] != "m.thread" || rel["event_id"] != search.String() {
			t.Errorf("answer to a command in a thread has m.relates_to %v, want the thread of %s", rel, search)
		}
	}

	// The invite to the room that is not configured was not accepted.
	joined, err := e.sender.Client().JoinedRooms(ctx)
	if err != nil {
		t.Fatalf("joined rooms: %v", err)
	}
	if slices.Contains(joined.JoinedRooms, other.RoomID) {
		t.Errorf("bot joined %s, which is not configured", other.RoomID)
	}
}

func TestListenerSubscribeNeedsPowerLevel(t *testing.T) {
	e := newListenerEnv(t, false)
	ctx := testContext(t)
	memberID, memberToken := e.hs.Register(t, uniqueLocalpart(t, "member"), false)
	adminID, adminToken := e.hs.Register(t, uniqueLocalpart(t, "admin"), false)
	member := e.hs.Client(t, memberID, memberToken)
	admin := e.hs.Client(t, adminID, adminToken)
	for _, u := range []*mautrix.Client{member, admin} {
		if _, err := e.reader.InviteUser(ctx, id.RoomID(e.room), &mautrix.ReqInviteUser{UserID: u.UserID}); err != nil {
			t.Fatalf("invite %s: %v", u.UserID, err)
		}
		if _, err := u.JoinRoomByID(ctx, id.RoomID(e.room)); err != nil {
			t.Fatalf("join %s: %v", u.UserID, err)
		}
	}
	e.admins = []string{adminID}
	e.startListener(t, e.sender)
	// Invited while the listener runs.
	if _, err := e.reader.InviteUser(ctx, id.RoomID(e.room), &mautrix.ReqInviteUser{UserID: id.UserID(e.botID)}); err != nil {
		t.Fatalf("invite bot: %v", err)
	}
	e.waitJoined(t, e.room)

	refused := e.waitReply(t, send(t, member, e.room, `!pw subscribe "tech ambassador"`))
	if b := body(t, refused); !strings.Contains(b, "Only room moderators (power level 50 or more)") {
		t.Errorf("a member at power level 0 got %q, want a refusal", b)
	}
	subs, err := e.store.Subscriptions(channelID)
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 0 {
		t.Fatalf("refused subscribe stored %v", subs)
	}

	accepted := e.waitReply(t, send(t, e.reader, e.room, `!pw subscribe "tech ambassador"`))
	b := body(t, accepted)
	if !strings.Contains(b, `Subscribed this channel to "tech ambassador"`) || !strings.Contains(b, "EU appoints its first tech ambassador to Silicon Valley") {
		t.Errorf("the room creator got %q, want the subscription and the item it would have matched", b)
	}
	subs, err = e.store.Subscriptions(channelID)
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 1 || subs[0].Query != `"tech ambassador"` || subs[0].By != e.readerID {
		t.Fatalf("subscriptions of %s = %+v, want one for \"tech ambassador\" by %s", channelID, subs, e.readerID)
	}

	// The next item that matches goes to the room.
	item := policywire.Item{
		Source:    "council-press",
		URL:       "https://www.consilium.europa.eu/en/press/press-releases/2026/11/30/eu-tech-ambassador-visits-bangalore/",
		Title:     "EU tech ambassador visits Bangalore to deepen cooperation on artificial intelligence",
		Summary:   "The EU's tech ambassador met Indian ministers and companies.",
		Published: time.Now().Add(-time.Hour).UTC().Truncate(time.Second),
	}
	routes := e.app.Router().Route(item)
	if len(routes) != 1 || routes[0].Channel != channelID || !slices.Contains(routes[0].Topics, `"\"tech ambassador\""`) {
		t.Fatalf("Route = %+v, want %s by the subscription", routes, channelID)
	}
	res, err := e.store.Ingest(store.Batch{Source: "council-press", SourceName: "Council of the EU – press releases", Items: []policywire.Item{item}, State: store.SourceState{Source: "council-press"}}, e.app.Router().Route)
	if err != nil || len(res.Alerts) != 1 {
		t.Fatalf("Ingest = %+v, %v; want one alert", res, err)
	}
	if _, err := e.app.Dispatcher.Step(ctx, e.cfg.Channels[0]); err != nil {
		t.Fatalf("dispatch: %v", err)
	}
	found := false
	for _, ev := range e.botMessages(t) {
		if strings.HasPrefix(body(t, ev), item.Title) {
			found = true
		}
	}
	if !found {
		t.Errorf("the alert for %q was not posted to the room", item.Title)
	}

	// A configured admin may manage at power level 0.
	removed := e.waitReply(t, send(t, admin, e.room, "!pw unsubscribe "+subs[0].ID))
	if b := body(t, removed); b != "Removed subscription "+subs[0].ID+" from this channel." {
		t.Errorf("the admin got %q, want the subscription removed", b)
	}

	// Raised to 50, the member may subscribe.
	var pl event.PowerLevelsEventContent
	if err := e.reader.StateEvent(ctx, id.RoomID(e.room), event.StatePowerLevels, "", &pl); err != nil {
		t.Fatalf("read power levels: %v", err)
	}
	pl.SetUserLevel(id.UserID(memberID), 50)
	if _, err := e.reader.SendStateEvent(ctx, id.RoomID(e.room), event.StatePowerLevels, "", &pl); err != nil {
		t.Fatalf("raise power level: %v", err)
	}
	raised := e.waitReply(t, send(t, member, e.room, "!pw subscribe cyber* AND diplomacy"))
	if b := body(t, raised); !strings.Contains(b, "Subscribed this channel to") {
		t.Errorf("a member at power level 50 got %q, want the subscription", b)
	}
	subs, err = e.store.Subscriptions(channelID)
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 1 || subs[0].By != memberID {
		t.Errorf("subscriptions = %+v, want the member's only", subs)
	}
}

func TestListenerRestartDoesNotReplay(t *testing.T) {
	e := newListenerEnv(t, true)
	ctx := testContext(t)
	if err := e.sender.JoinRooms(ctx, []string{e.room}); err != nil {
		t.Fatalf("JoinRooms: %v", err)
	}
	// Sent before the listener ever ran: history, never answered.
	before := send(t, e.reader, e.room, "!pw help")

	stop := e.startListener(t, e.sender)
	e.waitPrimed(t, "")
	first := send(t, e.reader, e.room, "!pw help")
	e.waitReply(t, first)
	stop()

	raw, err := e.store.Meta(SyncTokenKey)
	if err != nil {
		t.Fatal(err)
	}
	var tok savedToken
	if err := json.Unmarshal(raw, &tok); err != nil || tok.NextBatch == "" || tok.UserID != e.botID {
		t.Fatalf("stored sync position %q (%v), want a next_batch for %s", raw, err, e.botID)
	}

	// Sent while the bot is down for a moment: answered after the restart.
	whileDown := send(t, e.reader, e.room, "!pw sources")

	// A new process logs in afresh, so the homeserver's transaction cache
	// cannot hide a second answer.
	relogged := newSender(t, e.hs, e.botID, e.hs.Login(t, e.roomFixture.bot))
	e.startListener(t, relogged)
	e.waitReply(t, whileDown)
	after := send(t, e.reader, e.room, "!pw help")
	e.waitReply(t, after)

	n := e.replies(t)
	if n[before.String()] != 0 {
		t.Errorf("the command sent before the first start was answered %d times, want never", n[before.String()])
	}
	for _, cmd := range []id.EventID{first, whileDown, after} {
		if n[cmd.String()] != 1 {
			t.Errorf("command %s answered %d times, want once", cmd, n[cmd.String()])
		}
	}
}

func TestListenerStopsOnCancelWhileTheServerIsDown(t *testing.T) {
	s, err := New(Options{Homeserver: "http://127.0.0.1:1", UserID: "@bot:localhost", AccessToken: "secret-token-value"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir()+"/policywire.db", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var logs bytes.Buffer
	l := NewListener(ListenerOptions{Sender: s, Commands: &bot.Commands{}, Store: st, Logger: slogTo(&logs)})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := l.Run(ctx); err != nil {
		t.Fatalf("Run = %v, want nil on cancel", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Run took %s to stop after its context ended", el)
	}
	if n := strings.Count(logs.String(), "sync failed"); n < 2 {
		t.Errorf("logged %d failed syncs in 2s, want retries:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "secret-token-value") {
		t.Errorf("the log shows the access token:\n%s", logs.String())
	}
	if err := NewListener(ListenerOptions{Sender: s}).Run(context.Background()); err == nil {
		t.Error("Run without Commands and Store succeeded")
	}
}

func TestParseCommand(t *testing.T) {
	cases := []struct {
		body, want string
		ok         bool
	}{
		{"!pw search digital diplomacy", "search digital diplomacy", true},
		{"!pw", "", true},
		{"  !PW\thelp  ", "help", true},
		{"!Pw latest 3\nmore", "latest 3\nmore", true},
		{"!pwhelp", "", false},
		{"pw help", "", false},
		{"say !pw help", "", false},
		{"!p", "", false},
		{"", "", false},
		{"!pw\u00a0help", "help", true},
		{"!pé", "", false},
	}
	for _, tc := range cases {
		got, ok := parseCommand(tc.body, "!pw")
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseCommand(%q) = %q, %v; want %q, %v", tc.body, got, ok, tc.want, tc.ok)
		}
	}
}

func TestStripReplyFallback(t *testing.T) {
	cases := map[string]string{
		"> <@bot:localhost> policywire commands:\n> more\n\n!pw help": "!pw help",
		"!pw help":               "!pw help",
		"> quoted only":          "",
		">no blank line\n!pw hi": "!pw hi",
	}
	for in, want := range cases {
		if got := stripReplyFallback(in); got != want {
			t.Errorf("stripReplyFallback(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPowerLevelRules(t *testing.T) {
	create := func(version, creator string, additional ...string) json.RawMessage {
		m := map[string]any{}
		if version != "" {
			m["room_version"] = version
		}
		if creator != "" {
			m["creator"] = creator
		}
		if len(additional) > 0 {
			m["additional_creators"] = additional
		}
		b, _ := json.Marshal(m)
		return b
	}
	cases := []struct {
		name      string
		create    json.RawMessage
		sender    string
		levels    string // "" = no power-levels event
		user      string
		wantLevel int64
	}{
		{"listed user", create("10", "@alice:x"), "@alice:x", `{"users":{"@alice:x":100,"@bob:x":50}}`, "@bob:x", 50},
		{"users_default", create("10", "@alice:x"), "@alice:x", `{"users":{"@alice:x":100},"users_default":10}`, "@carol:x", 10},
		{"levels as strings in an old room", create("1", "@alice:x"), "@alice:x", `{"users":{"@bob:x":"75"},"users_default":"0"}`, "@bob:x", 75},
		{"no power levels: creator", create("10", "@alice:x"), "@alice:x", "", "@alice:x", 100},
		{"no power levels: others", create("10", "@alice:x"), "@alice:x", "", "@bob:x", 0},
		{"v11 creator is the sender", create("11", ""), "@alice:x", "", "@alice:x", 100},
		{"v12 creator above all", create("12", ""), "@alice:x", `{"users":{"@bob:x":100}}`, "@alice:x", 1 << 53},
		{"v12 additional creator", create("12", "", "@dave:x"), "@alice:x", `{"users":{}}`, "@dave:x", 1 << 53},
		{"v10 additional creators mean nothing", create("10", "@alice:x", "@dave:x"), "@alice:x", `{"users":{}}`, "@dave:x", 0},
		{"redacted power levels", create("10", "@alice:x"), "@alice:x", `{}`, "@alice:x", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rp := &roomPower{}
			if _, ok := rp.level(id.UserID(tc.user)); ok {
				t.Fatal("level known before any state")
			}
			rp.setCreate(id.UserID(tc.sender), tc.create)
			if tc.levels == "" {
				rp.haveLevels = true
			} else {
				rp.setLevels(json.RawMessage(tc.levels), testLogger(t))
			}
			got, ok := rp.level(id.UserID(tc.user))
			if !ok || got != tc.wantLevel {
				t.Errorf("level(%s) = %d, %v; want %d", tc.user, got, ok, tc.wantLevel)
			}
		})
	}
}

func TestAnswerRenderingIsInert(t *testing.T) {
	r := newRenderer(brussels(t))
	a := bot.Answer{
		Text: "Best matches for @room <b>x</b>:",
		Entries: []bot.Entry{
			{Title: `<script>alert(1)</script> @room`, URL: "javascript:alert(1)", Meta: "Evil <i>feed</i> · 1 Jan 2026", Snippet: "a «<img src=x onerror=alert(1)>» b «unclosed"},
			{Title: "Fine \u202etitle", URL: `https://example.org/a"><script>`, Meta: "ok", Snippet: "stray » mark"},
		},
		Lines: []string{"That query does not parse", "  cyber AND", "            ^"},
	}
	c := r.answer(a)
	if c.MsgType != event.MsgNotice || c.Mentions == nil || len(c.Mentions.UserIDs) != 0 || c.Mentions.Room {
		t.Errorf("answer is %s with mentions %+v, want an m.notice pinging nobody", c.MsgType, c.Mentions)
	}
	for _, s := range []string{c.Body, c.FormattedBody} {
		if strings.Contains(strings.ToLower(s), "@room") || strings.ContainsRune(s, '\u202e') {
			t.Errorf("ping or invisible character survives in %q", s)
		}
	}
	if strings.Contains(c.Body, "javascript:") || strings.Contains(c.FormattedBody, "javascript:") {
		t.Errorf("javascript: link survives:\n%s\n%s", c.Body, c.FormattedBody)
	}
	checkHTMLInert(t, c.FormattedBody)
	if !strings.Contains(c.FormattedBody, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("title not escaped in %q", c.FormattedBody)
	}
	if strings.Count(c.FormattedBody, "<b>") != strings.Count(c.FormattedBody, "</b>") || !strings.Contains(c.FormattedBody, "<b>unclosed</b>") {
		t.Errorf("marks not paired in %q", c.FormattedBody)
	}
	if !strings.Contains(c.FormattedBody, "<code>\u00a0\u00a0cyber\u00a0AND</code>") {
		t.Errorf("query line not kept in monospace in %q", c.FormattedBody)
	}
	if !strings.Contains(c.Body, "\n            ^") {
		t.Errorf("caret line lost its spacing in the body:\n%s", c.Body)
	}
}

func TestAnswerStaysUnderTheEventSizeLimit(t *testing.T) {
	r := newRenderer(nil)
	a := bot.Answer{Text: "3000 sources:"}
	for i := range 3000 {
		a.Lines = append(a.Lines, fmt.Sprintf("• Source number %d with a rather long name — ok, last success 27 Nov 2026 14:05, %d items", i, i))
	}
	c := r.answer(a)
	if n := jsonSize(c); n > maxAnswerEventBytes {
		t.Errorf("answer is %d bytes, over %d", n, maxAnswerEventBytes)
	}
	if !strings.Contains(c.Body, "• Source number 0 ") || !strings.Contains(c.Body, "more lines") {
		t.Errorf("cut answer should keep the first lines and say how many were left out:\n%s", c.Body[len(c.Body)-200:])
	}
}

// testLogger sends the listener's log to the test's log, shown when the
// test fails or runs with -v.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestMayManageReadsRoomState covers a room whose state no sync showed:
// the power levels are read from the room's state.
func TestMayManageReadsRoomState(t *testing.T) {
	e := newListenerEnv(t, true)
	ctx := testContext(t)
	if err := e.sender.JoinRooms(ctx, []string{e.room}); err != nil {
		t.Fatalf("JoinRooms: %v", err)
	}
	moderatorID, _ := e.hs.Register(t, uniqueLocalpart(t, "moderator"), false)
	var pl event.PowerLevelsEventContent
	if err := e.reader.StateEvent(ctx, id.RoomID(e.room), event.StatePowerLevels, "", &pl); err != nil {
		t.Fatalf("read power levels: %v", err)
	}
	pl.SetUserLevel(id.UserID(moderatorID), 50)
	if _, err := e.reader.SendStateEvent(ctx, id.RoomID(e.room), event.StatePowerLevels, "", &pl); err != nil {
		t.Fatalf("set power levels: %v", err)
	}
	l := NewListener(ListenerOptions{Sender: e.sender, Commands: e.commands, Store: e.store, Admins: []string{"@boss:localhost"}})
	r := &run{l: l, power: map[id.RoomID]*roomPower{}}
	cases := map[string]bool{
		e.readerID:          true, // creator, 100
		moderatorID:         true, // 50, not even a member
		e.botID:             false,
		"@boss:localhost":   true, // configured admin
		"@nobody:localhost": false,
	}
	for user, want := range cases {
		if got := r.mayManage(ctx, id.RoomID(e.room), id.UserID(user)); got != want {
			t.Errorf("mayManage(%s) = %v, want %v", user, got, want)
		}
	}
	if got := r.mayManage(ctx, "!unknown:localhost", id.UserID(e.readerID)); got {
		t.Error("mayManage in a room the bot cannot read = true, want false")
	}
}

// TestListenerRecoversFromARefusedSyncPosition: a stored position the
// homeserver refuses (its database was reset) is dropped, and commands
// are answered from then on.
func TestListenerRecoversFromARefusedSyncPosition(t *testing.T) {
	e := newListenerEnv(t, true)
	ctx := testContext(t)
	if err := e.sender.JoinRooms(ctx, []string{e.room}); err != nil {
		t.Fatalf("JoinRooms: %v", err)
	}
	bogus, _ := json.Marshal(savedToken{Homeserver: e.hs.URL, UserID: e.botID, NextBatch: "not-a-sync-token"})
	if err := e.store.PutMeta(SyncTokenKey, bogus); err != nil {
		t.Fatal(err)
	}
	e.startListener(t, e.sender)
	e.waitPrimed(t, "not-a-sync-token")
	e.waitReply(t, send(t, e.reader, e.room, "!pw help"))
	raw, err := e.store.Meta(SyncTokenKey)
	if err != nil {
		t.Fatal(err)
	}
	var tok savedToken
	if err := json.Unmarshal(raw, &tok); err != nil || tok.NextBatch == "" || tok.NextBatch == "not-a-sync-token" {
		t.Errorf("stored sync position %s, want a fresh one", raw)
	}
}

func TestListenerRejectedTokenIsLoggedWithoutTheToken(t *testing.T) {
	hs := homeserver.Get(t)
	botID, _ := hs.Register(t, uniqueLocalpart(t, "bot"), false)
	const token = "syt_not_a_real_token_1234567890"
	s := newSender(t, hs, botID, token)
	st, err := store.Open(t.TempDir()+"/policywire.db", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var logs bytes.Buffer
	l := NewListener(ListenerOptions{Sender: s, Commands: &bot.Commands{}, Store: st, Logger: slogTo(&logs)})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if err := l.Run(ctx); err != nil {
		t.Fatalf("Run = %v, want nil on cancel", err)
	}
	out := logs.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "access token rejected (M_UNKNOWN_TOKEN)") {
		t.Errorf("log does not report the rejected token as an error:\n%s", out)
	}
	if strings.Contains(out, token) {
		t.Errorf("the log shows the access token:\n%s", out)
	}
	if raw, err := st.Meta(SyncTokenKey); err != nil || raw != nil {
		t.Errorf("stored sync position %q, %v; want none", raw, err)
	}
}

func TestListenerSubscribeIsRefusedWhenTheRoomHasTheMost(t *testing.T) {
	e := newListenerEnv(t, true)
	e.cfg.Chat.MaxSubscriptions = 1
	e.startListener(t, e.sender)
	e.waitJoined(t, e.room)
	if b := body(t, e.waitReply(t, send(t, e.reader, e.room, `!pw subscribe "tech ambassador"`))); !strings.Contains(b, "Subscribed this channel") {
		t.Fatalf("first subscribe answered %q", b)
	}
	b := body(t, e.waitReply(t, send(t, e.reader, e.room, `!pw subscribe cyber*`)))
	if !strings.Contains(b, "already has 1 subscription,") || !strings.Contains(b, "unsubscribe") {
		t.Errorf("subscribe over the bound answered %q, want the bound and how to make room", b)
	}
	subs, err := e.store.Subscriptions(channelID)
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 1 {
		t.Fatalf("%d subscriptions stored, want the bound of 1", len(subs))
	}
}
