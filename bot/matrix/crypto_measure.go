//go:build goolm

package matrix

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/sqlstatestore"

	"github.com/policywire/policywire"
)

// MeasureEncryption renders each alert as the Sender does and encrypts it
// for an encrypted room with the real SQLite crypto store in dir,
// returning how long each encryption took: the cost an encrypted room
// adds to an alert on top of the same rendering and the same send. The
// room session is made locally as if shared (sharing it and reading the
// members are requests to the homeserver, which a plain send does not
// make either and which are left out); a session worn out by the
// rotation limit is replaced outside the timing.
func MeasureEncryption(ctx context.Context, dir string, alerts []policywire.Alert) ([]time.Duration, error) {
	cli, err := mautrix.NewClient("http://127.0.0.1:9", "@bench:localhost", "unused")
	if err != nil {
		return nil, err
	}
	cli.DeviceID = "BENCHDEVICE"
	db, err := openCryptoDB(filepath.Join(dir, "matrix-crypto.db"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	zl := zerologTo(discardSlog())
	c := &megolmCrypto{client: cli, db: db, log: discardSlog(), roomLocks: map[id.RoomID]*sync.Mutex{}}
	c.store = crypto.NewSQLCryptoStore(db, dbutil.ZeroLogger(zl), "", cli.DeviceID, []byte("bench-pickle-key-0123456789"))
	if err := c.store.DB.Upgrade(ctx); err != nil {
		return nil, fmt.Errorf("matrix: bench crypto store: %w", err)
	}
	c.state = sqlstatestore.NewSQLStateStore(db, dbutil.ZeroLogger(zl), false)
	if err := c.state.Upgrade(ctx); err != nil {
		return nil, fmt.Errorf("matrix: bench state store: %w", err)
	}
	c.mach = crypto.NewOlmMachine(cli, &zl, c.store, c.state)
	if err := c.mach.Load(ctx); err != nil {
		return nil, err
	}
	room := id.RoomID("!bench:localhost")
	settings := &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}
	if err := c.state.SetEncryptionEvent(ctx, room, settings); err != nil {
		return nil, err
	}
	newSession := func() error {
		sess, err := crypto.NewOutboundGroupSession(room, settings, nil)
		if err != nil {
			return err
		}
		sess.Shared = true
		return c.store.AddOutboundGroupSession(ctx, sess)
	}
	if err := newSession(); err != nil {
		return nil, err
	}
	r := newRenderer(time.UTC)
	out := make([]time.Duration, 0, len(alerts))
	for _, a := range alerts {
		content := r.alert(a)
		start := time.Now()
		_, err := c.mach.EncryptMegolmEvent(ctx, room, event.EventMessage, &content)
		took := time.Since(start)
		if errors.Is(err, crypto.ErrSessionExpired) {
			if err := newSession(); err != nil {
				return nil, err
			}
			start = time.Now()
			_, err = c.mach.EncryptMegolmEvent(ctx, room, event.EventMessage, &content)
			took = time.Since(start)
		}
		if err != nil {
			return nil, fmt.Errorf("matrix: bench encryption: %w", err)
		}
		out = append(out, took)
	}
	return out, nil
}
