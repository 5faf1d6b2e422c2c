package pluginhost

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/go-plugin"
)

// Plugins listen on unix sockets (go-plugin's listener and its gRPC
// broker's), which a plugin process removes when it exits, but cannot
// when it is killed (a crash, a hung plugin killed, SIGKILL). medgate
// therefore gives every launch a directory of its own,
// <temporary directory>/medgate-<pid>/<launch>, mode 0700, and passes it
// in PLUGIN_UNIX_SOCKET_DIR (go-plugin's variable): the directory is
// removed when the process has been stopped (killPlugin), and
// medgate-<pid> when no plugin runs. A medgate-<pid> left by a medgate that
// died is removed at the next launch once no process has that pid.

// envSocketDir is go-plugin's variable for the directory a plugin creates
// its sockets in (plugin.EnvUnixSocketDir, go-plugin v1.8).
const envSocketDir = "PLUGIN_UNIX_SOCKET_DIR"

// maxSocketPath is the longest path a unix socket can have on Linux
// (sun_path is 108 bytes with its terminating NUL).
const maxSocketPath = 107

// socketNameLen is the longest name go-plugin gives a socket in the
// directory: os.CreateTemp's "plugin" and a random uint32, after a '/'.
const socketNameLen = len("/plugin4294967295")

// maxLaunchName is the longest launch directory name socketDirs makes
// (base 36 counter), after a '/'.
const maxLaunchName = 1 + 8

// sockets is the host process's plugin socket directory.
var sockets socketDirs

// socketDirs makes and removes the launches' socket directories.
type socketDirs struct {
	mu   sync.Mutex
	root string // medgate-<pid>, "" while no plugin runs
	live int    // launch directories not yet removed
	seq  uint64 // launches so far
	// dirs are the launch directories of the processes not yet killed.
	dirs map[*plugin.Client]string
}

// rootFor returns the directory for the host's sockets under base, or
// under /tmp when base is so long that a socket path in it would pass the
// kernel's limit.
func rootFor(base string, pid int) (string, error) {
	name := "medgate-" + strconv.Itoa(pid)
	for _, b := range []string{base, "/tmp"} {
		root := filepath.Join(b, name)
		if len(root)+maxLaunchName+socketNameLen <= maxSocketPath {
			return root, nil
		}
	}
	return "", fmt.Errorf("the temporary directory %s is too long for the plugins' unix sockets (at most %d bytes, with /tmp as fallback): set TMPDIR to a shorter directory", base, maxSocketPath-maxLaunchName-socketNameLen-len(name)-1)
}

// make returns a new, empty directory for one launch's sockets.
func (s *socketDirs) make() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.root == "" {
		root, err := rootFor(os.TempDir(), os.Getpid())
		if err != nil {
			return "", err
		}
		removeStale(filepath.Dir(root))
		// A directory with this pid is a dead medgate's (the pid is ours)
		// or ours left by a failed removal: nothing in it is in use.
		if err := os.RemoveAll(root); err != nil {
			return "", fmt.Errorf("plugin sockets: remove the leftover directory %s: %w; remove it by hand", root, err)
		}
		if err := os.Mkdir(root, 0o700); err != nil {
			return "", fmt.Errorf("plugin sockets: create %s: %w; check that the temporary directory (TMPDIR, /tmp) exists and is writable", root, err)
		}
		s.root = root
	}
	s.seq++
	dir := filepath.Join(s.root, strconv.FormatUint(s.seq, 36))
	if err := os.Mkdir(dir, 0o700); err != nil {
		s.dropRootLocked()
		return "", fmt.Errorf("plugin sockets: create %s: %w; check that the temporary directory (TMPDIR, /tmp) is writable", dir, err)
	}
	s.live++
	return dir, nil
}

// use records that c's process was given dir.
func (s *socketDirs) use(c *plugin.Client, dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirs == nil {
		s.dirs = map[*plugin.Client]string{}
	}
	s.dirs[c] = dir
}

// killPlugin stops c's process (go-plugin's Kill, which returns once it
// has exited) and removes its socket directory: what a killed process
// could not remove.
func killPlugin(c *plugin.Client) {
	c.Kill()
	sockets.remove(c)
}

// remove removes the directory of c's process (once it has exited), and
// the host's when no launch is left.
func (s *socketDirs) remove(c *plugin.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir, ok := s.dirs[c]
	if !ok {
		return
	}
	delete(s.dirs, c)
	s.release(dir)
}

// release removes a launch's directory; s.mu is held.
func (s *socketDirs) release(dir string) {
	_ = os.RemoveAll(dir)
	s.live--
	if s.live <= 0 {
		s.live = 0
		s.dropRootLocked()
	}
}

func (s *socketDirs) dropRootLocked() {
	if s.live == 0 && s.root != "" {
		_ = os.RemoveAll(s.root)
		s.root = ""
	}
}

// removeStale removes the medgate-<pid> directories in base that this
// user owns and whose pid no process has: those of medgates that died.
// A directory whose pid is taken (another medgate's, or a process that
// reused the pid) is left alone.
func removeStale(base string) {
	es, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range es {
		rest, ok := strings.CutPrefix(e.Name(), "medgate-")
		if !ok || !e.IsDir() {
			continue
		}
		pid, err := strconv.Atoi(rest)
		if err != nil || pid <= 0 || pid == os.Getpid() || processExists(pid) {
			continue
		}
		dir := filepath.Join(base, e.Name())
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() || !ownedByUs(fi) {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}
