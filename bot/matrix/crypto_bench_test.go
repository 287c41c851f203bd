//go:build goolm

package matrix

import (
	"fmt"
	"testing"
	"time"

	"github.com/policywire/policywire"
)

// BenchmarkEncryptAlert: what encrypting one alert for an encrypted room
// costs (Megolm and the crypto store's write), through MeasureEncryption.
func BenchmarkEncryptAlert(b *testing.B) {
	alerts := make([]policywire.Alert, b.N)
	for i := range alerts {
		a := fullAlert()
		a.ID = fmt.Sprintf("bench-%d", i)
		alerts[i] = a
	}
	took, err := MeasureEncryption(b.Context(), b.TempDir(), alerts)
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for _, d := range took {
		total += d
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(len(took)), "ms/alert")
}
