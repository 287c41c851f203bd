package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// profileEnv names a file that receives a CPU profile of the whole
// process of `run` (the daemon until it stops, or one run --once), for
// finding what a user's process spends its time on; unset, nothing is
// profiled.
const profileEnv = "POLICYWIRE_CPUPROFILE"

// startProfile starts the CPU profile POLICYWIRE_CPUPROFILE asks for and
// returns the function that writes it out.
func startProfile() (func(), error) {
	path := os.Getenv(profileEnv)
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", profileEnv, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", profileEnv, err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}
