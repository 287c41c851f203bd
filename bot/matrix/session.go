package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// DeviceDisplayName is the name the bot's device shows in clients.
const DeviceDisplayName = "policywire"

// Session is a login the bot made with its password, kept in the data
// dir so that every start is the same device.
type Session struct {
	Homeserver  string `json:"homeserver"`
	UserID      string `json:"user_id"`
	DeviceID    string `json:"device_id"`
	AccessToken string `json:"access_token"`
}

// String shows the session without the access token.
func (s Session) String() string {
	return fmt.Sprintf("matrix.Session{Homeserver: %q, UserID: %q, DeviceID: %q, AccessToken: <redacted>}", s.Homeserver, s.UserID, s.DeviceID)
}

// LogValue shows the session without the access token.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(slog.String("homeserver", s.Homeserver), slog.String("user_id", s.UserID), slog.String("device_id", s.DeviceID))
}

// PasswordLogin says how to log in with a password.
type PasswordLogin struct {
	Homeserver string
	UserID     string
	// Password is never logged.
	Password string
	// Path is the file the session is kept in.
	Path string
	// DeviceID, when set, is logged in again instead of a new device:
	// the device whose keys the crypto store holds.
	DeviceID   string
	HTTPClient *http.Client
}

// PasswordSession returns the session kept at o.Path when it is of this
// account and server; otherwise it logs in with the password and keeps
// the new session there (mode 0600), before it is used.
func PasswordSession(ctx context.Context, o PasswordLogin) (Session, error) {
	if s, ok, err := loadSession(o.Path); err != nil {
		return Session{}, err
	} else if ok && s.UserID == o.UserID && s.Homeserver == o.Homeserver {
		return s, nil
	}
	cli, err := newClient(o.Homeserver, "", "", o.HTTPClient)
	if err != nil {
		return Session{}, fmt.Errorf("matrix: homeserver %q: %w", o.Homeserver, err)
	}
	lctx, cancel := withTimeout(ctx)
	defer cancel()
	resp, err := cli.Login(lctx, &mautrix.ReqLogin{
		Type:                     mautrix.AuthTypePassword,
		Identifier:               mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: o.UserID},
		Password:                 o.Password,
		DeviceID:                 id.DeviceID(o.DeviceID),
		InitialDeviceDisplayName: DeviceDisplayName,
	})
	if err != nil {
		return Session{}, classify("log in as "+o.UserID+" with matrix.password", "", err)
	}
	if resp.UserID.String() != o.UserID {
		return Session{}, fmt.Errorf("matrix: logged in as %s, not as the configured user_id %s", resp.UserID, o.UserID)
	}
	s := Session{Homeserver: o.Homeserver, UserID: o.UserID, DeviceID: resp.DeviceID.String(), AccessToken: resp.AccessToken}
	if err := saveSession(o.Path, s); err != nil {
		return Session{}, err
	}
	return s, nil
}

func loadSession(path string) (Session, bool, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("matrix: read the saved login %s: %w", path, err)
	}
	var s Session
	if err := json.Unmarshal(raw, &s); err != nil || s.AccessToken == "" || s.DeviceID == "" {
		return Session{}, false, fmt.Errorf("matrix: the saved login %s is unreadable; delete it to log in again", path)
	}
	return s, true, nil
}

// saveSession writes the file next to its final name and renames it, so
// that a crash leaves the old session or the new one, never half.
func saveSession(path string, s Session) error {
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("matrix: encode the login: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("matrix: save the login: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("matrix: save the login: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(raw, '\n')); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("matrix: save the login %s: %w", path, err)
	}
	return nil
}
