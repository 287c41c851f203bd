package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sort"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/policywire/policywire/bot/matrix"
	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/testenv"
)

// matrixRoom is a room a reader made on the shared homeserver, with the
// bot invited, and the bot's credentials for the config.
type matrixRoom struct {
	hs       *testenv.Dendrite
	reader   *mautrix.Client
	room     id.RoomID
	botUser  string
	botToken string
}

// newMatrixRoom registers a reader and a bot with fresh names, and has the
// reader create a private room and invite the bot.
func newMatrixRoom(t *testing.T) *matrixRoom {
	t.Helper()
	hs := homeserver.Get(t)
	suffix := randomSuffix()
	readerID, readerToken := hs.Register(t, "reader-"+suffix, false)
	botID, botToken := hs.Register(t, "bot-"+suffix, false)
	reader := hs.Client(t, readerID, readerToken)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := reader.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset: "private_chat", Name: "policy news " + suffix, Invite: []id.UserID{id.UserID(botID)},
	})
	if err != nil {
		t.Fatalf("reader creates a room: %v", err)
	}
	return &matrixRoom{hs: hs, reader: reader, room: resp.RoomID, botUser: botID, botToken: botToken}
}

// notice is one message of the bot as the reader sees it.
type notice struct {
	ev      *event.Event
	alertID string
	msgtype string
	body    string
	html    string
}

// botMessages reads the whole room through /messages, oldest first, and
// returns the bot's messages.
func (m *matrixRoom) botMessages(t *testing.T) []notice {
	t.Helper()
	m.settle(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []notice
	from := ""
	for range 100 {
		resp, err := m.reader.Messages(ctx, m.room, from, "", mautrix.DirectionBackward, nil, 100)
		if err != nil {
			t.Fatalf("reader reads /messages: %v", err)
		}
		for _, ev := range resp.Chunk {
			if ev.Type != event.EventMessage || ev.Sender.String() != m.botUser {
				continue
			}
			n := notice{ev: ev}
			n.alertID, _ = ev.Content.Raw[matrix.AlertIDField].(string)
			n.msgtype, _ = ev.Content.Raw["msgtype"].(string)
			n.body, _ = ev.Content.Raw["body"].(string)
			n.html, _ = ev.Content.Raw["formatted_body"].(string)
			out = append(out, n)
		}
		if len(resp.Chunk) == 0 || resp.End == "" || resp.End == from {
			break
		}
		from = resp.End
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// settle makes sure /messages shows everything sent to the room so far:
// dendrite files events asynchronously, in order, so once a marker the
// reader sends now is visible, every earlier event is too.
func (m *matrixRoom) settle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	marker, err := m.reader.SendNotice(ctx, m.room, "(reader's marker)")
	if err != nil {
		t.Fatalf("reader sends a marker: %v", err)
	}
	for {
		resp, err := m.reader.Messages(ctx, m.room, "", "", mautrix.DirectionBackward, nil, 20)
		if err != nil {
			t.Fatalf("reader reads /messages: %v", err)
		}
		for _, ev := range resp.Chunk {
			if ev.ID == marker.EventID {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the reader's marker never showed in /messages")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// alertCounts counts the bot's messages per alert id; messages without
// one count under "".
func alertCounts(ns []notice) map[string]int {
	c := map[string]int{}
	for _, n := range ns {
		c[n.alertID]++
	}
	return c
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestMatrixRunOnceDeliversFixturesOnce: the reader invites the bot; one
// run --once on the Council RSS feed and the EEAS HTML page posts one
// m.notice per matching story (the story both publish is one notice that
// names the other source), each exactly once; a second run over the same
// items (re-served with a new ETag, so they are parsed again) posts nothing.
func TestMatrixRunOnceDeliversFixturesOnce(t *testing.T) {
	t.Parallel()
	mx := newMatrixRoom(t)
	fx := testenv.NewFixtureServer(t)
	council := testenv.SourceFixture(t, "council-press.rss")
	eeas := testenv.SourceFixture(t, "eeas-press.html")
	fx.Set("/council.rss", council, testenv.ContentTypeFor("council-press.rss"))
	fx.Set("/eeas.html", eeas, testenv.ContentTypeFor("eeas-press.html"))

	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_TOKEN="+mx.botToken)
	cfg := setup{
		dataDir: env.DataDir(), matrixURL: mx.hs.URL, matrixUser: mx.botUser,
		topics: map[string]string{"digital-diplomacy": `title:"digital diplomacy"`},
		sources: []source{
			{id: "council-press", url: fx.URL + "/council.rss"},
			{id: "eeas-press", url: fx.URL + "/eeas.html"},
		},
		channels: []channel{{id: "diplomacy-room", matrix: string(mx.room), topics: []string{"digital-diplomacy"}}},
	}
	// The EEAS page needs its selectors; the helper writes feeds only.
	env.WriteConfig(withEEASSelectors(cfg.yaml(), "eeas-press"))

	r := env.Run(60*time.Second, "run", "--once")
	if r.Code != 0 {
		t.Fatalf("first run --once failed\n%s", r)
	}
	got := mx.botMessages(t)
	wantTitles := []string{
		"Digital diplomacy: Council approves conclusions on a stronger EU voice in global tech governance",
		"EU Digital Diplomacy Office opens in San Francisco",
		"EU-Japan Digital Partnership Council: joint statement on secure connectivity and digital diplomacy",
	}
	checkNotices(t, got, wantTitles)
	for _, n := range got {
		if strings.Contains(n.body, "EU-Japan") && !strings.Contains(strings.ToLower(n.body), "also reported by") {
			t.Errorf("the EU-Japan story is published by both sources; its notice should name the other one:\n%s", n.body)
		}
	}

	// Same items, new bytes: the sources answer 200, the items are read
	// again, and nothing is posted twice.
	fx.Set("/council.rss", append(append([]byte(nil), council...), []byte("\n<!-- re-served -->\n")...), testenv.ContentTypeFor("council-press.rss"))
	fx.Set("/eeas.html", append(append([]byte(nil), eeas...), []byte("\n<!-- re-served -->\n")...), testenv.ContentTypeFor("eeas-press.html"))
	before := fx.Requests("/council.rss")
	r = env.Run(60*time.Second, "run", "--once")
	if r.Code != 0 {
		t.Fatalf("second run --once failed\n%s", r)
	}
	if fx.Requests("/council.rss") != before+1 {
		t.Fatalf("the second run did not fetch the feed again")
	}
	again := mx.botMessages(t)
	if len(again) != len(got) {
		t.Fatalf("the second run --once posted %d more messages:\n%v", len(again)-len(got), again[len(got):])
	}
}

// checkNotices asserts that the bot posted one m.notice per wanted title,
// each alert once, nothing else.
func checkNotices(t *testing.T, got []notice, wantTitles []string) {
	t.Helper()
	if len(got) != len(wantTitles) {
		var bodies []string
		for _, n := range got {
			bodies = append(bodies, firstLine(n.body))
		}
		t.Fatalf("the reader sees %d messages of the bot, want %d:\n%s", len(got), len(wantTitles), strings.Join(bodies, "\n"))
	}
	for alert, n := range alertCounts(got) {
		if alert == "" || n != 1 {
			t.Errorf("alert %q posted %d times", alert, n)
		}
	}
	var titles []string
	for _, n := range got {
		if n.msgtype != string(event.MsgNotice) {
			t.Errorf("msgtype %q, want m.notice", n.msgtype)
		}
		if n.html == "" {
			t.Errorf("notice without formatted_body: %q", n.body)
		}
		titles = append(titles, firstLine(n.body))
	}
	sort.Strings(titles)
	for i, want := range wantTitles {
		if !strings.Contains(titles[i], want) {
			t.Errorf("notice %d starts %q, want the title %q", i, titles[i], want)
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// withEEASSelectors adds the EEAS page's selectors (sources.yaml of the
// fixtures) to the source with that id.
func withEEASSelectors(yaml, id string) string {
	return strings.Replace(yaml, "  - id: "+id+"\n", "  - id: "+id+"\n"+`    type: html
    html:
      item: .view-content .card
      title: h3.card-title a
      link: h3.card-title a@href
      date: .card-footer.node__meta
      date_format: "02.01.2006"
      summary: .card-text
`, 1)
}

// TestMatrixCrashMidDelivery: run --once is killed with SIGKILL while it
// posts 50 alerts; the reader has seen some but not all. A second run
// --once delivers the rest, and the reader sees every alert exactly once.
func TestMatrixCrashMidDelivery(t *testing.T) {
	t.Parallel()
	const total = 50
	mx := newMatrixRoom(t)
	fx := testenv.NewFixtureServer(t)
	fx.Set("/bulk.rss", e2eharness.RSS("Bulk", fx.URL, e2eharness.NumberedItems("Cyber diplomacy briefing", "https://news.example.org/briefing", total, recent())), e2eharness.RSSContentType)

	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_TOKEN="+mx.botToken)
	env.WriteConfig(setup{
		dataDir: env.DataDir(), matrixURL: mx.hs.URL, matrixUser: mx.botUser,
		sources:  []source{{id: "bulk", url: fx.URL + "/bulk.rss"}},
		channels: []channel{{id: "room", matrix: string(mx.room)}},
	}.yaml())

	p := env.Start("run", "--once")
	var seen int
	e2eharness.Eventually(t, 60*time.Second, "the reader to see the first alerts", func() bool {
		if !p.Running() {
			t.Fatalf("run --once ended before it could be killed mid-delivery (reader saw %d)", len(mx.botMessages(t)))
		}
		seen = len(mx.botMessages(t))
		return seen >= 1
	})
	p.Kill()
	seen = len(mx.botMessages(t))
	if seen < 1 || seen >= total {
		t.Fatalf("after SIGKILL the reader sees %d of %d alerts; the kill did not land mid-delivery", seen, total)
	}
	t.Logf("killed with %d of %d alerts delivered", seen, total)

	r := env.Run(90*time.Second, "run", "--once")
	if r.Code != 0 {
		t.Fatalf("run --once after the crash failed\n%s", r)
	}
	got := mx.botMessages(t)
	counts := alertCounts(got)
	if len(got) != total || len(counts) != total {
		var twice []string
		for _, n := range got {
			if counts[n.alertID] > 1 {
				twice = append(twice, firstLine(n.body))
			}
		}
		t.Fatalf("the reader sees %d messages for %d alerts, want %d each exactly once; repeated: %q", len(got), len(counts), total, twice)
	}
	titles := map[string]bool{}
	for _, n := range got {
		titles[firstLine(n.body)] = true
	}
	if len(titles) != total {
		t.Errorf("%d distinct titles, want %d", len(titles), total)
	}
}
