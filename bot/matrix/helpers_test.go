package matrix

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/policywire/policywire/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var homeserver testenv.SharedDendrite

func TestMain(m *testing.M) { os.Exit(homeserver.Run(m)) }

// localparts keeps account names unique on the shared homeserver.
var localparts atomic.Int64

// roomFixture is a room made by a reader who invited the bot, which has
// joined.
type roomFixture struct {
	hs     *testenv.Dendrite
	sender *Sender
	botID  string
	token  string
	bot    string // localpart
	reader *mautrix.Client
	room   string
}

func newSender(t *testing.T, hs *testenv.Dendrite, userID, token string) *Sender {
	t.Helper()
	s, err := New(Options{Homeserver: hs.URL, UserID: userID, AccessToken: token, Location: brussels(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func uniqueLocalpart(t *testing.T, role string) string {
	name := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"))
	if len(name) > 40 {
		name = name[:40]
	}
	return role + "-" + strings.Trim(name, "-") + "-" + strconv.FormatInt(localparts.Add(1), 10)
}

// setupRoom registers a bot and a reader, has the reader create a private
// room and invite the bot, and has the bot join it through JoinRooms.
func setupRoom(t *testing.T) *roomFixture {
	t.Helper()
	hs := homeserver.Get(t)
	ctx := testContext(t)
	botLocal := uniqueLocalpart(t, "bot")
	botID, botToken := hs.Register(t, botLocal, false)
	readerID, readerToken := hs.Register(t, uniqueLocalpart(t, "reader"), false)
	reader := hs.Client(t, readerID, readerToken)
	room, err := reader.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{id.UserID(botID)}})
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	s := newSender(t, hs, botID, botToken)
	if err := s.JoinRooms(ctx, []string{room.RoomID.String()}); err != nil {
		t.Fatalf("JoinRooms: %v", err)
	}
	return &roomFixture{hs: hs, sender: s, botID: botID, token: botToken, bot: botLocal, reader: reader, room: room.RoomID.String()}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func brussels(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		t.Fatalf("load Europe/Brussels: %v", err)
	}
	return loc
}

// botMessages returns, oldest first, the m.room.message events the bot
// posted in the room, as the reader sees them. It first posts a sentinel as
// the reader and waits until /messages shows it, so every earlier event has
// been processed by the homeserver.
func (f *roomFixture) botMessages(t *testing.T) []*event.Event {
	t.Helper()
	ctx := testContext(t)
	sentinel, err := f.reader.SendText(ctx, id.RoomID(f.room), "sentinel")
	if err != nil {
		t.Fatalf("send sentinel: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		events, found := f.readAll(t, ctx, sentinel.EventID)
		if found {
			return events
		}
		if time.Now().After(deadline) {
			t.Fatalf("sentinel %s not visible in /messages after 30s", sentinel.EventID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (f *roomFixture) readAll(t *testing.T, ctx context.Context, sentinel id.EventID) ([]*event.Event, bool) {
	t.Helper()
	var all []*event.Event
	found := false
	from := ""
	for {
		resp, err := f.reader.Messages(ctx, id.RoomID(f.room), from, "", mautrix.DirectionBackward, nil, 100)
		if err != nil {
			t.Fatalf("messages: %v", err)
		}
		for _, ev := range resp.Chunk {
			if ev.ID == sentinel {
				found = true
			}
			if ev.Type == event.EventMessage && ev.Sender.String() == f.botID {
				all = append(all, ev)
			}
		}
		if len(resp.Chunk) == 0 || resp.End == "" || resp.End == from {
			break
		}
		from = resp.End
	}
	slices.Reverse(all)
	return all, found
}

// contentJSON is the event content as the server returned it, indented
// with sorted keys and without HTML escaping, for golden files.
func contentJSON(t *testing.T, ev *event.Event) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Content.VeryRaw, &m); err != nil {
		t.Fatalf("content of %s: %v", ev.ID, err)
	}
	return indentJSON(t, m)
}

func rawContent(t *testing.T, ev *event.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Content.VeryRaw, &m); err != nil {
		t.Fatalf("content of %s: %v", ev.ID, err)
	}
	return m
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test ./bot/matrix/ -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

// indentJSON writes m indented, keys sorted and HTML not escaped, as the
// golden files hold event content.
func indentJSON(t *testing.T, m map[string]any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
