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
//
// Inside a container or a systemd unit with a memory limit, the soft limit
// is a share of that limit: the process can use what it was given, and
// the collector works harder before the kernel would kill it.
package memlimit

import (
	"bufio"
	"bytes"
	"io/fs"
	"math"
	"os"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
)

// Default is the soft limit when neither GOMEMLIMIT nor a cgroup sets one.
const Default int64 = 256 << 20

// CgroupShare is the part of a cgroup's memory limit the soft limit takes:
// the rest is for the mapped database and index pages the kernel counts
// against the cgroup too, and for the heap's overshoot.
const CgroupShare = 0.6

// Source says where the limit in force came from.
type Source string

// Sources of the limit.
const (
	FromEnv     Source = "GOMEMLIMIT"
	FromCgroup  Source = "cgroup"
	FromDefault Source = "default"
)

// Apply sets the soft memory limit: the GOMEMLIMIT environment variable's
// when it is set (the runtime has applied it then; GOMEMLIMIT=off leaves
// no limit, math.MaxInt64), else CgroupShare of the process's cgroup
// memory limit when there is one, else Default. It returns the limit in
// force and where it came from.
func Apply() (int64, Source) {
	limit, from := choose(os.LookupEnv, os.DirFS("/"))
	if from != FromEnv {
		debug.SetMemoryLimit(limit)
	}
	return limit, from
}

func choose(lookup func(string) (string, bool), root fs.FS) (int64, Source) {
	if v, ok := lookup("GOMEMLIMIT"); ok && v != "" {
		return debug.SetMemoryLimit(-1), FromEnv
	}
	if c := CgroupLimit(root); c > 0 {
		return int64(float64(c) * CgroupShare), FromCgroup
	}
	return Default, FromDefault
}

// CgroupLimit is the memory limit in bytes of the cgroup the process is in
// (root is the file system's root; os.DirFS("/") for the real one):
// memory.max under cgroup v2, memory.limit_in_bytes under v1, of the
// process's own cgroup when it is visible and else of the mount's root (a
// container sees its own cgroup there). 0 means no limit.
func CgroupLimit(root fs.FS) int64 {
	v2, v1 := ownCgroups(root)
	candidates := []string{}
	if v2 != "" {
		candidates = append(candidates, path.Join("sys/fs/cgroup", v2, "memory.max"))
	}
	candidates = append(candidates, "sys/fs/cgroup/memory.max")
	if v1 != "" {
		candidates = append(candidates, path.Join("sys/fs/cgroup/memory", v1, "memory.limit_in_bytes"))
	}
	candidates = append(candidates, "sys/fs/cgroup/memory/memory.limit_in_bytes")
	for _, name := range candidates {
		data, err := fs.ReadFile(root, name)
		if err != nil {
			continue
		}
		return parseLimit(string(data))
	}
	return 0
}

// ownCgroups reads /proc/self/cgroup: the v2 path ("0::/path") and the
// v1 memory controller's path ("N:memory:/path"), relative.
func ownCgroups(root fs.FS) (v2, v1 string) {
	data, err := fs.ReadFile(root, "proc/self/cgroup")
	if err != nil {
		return "", ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		p := strings.TrimPrefix(parts[2], "/")
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2 = p
		case hasController(parts[1], "memory"):
			v1 = p
		}
	}
	return v2, v1
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// parseLimit reads a cgroup memory limit: "max" and v1's page-rounded
// largest value mean none.
func parseLimit(s string) int64 {
	s = strings.TrimSpace(s)
	if s == "max" || s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= math.MaxInt64/2 {
		return 0
	}
	return n
}

// Unlimited reports whether limit means no limit at all.
func Unlimited(limit int64) bool { return limit == math.MaxInt64 }
