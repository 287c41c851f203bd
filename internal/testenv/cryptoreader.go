//go:build goolm

package testenv

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/sqlstatestore"

	// The pure-Go SQLite driver, as policywire's own crypto store uses.
	_ "modernc.org/sqlite"
)

// CryptoReader is a Matrix user with a device of its own crypto, as a
// person's Element would be: mautrix-go's Olm machine on its SQL stores,
// fed by mautrix's own syncer. It syncs in the background from creation
// until the test ends and keeps every room event it sees, as received
// and, for encrypted ones, decrypted.
type CryptoReader struct {
	UserID   id.UserID
	DeviceID id.DeviceID
	Client   *mautrix.Client
	Machine  *crypto.OlmMachine

	mu       sync.Mutex
	received map[id.RoomID][]*event.Event // as the server sent them
	plain    map[id.EventID]*event.Event  // decrypted, by event id
	failures map[id.EventID]error         // decryption failures
}

// NewCryptoReader registers an account with a fresh device, publishes its
// keys and starts syncing.
func (d *Dendrite) NewCryptoReader(t testing.TB, localpart string) *CryptoReader {
	t.Helper()
	userID, token := d.Register(t, localpart, false)
	return d.cryptoReader(t, userID, token)
}

// LoginCryptoReader is another device of an account made by
// NewCryptoReader: a new login, as the person's second client.
func (d *Dendrite) LoginCryptoReader(t testing.TB, localpart, userID string) *CryptoReader {
	t.Helper()
	return d.cryptoReader(t, userID, d.Login(t, localpart))
}

func (d *Dendrite) cryptoReader(t testing.TB, userID, token string) *CryptoReader {
	t.Helper()
	cli := d.Client(t, userID, token)
	cli.Client = &http.Client{}
	ctx, cancel := context.WithCancel(context.Background())
	who, err := cli.Whoami(ctx)
	if err != nil {
		cancel()
		t.Fatalf("testenv: whoami of %s: %v", userID, err)
	}
	cli.DeviceID = who.DeviceID
	// mautrix's memory stores are not safe for the syncer and the test
	// using them at once; its SQL stores are.
	stateDB, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "reader-state.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		cancel()
		t.Fatalf("testenv: state store of %s: %v", userID, err)
	}
	t.Cleanup(func() { stateDB.Close() })
	db, err := dbutil.NewWithDB(stateDB, "sqlite3")
	if err != nil {
		cancel()
		t.Fatalf("testenv: state store of %s: %v", userID, err)
	}
	state := sqlstatestore.NewSQLStateStore(db, dbutil.NoopLogger, false)
	if err := state.Upgrade(ctx); err != nil {
		cancel()
		t.Fatalf("testenv: state store of %s: %v", userID, err)
	}
	cli.StateStore = state
	cli.Store = mautrix.NewMemorySyncStore()
	log := zerolog.Nop()
	keys := crypto.NewSQLCryptoStore(db, dbutil.NoopLogger, "", who.DeviceID, []byte("testenv-reader-pickle-key"))
	if err := keys.DB.Upgrade(ctx); err != nil {
		cancel()
		t.Fatalf("testenv: crypto store of %s: %v", userID, err)
	}
	mach := crypto.NewOlmMachine(cli, &log, keys, state)
	mach.SendKeysMinTrust = id.TrustStateUnset
	if err := mach.Load(ctx); err != nil {
		cancel()
		t.Fatalf("testenv: olm account of %s: %v", userID, err)
	}
	if err := mach.ShareKeys(ctx, -1); err != nil {
		cancel()
		t.Fatalf("testenv: publish the keys of %s: %v", userID, err)
	}
	r := &CryptoReader{
		UserID: id.UserID(userID), DeviceID: who.DeviceID, Client: cli, Machine: mach,
		received: map[id.RoomID][]*event.Event{}, plain: map[id.EventID]*event.Event{}, failures: map[id.EventID]error{},
	}
	syncer := mautrix.NewDefaultSyncer()
	syncer.OnSync(mach.ProcessSyncResponse)
	syncer.OnEvent(cli.StateStoreSyncHandler)
	syncer.OnEventType(event.StateMember, mach.HandleMemberEvent)
	syncer.OnEvent(r.keep)
	cli.Syncer = syncer
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := cli.SyncWithContext(ctx); err != nil && ctx.Err() == nil {
				time.Sleep(200 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return r
}

func (r *CryptoReader) keep(ctx context.Context, ev *event.Event) {
	if ev.Type.Class == event.ToDeviceEventType || ev.Type.Class == event.EphemeralEventType || ev.Type.Class == event.AccountDataEventType || ev.RoomID == "" {
		return
	}
	r.mu.Lock()
	r.received[ev.RoomID] = append(r.received[ev.RoomID], ev)
	r.mu.Unlock()
	if ev.Type != event.EventEncrypted {
		return
	}
	dec, err := r.decrypt(ctx, ev)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failures[ev.ID] = err
		return
	}
	delete(r.failures, ev.ID)
	r.plain[ev.ID] = dec
}

// decrypt waits a little for a room key that was sent with the event but
// is still on its way, as clients do.
func (r *CryptoReader) decrypt(ctx context.Context, ev *event.Event) (*event.Event, error) {
	dec, err := r.Machine.DecryptMegolmEvent(ctx, ev)
	if errors.Is(err, crypto.ErrNoSessionFound) {
		content := ev.Content.AsEncrypted()
		if r.Machine.WaitForSession(ctx, ev.RoomID, content.SenderKey, content.SessionID, 10*time.Second) {
			dec, err = r.Machine.DecryptMegolmEvent(ctx, ev)
		}
	}
	return dec, err
}

// Received is every room event seen in the room, in order, as the server
// sent it.
func (r *CryptoReader) Received(room id.RoomID) []*event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*event.Event(nil), r.received[room]...)
}

// Decrypted is the plaintext event of an encrypted event the reader
// received, or the error decrypting it gave (nil, nil: not seen yet).
func (r *CryptoReader) Decrypted(evID id.EventID) (*event.Event, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.plain[evID], r.failures[evID]
}

// CreateEncryptedRoom creates a private room with Megolm encryption on
// and invites the users.
func (r *CryptoReader) CreateEncryptedRoom(t testing.TB, invite ...id.UserID) id.RoomID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := r.Client.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset: "private_chat", Invite: invite,
		InitialState: []*event.Event{{
			Type:    event.StateEncryption,
			Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
		}},
	})
	if err != nil {
		t.Fatalf("testenv: create an encrypted room: %v", err)
	}
	return resp.RoomID
}

// SendEncrypted sends an m.room.message encrypted for the room's members
// as the reader's state store knows them.
func (r *CryptoReader) SendEncrypted(ctx context.Context, room id.RoomID, content *event.MessageEventContent) (id.EventID, error) {
	enc, err := r.Machine.EncryptMegolmEvent(ctx, room, event.EventMessage, content)
	if errors.Is(err, crypto.ErrNoGroupSession) || errors.Is(err, crypto.ErrSessionExpired) || errors.Is(err, crypto.ErrSessionNotShared) {
		members, merr := r.Client.StateStore.GetRoomJoinedOrInvitedMembers(ctx, room)
		if merr != nil {
			return "", merr
		}
		if err := r.Machine.ShareGroupSession(ctx, room, members); err != nil {
			return "", err
		}
		enc, err = r.Machine.EncryptMegolmEvent(ctx, room, event.EventMessage, content)
	}
	if err != nil {
		return "", err
	}
	resp, err := r.Client.SendMessageEvent(ctx, room, event.EventEncrypted, enc, mautrix.ReqSendEvent{DontEncrypt: true})
	if err != nil {
		return "", err
	}
	return resp.EventID, nil
}

// Knows tells whether the reader's synced state has the user joined in
// the room.
func (r *CryptoReader) Knows(room id.RoomID, user id.UserID) bool {
	return r.Client.StateStore.IsInRoom(context.Background(), room, user)
}
