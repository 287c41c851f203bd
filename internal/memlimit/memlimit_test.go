package memlimit

import (
	"os"
	"runtime/debug"
	"testing"
	"testing/fstest"
)

func noEnv(string) (string, bool) { return "", false }

// TestApplySetsTheLimitItChose: without GOMEMLIMIT, Apply puts in force
// the limit this machine's cgroup (or the default) gives.
func TestApplySetsTheLimitItChose(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)
	limit, from := Apply()
	want, wantFrom := choose(noEnv, os.DirFS("/"))
	if limit != want || from != wantFrom {
		t.Fatalf("Apply() = %d, %s; want %d from %s", limit, from, want, wantFrom)
	}
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Fatalf("the runtime's limit is %d after Apply; want %d", got, limit)
	}
}

func TestApplyLeavesGOMEMLIMITAlone(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "1GiB")
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)
	// The runtime reads GOMEMLIMIT at start; here the test sets what it
	// would have set.
	debug.SetMemoryLimit(1 << 30)
	limit, from := Apply()
	if limit != 1<<30 || from != FromEnv {
		t.Fatalf("Apply() = %d, %s; want the environment's 1 GiB", limit, from)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Fatalf("Apply changed the environment's limit to %d", got)
	}
}

// TestLimitFromTheCgroup: a cgroup's memory limit, v2 or v1, of the
// process's own cgroup or of the mount's root, gives 60% of it; "max",
// v1's unlimited value and no cgroup files give the default.
func TestLimitFromTheCgroup(t *testing.T) {
	const gib = 1 << 30
	cases := []struct {
		name     string
		files    fstest.MapFS
		want     int64
		wantFrom Source
	}{
		{"v2 own cgroup", fstest.MapFS{
			"proc/self/cgroup": {Data: []byte("0::/system.slice/policywire.service\n")},
			"sys/fs/cgroup/system.slice/policywire.service/memory.max": {Data: []byte("1073741824\n")},
			"sys/fs/cgroup/memory.max":                                 {Data: []byte("max\n")},
		}, share(gib), FromCgroup},
		{"v2 container root", fstest.MapFS{
			"proc/self/cgroup":         {Data: []byte("0::/\n")},
			"sys/fs/cgroup/memory.max": {Data: []byte("536870912\n")},
		}, share(512 << 20), FromCgroup},
		{"v2 unlimited", fstest.MapFS{
			"proc/self/cgroup":         {Data: []byte("0::/\n")},
			"sys/fs/cgroup/memory.max": {Data: []byte("max\n")},
		}, Default, FromDefault},
		{"v1 own cgroup", fstest.MapFS{
			"proc/self/cgroup": {Data: []byte("5:devices:/\n4:memory:/docker/abc\n0::/\n")},
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": {Data: []byte("2147483648\n")},
		}, share(2 * gib), FromCgroup},
		{"v1 unlimited, own cgroup not visible", fstest.MapFS{
			"proc/self/cgroup":                           {Data: []byte("4:memory:/process_api/488b\n0::/\n")},
			"sys/fs/cgroup/memory/memory.limit_in_bytes": {Data: []byte("9223372036854771712\n")},
		}, Default, FromDefault},
		{"no cgroup files", fstest.MapFS{}, Default, FromDefault},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, from := choose(noEnv, c.files)
			if got != c.want || from != c.wantFrom {
				t.Errorf("limit %d from %s; want %d from %s", got, from, c.want, c.wantFrom)
			}
		})
	}
}

// share is what Apply takes of a cgroup limit of n bytes.
func share(n int64) int64 { return int64(float64(n) * CgroupShare) }
