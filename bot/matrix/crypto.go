//go:build goolm

package matrix

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/sqlstatestore"

	// The pure-Go SQLite driver keeps the binary free of cgo.
	_ "modernc.org/sqlite"
)

// EncryptionBuiltIn reports whether this build can encrypt (the goolm
// build tag, which `make build` sets).
const EncryptionBuiltIn = true

// megolmCrypto is the Olm machine of the bot's device with its SQLite
// crypto and room-state stores.
type megolmCrypto struct {
	client *mautrix.Client
	mach   *crypto.OlmMachine
	store  *crypto.SQLCryptoStore
	state  *sqlstatestore.SQLStateStore
	db     *dbutil.Database
	log    *slog.Logger
	path   string

	// roomLocks serialize the member check, key sharing and encryption of
	// one room, so that two senders never race to rotate its session.
	mu        sync.Mutex
	roomLocks map[id.RoomID]*sync.Mutex
}

// openCrypto opens (or creates) the crypto store at o.StorePath and loads
// the device's Olm account. The device is the access token's: a store
// that belongs to another device, or a device whose keys are on the
// homeserver but not in the store (a lost store), is a PermanentError,
// since carrying on would make a second identity that nobody verified and
// that cannot read what the first one was sent.
func openCrypto(ctx context.Context, s *Sender, o EncryptionOptions) (roomCrypto, error) {
	db, err := openCryptoDB(o.StorePath)
	if err != nil {
		return nil, err
	}
	c := &megolmCrypto{client: s.client, db: db, log: s.log, path: o.StorePath, roomLocks: map[id.RoomID]*sync.Mutex{}}
	if err := c.open(ctx, s.userID, s.deviceID, []byte(o.PickleKey), s.log); err != nil {
		_ = db.Close()
		return nil, err
	}
	return c, nil
}

// StoredDeviceID is the device whose keys the crypto store at path holds,
// "" when there is no store or it holds none.
func StoredDeviceID(ctx context.Context, path string) (string, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	db, err := openCryptoDB(path)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var dev string
	err = db.QueryRow(ctx, "SELECT device_id FROM crypto_account LIMIT 1").Scan(&dev)
	if errors.Is(err, sql.ErrNoRows) || (err != nil && strings.Contains(err.Error(), "no such table")) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("matrix: read the crypto store %s: %w", path, err)
	}
	return dev, nil
}

// openCryptoDB opens the SQLite file through modernc's driver, with WAL
// and a busy timeout so that the listener and the senders can share it.
func openCryptoDB(path string) (*dbutil.Database, error) {
	q := url.Values{}
	for _, p := range []string{"foreign_keys(1)", "journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(10000)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	raw, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("matrix: open the crypto store %s: %w", path, err)
	}
	db, err := dbutil.NewWithDB(raw, "sqlite3")
	if err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("matrix: open the crypto store %s: %w", path, err)
	}
	return db, nil
}

func (c *megolmCrypto) open(ctx context.Context, userID id.UserID, deviceID id.DeviceID, pickleKey []byte, log *slog.Logger) error {
	zl := zerologTo(log)
	c.store = crypto.NewSQLCryptoStore(c.db, dbutil.ZeroLogger(zl), "", deviceID, pickleKey)
	if err := c.store.DB.Upgrade(ctx); err != nil {
		return fmt.Errorf("matrix: prepare the crypto store %s: %w", c.path, err)
	}
	c.state = sqlstatestore.NewSQLStateStore(c.db, dbutil.ZeroLogger(zl), false)
	if err := c.state.Upgrade(ctx); err != nil {
		return fmt.Errorf("matrix: prepare the room state store %s: %w", c.path, err)
	}
	stored, err := c.store.FindDeviceID(ctx)
	if err != nil {
		return fmt.Errorf("matrix: read the crypto store %s: %w", c.path, err)
	}
	if stored != "" && stored != deviceID {
		return storeError("matrix: the crypto store %s belongs to device %s but the access token is of device %s; fix: use a token of device %s, or move %s away to start as a new device", c.path, stored, deviceID, stored, c.path)
	}
	c.client.StateStore = c.state
	c.mach = crypto.NewOlmMachine(c.client, &zl, c.store, c.state)
	// Keys go to every device of the room's members, verified or not, as
	// Element does by default; a member's own verified devices may ask for
	// them again (AllowKeyShare's default).
	c.mach.SendKeysMinTrust = id.TrustStateUnset
	c.mach.AllowKeyShare = c.allowKeyShare(c.mach.AllowKeyShare)
	if err := c.mach.Load(ctx); err != nil {
		return fmt.Errorf("matrix: load the Olm account from %s: %w", c.path, err)
	}
	// Every start begins new room sessions: a store restored from a
	// backup would otherwise encrypt again at message indexes already
	// used, which clients reject as replays.
	if _, err := c.db.Exec(ctx, "DELETE FROM crypto_megolm_outbound_session WHERE account_id=$1", c.store.AccountID); err != nil {
		return fmt.Errorf("matrix: start new room sessions in %s: %w", c.path, err)
	}
	return c.checkKeysOnServer(ctx, userID, deviceID)
}

// checkKeysOnServer publishes the keys of a new device, and refuses a
// device whose keys on the server are not the store's.
func (c *megolmCrypto) checkKeysOnServer(ctx context.Context, userID id.UserID, deviceID id.DeviceID) error {
	qctx, cancel := withTimeout(ctx)
	defer cancel()
	resp, err := c.client.QueryKeys(qctx, &mautrix.ReqQueryKeys{DeviceKeys: map[id.UserID]mautrix.DeviceIDList{userID: {deviceID}}})
	if err != nil {
		return classify("query the device keys", "", err)
	}
	shared := c.mach.GetAccount().Shared
	device, onServer := resp.DeviceKeys[userID][deviceID]
	onServer = onServer && len(device.Keys) > 0
	switch {
	case !onServer && !shared:
		if err := c.mach.ShareKeys(qctx, -1); err != nil {
			return classify("publish the device keys", "", err)
		}
		c.log.Info("matrix: encryption keys of a new device published", "device_id", deviceID.String())
		return nil
	case !onServer:
		return storeError("matrix: the keys of device %s are gone from the homeserver (the device was logged out?); fix: log in as a new device and move %s away", deviceID, c.path)
	case !shared:
		return storeError("matrix: device %s has encryption keys on the homeserver that the crypto store %s does not know (deleted or not restored); fix: restore %s from the backup, or log in as a new device (new access token, or delete the saved session when using matrix.password)", deviceID, c.path, c.path)
	case device.Keys.GetEd25519(deviceID) != c.mach.OwnIdentity().SigningKey:
		return storeError("matrix: device %s has other encryption keys on the homeserver than the crypto store %s; fix: restore the store of that device, or log in as a new device", deviceID, c.path)
	}
	c.log.Debug("matrix: encryption keys on the homeserver match the crypto store", "device_id", deviceID.String())
	return nil
}

// allowKeyShare answers a room-key request when mautrix's rules do (the
// requesting device was sent that session, or is another verified device
// of the bot's), and also when it comes from another device of a member
// who was sent the session, still in the room, that the member has
// verified (signed with their cross-signing keys): the person's new
// phone may read what their laptop was sent.
func (c *megolmCrypto) allowKeyShare(base func(context.Context, *id.Device, event.RequestedKeyInfo) *crypto.KeyShareRejection) func(context.Context, *id.Device, event.RequestedKeyInfo) *crypto.KeyShareRejection {
	return func(ctx context.Context, device *id.Device, req event.RequestedKeyInfo) *crypto.KeyShareRejection {
		rejection := base(ctx, device, req)
		if rejection == nil || device.UserID == c.client.UserID || device.Trust == id.TrustStateBlacklisted {
			return rejection
		}
		if !c.state.IsInRoom(ctx, req.RoomID, device.UserID) {
			return rejection
		}
		if trust, err := c.mach.ResolveTrustContext(ctx, device); err != nil || trust < id.TrustStateCrossSignedTOFU {
			return rejection
		}
		devices, err := c.store.GetDevices(ctx, device.UserID)
		if err != nil {
			return rejection
		}
		for _, other := range devices {
			if shared, err := c.store.IsOutboundGroupSessionShared(ctx, device.UserID, other.IdentityKey, req.SessionID); err == nil && shared {
				c.log.Info("matrix: room key sent to a member's own verified device", "user", device.UserID.String(), "device", device.DeviceID.String(), "room", req.RoomID.String())
				return nil
			}
		}
		return rejection
	}
}

func (c *megolmCrypto) roomLock(room id.RoomID) *sync.Mutex {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.roomLocks[room]
	if l == nil {
		l = &sync.Mutex{}
		c.roomLocks[room] = l
	}
	return l
}

func (c *megolmCrypto) isEncrypted(ctx context.Context, room id.RoomID) (bool, error) {
	return c.state.IsEncrypted(ctx, room)
}

func (c *megolmCrypto) markEncrypted(ctx context.Context, room id.RoomID, content *event.EncryptionEventContent) error {
	return c.state.SetEncryptionEvent(ctx, room, content)
}

// encrypt makes the Megolm event of content for the room. The members are
// read from the homeserver first, so that whoever joined since the last
// sync gets the key of this event and whoever left does not; a change of
// members starts a new session, as does the room's rotation period.
func (c *megolmCrypto) encrypt(ctx context.Context, room id.RoomID, evType event.Type, content any) (*event.EncryptedEventContent, error) {
	l := c.roomLock(room)
	l.Lock()
	defer l.Unlock()
	if err := c.refreshMembers(ctx, room); err != nil {
		return nil, err
	}
	enc, err := c.mach.EncryptMegolmEvent(ctx, room, evType, content)
	if errors.Is(err, crypto.ErrNoGroupSession) || errors.Is(err, crypto.ErrSessionExpired) || errors.Is(err, crypto.ErrSessionNotShared) {
		users, merr := c.state.GetRoomJoinedOrInvitedMembers(ctx, room)
		if merr != nil {
			return nil, fmt.Errorf("matrix: members of room %s: %w", room, merr)
		}
		if err := c.mach.ShareGroupSession(ctx, room, users); err != nil {
			return nil, fmt.Errorf("matrix: share the room key of room %s: %w", room, err)
		}
		enc, err = c.mach.EncryptMegolmEvent(ctx, room, evType, content)
	}
	if err != nil {
		return nil, fmt.Errorf("matrix: encrypt for room %s: %w", room, err)
	}
	return enc, nil
}

// refreshMembers reads the room's members (joined and invited) from the
// homeserver into the state store; when they changed, the room's outbound
// session is dropped so that the next one is shared with the new list.
func (c *megolmCrypto) refreshMembers(ctx context.Context, room id.RoomID) error {
	before, err := c.state.GetRoomJoinedOrInvitedMembers(ctx, room)
	if err != nil {
		return fmt.Errorf("matrix: members of room %s: %w", room, err)
	}
	if _, err := c.client.Members(ctx, room, mautrix.ReqMembers{NotMembership: event.MembershipLeave}); err != nil {
		return classify("read the members of", room.String(), err)
	}
	after, err := c.state.GetRoomJoinedOrInvitedMembers(ctx, room)
	if err != nil {
		return fmt.Errorf("matrix: members of room %s: %w", room, err)
	}
	slices.Sort(before)
	slices.Sort(after)
	if !slices.Equal(before, after) {
		c.log.Debug("matrix: members changed; new room key", "room", room.String(), "members", len(after))
		if err := c.store.RemoveOutboundGroupSession(ctx, room); err != nil {
			return fmt.Errorf("matrix: rotate the room key of room %s: %w", room, err)
		}
	}
	return nil
}

// decrypt returns the plaintext event of an m.room.encrypted event.
func (c *megolmCrypto) decrypt(ctx context.Context, ev *event.Event) (*event.Event, error) {
	if ev.Content.Parsed == nil {
		ev.Type.Class = event.MessageEventType
		if err := ev.Content.ParseRaw(ev.Type); err != nil {
			return nil, fmt.Errorf("matrix: unreadable encrypted event %s: %w", ev.ID, err)
		}
	}
	dec, err := c.mach.DecryptMegolmEvent(ctx, ev)
	if err != nil {
		return nil, err
	}
	return dec, nil
}

// missingKey tells a decryption that failed for want of the room key,
// which may still arrive.
func (c *megolmCrypto) missingKey(err error) bool {
	return errors.Is(err, crypto.ErrNoSessionFound)
}

// requestKey asks the sender's devices and the bot's own other devices for
// the room key of an event that could not be decrypted.
func (c *megolmCrypto) requestKey(ctx context.Context, ev *event.Event) {
	content, ok := ev.Content.Parsed.(*event.EncryptedEventContent)
	if !ok {
		return
	}
	err := c.mach.SendRoomKeyRequest(ctx, ev.RoomID, content.SenderKey, content.SessionID, "", map[id.UserID][]id.DeviceID{
		ev.Sender: {"*"}, c.client.UserID: {"*"},
	})
	if err != nil {
		c.log.Warn("matrix: could not ask for a missing room key", "room", ev.RoomID.String(), "event", ev.ID.String(), "err", err)
	}
}

// processSync hands a sync answer to the Olm machine (to-device keys and
// key requests, device-list changes, one-time key counts) and the state
// store (members, encryption settings, history visibility), the way
// mautrix's own syncer would.
func (c *megolmCrypto) processSync(ctx context.Context, resp *mautrix.RespSync, since string) {
	c.mach.ProcessSyncResponse(ctx, resp, since)
	for room, jr := range resp.Rooms.Join {
		for _, ev := range jr.State.Events {
			c.applyState(ctx, room, ev)
		}
		for _, ev := range jr.Timeline.Events {
			if ev.StateKey != nil {
				c.applyState(ctx, room, ev)
			}
		}
	}
	for room := range resp.Rooms.Leave {
		// A room the bot left shares no keys any more.
		if err := c.store.RemoveOutboundGroupSession(ctx, room); err != nil {
			c.log.Warn("matrix: drop the room key of a room left", "room", room.String(), "err", err)
		}
	}
}

func (c *megolmCrypto) applyState(ctx context.Context, room id.RoomID, ev *event.Event) {
	switch ev.Type.Type {
	case event.StateMember.Type, event.StateEncryption.Type, event.StateHistoryVisibility.Type:
	default:
		return
	}
	ev.RoomID = room
	ev.Type.Class = event.StateEventType
	if ev.Content.Parsed == nil {
		if err := ev.Content.ParseRaw(ev.Type); err != nil {
			c.log.Warn("matrix: unreadable state event", "room", room.String(), "type", ev.Type.Type, "err", err)
			return
		}
	}
	mautrix.UpdateStateStore(ctx, c.state, ev)
	switch ev.Type.Type {
	case event.StateMember.Type:
		c.mach.HandleMemberEvent(ctx, ev)
	case event.StateHistoryVisibility.Type:
		c.mach.HandleHistoryVisibility(ctx, ev)
	}
}

func (c *megolmCrypto) close() error { return c.db.Close() }

// setupCrossSigning makes the bot's cross-signing keys, keeps them in
// secret storage on the homeserver under a new recovery key, and signs
// the device with them; with a recovery key it takes the keys made before
// from secret storage instead (after a restore, or on a new device).
func (c *megolmCrypto) setupCrossSigning(ctx context.Context, password, recoveryKey string) (string, error) {
	if recoveryKey != "" {
		if err := c.mach.VerifyWithRecoveryKey(ctx, recoveryKey); err != nil {
			return "", fmt.Errorf("matrix: cross-signing with the recovery key: %w", err)
		}
		return "", nil
	}
	uia := func(resp *mautrix.RespUserInteractive) any {
		return &mautrix.ReqUIAuthLogin{
			BaseAuthData: mautrix.BaseAuthData{Type: mautrix.AuthTypePassword, Session: resp.Session},
			User:         c.client.UserID.String(),
			Password:     password,
		}
	}
	key, _, err := c.mach.GenerateAndUploadCrossSigningKeys(ctx, uia, "")
	if err != nil {
		return "", fmt.Errorf("matrix: make the cross-signing keys: %w", err)
	}
	if err := c.mach.SignOwnDevice(ctx, c.mach.OwnIdentity()); err != nil {
		return "", fmt.Errorf("matrix: sign the device: %w", err)
	}
	if err := c.mach.SignOwnMasterKey(ctx); err != nil {
		return "", fmt.Errorf("matrix: sign the master key: %w", err)
	}
	return key, nil
}

// crossSigned reports whether the device is signed by the bot's
// cross-signing keys as the homeserver has them.
func (c *megolmCrypto) crossSigned(ctx context.Context) (bool, error) {
	_, verified, err := c.mach.GetOwnVerificationStatus(ctx)
	return verified, err
}

// BackupCryptoStore writes a consistent copy of the crypto store at src to
// dst (which must not exist), also while the daemon uses it.
func BackupCryptoStore(ctx context.Context, src, dst string) error {
	db, err := openCryptoDB(src)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec(ctx, "VACUUM INTO $1", dst); err != nil {
		return fmt.Errorf("matrix: copy the crypto store %s: %w", src, err)
	}
	return nil
}

// zerologTo sends mautrix's warnings and errors to the slog logger.
func zerologTo(log *slog.Logger) zerolog.Logger {
	return zerolog.New(slogWriter{log}).Level(zerolog.WarnLevel).With().Timestamp().Logger()
}
