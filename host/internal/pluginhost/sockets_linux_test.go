package pluginhost

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// socketsUnder returns the unix sockets in the tree at dir.
func socketsUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSocket != 0 {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKilledPluginLeavesNoSocket launches a plugin, kills it with SIGKILL
// (what the supervisor does to a hung plugin, and what a crash amounts
// to: the process cannot remove its socket), and checks that the relaunch
// removed the dead process's sockets, and that once the plugin is closed
// the temporary directory holds nothing medgate made. Not parallel: it
// sets TMPDIR.
func TestKilledPluginLeavesNoSocket(t *testing.T) {
	path, sum := ledger(t) // built outside the TMPDIR under test
	tmp := t.TempDir()
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
	first := socketsUnder(t, tmp)
	if len(first) == 0 {
		t.Fatalf("no plugin socket under TMPDIR %s: the test cannot see where the plugin listens", tmp)
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
		now = socketsUnder(t, tmp)
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
	own := fmt.Sprint("medgate-", os.Getpid())
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, err := os.Stat(filepath.Join(tmp, own))
		left := socketsUnder(t, tmp)
		if len(left) == 0 && os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Close, TMPDIR still holds sockets %v, or the socket directory %s (stat: %v)", left, own, err)
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
		{"/tmp", "/tmp/medgate-4194304"},
		{"/run/user/1000", "/run/user/1000/medgate-4194304"},
		{long, "/tmp/medgate-4194304"},
	} {
		got, err := rootFor(tc.base, 4194304)
		if err != nil || got != tc.want {
			t.Errorf("rootFor(%q) = %q, %v; want %q", tc.base, got, err, tc.want)
			continue
		}
		if n := len(got) + len("/") + 8 + len("/plugin4294967295"); n > 107 {
			t.Errorf("rootFor(%q) = %q: a socket path in it takes %d bytes, more than 107", tc.base, got, n)
		}
	}
}

// TestStaleSocketDirsRemoved: a medgate-<pid> directory whose pid no
// process has is a dead medgate's and is removed; one whose process runs
// (another medgate's) and anything else in the directory stay.
func TestStaleSocketDirsRemoved(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	alive := exec.Command("sleep", "60")
	if err := alive.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = alive.Process.Kill(); _ = alive.Wait() }()
	deadDir := fmt.Sprint("medgate-", dead.Process.Pid)
	aliveDir := fmt.Sprint("medgate-", alive.Process.Pid)
	for _, d := range []string{deadDir, aliveDir, "medgate-notapid", "other"} {
		if err := os.MkdirAll(filepath.Join(base, d, "1"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	removeStale(base)
	for _, tc := range []struct {
		dir  string
		kept bool
	}{
		{deadDir, false}, {aliveDir, true}, {"medgate-notapid", true}, {"other", true},
	} {
		_, err := os.Stat(filepath.Join(base, tc.dir))
		if kept := err == nil; kept != tc.kept {
			t.Errorf("%s: kept %v, want %v (%v)", tc.dir, kept, tc.kept, err)
		}
	}
}
