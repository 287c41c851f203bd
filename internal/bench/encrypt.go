package bench

import (
	"context"
	"fmt"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot/matrix"
)

// EncryptResult is what encrypting an alert for an encrypted Matrix room
// adds to its delivery: Megolm encryption and the write of the session's
// new ratchet to the SQLite crypto store, measured per alert.
type EncryptResult struct {
	Alerts   int     `json:"alerts"`
	PerAlert Latency `json:"per_alert"`
	MeanMS   float64 `json:"mean_ms"`
	// Skipped says why nothing was measured (a build without goolm).
	Skipped string `json:"skipped,omitempty"`
}

// encryptAlerts is how many alerts the encryption step encrypts.
const encryptAlerts = 500

func (r *runner) encrypt(ctx context.Context) error {
	r.progress("encrypt: %d alerts for an encrypted Matrix room", encryptAlerts)
	dir, err := r.scratch("encrypt")
	if err != nil {
		return err
	}
	alerts := make([]policywire.Alert, encryptAlerts)
	for i := range alerts {
		it := archiveItem(r.opts.Seed, i, r.epoch)
		alerts[i] = policywire.Alert{ID: fmt.Sprintf("bench-%d", i), Item: it, SourceName: it.Source}
	}
	took, err := matrix.MeasureEncryption(ctx, dir, alerts)
	if err != nil {
		if !matrix.EncryptionBuiltIn {
			r.rep.Encrypt.Skipped = err.Error()
			return nil
		}
		return fmt.Errorf("bench: %w", err)
	}
	var total float64
	for _, d := range took {
		total += float64(d.Microseconds()) / 1000
	}
	r.rep.Encrypt = EncryptResult{Alerts: len(took), PerAlert: summarize(took), MeanMS: total / float64(len(took))}
	return nil
}
