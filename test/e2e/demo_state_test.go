package e2e

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/testenv"
)

// TestDemoStateUnderData: the README's "The two commands" promises that
// `make run` keeps its state in data/ (broker, database, plugin data), and
// that `make clean` removes it. This test lays out the tree as `make run`
// sees it (deploy/demo as committed, bin/plugins, the secrets and checksums
// the Makefile writes under data/), starts medgate on the demo
// configuration (its ports moved to free ones), has it write a trace-code
// export, stops it, and lists what it wrote outside data/. Before, the
// plugins' files handed over to the console (the export workbooks, under
// artifacts.dir, whose default is data/artifacts beside the configuration)
// went to deploy/demo/data/artifacts, in the source tree, where `make
// clean` never removes them.
func TestDemoStateUnderData(t *testing.T) {
	t.Parallel()
	root := harness.RepoRoot(t)
	bins := harness.Binaries(t)
	tree := t.TempDir()
	demo := filepath.Join(tree, "deploy", "demo")
	if err := os.MkdirAll(demo, 0o755); err != nil {
		t.Fatal(err)
	}
	httpAddr, kafkaAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	entries, err := os.ReadDir(filepath.Join(root, "deploy", "demo"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue // deploy/demo/data of an earlier `make run`
		}
		data, err := os.ReadFile(filepath.Join(root, "deploy", "demo", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "medgate.yaml" {
			data = bytes.ReplaceAll(data, []byte("127.0.0.1:9092"), []byte(kafkaAddr))
			data = bytes.ReplaceAll(data, []byte("127.0.0.1:8080"), []byte(httpAddr))
		}
		if err := os.WriteFile(filepath.Join(demo, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plugins := filepath.Join(tree, "bin", "plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	names := []string{"ledger", "workinjury", "ecard", "selfpay", "tracecode"}
	for _, n := range names {
		if err := os.Symlink(bins.Plugins[n], filepath.Join(plugins, n)); err != nil {
			t.Fatal(err)
		}
	}
	// What `make run` writes before medgate starts, and what the
	// simulators write on their first start (random tokens).
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = tree
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run("bash", "deploy/demo/secrets.sh", "data/secrets")
	run("bash", append([]string{"deploy/demo/checksums.sh", "bin/plugins", "data/plugin-sha256sums"}, names...)...)
	for _, f := range []string{"sim/tracecode/app-secret", "sim/tracecode/hsa-token", "sim/selfpay/paas-token"} {
		p := filepath.Join(tree, "data", f)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("demo-state-test-0123456789abcdef"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	before := files(t, tree)

	var out bytes.Buffer
	// Started as make run starts it (deploy/demo/run.sh: bin/medgate), so
	// the hint's commands name bin/medgate as the README shows them.
	if err := os.Symlink(bins.Medgate, filepath.Join(tree, "bin", "medgate")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bin/medgate", "run", "-config", "deploy/demo/medgate.yaml")
	cmd.Dir, cmd.Stdout, cmd.Stderr = tree, &out, &out
	if err := testenv.StartChild(cmd); err != nil { // dies with the test binary
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(stop)
	base := "http://" + httpAddr
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("medgate on the demo configuration is not ready within 60s:\n%s", out.String())
		}
		select {
		case err := <-done:
			t.Fatalf("medgate on the demo configuration exited: %v\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	checkREADMEBanner(t, strings.NewReplacer(kafkaAddr, "127.0.0.1:9092", httpAddr, "127.0.0.1:8080").Replace(out.String()))
	today := time.Now().Format("2006-01-02")
	code, body := postMessage(t, base, `{"id":"demo-state-export","site":"demo","type":"tracecode.export","payload":{"from":"`+today+`"}}`)
	if code != http.StatusOK || !strings.Contains(body, `"artifact"`) {
		t.Fatalf("tracecode.export on the demo site: HTTP %d %s", code, body)
	}
	stop()

	var outside []string
	for _, f := range files(t, tree) {
		if !slices.Contains(before, f) && !strings.HasPrefix(f, "data/") {
			outside = append(outside, f)
		}
	}
	if len(outside) > 0 {
		t.Errorf("medgate on the demo configuration wrote outside data/ (the README: its state lives in data/, which `make clean` removes): %q", outside)
	}
}

// checkREADMEBanner checks what medgate printed on the demo
// configuration (out, with the demo's own addresses) against what the
// README's "The two commands" shows `make run` printing: every line of it
// that medgate prints is printed so, the version and the process id
// aside. (The simulators' lines before it are run.sh's;
// TestDemoRunWaitsForSimulators in test/hygiene checks those.)
func checkREADMEBanner(t *testing.T, out string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## The two commands\n")
	if !ok {
		t.Fatal(`README.md has no section "## The two commands"`)
	}
	_, block, ok := strings.Cut(section, "\n```\n")
	if !ok {
		t.Fatal(`README "The two commands": no block with what make run prints`)
	}
	block, _, _ = strings.Cut(block, "```")
	printed := strings.Split(out, "\n")
	n := 0
	for _, line := range strings.Split(strings.TrimRight(block, "\n"), "\n") {
		if strings.HasPrefix(line, "  simulator") {
			continue
		}
		n++
		re := regexp.QuoteMeta(line)
		re = strings.Replace(re, "medgate 64bd78f is running", `medgate \S+ is running`, 1)
		re = strings.Replace(re, "<pid>", `\d+`, 1)
		if !slices.ContainsFunc(printed, regexp.MustCompile("^"+re+"$").MatchString) {
			t.Errorf("README \"The two commands\" shows make run printing\n%s\nbut medgate on the demo configuration prints no such line:\n%s", line, out)
		}
	}
	if n < 5 {
		t.Fatalf("README \"The two commands\": %d lines of medgate's banner; has its form changed?", n)
	}
}

// files lists the regular files under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// postMessage sends one envelope to POST /v1/messages.
func postMessage(t *testing.T, base, env string) (int, string) {
	t.Helper()
	resp, err := http.Post(base+"/v1/messages", "application/json", strings.NewReader(env))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}
