// Package memlimit gives the process a soft memory limit, so that the heap
// of a small machine's daemon stays near what the machine has.
//
// Go's garbage collector lets the heap grow to twice what is live before it
// collects. A first poll of thousands of sources, or a merge of large
// index segments, briefly holds a few hundred megabytes live, and the heap
// then doubled it. Under a soft limit the collector runs more often as the
// heap nears it instead; nothing fails when it is passed, and the runtime
// caps the collector at about half the CPU, so a heap that needs more
// simply grows past it.
package memlimit

import (
	"math"
	"os"
	"runtime/debug"
)

// Default is the soft limit when GOMEMLIMIT does not set one.
const Default int64 = 256 << 20

// Apply sets the soft memory limit to Default unless the GOMEMLIMIT
// environment variable sets one (the runtime has applied it then). It
// returns the limit in force, and whether it came from the environment;
// GOMEMLIMIT=off leaves the process without a limit (math.MaxInt64).
func Apply() (limit int64, fromEnv bool) {
	if v, ok := os.LookupEnv("GOMEMLIMIT"); ok && v != "" {
		return debug.SetMemoryLimit(-1), true
	}
	debug.SetMemoryLimit(Default)
	return Default, false
}

// Unlimited reports whether limit means no limit at all.
func Unlimited(limit int64) bool { return limit == math.MaxInt64 }
