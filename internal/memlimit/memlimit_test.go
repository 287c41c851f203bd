package memlimit

import (
	"runtime/debug"
	"testing"
)

func TestApplySetsTheDefault(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)
	limit, fromEnv := Apply()
	if limit != Default || fromEnv {
		t.Fatalf("Apply() = %d, %v; want %d from the default", limit, fromEnv, Default)
	}
	if got := debug.SetMemoryLimit(-1); got != Default {
		t.Fatalf("the runtime's limit is %d after Apply; want %d", got, Default)
	}
}

func TestApplyLeavesGOMEMLIMITAlone(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "1GiB")
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)
	// The runtime reads GOMEMLIMIT at start; here the test sets what it
	// would have set.
	debug.SetMemoryLimit(1 << 30)
	limit, fromEnv := Apply()
	if limit != 1<<30 || !fromEnv {
		t.Fatalf("Apply() = %d, %v; want the environment's 1 GiB", limit, fromEnv)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Fatalf("Apply changed the environment's limit to %d", got)
	}
}
