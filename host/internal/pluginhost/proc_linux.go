package pluginhost

import (
	"errors"
	"os"
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

// processExists says whether a process has pid (one of another user
// counts).
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || !errors.Is(err, syscall.ESRCH)
}

// ownedByUs says whether the file belongs to this process's user.
func ownedByUs(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}

// lockFile opens the file at path and takes an exclusive lock on it
// without waiting (flock: held until f is closed or its process dies,
// across pid namespaces). ok is false when another process holds it.
func lockFile(path string) (f *os.File, ok bool, err error) {
	f, err = os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return f, true, nil
}
