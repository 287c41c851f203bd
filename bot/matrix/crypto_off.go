//go:build !goolm

package matrix

import (
	"context"
	"errors"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
)

// EncryptionBuiltIn reports whether this build can encrypt: it cannot
// without the goolm build tag, which `make build` sets.
const EncryptionBuiltIn = false

// errNoEncryptionBuild says how to get a build that encrypts.
var errNoEncryptionBuild = errors.New("matrix: this policywire was built without end-to-end encryption; build it with `make build` (go build -tags goolm ./cmd/policywire)")

// openCrypto fails: this build has no Olm implementation.
func openCrypto(context.Context, *Sender, EncryptionOptions) (roomCrypto, error) {
	return nil, &bot.PermanentError{Reason: errNoEncryptionBuild.Error()}
}

// StoredDeviceID is "": this build keeps no crypto store.
func StoredDeviceID(context.Context, string) (string, error) { return "", nil }

// BackupCryptoStore fails: this build cannot read a crypto store.
func BackupCryptoStore(context.Context, string, string) error { return errNoEncryptionBuild }

// MeasureEncryption fails: this build cannot encrypt.
func MeasureEncryption(context.Context, string, []policywire.Alert) ([]time.Duration, error) {
	return nil, errNoEncryptionBuild
}
