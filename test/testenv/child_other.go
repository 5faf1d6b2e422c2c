//go:build !linux

package testenv

import "os/exec"

// StartChild starts cmd. On Linux the kernel also kills it when this test
// process dies; elsewhere a child may outlive a test binary that dies
// without running its cleanups.
func StartChild(cmd *exec.Cmd) error { return cmd.Start() }
