package testenv

import "syscall"

// childProcAttr kills the homeserver with the test binary, even when the
// binary dies without running its cleanups (a timeout panic, SIGKILL).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
