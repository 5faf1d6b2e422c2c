package sites

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var (
	ledgerOnce sync.Once
	ledgerPath string
	ledgerSum  string
	ledgerErr  error
)

// ledger builds the test plugin once per test binary.
func ledger(t testing.TB) (path, sum string) {
	t.Helper()
	ledgerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sites-test-")
		if err != nil {
			ledgerErr = err
			return
		}
		ledgerPath = filepath.Join(dir, "ledger")
		if out, err := exec.Command("go", "build", "-o", ledgerPath, "github.com/medgate/medgate/test/plugins/ledger").CombinedOutput(); err != nil {
			ledgerErr = fmt.Errorf("%w\n%s", err, out)
			return
		}
		data, err := os.ReadFile(ledgerPath)
		if err != nil {
			ledgerErr = err
			return
		}
		h := sha256.Sum256(data)
		ledgerSum = hex.EncodeToString(h[:])
	})
	if ledgerErr != nil {
		t.Fatalf("build the ledger plugin: %v", ledgerErr)
	}
	return ledgerPath, ledgerSum
}

// at is the ledger plugin at one site with its settings (nil: disabled
// there).
type at struct {
	site     string
	settings map[string]string
}

// siteCfg is a configuration of the ledger plugin at the given sites, in
// order.
func siteCfg(sites ...at) *config.Config {
	cfg := &config.Config{File: "/nonexistent/medgate.yaml", Plugins: []config.Plugin{{Name: "ledger"}}}
	off := false
	for _, a := range sites {
		sp := config.SitePlugin{Settings: a.settings}
		if a.settings == nil {
			sp.Enabled = &off
		}
		cfg.Sites = append(cfg.Sites, config.Site{Code: a.site, Plugins: map[string]config.SitePlugin{"ledger": sp}})
	}
	return cfg
}

// TestRefusedReloadLeavesPluginsAsTheyWere: a reload refused for any
// site, by the settings check or by the plugin itself, leaves every
// running plugin as it was: the sites it serves, the settings it holds
// and re-applies after a relaunch, none forgotten and none changed. An
// accepted reload makes the plugin forget the sites it is disabled at or
// that are gone.
func TestRefusedReloadLeavesPluginsAsTheyWere(t *testing.T) {
	t.Parallel()
	path, sum := ledger(t)
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		h3      map[string]string
		then    func() error // ApplyThen's check (the daemon's mappings)
		problem string
	}{
		"settings problem": {h3: map[string]string{"label": "no ledgerDir"}, problem: "sites[3].plugins.ledger.settings.ledgerDir"},
		"plugin refuses":   {h3: map[string]string{"ledgerDir": filepath.Join(notADir, "sub")}, problem: "cannot create the ledger directory"},
		"later check refuses": {h3: map[string]string{"ledgerDir": t.TempDir()}, problem: "mappings do not compile",
			then: func() error { return errors.New("mappings do not compile") }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			restarted := make(chan struct{}, 10)
			in, err := pluginhost.Start(t.Context(), pluginhost.Spec{Name: "ledger", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), pluginhost.Options{
				Logger: quiet, PluginOutput: io.Discard, HealthInterval: 20 * time.Millisecond, MinBackoff: 10 * time.Millisecond,
				OnRestart: func(string) { restarted <- struct{}{} },
			})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			plugins := map[string]*pluginhost.Instance{"ledger": in}
			d1, d1new, d2, d3, d4 := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
			if _, _, err := Apply(t.Context(), siteCfg(at{"h1", map[string]string{"ledgerDir": d1}}, at{"h2", map[string]string{"ledgerDir": d2}}, at{"h3", map[string]string{"ledgerDir": d3}}), plugins, quiet); err != nil {
				t.Fatal(err)
			}
			// The refused reload: h1 moves its ledger, h2 is disabled, h4 is
			// new, h3 is wrong.
			_, _, err = ApplyThen(t.Context(), siteCfg(at{"h1", map[string]string{"ledgerDir": d1new}}, at{"h2", nil}, at{"h4", map[string]string{"ledgerDir": d4}}, at{"h3", tc.h3}), plugins, quiet, tc.then)
			if err == nil || !strings.Contains(err.Error(), tc.problem) {
				t.Fatalf("reload = %v, want refused with %q", err, tc.problem)
			}
			check := func(when, id string) {
				t.Helper()
				if got := in.Sites(); !slices.Equal(got, []string{"h1", "h2", "h3"}) {
					t.Errorf("%s: the plugin serves %v, want [h1 h2 h3] as before the refused reload", when, got)
				}
				r, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: "h1", Type: "ledger.record", MessageID: id, Key: "k", Payload: []byte(`{"seq":1}`), Attempt: 1})
				if err != nil || r.Status != sdk.StatusOK {
					t.Fatalf("%s: handle at h1: %v %+v", when, err, r)
				}
				if b, err := os.ReadFile(filepath.Join(d1, "calls.log")); err != nil || !strings.Contains(string(b), id) {
					t.Errorf("%s: %s is not in h1's ledger %s (%v): the plugin lost h1's settings", when, id, d1, err)
				}
				if _, err := os.Stat(filepath.Join(d1new, "calls.log")); err == nil {
					t.Errorf("%s: h1's message went to the refused ledger %s", when, d1new)
				}
			}
			check("after the refused reload", "m-refused")
			in.Kill()
			select {
			case <-restarted:
			case <-time.After(time.Minute):
				t.Fatal("the plugin was not relaunched within a minute")
			}
			check("after a relaunch", "m-relaunched")

			// An accepted reload: h2 disabled, h3 gone.
			if _, _, err := Apply(t.Context(), siteCfg(at{"h1", map[string]string{"ledgerDir": d1}}, at{"h2", nil}), plugins, quiet); err != nil {
				t.Fatal(err)
			}
			if got := in.Sites(); !slices.Equal(got, []string{"h1"}) {
				t.Errorf("after the accepted reload the plugin serves %v, want [h1]", got)
			}
		})
	}
}
