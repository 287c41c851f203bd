package matrix

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The saved login and the encryption options never print their secrets.
func TestSessionAndEncryptionOptionsHideSecrets(t *testing.T) {
	const token, key = "syt_secret_token_value", "pickle-key-secret-value"
	s := Session{Homeserver: "https://m.example.org", UserID: "@b:example.org", DeviceID: "DEV", AccessToken: token}
	o := EncryptionOptions{StorePath: "/data/matrix-crypto.db", PickleKey: key}
	var out bytes.Buffer
	fmt.Fprintf(&out, "%v %s %v %s\n", s, s, o, o)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "options", o, "session", s)
	if strings.Contains(out.String(), token) || strings.Contains(out.String(), key) {
		t.Errorf("printed a secret:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "DEV") || !strings.Contains(out.String(), "matrix-crypto.db") {
		t.Errorf("the non-secret fields are missing:\n%s", out.String())
	}
}

// A saved login that cannot be read is an error that names the file and
// the fix; nothing is logged in anew behind the operator's back.
func TestPasswordSessionRefusesAnUnreadableSavedLogin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "matrix-session.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := PasswordSession(context.Background(), PasswordLogin{Homeserver: "http://127.0.0.1:9", UserID: "@b:example.org", Password: "pw", Path: path})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "delete it to log in again") {
		t.Fatalf("PasswordSession = %v, want an error naming %s and the fix", err, path)
	}
}
