package browser

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/medgate/medgate/test/testenv"
)

// envOrphanHelper, set, makes this test binary the one
// TestKilledTestBinaryTakesChromiumAlong SIGKILLs: it starts Chromium,
// prints the pids of the browser and every process under it and waits to
// be killed.
const envOrphanHelper = "BROWSER_TEST_ORPHAN_HELPER"

// TestKilledTestBinaryTakesChromiumAlong SIGKILLs a test binary (this one
// run again, see envOrphanHelper) while the Chromium it started runs: no
// cleanup runs, yet the browser and every process under it (zygotes,
// renderers, the GPU process) must die with it.
func TestKilledTestBinaryTakesChromiumAlong(t *testing.T) {
	if os.Getenv(envOrphanHelper) != "" {
		b := Start(t, "http://127.0.0.1:1")
		b.Go("data:text/html,<p>page</p>") // a renderer for a page, too
		pids := testenv.Descendants(chromedp.FromContext(b.Context()).Browser.Process().Pid)
		fmt.Printf("pids %s\n", strings.Trim(fmt.Sprint(pids), "[]"))
		select {}
	}
	if _, err := Binary(); err != nil {
		t.Skipf("browser test skipped: %v", err)
	}
	helper := exec.Command(os.Args[0], "-test.run=^TestKilledTestBinaryTakesChromiumAlong$", "-test.timeout=5m")
	helper.Env = append(os.Environ(), envOrphanHelper+"=1")
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
	if len(pids) < 2 {
		t.Fatalf("the helper test binary did not start Chromium with processes under it (pids %v):\n%s", pids, strings.Join(lines, "\n"))
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
	deadline := killed.Add(20 * time.Second)
	for _, pid := range pids {
		for testenv.Alive(pid) {
			if time.Now().After(deadline) {
				cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				t.Fatalf("Chromium process %d (%.120s) still runs %s after the test binary that started it was killed",
					pid, strings.ReplaceAll(string(cmdline), "\x00", " "), time.Since(killed).Round(time.Second))
			}
			<-time.After(10 * time.Millisecond)
		}
	}
	t.Logf("its %d processes ended %s after the test binary was killed", len(pids), time.Since(killed).Round(time.Millisecond))
}
