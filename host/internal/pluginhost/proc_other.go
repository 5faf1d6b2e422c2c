//go:build !linux

package pluginhost

import "os/exec"

func command(path string) *exec.Cmd { return exec.Command(path) }
