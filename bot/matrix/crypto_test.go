//go:build goolm

package matrix

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/internal/testenv"
)

const testPickleKey = "a-test-pickle-key-of-32-characters"

// encryptedRoom is an encrypted room created by a reader with its own
// crypto, which the bot (encrypting, its store in a temp dir) has joined.
type encryptedRoom struct {
	hs        *testenv.Dendrite
	reader    *testenv.CryptoReader
	sender    *Sender
	botID     string
	botToken  string
	storePath string
	room      id.RoomID
}

func newEncryptedRoom(t *testing.T) *encryptedRoom {
	t.Helper()
	hs := homeserver.Get(t)
	ctx := testContext(t)
	botID, botToken := hs.Register(t, uniqueLocalpart(t, "bot"), false)
	reader := hs.NewCryptoReader(t, uniqueLocalpart(t, "reader"))
	room := reader.CreateEncryptedRoom(t, id.UserID(botID))
	e := &encryptedRoom{hs: hs, reader: reader, botID: botID, botToken: botToken, storePath: filepath.Join(t.TempDir(), "matrix-crypto.db"), room: room}
	e.sender = e.newEncryptingSender(t)
	if err := e.sender.JoinRooms(ctx, []string{room.String()}); err != nil {
		t.Fatalf("JoinRooms: %v", err)
	}
	return e
}

// newEncryptingSender is a Sender of the bot's token with encryption on.
func (e *encryptedRoom) newEncryptingSender(t *testing.T) *Sender {
	t.Helper()
	s := newSender(t, e.hs, e.botID, e.botToken)
	s.log = testLogger(t)
	ctx := testContext(t)
	if err := s.Whoami(ctx); err != nil {
		t.Fatalf("Whoami: %v", err)
	}
	if err := s.EnableEncryption(ctx, EncryptionOptions{StorePath: e.storePath, PickleKey: testPickleKey}); err != nil {
		t.Fatalf("EnableEncryption: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitEvent waits until the reader has received the event and returns it
// as received.
func waitEvent(t *testing.T, r *testenv.CryptoReader, room id.RoomID, evID string) *event.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, ev := range r.Received(room) {
			if ev.ID.String() == evID {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has not received %s after 30s", r.UserID, evID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitDecrypted waits until the reader has decrypted the event.
func waitDecrypted(t *testing.T, r *testenv.CryptoReader, evID string) *event.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		dec, err := r.Decrypted(id.EventID(evID))
		if dec != nil {
			return dec
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s could not decrypt %s after 30s: %v", r.UserID, evID, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// botTimeline is every non-state event the bot put in the room, as the
// reader received it.
func botTimeline(r *testenv.CryptoReader, room id.RoomID, botID string) []*event.Event {
	var out []*event.Event
	for _, ev := range r.Received(room) {
		if ev.Sender.String() == botID && ev.StateKey == nil {
			out = append(out, ev)
		}
	}
	return out
}

func TestEncryptedRoomGetsOnlyMegolmEventsThatDecryptToThePlainContent(t *testing.T) {
	e := newEncryptedRoom(t)
	ctx := testContext(t)
	var ids []string
	for _, a := range []policywire.Alert{fullAlert(), plainAlert()} {
		evID, err := e.sender.Send(ctx, e.room.String(), a)
		if err != nil {
			t.Fatalf("Send %s: %v", a.ID, err)
		}
		ids = append(ids, evID)
	}
	if err := e.sender.SendNotice(ctx, e.room.String(), "Source council-press has failed 3 times."); err != nil {
		t.Fatalf("SendNotice: %v", err)
	}
	digestIDs, err := e.sender.SendDigest(ctx, e.room.String(), policywire.Digest{ID: "digest-e2ee", Channel: "room", Title: "policywire digest: 2 new items", Alerts: []policywire.Alert{fullAlert(), plainAlert()}})
	if err != nil {
		t.Fatalf("SendDigest: %v", err)
	}
	for i, name := range []string{"alert_full.json", "alert_plain.json"} {
		waitEvent(t, e.reader, e.room, ids[i])
		dec := waitDecrypted(t, e.reader, ids[i])
		if dec.Type != event.EventMessage {
			t.Errorf("alert %d decrypts to %s, want m.room.message", i, dec.Type.Type)
		}
		// The golden files hold what a plain room receives.
		golden(t, name, contentJSON(t, dec))
	}
	last := digestIDs[len(digestIDs)-1]
	waitEvent(t, e.reader, e.room, last)
	if dec := waitDecrypted(t, e.reader, last); !strings.Contains(body(t, dec), fullAlert().Item.Title) && !strings.Contains(body(t, dec), plainAlert().Item.Title) {
		t.Errorf("digest decrypts to %q, which names neither alert", body(t, dec))
	}
	timeline := botTimeline(e.reader, e.room, e.botID)
	if len(timeline) != 3+len(digestIDs) {
		t.Fatalf("the reader received %d events of the bot, want %d", len(timeline), 3+len(digestIDs))
	}
	for _, ev := range timeline {
		if ev.Type != event.EventEncrypted {
			t.Errorf("event %s of the bot is %s, want m.room.encrypted", ev.ID, ev.Type.Type)
			continue
		}
		if alg := ev.Content.AsEncrypted().Algorithm; alg != id.AlgorithmMegolmV1 {
			t.Errorf("event %s is encrypted with %s, want Megolm", ev.ID, alg)
		}
		if waitDecrypted(t, e.reader, ev.ID.String()) == nil {
			t.Errorf("event %s does not decrypt", ev.ID)
		}
	}
}

func TestEncryptedSendIsIdempotentAndFoundInHistory(t *testing.T) {
	e := newEncryptedRoom(t)
	ctx := testContext(t)
	a := fullAlert()
	first, err := e.sender.Send(ctx, e.room.String(), a)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	again, err := e.sender.Send(ctx, e.room.String(), a)
	if err != nil {
		t.Fatalf("Send again: %v", err)
	}
	if again != first {
		t.Errorf("a second send of the same alert gave event %s, want the first, %s", again, first)
	}
	// After a restart (same device, store reopened) the bot finds the
	// encrypted copy by decrypting its own history.
	if err := e.sender.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	restarted := e.newEncryptingSender(t)
	rc, err := restarted.roomCryptoNow(ctx)
	if err != nil || rc == nil {
		t.Fatalf("crypto after the restart: %v", err)
	}
	found, err := restarted.findAlert(ctx, e.room, a.ID)
	if err != nil {
		t.Fatalf("findAlert: %v", err)
	}
	if found.String() != first {
		t.Errorf("the history check found %q, want the earlier copy %s", found, first)
	}
	checked, err := restarted.SendChecked(ctx, e.room.String(), a)
	if err != nil || checked != first {
		t.Errorf("SendChecked = %q, %v; want the earlier copy %s", checked, err, first)
	}
	waitEvent(t, e.reader, e.room, first)
	if n := len(botTimeline(e.reader, e.room, e.botID)); n != 1 {
		t.Errorf("the reader received %d events of the bot, want 1", n)
	}
}

func TestRoomSwitchedToEncryptionGetsEncryptedAlertsFromThen(t *testing.T) {
	f := setupRoom(t)
	ctx := testContext(t)
	e := &encryptedRoom{hs: f.hs, botID: f.botID, botToken: f.token, storePath: filepath.Join(t.TempDir(), "matrix-crypto.db")}
	s := e.newEncryptingSender(t)
	before, err := s.Send(ctx, f.room, plainAlert())
	if err != nil {
		t.Fatalf("Send before: %v", err)
	}
	if _, err := f.reader.SendStateEvent(ctx, id.RoomID(f.room), event.StateEncryption, "", &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}); err != nil {
		t.Fatalf("turn encryption on: %v", err)
	}
	after, err := s.Send(ctx, f.room, fullAlert())
	if err != nil {
		t.Fatalf("Send after: %v", err)
	}
	// dendrite files events asynchronously: wait until /messages shows
	// both.
	types := map[string]event.Type{}
	deadline := time.Now().Add(30 * time.Second)
	for types[before].Type == "" || types[after].Type == "" {
		if time.Now().After(deadline) {
			t.Fatalf("/messages does not show both alerts after 30s: %v", types)
		}
		resp, err := f.reader.Messages(ctx, id.RoomID(f.room), "", "", mautrix.DirectionBackward, nil, 100)
		if err != nil {
			t.Fatalf("messages: %v", err)
		}
		for _, ev := range resp.Chunk {
			types[ev.ID.String()] = ev.Type
		}
		time.Sleep(20 * time.Millisecond)
	}
	if types[before] != event.EventMessage {
		t.Errorf("the alert before the switch is %s, want m.room.message", types[before].Type)
	}
	if types[after] != event.EventEncrypted {
		t.Errorf("the alert after the switch is %s, want m.room.encrypted", types[after].Type)
	}
}

func TestEncryptedRoomWithoutEncryptionParksAndSendsNothing(t *testing.T) {
	e := newEncryptedRoom(t)
	ctx := testContext(t)
	plain := newSender(t, e.hs, e.botID, e.botToken)
	_, err := plain.Send(ctx, e.room.String(), plainAlert())
	var perm *bot.PermanentError
	if !errors.As(err, &perm) || !strings.Contains(perm.Reason, "encrypted") || !strings.Contains(perm.Reason, "matrix.pickle_key") {
		t.Fatalf("Send without encryption = %v, want a PermanentError naming the encryption and matrix.pickle_key", err)
	}
	// The reader sees nothing of the bot: a sentinel of its own shows
	// the server has processed everything before it.
	sentinel, err := e.reader.SendEncrypted(ctx, e.room, &event.MessageEventContent{MsgType: event.MsgText, Body: "sentinel"})
	if err != nil {
		t.Fatalf("send sentinel: %v", err)
	}
	waitEvent(t, e.reader, e.room, sentinel.String())
	if n := len(botTimeline(e.reader, e.room, e.botID)); n != 0 {
		t.Errorf("the reader received %d events of the bot, want none", n)
	}
}

func TestMemberJoiningLaterDecryptsWhatFollows(t *testing.T) {
	e := newEncryptedRoom(t)
	ctx := testContext(t)
	first, err := e.sender.Send(ctx, e.room.String(), plainAlert())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	waitDecrypted(t, e.reader, first)

	late := e.hs.NewCryptoReader(t, uniqueLocalpart(t, "late"))
	if _, err := e.reader.Client.InviteUser(ctx, e.room, &mautrix.ReqInviteUser{UserID: late.UserID}); err != nil {
		t.Fatalf("invite: %v", err)
	}
	if _, err := late.Client.JoinRoomByID(ctx, e.room); err != nil {
		t.Fatalf("join: %v", err)
	}
	second, err := e.sender.Send(ctx, e.room.String(), fullAlert())
	if err != nil {
		t.Fatalf("Send after the join: %v", err)
	}
	waitEvent(t, late, e.room, second)
	dec := waitDecrypted(t, late, second)
	if body(t, dec) == "" || !strings.Contains(body(t, dec), fullAlert().Item.Title) {
		t.Errorf("the late member decrypts %q, want the alert", body(t, dec))
	}
	// The first reader keeps reading too.
	if waitDecrypted(t, e.reader, second) == nil {
		t.Errorf("the first reader cannot decrypt the alert after the join")
	}
}

func TestCryptoStoreLostWhileTokenKeptIsAClearError(t *testing.T) {
	e := newEncryptedRoom(t)
	ctx := testContext(t)
	if _, err := e.sender.Send(ctx, e.room.String(), plainAlert()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if err := e.sender.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(e.storePath + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	s := newSender(t, e.hs, e.botID, e.botToken)
	if err := s.Whoami(ctx); err != nil {
		t.Fatalf("Whoami: %v", err)
	}
	err := s.EnableEncryption(ctx, EncryptionOptions{StorePath: e.storePath, PickleKey: testPickleKey})
	var perm *bot.PermanentError
	if !errors.As(err, &perm) {
		t.Fatalf("EnableEncryption on a lost store = %v, want a PermanentError", err)
	}
	for _, want := range []string{s.DeviceID(), e.storePath, "fix: restore"} {
		if !strings.Contains(perm.Reason, want) {
			t.Errorf("error %q does not name %q", perm.Reason, want)
		}
	}
	if strings.Contains(perm.Reason, testPickleKey) || strings.Contains(perm.Reason, e.botToken) {
		t.Errorf("error %q shows a secret", perm.Reason)
	}
	s.Close()
}

// An encrypted command is decrypted and answered with an encrypted reply
// that the reader decrypts.
func TestEncryptedCommandGetsAnEncryptedAnswer(t *testing.T) {
	le := newListenerEnv(t, false)
	e := newEncryptedRoom(t)
	le.room = e.room.String()
	le.sender = e.sender
	le.cfg.Channels[0].Matrix = e.room.String()
	stop := le.startListener(t, e.sender)
	defer stop()
	le.waitPrimed(t, "")
	ctx := testContext(t)
	deadline := time.Now().Add(30 * time.Second)
	for !e.reader.Knows(e.room, id.UserID(e.botID)) {
		if time.Now().After(deadline) {
			t.Fatalf("the reader does not see the bot in the room after 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd, err := e.reader.SendEncrypted(ctx, e.room, &event.MessageEventContent{MsgType: event.MsgText, Body: "!pw search digital diplomacy"})
	if err != nil {
		t.Fatalf("send the command: %v", err)
	}
	var answer *event.Event
	for answer == nil {
		for _, ev := range botTimeline(e.reader, e.room, e.botID) {
			if ev.Type != event.EventEncrypted {
				t.Fatalf("the bot answered with %s, want m.room.encrypted", ev.Type.Type)
			}
			if dec, _ := e.reader.Decrypted(ev.ID); dec != nil && replyTo(t, dec) == cmd.String() {
				answer = dec
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no decryptable answer to the encrypted command after 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(body(t, answer), "Council approves conclusions on EU digital diplomacy") {
		t.Errorf("answer = %q, want the matching archive item", body(t, answer))
	}
}

// A member's new device asks the bot for the key of an alert sent before
// it existed: refused while the member has not verified the device, sent
// once the member has cross-signed it.
func TestKeyRequestFromAMembersVerifiedDeviceIsAnswered(t *testing.T) {
	le := newListenerEnv(t, false)
	hs := homeserver.Get(t)
	ctx := testContext(t)
	botID, botToken := hs.Register(t, uniqueLocalpart(t, "bot"), false)
	readerLocal := uniqueLocalpart(t, "reader")
	first := hs.NewCryptoReader(t, readerLocal)
	room := first.CreateEncryptedRoom(t, id.UserID(botID))
	e := &encryptedRoom{hs: hs, reader: first, botID: botID, botToken: botToken, storePath: filepath.Join(t.TempDir(), "matrix-crypto.db"), room: room}
	e.sender = e.newEncryptingSender(t)
	if err := e.sender.JoinRooms(ctx, []string{room.String()}); err != nil {
		t.Fatalf("JoinRooms: %v", err)
	}
	le.room = room.String()
	le.cfg.Channels[0].Matrix = room.String()
	le.startListener(t, e.sender)

	alertID, err := e.sender.Send(ctx, room.String(), plainAlert())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	alert := waitEvent(t, first, room, alertID)
	waitDecrypted(t, first, alertID)
	content := alert.Content.AsEncrypted()

	second := hs.LoginCryptoReader(t, readerLocal, first.UserID.String())
	ask := func() {
		t.Helper()
		err := second.Machine.SendRoomKeyRequest(ctx, room, content.SenderKey, content.SessionID, "", map[id.UserID][]id.DeviceID{id.UserID(botID): {"*"}})
		if err != nil {
			t.Fatalf("key request: %v", err)
		}
	}
	// Not verified yet: the bot says the key is withheld.
	ask()
	deadline := time.Now().Add(30 * time.Second)
	for {
		withheld, err := second.Machine.CryptoStore.GetWithheldGroupSession(ctx, room, content.SessionID)
		if err == nil && withheld != nil {
			break
		}
		if sess, _ := second.Machine.CryptoStore.GetGroupSession(ctx, room, content.SessionID); sess != nil {
			t.Fatalf("the bot sent the room key to a device its owner has not verified")
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bot neither withheld nor sent the key after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The member cross-signs the new device from the first one.
	password := hs.Password(readerLocal)
	if _, _, err := first.Machine.GenerateAndUploadCrossSigningKeysWithPassword(ctx, password, ""); err != nil {
		t.Fatalf("cross-signing keys: %v", err)
	}
	devices, err := first.Machine.FetchKeys(ctx, []id.UserID{first.UserID}, true)
	if err != nil || devices[first.UserID][second.DeviceID] == nil {
		t.Fatalf("the second device's keys: %v", err)
	}
	if err := first.Machine.SignOwnDevice(ctx, devices[first.UserID][second.DeviceID]); err != nil {
		t.Fatalf("sign the second device: %v", err)
	}
	// Clients ask again until the key comes; so does this one.
	deadline = time.Now().Add(30 * time.Second)
	asked := time.Time{}
	for {
		if sess, _ := second.Machine.CryptoStore.GetGroupSession(ctx, room, content.SessionID); sess != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the verified second device never got the room key")
		}
		if time.Since(asked) > 2*time.Second {
			ask()
			asked = time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	dec, err := second.Machine.DecryptMegolmEvent(ctx, alert)
	if err != nil {
		t.Fatalf("the second device cannot decrypt the alert: %v", err)
	}
	if !strings.Contains(body(t, dec), plainAlert().Item.Title) {
		t.Errorf("the second device decrypts %q", body(t, dec))
	}
}

// A bot only invited to a plain room is refused by the homeserver as
// before (and the alert parked until it joins); the check for encryption
// does not mistake the room for an encrypted one.
func TestInvitedButNotJoinedPlainRoomIsForbiddenNotEncrypted(t *testing.T) {
	hs := homeserver.Get(t)
	ctx := testContext(t)
	botID, botToken := hs.Register(t, uniqueLocalpart(t, "bot"), false)
	readerID, readerToken := hs.Register(t, uniqueLocalpart(t, "reader"), false)
	reader := hs.Client(t, readerID, readerToken)
	room, err := reader.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{id.UserID(botID)}})
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	// dendrite answers an invited user's GET of any state event with
	// the create event's content.
	e := &encryptedRoom{hs: hs, botID: botID, botToken: botToken, storePath: filepath.Join(t.TempDir(), "matrix-crypto.db")}
	for name, s := range map[string]*Sender{"plain": newSender(t, hs, botID, botToken), "encrypting": e.newEncryptingSender(t)} {
		_, err = s.Send(ctx, room.RoomID.String(), plainAlert())
		var perm *bot.PermanentError
		if !errors.As(err, &perm) || !strings.Contains(perm.Reason, "cannot send to room") || !strings.Contains(perm.Reason, "M_FORBIDDEN") {
			t.Errorf("%s sender: Send to a room the bot is only invited to = %v, want the send's M_FORBIDDEN", name, err)
		}
	}
}
