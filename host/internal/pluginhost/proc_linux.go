package pluginhost

import (
	"os/exec"
	"syscall"
)

// command builds the plugin's command. On Linux the kernel kills the plugin
// when medgate dies, even by SIGKILL, so no orphan keeps running. The plugin
// gets a process group of its own, so Ctrl-C in a terminal reaches medgate
// only, and medgate stops its plugins in order.
func command(path string) *exec.Cmd {
	cmd := exec.Command(path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	return cmd
}
