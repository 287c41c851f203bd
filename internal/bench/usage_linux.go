package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
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

// readProcField reads one "Name:   value kB" field of /proc/PID/status.
func readProcField(pid int, name string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			return statusKB([]byte(rest))
		}
	}
	return 0
}

// clockTicks is the unit of utime and stime in /proc/PID/stat (USER_HZ,
// 100 on every Linux the Go runtime supports).
const clockTicks = 100

// childCPU is the CPU time of another process so far, from /proc/PID/stat.
func childCPU(pid int) cpuUsage {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuUsage{}
	}
	// The command name may hold spaces; the fields after it are fixed:
	// utime and stime are the 14th and 15th of the line.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return cpuUsage{}
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return cpuUsage{}
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	tick := time.Second / clockTicks
	return cpuUsage{user: time.Duration(ut) * tick, sys: time.Duration(st) * tick}
}

// childRSS is VmRSS and RssAnon of another process.
func childRSS(pid int) (total, anon int64) {
	return readProcField(pid, "VmRSS"), readProcField(pid, "RssAnon")
}

// childHWM is VmHWM of another process: its highest resident set size
// since it started or since resetChildHWM.
func childHWM(pid int) int64 { return readProcField(pid, "VmHWM") }

// resetChildHWM starts the process's VmHWM over from its current resident
// size, so that the next cycle's peak is its own.
func resetChildHWM(pid int) {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// childUsage is the CPU time and peak resident size (ru_maxrss, which is
// VmHWM at exit) of a child that exited.
func childUsage(ps *os.ProcessState) (time.Duration, int64) {
	cpu := ps.UserTime() + ps.SystemTime()
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return cpu, ru.Maxrss * 1024
	}
	return cpu, 0
}
