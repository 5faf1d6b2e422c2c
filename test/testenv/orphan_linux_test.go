package testenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envOrphanHelper, set to a row of TestKilledTestBinaryStopsServices,
// makes this test binary the one that test SIGKILLs: it starts the
// row's service, prints the pids of every process serving it and waits
// to be killed.
const envOrphanHelper = "TESTENV_TEST_ORPHAN_SERVICE"

// TestKilledTestBinaryStopsServices SIGKILLs a test binary (this one run
// again, see envOrphanHelper) while the services it started run: no
// cleanup and no TestMain runs, yet every process of each service (its
// supervisor shell, the JVM or the postmaster and its backends) must die
// with it, and not hold the next run's ports, CPU and disk.
func TestKilledTestBinaryStopsServices(t *testing.T) {
	tests := map[string]struct {
		start func(t *testing.T) int // returns the pid of the process this test process started
	}{
		"shared Kafka broker": {start: func(t *testing.T) int {
			Kafka(t)
			return kafkaBroker.proc.cmd.Process.Pid
		}},
		"Kafka broker of one test": {start: func(t *testing.T) int {
			return NewKafkaBroker(t).proc.cmd.Process.Pid
		}},
		"PostgreSQL server": {start: func(t *testing.T) int {
			if os.Getenv(PostgresDSNEnv) != "" {
				t.Skipf("%s is set: the server is not one this process starts", PostgresDSNEnv)
			}
			Postgres(t)
			return pg.srv.cmd.Process.Pid
		}},
	}
	if row := os.Getenv(envOrphanHelper); row != "" {
		tc, ok := tests[row]
		if !ok {
			t.Fatalf("%s=%q names no row", envOrphanHelper, row)
		}
		pids := Descendants(tc.start(t))
		fmt.Printf("pids %s\n", strings.Trim(fmt.Sprint(pids), "[]"))
		select {}
	}
	for name := range tests {
		t.Run(name, func(t *testing.T) {
			helper := exec.Command(os.Args[0], "-test.run=^TestKilledTestBinaryStopsServices$", "-test.timeout=5m")
			helper.Env = append(os.Environ(), envOrphanHelper+"="+name)
			helper.Stderr = os.Stderr
			out, err := helper.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := helper.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = helper.Process.Kill(); _ = helper.Wait() }()
			var pids []int
			var lines []string
			sc := bufio.NewScanner(out)
			for pids == nil && sc.Scan() {
				rest, ok := strings.CutPrefix(sc.Text(), "pids ")
				if !ok {
					lines = append(lines, sc.Text())
					continue
				}
				for _, f := range strings.Fields(rest) {
					if pid, err := strconv.Atoi(f); err == nil {
						pids = append(pids, pid)
					}
				}
			}
			if pids == nil {
				if strings.Contains(strings.Join(lines, "\n"), "--- SKIP") {
					t.Skipf("the helper test binary skipped:\n%s", strings.Join(lines, "\n"))
				}
				t.Fatalf("the helper test binary did not start the service:\n%s", strings.Join(lines, "\n"))
			}
			// Whatever the outcome, leave nothing behind.
			defer func() {
				for _, pid := range pids {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}()
			if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = helper.Wait()
			killed := time.Now()
			deadline := killed.Add(40 * time.Second)
			for _, pid := range pids {
				for Alive(pid) {
					if time.Now().After(deadline) {
						cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
						t.Fatalf("process %d (%s) of the %s still runs %s after the test binary that started it was killed",
							pid, strings.ReplaceAll(string(cmdline), "\x00", " "), name, time.Since(killed).Round(time.Second))
					}
					<-time.After(10 * time.Millisecond)
				}
			}
			t.Logf("its %d processes ended %s after the test binary was killed", len(pids), time.Since(killed).Round(time.Millisecond))
		})
	}
}

// TestStartChildOutlivesTheThreadThatCalledIt calls StartChild from a
// goroutine whose OS thread the runtime ends once it returns: the
// parent-death signal is tied to the thread that forked the child
// (golang.org/issue/27505), and the child must die with the test
// process, not with one of its threads.
func TestStartChildOutlivesTheThreadThatCalledIt(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	var err error
	onEndingThread(func() { err = StartChild(cmd) })
	if err != nil {
		t.Fatalf("StartChild(sleep 60): %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// The thread's end is not observable from here: watch the child for a
	// while, as it would be killed at once.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); <-time.After(20 * time.Millisecond) {
		if !Alive(cmd.Process.Pid) {
			t.Fatalf("the child (pid %d) died when the thread that called StartChild ended", cmd.Process.Pid)
		}
	}
}

// onEndingThread runs f on an OS thread of its own that the runtime ends
// once f returns. Not the main thread, which the runtime never ends.
func onEndingThread(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if syscall.Gettid() == os.Getpid() {
			onEndingThread(f) // on another thread: this one is held here
			runtime.UnlockOSThread()
			return
		}
		f()
	}()
	<-done
}
