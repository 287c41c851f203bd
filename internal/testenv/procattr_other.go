//go:build !linux

package testenv

import "syscall"

// childProcAttr has nothing to add where the parent's death cannot be
// signalled to the child; cleanups stop the homeserver.
func childProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
