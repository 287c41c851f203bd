//go:build goolm

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/bot/matrix"
	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/testenv"
	"github.com/policywire/policywire/store"
)

const e2eePickleKey = "e2e-pickle-key-0123456789abcdef"

// encryptedMatrixRoom is an encrypted room made by a reader with its own
// crypto, with the bot invited.
type encryptedMatrixRoom struct {
	hs       *testenv.Dendrite
	reader   *testenv.CryptoReader
	room     id.RoomID
	botUser  string
	botToken string
}

func newEncryptedMatrixRoom(t *testing.T) *encryptedMatrixRoom {
	t.Helper()
	hs := homeserver.Get(t)
	suffix := randomSuffix()
	botID, botToken := hs.Register(t, "bot-"+suffix, false)
	reader := hs.NewCryptoReader(t, "reader-"+suffix)
	room := reader.CreateEncryptedRoom(t, id.UserID(botID))
	return &encryptedMatrixRoom{hs: hs, reader: reader, room: room, botUser: botID, botToken: botToken}
}

// encryptedConfig is the config of a setup with the pickle key on.
func encryptedConfig(s setup) string {
	return withConfig(s.yaml(), "  access_token: ${MATRIX_TOKEN}\n", "  access_token: ${MATRIX_TOKEN}\n  pickle_key: ${MATRIX_PICKLE_KEY}\n")
}

// decryptedNotices is what the reader read of the bot's room events: each
// must be m.room.encrypted and decrypt; the rest fails the test.
func (m *encryptedMatrixRoom) decryptedNotices(t *testing.T) []notice {
	t.Helper()
	var out []notice
	for _, ev := range m.reader.Received(m.room) {
		if ev.Sender.String() != m.botUser || ev.StateKey != nil {
			continue
		}
		if ev.Type != event.EventEncrypted {
			t.Fatalf("the bot posted a %s event in the encrypted room: %s", ev.Type.Type, ev.Content.VeryRaw)
		}
		dec, err := m.reader.Decrypted(ev.ID)
		if dec == nil {
			if err != nil {
				t.Fatalf("the reader cannot decrypt event %s of the bot: %v", ev.ID, err)
			}
			continue // still being decrypted
		}
		n := notice{}
		n.alertID, _ = dec.Content.Raw[matrix.AlertIDField].(string)
		n.msgtype, _ = dec.Content.Raw["msgtype"].(string)
		n.body, _ = dec.Content.Raw["body"].(string)
		n.html, _ = dec.Content.Raw["formatted_body"].(string)
		out = append(out, n)
	}
	return out
}

// TestMatrixEncryptedCrashMidDelivery: run --once is killed with SIGKILL
// while it posts 50 alerts to an encrypted room. A second run delivers the
// rest: the reader decrypts every alert exactly once, and an alert
// published after the restart decrypts too.
func TestMatrixEncryptedCrashMidDelivery(t *testing.T) {
	t.Parallel()
	const total = 50
	mx := newEncryptedMatrixRoom(t)
	fx := testenv.NewFixtureServer(t)
	items := e2eharness.NumberedItems("Encrypted cyber briefing", "https://news.example.org/e2ee", total, recent())
	fx.Set("/bulk.rss", e2eharness.RSS("Bulk", fx.URL, items), e2eharness.RSSContentType)

	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_TOKEN="+mx.botToken, "MATRIX_PICKLE_KEY="+e2eePickleKey)
	env.WriteConfig(encryptedConfig(setup{
		dataDir: env.DataDir(), matrixURL: mx.hs.URL, matrixUser: mx.botUser,
		sources:  []source{{id: "bulk", url: fx.URL + "/bulk.rss"}},
		channels: []channel{{id: "room", matrix: string(mx.room)}},
	}))

	p := env.Start("run", "--once")
	e2eharness.Eventually(t, 90*time.Second, "the reader to decrypt the first alerts", func() bool {
		if !p.Running() {
			t.Fatalf("run --once ended before it could be killed mid-delivery (reader has %d)\n%s", len(mx.decryptedNotices(t)), p.Stderr())
		}
		return len(mx.decryptedNotices(t)) >= 1
	})
	p.Kill()
	seen := len(mx.decryptedNotices(t))
	if seen >= total {
		t.Fatalf("after SIGKILL the reader has %d of %d alerts; the kill did not land mid-delivery", seen, total)
	}
	t.Logf("killed with %d of %d alerts decrypted", seen, total)

	if r := env.Run(120*time.Second, "run", "--once"); r.Code != 0 {
		t.Fatalf("run --once after the crash failed\n%s", r)
	}
	var want []string
	for _, it := range items {
		want = append(want, it.Title)
	}
	e2eharness.Eventually(t, 60*time.Second, "the reader to decrypt every alert", func() bool {
		return matrixDeliveries(mx.decryptedNotices(t)).has(want)
	})

	// An alert after the restart: the restarted device still encrypts so
	// that the reader can read it.
	items = append(items, e2eharness.FeedItem{Title: "Encrypted cyber briefing after the restart", Link: "https://news.example.org/e2ee/after", Description: "A statement on cyber diplomacy.", Published: recent().Add(time.Minute)})
	fx.Set("/bulk.rss", e2eharness.RSS("Bulk", fx.URL, items), e2eharness.RSSContentType)
	if r := env.Run(60*time.Second, "run", "--once"); r.Code != 0 {
		t.Fatalf("run --once with a new alert failed\n%s", r)
	}
	want = append(want, items[len(items)-1].Title)
	e2eharness.Eventually(t, 60*time.Second, "the reader to decrypt the alert posted after the restart", func() bool {
		return matrixDeliveries(mx.decryptedNotices(t)).has(want)
	})
	// A second copy would follow the first at once; one more marker of
	// the reader's makes sure the reader has seen everything before it.
	settleEncrypted(t, mx)
	matrixDeliveries(mx.decryptedNotices(t)).checkExactlyOnce(t, "encrypted room", want)
}

// settleEncrypted waits until the reader has synced a marker it sends now,
// so every earlier event of the room has reached it.
func settleEncrypted(t *testing.T, mx *encryptedMatrixRoom) {
	t.Helper()
	ctx := t.Context()
	marker, err := mx.reader.SendEncrypted(ctx, mx.room, &event.MessageEventContent{MsgType: event.MsgNotice, Body: "(reader's marker)"})
	if err != nil {
		t.Fatalf("reader sends a marker: %v", err)
	}
	e2eharness.Eventually(t, 30*time.Second, "the reader's marker to come back", func() bool {
		for _, ev := range mx.reader.Received(mx.room) {
			if ev.ID == marker {
				return true
			}
		}
		return false
	})
}

// TestMatrixLostCryptoStoreStopsTheStart: the crypto store is deleted
// while the access token is kept. The next start fails with an error that
// says what happened and how to fix it, and the alerts waiting in the
// outbox are left as they were.
func TestMatrixLostCryptoStoreStopsTheStart(t *testing.T) {
	t.Parallel()
	mx := newEncryptedMatrixRoom(t)
	proxy := e2eharness.NewChaosProxy(t, mx.hs.URL)
	fx := testenv.NewFixtureServer(t)
	fx.Set("/bulk.rss", e2eharness.RSS("Bulk", fx.URL, e2eharness.NumberedItems("Kept briefing", "https://news.example.org/kept", 3, recent())), e2eharness.RSSContentType)
	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_TOKEN="+mx.botToken, "MATRIX_PICKLE_KEY="+e2eePickleKey)
	env.WriteConfig(encryptedConfig(setup{
		dataDir: env.DataDir(), matrixURL: proxy.URL, matrixUser: mx.botUser,
		sources:  []source{{id: "bulk", url: fx.URL + "/bulk.rss"}},
		channels: []channel{{id: "room", matrix: string(mx.room)}},
	}))
	// The first run makes the device and its store, but every post fails,
	// so the alerts stay in the outbox.
	proxy.SetRule(func(r *http.Request, _ []byte) *e2eharness.ProxyFault {
		if e2eharness.IsMatrixSend(r) {
			return &e2eharness.ProxyFault{Status: http.StatusBadGateway, Body: "down"}
		}
		return nil
	})
	if r := env.Run(60*time.Second, "run", "--once", "--drain-timeout", "2s"); r.Code == 0 {
		t.Fatalf("run --once with every post failing succeeded\n%s", r)
	}
	before := outboxRows(t, env)
	if len(before) != 3 {
		t.Fatalf("the outbox holds %d rows after the failed run, want 3", len(before))
	}
	storePath := filepath.Join(env.DataDir(), "matrix-crypto.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(storePath + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	proxy.SetRule(nil)
	r := env.Run(60*time.Second, "run", "--once")
	if r.Code == 0 {
		t.Fatalf("run --once with the crypto store gone succeeded\n%s", r)
	}
	for _, want := range []string{"does not know", storePath, "fix: restore"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("the error does not say %q:\n%s", want, r.Stderr)
		}
	}
	if strings.Contains(r.Stderr+r.Stdout, e2eePickleKey) || strings.Contains(r.Stderr+r.Stdout, mx.botToken) {
		t.Errorf("the output shows a secret:\n%s", r)
	}
	after := outboxRows(t, env)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the outbox changed:\nbefore %v\nafter  %v", before, after)
	}
	for _, ev := range mx.reader.Received(mx.room) {
		if ev.Sender.String() == mx.botUser && ev.StateKey == nil {
			t.Errorf("the bot posted %s with its crypto store gone", ev.Type.Type)
		}
	}
}

// outboxRows describes the rows of the room's outbox: alert, attempts,
// parked.
func outboxRows(t *testing.T, env *e2eharness.Env) []string {
	t.Helper()
	st, err := store.Open(filepath.Join(env.DataDir(), "policywire.db"), store.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Outbox("room", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s/%d/%v", r.Alert.ID, r.Attempts, r.Parked))
	}
	return out
}

// TestMatrixPasswordLoginSetupBackupAndRestore: with matrix.password the
// bot logs in once and keeps its device across starts; `matrix setup`
// cross-signs the device and prints a recovery key; `backup` copies the
// crypto store, which restored into the data dir works again, as does
// `matrix setup --recovery-key` with the key printed before.
func TestMatrixPasswordLoginSetupBackupAndRestore(t *testing.T) {
	t.Parallel()
	hs := homeserver.Get(t)
	suffix := randomSuffix()
	botLocal := "bot-" + suffix
	botID, _ := hs.Register(t, botLocal, false)
	reader := hs.NewCryptoReader(t, "reader-"+suffix)
	mx := &encryptedMatrixRoom{hs: hs, reader: reader, room: reader.CreateEncryptedRoom(t, id.UserID(botID)), botUser: botID}
	fx := testenv.NewFixtureServer(t)
	var items []e2eharness.FeedItem
	publish := func(title string) string {
		items = append(items, e2eharness.FeedItem{Title: title, Link: "https://news.example.org/pw/" + fmt.Sprint(len(items)), Description: "A statement on cyber diplomacy.", Published: recent().Add(time.Duration(len(items)) * time.Second)})
		fx.Set("/pw.rss", e2eharness.RSS("Password", fx.URL, items), e2eharness.RSSContentType)
		return title
	}
	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_PASSWORD="+hs.Password(botLocal), "MATRIX_PICKLE_KEY="+e2eePickleKey)
	env.WriteConfig(withConfig(setup{
		dataDir: env.DataDir(), matrixURL: hs.URL, matrixUser: botID,
		sources:  []source{{id: "pw", url: fx.URL + "/pw.rss"}},
		channels: []channel{{id: "room", matrix: string(mx.room)}},
	}.yaml(), "  access_token: ${MATRIX_TOKEN}\n", "  password: ${MATRIX_PASSWORD}\n  pickle_key: ${MATRIX_PICKLE_KEY}\n"))
	sessionFile := filepath.Join(env.DataDir(), "matrix-session.json")
	deviceOf := func() string {
		t.Helper()
		raw, err := os.ReadFile(sessionFile)
		if err != nil {
			t.Fatalf("the saved login: %v", err)
		}
		var s matrix.Session
		if err := json.Unmarshal(raw, &s); err != nil || s.DeviceID == "" {
			t.Fatalf("the saved login %s: %v", raw, err)
		}
		return s.DeviceID
	}
	var want []string
	deliver := func(title string) {
		t.Helper()
		want = append(want, publish(title))
		if r := env.Run(60*time.Second, "run", "--once"); r.Code != 0 {
			t.Fatalf("run --once failed\n%s", r)
		}
		e2eharness.Eventually(t, 60*time.Second, "the reader to decrypt "+title, func() bool {
			return matrixDeliveries(mx.decryptedNotices(t)).has(want)
		})
	}

	deliver("Password login briefing one")
	device := deviceOf()
	if fi, err := os.Stat(sessionFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the saved login is %v (%v), want mode 0600", fi.Mode(), err)
	}
	deliver("Password login briefing two")
	if again := deviceOf(); again != device {
		t.Errorf("the second start used device %s, want the first start's %s", again, device)
	}
	for _, ev := range mx.reader.Received(mx.room) {
		if ev.Sender.String() == botID && ev.Type == event.EventEncrypted {
			//lint:ignore SA1019 the deprecated field names the sending device
			if got := ev.Content.AsEncrypted().DeviceID; got != id.DeviceID(device) {
				t.Errorf("event %s was encrypted by device %s, want %s", ev.ID, got, device)
			}
		}
	}

	r := env.Run(60*time.Second, "matrix", "setup")
	if r.Code != 0 {
		t.Fatalf("matrix setup failed\n%s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	recoveryKey := lines[len(lines)-1]
	if len(strings.Fields(recoveryKey)) < 8 {
		t.Fatalf("matrix setup printed no recovery key:\n%s", r.Stdout)
	}
	checkCrossSigned(t, mx.reader, botID, device)

	out := filepath.Join(env.Dir, "backup.db")
	if r := env.Run(30*time.Second, "backup", out); r.Code != 0 {
		t.Fatalf("backup failed\n%s", r)
	}
	storePath := filepath.Join(env.DataDir(), "matrix-crypto.db")
	copied, err := os.ReadFile(out + ".matrix-crypto.db")
	if err != nil {
		t.Fatalf("backup wrote no crypto store: %v", err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(storePath + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(storePath, copied, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := env.RunInput(60*time.Second, recoveryKey+"\n", "matrix", "setup", "--recovery-key"); r.Code != 0 {
		t.Fatalf("matrix setup --recovery-key after the restore failed\n%s", r)
	}
	checkCrossSigned(t, mx.reader, botID, device)
	deliver("Briefing after the restore")
	settleEncrypted(t, mx)
	matrixDeliveries(mx.decryptedNotices(t)).checkExactlyOnce(t, "encrypted room", want)
}

// checkCrossSigned checks, as the reader sees the bot's keys, that the
// bot has cross-signing keys and that its device is signed by its
// self-signing key.
func checkCrossSigned(t *testing.T, reader *testenv.CryptoReader, botID, device string) {
	t.Helper()
	resp, err := reader.Client.QueryKeys(t.Context(), &mautrix.ReqQueryKeys{DeviceKeys: map[id.UserID]mautrix.DeviceIDList{id.UserID(botID): nil}})
	if err != nil {
		t.Fatalf("query the bot's keys: %v", err)
	}
	self, ok := resp.SelfSigningKeys[id.UserID(botID)]
	if !ok || len(self.Keys) == 0 {
		t.Fatalf("the bot has no self-signing key on the server")
	}
	dev, ok := resp.DeviceKeys[id.UserID(botID)][id.DeviceID(device)]
	if !ok {
		t.Fatalf("the bot's device %s is not on the server", device)
	}
	for keyID := range self.Keys {
		if _, signed := dev.Signatures[id.UserID(botID)][keyID]; signed {
			return
		}
	}
	t.Errorf("device %s is not signed by the bot's self-signing key; signatures: %v", device, dev.Signatures)
}

// TestMatrixRoomSwitchedToEncryptionBetweenPolls: the first poll's alert
// goes to a plain room in clear; the room then turns encryption on, and
// the second poll's alert arrives encrypted and decrypts.
func TestMatrixRoomSwitchedToEncryptionBetweenPolls(t *testing.T) {
	t.Parallel()
	hs := homeserver.Get(t)
	suffix := randomSuffix()
	botID, botToken := hs.Register(t, "bot-"+suffix, false)
	reader := hs.NewCryptoReader(t, "reader-"+suffix)
	resp, err := reader.Client.CreateRoom(t.Context(), &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{id.UserID(botID)}})
	if err != nil {
		t.Fatalf("create a plain room: %v", err)
	}
	mx := &encryptedMatrixRoom{hs: hs, reader: reader, room: resp.RoomID, botUser: botID, botToken: botToken}
	fx := testenv.NewFixtureServer(t)
	items := []e2eharness.FeedItem{{Title: "Briefing in a plain room", Link: "https://news.example.org/switch/1", Description: "A statement on cyber diplomacy.", Published: recent()}}
	fx.Set("/switch.rss", e2eharness.RSS("Switch", fx.URL, items), e2eharness.RSSContentType)
	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_TOKEN="+botToken, "MATRIX_PICKLE_KEY="+e2eePickleKey)
	env.WriteConfig(encryptedConfig(setup{
		dataDir: env.DataDir(), matrixURL: hs.URL, matrixUser: botID,
		sources:  []source{{id: "switch", url: fx.URL + "/switch.rss"}},
		channels: []channel{{id: "room", matrix: string(mx.room)}},
	}))
	if r := env.Run(60*time.Second, "run", "--once"); r.Code != 0 {
		t.Fatalf("first poll failed\n%s", r)
	}
	if _, err := reader.Client.SendStateEvent(t.Context(), mx.room, event.StateEncryption, "", &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}); err != nil {
		t.Fatalf("turn encryption on: %v", err)
	}
	items = append(items, e2eharness.FeedItem{Title: "Briefing in the room now encrypted", Link: "https://news.example.org/switch/2", Description: "A statement on cyber diplomacy.", Published: recent().Add(time.Minute)})
	fx.Set("/switch.rss", e2eharness.RSS("Switch", fx.URL, items), e2eharness.RSSContentType)
	if r := env.Run(60*time.Second, "run", "--once"); r.Code != 0 {
		t.Fatalf("second poll failed\n%s", r)
	}
	settleEncrypted(t, mx)
	var plain, encrypted []string
	for _, ev := range reader.Received(mx.room) {
		if ev.Sender.String() != botID || ev.StateKey != nil {
			continue
		}
		switch ev.Type {
		case event.EventMessage:
			b, _ := ev.Content.Raw["body"].(string)
			plain = append(plain, firstLine(b))
		case event.EventEncrypted:
			e2eharness.Eventually(t, 30*time.Second, "the reader to decrypt "+ev.ID.String(), func() bool {
				dec, derr := reader.Decrypted(ev.ID)
				if derr != nil && dec == nil {
					t.Fatalf("the reader cannot decrypt %s: %v", ev.ID, derr)
				}
				if dec != nil {
					b, _ := dec.Content.Raw["body"].(string)
					encrypted = append(encrypted, firstLine(b))
				}
				return dec != nil
			})
		default:
			t.Errorf("the bot posted a %s event", ev.Type.Type)
		}
	}
	if len(plain) != 1 || !strings.Contains(plain[0], items[0].Title) {
		t.Errorf("plain alerts %q, want the first poll's only", plain)
	}
	if len(encrypted) != 1 || !strings.Contains(encrypted[0], items[1].Title) {
		t.Errorf("encrypted alerts %q, want the second poll's only", encrypted)
	}
}

// TestMatrixEncryptedRoomWithoutPickleKeyParks: with encryption off, an
// alert for an encrypted room is parked, never sent in clear, and the
// reason shows in run --once's exit and in `sources`.
func TestMatrixEncryptedRoomWithoutPickleKeyParks(t *testing.T) {
	t.Parallel()
	mx := newEncryptedMatrixRoom(t)
	fx := testenv.NewFixtureServer(t)
	fx.Set("/p.rss", e2eharness.RSS("P", fx.URL, e2eharness.NumberedItems("Parked briefing", "https://news.example.org/parked", 2, recent())), e2eharness.RSSContentType)
	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_TOKEN="+mx.botToken)
	env.WriteConfig(setup{
		dataDir: env.DataDir(), matrixURL: mx.hs.URL, matrixUser: mx.botUser,
		sources:  []source{{id: "p", url: fx.URL + "/p.rss"}},
		channels: []channel{{id: "room", matrix: string(mx.room)}},
	}.yaml())
	r := env.Run(60*time.Second, "run", "--once")
	if r.Code == 0 || !strings.Contains(r.Stderr, "encryption is off (set matrix.pickle_key)") {
		t.Fatalf("run --once into an encrypted room without a pickle key: want exit 1 naming matrix.pickle_key\n%s", r)
	}
	var room *bot.ChannelReport
	rep := env.Sources()
	for i := range rep.Channels {
		if rep.Channels[i].ID == "room" {
			room = &rep.Channels[i]
		}
	}
	if room == nil || room.Parked != 2 || !strings.Contains(room.Reason, "is encrypted and encryption is off") {
		t.Errorf("sources shows %+v for the room, want 2 parked with the reason", room)
	}
	settleEncrypted(t, mx)
	for _, ev := range mx.reader.Received(mx.room) {
		if ev.Sender.String() == mx.botUser && ev.StateKey == nil {
			t.Errorf("the bot posted %s into the encrypted room: %s", ev.Type.Type, ev.Content.VeryRaw)
		}
	}
}

// TestMatrixDaemonAnswersEncryptedSearch: the daemon, with encryption on,
// answers an encrypted `!pw search` in an encrypted room with an encrypted
// reply that the reader decrypts.
func TestMatrixDaemonAnswersEncryptedSearch(t *testing.T) {
	t.Parallel()
	mx := newEncryptedMatrixRoom(t)
	fx := testenv.NewFixtureServer(t)
	fx.Set("/council.rss", testenv.SourceFixture(t, "council-press.rss"), testenv.ContentTypeFor("council-press.rss"))
	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_TOKEN="+mx.botToken, "MATRIX_PICKLE_KEY="+e2eePickleKey)
	env.WriteConfig(encryptedConfig(setup{
		dataDir: env.DataDir(), matrixURL: mx.hs.URL, matrixUser: mx.botUser,
		topics:   map[string]string{"fisheries": `title:fisheries AND title:pacific`},
		sources:  []source{{id: "council-press", url: fx.URL + "/council.rss"}},
		channels: []channel{{id: "room", matrix: string(mx.room), topics: []string{"fisheries"}}},
	}))
	proc := env.Start("run")
	proc.WaitLog(30*time.Second, "the first poll of council-press", func(r e2eharness.LogRecord) bool {
		return r.Msg() == "poll" && r.Str("source") == "council-press"
	})
	proc.WaitLog(30*time.Second, "the listener's first sync", func(r e2eharness.LogRecord) bool {
		return strings.HasPrefix(r.Msg(), "matrix: first start")
	})
	e2eharness.Eventually(t, 30*time.Second, "the reader to see the bot in the room", func() bool {
		return mx.reader.Knows(mx.room, id.UserID(mx.botUser))
	})
	cmd, err := mx.reader.SendEncrypted(t.Context(), mx.room, &event.MessageEventContent{MsgType: event.MsgText, Body: "!pw search digital diplomacy"})
	if err != nil {
		t.Fatalf("send the command: %v", err)
	}
	var reply string
	e2eharness.Eventually(t, 60*time.Second, "a decrypted reply to the encrypted command", func() bool {
		for _, ev := range mx.reader.Received(mx.room) {
			if ev.Sender.String() != mx.botUser || ev.StateKey != nil {
				continue
			}
			if ev.Type != event.EventEncrypted {
				t.Fatalf("the bot posted a %s event in the encrypted room", ev.Type.Type)
			}
			dec, _ := mx.reader.Decrypted(ev.ID)
			if dec == nil {
				continue
			}
			rel, _ := dec.Content.Raw["m.relates_to"].(map[string]any)
			inReply, _ := rel["m.in_reply_to"].(map[string]any)
			if inReply["event_id"] == cmd.String() {
				reply, _ = dec.Content.Raw["body"].(string)
				return true
			}
		}
		return false
	})
	if !strings.Contains(reply, "Digital diplomacy: Council approves conclusions") {
		t.Errorf("the decrypted reply does not name the Council conclusions:\n%s", reply)
	}
	proc.Signal(syscall.SIGTERM)
	if code, _ := proc.Wait(15 * time.Second); code != 0 {
		t.Fatalf("daemon exit %d\n%s", code, proc.Stderr())
	}
}
