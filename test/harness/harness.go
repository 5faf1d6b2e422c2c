// Package harness runs medgate as the integration platform sees it: the
// real medgate binary and real plugin binaries as processes, Kafka topics
// of their own per test, and the platform side played by
// github.com/segmentio/kafka-go, a Kafka client independent of medgate's
// own (IBM/sarama), so every run also proves interoperability.
//
// Use it from a test package's TestMain:
//
//	func TestMain(m *testing.M) { harness.Main(m) }
//
// then in a test: bins := harness.Binaries(t); cfg := harness.NewConfig(...);
// mg := harness.Start(t, bins, cfg.Write(t)); p := harness.NewPlatform(t, cfg).
package harness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/test/testenv"
)

var (
	buildOnce sync.Once
	bins      *Bins
	buildErr  error
	buildDir  string
)

// Main runs the tests, then removes built binaries and stops the real
// services started for this process.
func Main(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	testenv.StopKafka()
	testenv.Stop()
	os.Exit(code)
}

// Bins are the binaries under test.
type Bins struct {
	Medgate string
	// Plugins maps a plugin name to its binary.
	Plugins map[string]string
	// SHA256 maps a plugin name to its checksum.
	SHA256 map[string]string
}

// RepoRoot returns the module root.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("harness: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Binaries builds medgate, every shipped plugin (plugins/*/main.go) and
// every test plugin (test/plugins/*/main.go) once per test process.
func Binaries(t testing.TB) *Bins {
	t.Helper()
	root := RepoRoot(t)
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "medgate-bins-")
		if buildErr != nil {
			return
		}
		b := &Bins{Medgate: filepath.Join(buildDir, "medgate"), Plugins: map[string]string{}, SHA256: map[string]string{}}
		targets := map[string]string{b.Medgate: "./host/cmd/medgate"}
		for _, glob := range []string{"plugins/*/main.go", "test/plugins/*/main.go"} {
			mains, _ := filepath.Glob(filepath.Join(root, glob))
			for _, m := range mains {
				name := filepath.Base(filepath.Dir(m))
				rel, _ := filepath.Rel(root, filepath.Dir(m))
				out := filepath.Join(buildDir, "plugins", name)
				b.Plugins[name] = out
				targets[out] = "./" + rel
			}
		}
		for out, pkg := range targets {
			cmd := exec.Command("go", "build", "-o", out, pkg)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if msg, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
				return
			}
		}
		for name, path := range b.Plugins {
			sum, err := FileSHA256(path)
			if err != nil {
				buildErr = err
				return
			}
			b.SHA256[name] = sum
		}
		bins = b
	})
	if buildErr != nil {
		t.Fatalf("harness: build binaries: %v", buildErr)
	}
	return bins
}

// FileSHA256 returns the hex SHA-256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Medgate is a running medgate process.
type Medgate struct {
	t        testing.TB
	bins     *Bins
	cfgPath  string
	cmd      *exec.Cmd
	out      *syncBuffer
	HTTPAddr string
	done     chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var httpLine = regexp.MustCompile(`HTTP:\s+http://(\S+)`)

// Start runs `medgate run -config cfgPath` and waits until /readyz says
// everything is ready. The process is killed at the end of the test, and
// by the kernel when the test process dies without running its cleanups.
func Start(t testing.TB, b *Bins, cfgPath string) *Medgate {
	t.Helper()
	m := &Medgate{t: t, bins: b, cfgPath: cfgPath}
	m.start()
	t.Cleanup(func() {
		m.Kill()
		m.removeSockets()
	})
	return m
}

// removeSockets removes the plugin socket directory of the killed medgate
// ($TMPDIR/medgate-<pid>-<random>, or in /tmp, where medgate falls back to
// when TMPDIR is long): neither it nor its plugins, which the kernel kills
// with it, could. medgate's next start would remove it, but after a test
// there may be none. Like medgate, it leaves a directory whose lock file a
// running medgate holds (one that got the pid meanwhile).
func (m *Medgate) removeSockets() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	for _, base := range []string{os.TempDir(), "/tmp"} {
		dirs, _ := filepath.Glob(filepath.Join(base, fmt.Sprintf("medgate-%d-*", m.cmd.Process.Pid)))
		for _, d := range dirs {
			f, err := os.Open(filepath.Join(d, ".lock"))
			if err != nil {
				continue
			}
			if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
				_ = os.RemoveAll(d)
			}
			_ = f.Close()
		}
	}
}

func (m *Medgate) start() {
	m.t.Helper()
	m.out = &syncBuffer{}
	cmd := exec.Command(m.bins.Medgate, "run", "-config", m.cfgPath)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		m.t.Fatal(err)
	}
	cmd.Stderr = m.out
	// Killed by the kernel if this test process dies without its
	// cleanups (a -timeout panic, a SIGKILL); its plugins die with it.
	if err := testenv.StartChild(cmd); err != nil {
		m.t.Fatalf("harness: start medgate: %v", err)
	}
	m.cmd = cmd
	m.done = make(chan struct{})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(m.out, line)
			if mm := httpLine.FindStringSubmatch(line); mm != nil {
				select {
				case addr <- mm[1]:
				default:
				}
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(m.done)
	}()
	select {
	case a := <-addr:
		m.HTTPAddr = a
	case <-m.done:
		m.t.Fatalf("harness: medgate exited during start:\n%s", m.Logs())
	case <-time.After(90 * time.Second):
		m.t.Fatalf("harness: medgate did not start within 90s:\n%s", m.Logs())
	}
	Eventually(m.t, 60*time.Second, "medgate /readyz", func() bool {
		resp, err := http.Get("http://" + m.HTTPAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// Restart starts the process again with the same configuration.
func (m *Medgate) Restart() {
	m.t.Helper()
	m.start()
}

// Kill ends the process with SIGKILL (a crash) and waits for it.
func (m *Medgate) Kill() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	children := childPIDs(m.cmd.Process.Pid)
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.done
	// medgate asks the kernel to kill its plugins when it dies (Pdeathsig);
	// make sure anyway, so no test leaks processes.
	for _, pid := range children {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// Stop ends the process with SIGTERM (graceful) and waits for it.
func (m *Medgate) Stop() {
	m.t.Helper()
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(60 * time.Second):
		m.t.Fatalf("harness: medgate did not stop within 60s after SIGTERM:\n%s", m.Logs())
	}
}

// Signal sends a signal (e.g. SIGHUP to reload).
func (m *Medgate) Signal(sig os.Signal) { _ = m.cmd.Process.Signal(sig) }

// Logs returns everything medgate printed.
func (m *Medgate) Logs() string { return m.out.String() }

// Exited reports whether the process has ended.
func (m *Medgate) Exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// childPIDs lists the direct children of a process.
func childPIDs(pid int) []int {
	out, _ := exec.Command("pgrep", "-P", strconv.Itoa(pid)).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

// Eventually polls cond every 20 ms until it holds or the timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("harness: timed out after %s waiting for %s", timeout, what)
		case <-tick.C:
		}
	}
}
