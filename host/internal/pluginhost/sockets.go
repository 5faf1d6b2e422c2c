package pluginhost

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/go-plugin"
)

// Plugins listen on unix sockets (go-plugin's listener and its gRPC
// broker's), and so does the host: the broker's listener it serves its
// services to the plugin on. A process removes its sockets when it exits,
// but cannot when it is killed (a crash, a hung plugin killed, SIGKILL).
// medgate therefore makes a directory of its own,
// <temporary directory>/medgate-<pid>-<random>, mode 0700, and has
// go-plugin make every launch's directory in it,
// medgate-<pid>-<random>/plugin-dir<random>, which go-plugin passes to the
// plugin in PLUGIN_UNIX_SOCKET_DIR and uses for the host's listener of
// that launch too (it does so only for a process a runner starts, hence
// procRunner). The launch's directory is removed when its process has been
// stopped (killPlugin), and medgate-<pid>-<random> when no plugin runs. One
// left by a medgate that died (with its plugins: the kernel kills them, see
// command) is removed at the first launch of the next (removeStale). The
// plugins do not remove it when medgate dies: they get SIGKILL, so that
// none outlives medgate whatever it does with signals, and a plugin built
// with another SDK would not anyway.

// maxSocketPath is the longest path a unix socket can have on Linux
// (sun_path is 108 bytes with its terminating NUL).
const maxSocketPath = 107

// socketNameLen is the longest name go-plugin gives a socket in the
// directory: os.CreateTemp's "plugin" and a random uint32, after a '/'.
const socketNameLen = len("/plugin4294967295")

// maxLaunchName is the longest name go-plugin gives a launch's directory:
// os.MkdirTemp's "plugin-dir" and a random uint32, after a '/'.
const maxLaunchName = len("/plugin-dir4294967295")

// sockets is the host process's plugin socket directory.
var sockets socketDirs

// socketDirs makes and removes the launches' socket directories.
type socketDirs struct {
	mu   sync.Mutex
	root string // medgate-<pid>-<random>, "" while no plugin runs
	live int    // launches not yet removed
	// lock holds root's socketLock locked: root is in use.
	lock *os.File
	// scanned: the directories of dead medgates in these were removed.
	scanned map[string]bool
	// launches are the processes not yet killed.
	launches map[*plugin.Client]*launch
}

// launch is one plugin process: its directory ("" until go-plugin made
// it) and its runner (nil until go-plugin asked for it).
type launch struct {
	dir    string
	runner *procRunner
}

// socketLock is the file in the host's socket directory that the host
// holds locked while it runs.
const socketLock = ".lock"

// rootBase returns the directory to make the host's socket directory,
// medgate-<pid>-<random>, in: base, or /tmp when base is so long that a
// socket path in it would pass the kernel's limit.
func rootBase(base string, pid int) (string, error) {
	name := len("/medgate-"+strconv.Itoa(pid)+"-") + len("4294967295")
	for _, b := range []string{base, "/tmp"} {
		if len(filepath.Clean(b))+name+maxLaunchName+socketNameLen <= maxSocketPath {
			return filepath.Clean(b), nil
		}
	}
	return "", fmt.Errorf("the temporary directory %s is too long for the plugins' unix sockets (at most %d bytes, with /tmp as fallback): set TMPDIR to a shorter directory", base, maxSocketPath-maxLaunchName-socketNameLen-name)
}

// make counts a new launch and returns the directory go-plugin is to make
// its directory in: the host's, made now when no plugin runs. use then
// names the launch's client, and killPlugin ends the launch.
func (s *socketDirs) make() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.root == "" {
		base, err := rootBase(os.TempDir(), os.Getpid())
		if err != nil {
			return "", err
		}
		if !s.scanned[base] {
			removeStale(base)
			if s.scanned == nil {
				s.scanned = map[string]bool{}
			}
			s.scanned[base] = true
		}
		// Made under a name removeStale ignores, locked, then renamed: a
		// medgate starting meanwhile never sees it unlocked.
		tmp, err := os.MkdirTemp(base, ".medgate-"+strconv.Itoa(os.Getpid())+"-")
		if err != nil {
			return "", fmt.Errorf("plugin sockets: create a directory in %s: %w; check that the temporary directory (TMPDIR, /tmp) exists and is writable", base, err)
		}
		lock := filepath.Join(tmp, socketLock)
		if err := os.WriteFile(lock, nil, 0o600); err != nil {
			_ = os.RemoveAll(tmp)
			return "", fmt.Errorf("plugin sockets: create %s: %w; check that the temporary directory (TMPDIR, /tmp) is writable", lock, err)
		}
		f, _, err := lockFile(lock)
		if err != nil {
			_ = os.RemoveAll(tmp)
			return "", fmt.Errorf("plugin sockets: lock %s: %w; the temporary directory's file system must support flock", lock, err)
		}
		root := filepath.Join(base, strings.TrimPrefix(filepath.Base(tmp), "."))
		if err := os.Rename(tmp, root); err != nil {
			_ = os.RemoveAll(tmp)
			_ = f.Close()
			return "", fmt.Errorf("plugin sockets: rename %s to %s: %w; check that the temporary directory (TMPDIR, /tmp) is writable", tmp, root, err)
		}
		s.lock = f
		s.root = root
	}
	s.live++
	return s.root, nil
}

// use records that c is the launch make counted last.
func (s *socketDirs) use(c *plugin.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.launches == nil {
		s.launches = map[*plugin.Client]*launch{}
	}
	s.launches[c] = &launch{}
}

// started records the directory go-plugin made for c's process and the
// runner that starts it.
func (s *socketDirs) started(c *plugin.Client, dir string, r *procRunner) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.launches[c]; l != nil {
		l.dir, l.runner = dir, r
	}
}

// pid returns the process id of c's process, 0 when it was not started.
func (s *socketDirs) pid(c *plugin.Client) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.launches[c]; l != nil && l.runner != nil {
		return l.runner.pid()
	}
	return 0
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
	l, ok := s.launches[c]
	if !ok {
		return
	}
	delete(s.launches, c)
	s.release(l.dir)
}

// release removes a launch's directory; s.mu is held.
func (s *socketDirs) release(dir string) {
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
	s.live--
	if s.live <= 0 {
		s.live = 0
		s.dropRootLocked()
	}
}

func (s *socketDirs) dropRootLocked() {
	if s.live == 0 && s.root != "" {
		_ = os.RemoveAll(s.root)
		_ = s.lock.Close()
		s.root, s.lock = "", nil
	}
}

// removeStale removes the medgate-<pid>-… directories in base that this
// user owns and that no running medgate holds: those of medgates that
// died. A medgate holds its directory's socketLock locked while it runs
// (the kernel drops the lock when the process dies, however it dies), which
// holds across pid namespaces (containers sharing /tmp, where every
// medgate may have pid 1). A directory without the lock file (a medgate
// creating it) is taken for stale only when no process has its pid.
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
		rest, _, _ = strings.Cut(rest, "-")
		pid, err := strconv.Atoi(rest)
		if err != nil || pid <= 0 {
			continue
		}
		dir := filepath.Join(base, e.Name())
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() || !ownedByUs(fi) {
			continue
		}
		f, free, err := lockFile(filepath.Join(dir, socketLock))
		switch {
		case err == nil && free:
			_ = os.RemoveAll(dir)
			_ = f.Close()
		case errors.Is(err, fs.ErrNotExist) && pid != os.Getpid() && !processExists(pid):
			_ = os.RemoveAll(dir)
		}
	}
}
