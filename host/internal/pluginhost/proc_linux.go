package pluginhost

import (
	"os/exec"
	"syscall"
)

// command builds the plugin's command. On Linux the kernel kills the plugin
// when medgate dies, even by SIGKILL, so no orphan keeps running.
func command(path string) *exec.Cmd {
	cmd := exec.Command(path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}
