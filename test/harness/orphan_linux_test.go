package harness

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/test/testenv"
)

func TestMain(m *testing.M) { Main(m) }

// envOrphanHelper, set to a medgate binary, makes this test binary the
// one TestKilledTestBinaryTakesMedgateAlong SIGKILLs: it starts that
// medgate with Start and the ledger plugin (envOrphanLedger, its checksum
// in envOrphanLedgerSum), prints the pids and waits to be killed.
const (
	envOrphanHelper    = "HARNESS_TEST_ORPHAN_MEDGATE"
	envOrphanLedger    = "HARNESS_TEST_ORPHAN_LEDGER"
	envOrphanLedgerSum = "HARNESS_TEST_ORPHAN_LEDGER_SHA256"
)

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

// TestKilledTestBinaryTakesMedgateAlong SIGKILLs a test binary (this one
// run again, see envOrphanHelper) while the medgate it started with Start
// runs a plugin: no cleanup of the test runs, yet medgate and its plugin
// must die with it, and not keep the ports, CPU and output pipes of the
// next run.
func TestKilledTestBinaryTakesMedgateAlong(t *testing.T) {
	if path := os.Getenv(envOrphanHelper); path != "" {
		b := &Bins{
			Medgate: path,
			Plugins: map[string]string{"ledger": os.Getenv(envOrphanLedger)},
			SHA256:  map[string]string{"ledger": os.Getenv(envOrphanLedgerSum)},
		}
		cfg := NewConfig(t, nil)
		cfg.Embedded, cfg.Listen = true, testenv.FreeAddr(t)
		// A quiet medgate: one that logs dies of SIGPIPE on its next line
		// once the test binary reading its output is gone, one that does
		// not would run on.
		cfg.Extra["log"] = map[string]any{"format": "json", "level": "error"}
		mg := Start(t, b, cfg.Write(t, b))
		fmt.Printf("pids %d %s\n", mg.cmd.Process.Pid, strings.Trim(fmt.Sprint(childPIDs(mg.cmd.Process.Pid)), "[]"))
		select {}
	}
	bins := Binaries(t)
	helper := exec.Command(os.Args[0], "-test.run=^TestKilledTestBinaryTakesMedgateAlong$", "-test.timeout=5m")
	helper.Env = append(os.Environ(), envOrphanHelper+"="+bins.Medgate,
		envOrphanLedger+"="+bins.Plugins["ledger"], envOrphanLedgerSum+"="+bins.SHA256["ledger"])
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	helper.Stderr = os.Stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = helper.Process.Kill(); _ = helper.Wait() }()
	var pids []int
	sc := bufio.NewScanner(out)
	for pids == nil && sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "pids ")
		if !ok {
			continue
		}
		for _, f := range strings.Fields(rest) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil && pid > 0 {
				pids = append(pids, pid)
			}
		}
	}
	if len(pids) < 2 {
		t.Fatalf("the helper test binary did not start medgate with its plugin (pids %v, read error %v)", pids, sc.Err())
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
	what := map[int]string{pids[0]: "medgate"}
	for _, pid := range pids[1:] {
		what[pid] = "its plugin"
	}
	killed := time.Now()
	deadline := killed.Add(20 * time.Second)
	for _, pid := range pids {
		for !gone(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("%s (pid %d) still runs 20s after the test binary that started it was killed", what[pid], pid)
			}
			<-time.After(10 * time.Millisecond)
		}
	}
	t.Logf("medgate and its plugin ended %s after the test binary was killed", time.Since(killed).Round(time.Millisecond))
}
