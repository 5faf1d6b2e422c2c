package testenv

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// spawner is the goroutine that starts every child of StartChild, on an
// OS thread of its own that it never leaves. The kernel sends a child's
// parent-death signal (Pdeathsig) when the thread that forked it exits,
// not the process (golang.org/issue/27505): a child started from an
// ordinary goroutine's thread could be killed whenever the runtime ends
// that thread, and one started from a thread that outlives the process
// is killed exactly when the process dies.
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

// StartChild starts cmd like cmd.Start, and has the kernel kill it
// (SIGKILL) when this test process dies in any way: a -timeout panic, an
// os.Exit in TestMain, a SIGKILL from CI. Start with it every process a
// test leaves running (medgate, a browser), so none outlives the test
// binary to hold its ports, CPU and disk, or keep `go test` waiting on
// its output pipes. It keeps cmd.SysProcAttr's other fields; only the
// process itself is killed, so a child that starts children of its own
// must have them die with it (medgate's plugins do).
func StartChild(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // for good: this thread must live as long as the process
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	r := spawnReq{cmd: cmd, done: make(chan error, 1)}
	spawner.reqs <- r
	return <-r.done
}
