package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/test/testenv"
)

// buildNamedVersion builds the vendor plugin of the tests as the plugin name at
// version into dir and returns its path and sha256.
func buildNamedVersion(t *testing.T, dir, name, version string) (string, string) {
	t.Helper()
	bin := filepath.Join(dir, "plugins", name+"-"+version)
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version="+version+" -X main.name="+name, "-o", bin, "./testdata/acme").CombinedOutput(); err != nil {
		t.Fatalf("build the vendor plugin %s %s: %v\n%s", name, version, err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return bin, hex.EncodeToString(sum[:])
}

// TestRefusedUpgradeListsEveryProblem: a reload that installs two
// vendors' new versions, one whose binary does not match its pin and one
// whose site settings are wrong, is refused with both problems in one
// report, and both plugins keep running their old versions. The reload
// used to stop at the binary that did not launch, so the settings'
// problem came only at the next reload.
func TestRefusedUpgradeListsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	acme1, acmeSum1 := buildNamedVersion(t, dir, "acme", "1.0.0")
	acme2, _ := buildNamedVersion(t, dir, "acme", "2.0.0")
	beta1, betaSum1 := buildNamedVersion(t, dir, "beta", "1.0.0")
	beta2, betaSum2 := buildNamedVersion(t, dir, "beta", "2.0.0")
	listen := testenv.FreeAddr(t)
	cfgPath := filepath.Join(dir, "medgate.yaml")
	writeCfg := func(acme, acmeSum, beta, betaSum, betaSettings string) {
		t.Helper()
		text := fmt.Sprintf(`kafka:
  embedded: {listen: %q, dataDir: kafka}
store: {path: db/medgate.db}
http: {listen: 127.0.0.1:0}
plugins:
  - {name: acme, path: %q, sha256: %s}
  - {name: beta, path: %q, sha256: %s}
sites:
  - code: h1
    plugins: {acme: {}, beta: {settings: {%s}}}
`, listen, acme, acmeSum, beta, betaSum, betaSettings)
		if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg(acme1, acmeSum1, beta1, betaSum1, "")
	d, err := Start(t.Context(), cfgPath, Options{Out: io.Discard})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer func() { _ = d.Close() }()

	// acme 2.0.0 pinned with 1.0.0's sum; beta 2.0.0 with a setting it
	// does not declare.
	writeCfg(acme2, acmeSum1, beta2, betaSum2, "nosuch: x")
	err = d.Reload(t.Context())
	if err == nil {
		t.Fatal("the reload was accepted")
	}
	for _, want := range []string{"plugins[0]", "checksum", "sites[0].plugins.beta.settings.nosuch", "unknown setting"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refused reload's report lacks %q:\n%v", want, err)
		}
	}
	for _, name := range []string{"acme", "beta"} {
		in := d.Plugin(name)
		if in == nil {
			t.Fatalf("%s is gone after the refused reload", name)
		}
		if v := in.Description().Version; v != "1.0.0" {
			t.Errorf("after the refused reload %s runs %s, want 1.0.0", name, v)
		}
		if running, _, lastErr := in.Status(); !running {
			t.Errorf("after the refused reload %s is not running: %v", name, lastErr)
		}
	}
}

// TestUpgradeAndRollBack: a vendor's new version put to work by a reload,
// then the previous one put back by another (a rollback), each time with
// its pin: the version named serves the next message, and the process of
// the one it replaced stops.
func TestUpgradeAndRollBack(t *testing.T) {
	dir := t.TempDir()
	bin1, sum1 := buildAcme(t, dir, "1.0.0")
	bin2, sum2 := buildAcme(t, dir, "2.0.0")
	listen := testenv.FreeAddr(t)
	cfgPath := filepath.Join(dir, "medgate.yaml")
	writeCfg := func(bin, sum string) {
		t.Helper()
		text := fmt.Sprintf(`kafka:
  embedded: {listen: %q, dataDir: kafka}
store: {path: db/medgate.db}
http: {listen: 127.0.0.1:0}
plugins:
  - {name: acme, path: %q, sha256: %s}
sites:
  - code: h1
    plugins: {acme: {}}
`, listen, bin, sum)
		if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg(bin1, sum1)
	d, err := Start(t.Context(), cfgPath, Options{Out: io.Discard})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer func() { _ = d.Close() }()
	for i, step := range []struct{ bin, sum, version string }{
		{bin2, sum2, "2.0.0"}, // the upgrade
		{bin1, sum1, "1.0.0"}, // the rollback
	} {
		pid := d.Plugin("acme").Pid()
		if pid == 0 || !processAlive(pid) {
			t.Fatalf("before the reload to %s acme runs no process (pid %d)", step.version, pid)
		}
		writeCfg(step.bin, step.sum)
		if err := d.Reload(t.Context()); err != nil {
			t.Fatalf("reload to %s: %v", step.version, err)
		}
		if v := d.Plugin("acme").Description().Version; v != step.version {
			t.Fatalf("after the reload to %s acme %s is listed", step.version, v)
		}
		if status, by, body := replyOf(t, postVisit(t, d, fmt.Sprintf("m-%d", i))); status != "ok" || by != step.version {
			t.Fatalf("a message after the reload to %s got %s", step.version, body)
		}
		for deadline := time.Now().Add(30 * time.Second); processAlive(pid); {
			if time.Now().After(deadline) {
				t.Fatalf("the process %d of the version replaced by %s still runs 30s after the reload", pid, step.version)
			}
			time.Sleep(10 * time.Millisecond) // polling the process table
		}
	}
}

// processAlive reports whether a process with id pid exists (and is not
// a zombie medgate has reaped).
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return p.Signal(syscall.Signal(0)) == nil
}
