package pluginhost

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/test/testenv"
)

// TestKilledPluginLeavesNoSocket launches a plugin, kills it with SIGKILL
// (what the supervisor does to a hung plugin, and what a crash amounts
// to: the process cannot remove its socket), and checks that the relaunch
// removed the dead process's sockets, and that once the plugin is closed
// the temporary directory holds nothing medgate made. Not parallel: it
// sets TMPDIR.
func TestKilledPluginLeavesNoSocket(t *testing.T) {
	path, sum := ledger(t) // built outside the TMPDIR under test
	tmp := shortTemp(t)
	t.Setenv("TMPDIR", tmp)
	restarted := make(chan struct{}, 4)
	in, err := Start(t.Context(), Spec{Name: "ledger", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{
		Logger: quiet, HealthInterval: 20 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		OnRestart: func(string) { restarted <- struct{}{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	first := testenv.SocketsUnder(t, tmp)
	if len(first) == 0 {
		t.Fatalf("no plugin socket under TMPDIR %s: the test cannot see where the plugin listens", tmp)
	}
	for _, p := range first {
		if len(p) > 107 {
			t.Errorf("socket path %s is %d bytes, past the kernel's 107", p, len(p))
		}
	}
	for round := range 3 {
		if err := syscall.Kill(in.Pid(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		select {
		case <-restarted:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: the killed plugin was not relaunched within 20s", round)
		}
	}
	// The relaunch removed the killed processes' sockets: only those of
	// the running process remain.
	var now []string
	for deadline := time.Now().Add(10 * time.Second); ; {
		now = testenv.SocketsUnder(t, tmp)
		if !slices.ContainsFunc(now, func(p string) bool { return slices.Contains(first, p) }) && len(now) <= len(first) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 3 SIGKILLs and relaunches, sockets of killed plugin processes are left behind:\nfirst launch: %v\nnow: %v", first, now)
		}
		<-time.After(10 * time.Millisecond)
	}
	in.Close()
	// Nothing of the sockets is left: no socket, no socket directory
	// (other files, such as the artifact store's, may be there).
	own := fmt.Sprint("medgate-", os.Getpid(), "-")
	for deadline := time.Now().Add(10 * time.Second); ; {
		es, err := os.ReadDir(tmp)
		if err != nil {
			t.Fatal(err)
		}
		var dirs []string
		for _, e := range es {
			if strings.HasPrefix(strings.TrimPrefix(e.Name(), "."), own) {
				dirs = append(dirs, e.Name())
			}
		}
		left := testenv.SocketsUnder(t, tmp)
		if len(left) == 0 && len(dirs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Close, TMPDIR still holds sockets %v, or socket directories %v", left, dirs)
		}
		<-time.After(10 * time.Millisecond)
	}
}

// TestSocketRootFitsSocketPaths: the host's socket directory leaves room
// for a launch directory and go-plugin's socket name within the kernel's
// 108 bytes; a temporary directory too long for that gives way to /tmp.
func TestSocketRootFitsSocketPaths(t *testing.T) {
	t.Parallel()
	long := "/var/lib/hospital-integration/medgate/run/tmp/" + strings.Repeat("x", 60)
	for _, tc := range []struct {
		base, want string
	}{
		{"/tmp", "/tmp"},
		{"/run/user/1000", "/run/user/1000"},
		{long, "/tmp"},
	} {
		got, err := rootBase(tc.base, 4194304)
		if err != nil || got != tc.want {
			t.Errorf("rootBase(%q) = %q, %v; want %q", tc.base, got, err, tc.want)
			continue
		}
		if n := len(got) + len("/medgate-4194304-4294967295") + len("/plugin-dir4294967295") + len("/plugin4294967295"); n > 107 {
			t.Errorf("rootFor(%q) = %q: a socket path in it takes %d bytes, more than 107", tc.base, got, n)
		}
	}
}

// TestStaleSocketDirsRemoved: a medgate-<pid>-… directory whose lock no
// process holds is a dead medgate's and is removed; one whose lock is held
// stays, even when no process here has its pid (a medgate in another pid
// namespace sharing /tmp, as in containers), and so does one without a
// lock whose pid runs, and anything else.
func TestStaleSocketDirsRemoved(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPid, ourPid := dead.Process.Pid, os.Getpid()
	for _, tc := range []struct {
		name   string
		locked bool // its lock is held (a running medgate)
		lock   bool // it has a lock file
		kept   bool
	}{
		{fmt.Sprintf("medgate-%d-1", deadPid), false, true, false},
		{fmt.Sprintf("medgate-%d-2", deadPid), true, true, true},
		{fmt.Sprintf("medgate-%d-3", ourPid), true, true, true},
		{fmt.Sprintf("medgate-%d-4", deadPid), false, false, false},
		{fmt.Sprintf("medgate-%d-5", ourPid), false, false, true},
		{"medgate-notapid", false, false, true},
		{"other", false, false, true},
	} {
		dir := filepath.Join(base, tc.name)
		if err := os.MkdirAll(filepath.Join(dir, "1"), 0o700); err != nil {
			t.Fatal(err)
		}
		if tc.lock {
			if err := os.WriteFile(filepath.Join(dir, socketLock), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if tc.locked {
			f, ok, err := lockFile(filepath.Join(dir, socketLock))
			if err != nil || !ok {
				t.Fatalf("%s: lock: %v %v", tc.name, ok, err)
			}
			defer f.Close()
		}
		defer func() {
			_, err := os.Stat(dir)
			if kept := err == nil; kept != tc.kept {
				t.Errorf("%s (lock file %v, held %v): kept %v, want %v", tc.name, tc.lock, tc.locked, kept, tc.kept)
			}
		}()
	}
	removeStale(base)
}

// envHostHelper makes the test binary the medgate of
// TestKilledHostLeavesNoSocket: it launches the plugin at the path in the
// variable (its checksum in envHostHelperSum), prints the plugin's pid and
// waits to be killed.
const (
	envHostHelper    = "PLUGINHOST_TEST_HOST_PLUGIN"
	envHostHelperSum = "PLUGINHOST_TEST_HOST_PLUGIN_SHA256"
)

// shortTemp returns a new directory with a short path, so that the
// socket directories fit in it and are not moved to /tmp (rootBase);
// t.TempDir's paths, which hold the test's name, can be too long.
func shortTemp(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// gone says whether the process with pid has ended (exited, or a zombie
// no one has reaped yet).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

// TestKilledHostLeavesNoSocket SIGKILLs a medgate (this test binary run
// again as the host, see envHostHelper) that runs a plugin: the kernel
// kills the plugin with it, and neither can remove a socket. Every socket
// they made must be in the medgate's socket directory, so that the next
// medgate's first launch removes them all (removeStale); a socket
// anywhere else in the temporary directory stays there for good. Not
// parallel: it sets TMPDIR.
func TestKilledHostLeavesNoSocket(t *testing.T) {
	if path := os.Getenv(envHostHelper); path != "" {
		in, err := Start(context.Background(), Spec{Name: "ledger", Path: path, SHA256: os.Getenv(envHostHelperSum)}, sdktest.NewMemoryHost(), Options{Logger: quiet})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("pid", in.Pid())
		select {}
	}
	path, sum := ledger(t) // built outside the TMPDIR under test
	tmp := shortTemp(t)
	t.Setenv("TMPDIR", tmp)
	host := exec.Command(os.Args[0], "-test.run=^TestKilledHostLeavesNoSocket$")
	host.Env = append(os.Environ(), envHostHelper+"="+path, envHostHelperSum+"="+sum)
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = host.Process.Kill(); _ = host.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	var pid int
	if _, serr := fmt.Sscanf(line, "pid %d", &pid); serr != nil || pid <= 0 {
		t.Fatalf("the host process did not launch the plugin: %q %v", line, err)
	}
	running := testenv.SocketsUnder(t, tmp)
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	for deadline := time.Now().Add(20 * time.Second); !gone(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("the plugin process %d still runs 20s after its host was killed", pid)
		}
		<-time.After(10 * time.Millisecond)
	}
	if len(running) == 0 {
		t.Fatalf("no plugin socket under TMPDIR %s while the plugin ran: the test cannot see where they listen", tmp)
	}
	removeStale(tmp) // what the next medgate's first launch does
	if left := testenv.SocketsUnder(t, tmp); len(left) > 0 {
		t.Fatalf("a killed medgate and its plugin left %d of their %d sockets where the next medgate does not remove them: %v", len(left), len(running), left)
	}
}
