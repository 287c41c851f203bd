//go:build !linux

package bench

import (
	"os"
	"time"
)

// On systems other than Linux the bench reports no CPU or memory figures.

func processCPU() cpuUsage { return cpuUsage{} }

func maxRSS() int64 { return 0 }

func currentRSS() (total, anon int64) { return 0, 0 }

func diskUsage(dir string) int64 {
	return walkSize(dir, func(fi os.FileInfo) int64 { return fi.Size() })
}

func childCPU(int) cpuUsage { return cpuUsage{} }

func childRSS(int) (total, anon int64) { return 0, 0 }

func childHWM(int) int64 { return 0 }

func resetChildHWM(int) {}

func childUsage(ps *os.ProcessState) (time.Duration, int64) {
	return ps.UserTime() + ps.SystemTime(), 0
}
