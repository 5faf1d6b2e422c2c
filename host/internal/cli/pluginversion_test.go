package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/api"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/siteadmin"
	"github.com/medgate/medgate/host/internal/store"
)

// inForce is a running medgate as its admin API's plugin status sees it:
// the configuration in force (a reload that was refused or not done leaves
// the previous one) and its running plugins.
type inForce struct{ cfg *config.Config }

func (h inForce) Config() *config.Config { return h.cfg }
func (h inForce) Plugins() []siteadmin.Plugin {
	var out []siteadmin.Plugin
	for _, p := range h.cfg.Plugins {
		out = append(out, siteadmin.Plugin{Name: p.Name, Version: "1.0.0", Running: true})
	}
	return out
}
func (h inForce) Reload(context.Context) error { return errors.New("not used") }

// TestPluginCommandSaysWhenMedgateRunsAnotherBinary: a plugin command
// launches the plugin binary the configuration file names, checksum
// verified against the file's sha256 (a wrong pin refuses to run it).
// When that file was changed to name another binary and its reload was
// refused (or not done), the running medgate still runs the previous
// one, and the command ran the new one without a word. It now says so,
// naming both (version, path, sha256) and what to do, when it can ask
// the running medgate (GET /admin/plugins/status) without asking for a
// password; it runs as before.
func TestPluginCommandSaysWhenMedgateRunsAnotherBinary(t *testing.T) {
	t.Setenv("MEDGATE_USER", "")
	base := ledgerConfig(t)
	dir := filepath.Dir(base)
	bin, err := os.ReadFile(ledgerPath)
	if err != nil {
		t.Fatal(err)
	}
	// The same program with other bytes (a rebuild): another checksum.
	newPath := filepath.Join(dir, "ledger-new")
	newBin := append(bytes.Clone(bin), []byte("\n# rebuilt\n")...)
	if err := os.WriteFile(newPath, newBin, 0o700); err != nil {
		t.Fatal(err)
	}
	oldSum, newSum := sha256.Sum256(bin), sha256.Sum256(newBin)
	const token = "0123456789abcdef0123456789abcdef"
	if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	// write writes the configuration naming the ledger binary at path
	// with sum (none: no plugin) and medgate's address.
	write := func(name, path string, sum [32]byte, addr string) string {
		t.Helper()
		c := strings.Replace(string(conf), ledgerPath, path, 1)
		c = strings.Replace(c, hex.EncodeToString(oldSum[:]), hex.EncodeToString(sum[:]), 1)
		if path == "" {
			c = "sites:\n  - code: s1\n"
		}
		c += "http:\n  listen: " + addr + "\n  adminToken: file:admin-token\n"
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// running starts a medgate whose configuration in force names the
	// ledger binary at path with sum.
	running := func(path string, sum [32]byte) string {
		t.Helper()
		var h inForce
		srv := httptest.NewServer(api.Handler(reloadBackend{}, api.Options{IngressTimeout: time.Second, MaxBodyBytes: 1 << 10,
			Registry: prometheus.NewRegistry(), Logger: log, Audit: audit.New(st, log), AdminToken: token, Sites: siteadmin.New(&h)}))
		t.Cleanup(srv.Close)
		addr := strings.TrimPrefix(srv.URL, "http://")
		cfg, err := config.Load(write("in-force-"+filepath.Base(path)+".yaml", path, sum, addr))
		if cfg == nil {
			t.Fatal(err)
		}
		h.cfg = cfg
		return addr
	}
	oldAddr, newAddr, noneAddr := running(ledgerPath, oldSum), running(newPath, newSum), running("", [32]byte{})

	for _, tc := range []struct {
		name    string
		file    string
		want    []string
		notWant []string
	}{
		{name: "the file names what runs", file: write("same.yaml", newPath, newSum, newAddr), notWant: []string{"warning"}},
		{name: "the file names another binary than runs", file: write("changed.yaml", newPath, newSum, oldAddr),
			want: []string{"warning: the running medgate", "ledger", ledgerPath, hex.EncodeToString(oldSum[:]), newPath, hex.EncodeToString(newSum[:]),
				"refused", "medgate reload", "runs the one the file names"}},
		{name: "the running medgate has no such plugin", file: write("added.yaml", newPath, newSum, noneAddr),
			want: []string{"warning: the running medgate", "no plugin ledger", "medgate reload"}},
		{name: "medgate not running", file: write("down.yaml", newPath, newSum, "127.0.0.1:1"), notWant: []string{"warning"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := Main([]string{"ledger", "effects", "-config", tc.file}, &out, &errOut); code != 0 {
				t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
			}
			if !strings.Contains(out.String(), "2 effects at site s1") {
				t.Errorf("the command did not run:\n%s", out.String())
			}
			checkShown(t, errOut.String(), tc.want, tc.notWant)
			if strings.Contains(out.String()+errOut.String(), token) {
				t.Error("the admin token was printed")
			}
		})
	}

	// A pin that does not match the binary refuses to run it.
	wrong := write("wrong-pin.yaml", newPath, oldSum, oldAddr)
	var out, errOut bytes.Buffer
	if code := Main([]string{"ledger", "effects", "-config", wrong}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "sha256") {
		t.Errorf("a wrong sha256 pin: exit %d, want 1 naming the checksum\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
}
