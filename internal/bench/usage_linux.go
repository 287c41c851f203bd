package bench

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// processCPU is the CPU time of this process (all threads) so far.
func processCPU() cpuUsage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuUsage{}
	}
	return cpuUsage{
		user: time.Duration(ru.Utime.Nano()),
		sys:  time.Duration(ru.Stime.Nano()),
	}
}

// maxRSS is the peak resident set size of this process in bytes
// (getrusage's ru_maxrss, which Linux counts in KiB).
func maxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024
}

// currentRSS is VmRSS and RssAnon from /proc/self/status in bytes: all
// resident pages, and those not backed by a file (the heap). The rest is
// mostly the memory-mapped database and index files, which the kernel may
// drop and read again.
func currentRSS() (total, anon int64) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			total = statusKB(line[len("VmRSS:"):])
		case bytes.HasPrefix(line, []byte("RssAnon:")):
			anon = statusKB(line[len("RssAnon:"):])
		}
	}
	return total, anon
}

func statusKB(rest []byte) int64 {
	f := bytes.Fields(rest)
	if len(f) == 0 {
		return 0
	}
	kb, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil {
		return 0
	}
	return kb * 1024
}

// diskUsage is the space the files under dir take on disk (like du).
func diskUsage(dir string) int64 {
	return walkSize(dir, func(fi os.FileInfo) int64 {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			return st.Blocks * 512
		}
		return fi.Size()
	})
}
