package sites

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
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
				Logger: quiet, HealthInterval: 20 * time.Millisecond, MinBackoff: 10 * time.Millisecond,
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

// TestRefusedReloadReportsHostAndPluginProblems: a reload with a site
// whose settings fail the host's check and another whose plugin refuses
// its settings is reported with both problems at once (so an
// administrator fixes them in one round), and leaves the plugin holding
// exactly what it held before.
func TestRefusedReloadReportsHostAndPluginProblems(t *testing.T) {
	t.Parallel()
	path, sum := ledger(t)
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := pluginhost.Start(t.Context(), pluginhost.Spec{Name: "ledger", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), pluginhost.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	plugins := map[string]*pluginhost.Instance{"ledger": in}
	d1, d2, d3 := t.TempDir(), t.TempDir(), t.TempDir()
	if _, _, err := Apply(t.Context(), siteCfg(at{"h1", map[string]string{"ledgerDir": d1}}, at{"h2", map[string]string{"ledgerDir": d2}}), plugins, quiet); err != nil {
		t.Fatal(err)
	}
	sites := []string{"h1", "h2", "h3"}
	before := map[string]pluginhost.Applied{}
	for _, s := range sites {
		before[s] = in.Applied(s)
	}

	// h1 lacks its required ledgerDir (the host's check), the plugin
	// cannot create h2's (its own check), h3 is new and fine.
	_, _, err = Apply(t.Context(), siteCfg(at{"h1", map[string]string{"label": "no ledgerDir"}}, at{"h2", map[string]string{"ledgerDir": filepath.Join(notADir, "sub")}}, at{"h3", map[string]string{"ledgerDir": d3}}), plugins, quiet)
	var ps config.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("reload = %v, want config.Problems", err)
	}
	for _, want := range []struct{ path, message string }{
		{"sites[0].plugins.ledger.settings.ledgerDir", ""},
		{"sites[1].plugins.ledger.settings.ledgerDir", "cannot create the ledger directory"},
	} {
		if !slices.ContainsFunc(ps, func(p config.Problem) bool {
			return p.Path == want.path && strings.Contains(p.Message, want.message)
		}) {
			t.Errorf("the report lacks the problem at %s (%q):\n%v", want.path, want.message, err)
		}
	}
	if len(ps) != 2 {
		t.Errorf("the report has %d problems, want 2:\n%v", len(ps), err)
	}

	for _, s := range sites {
		if got := in.Applied(s); !reflect.DeepEqual(got, before[s]) {
			t.Errorf("site %s after the refused reload: the plugin holds %+v, want %+v as before", s, got, before[s])
		}
	}
	if got := in.Sites(); !slices.Equal(got, []string{"h1", "h2"}) {
		t.Errorf("after the refused reload the plugin serves %v, want [h1 h2] as before", got)
	}
	// The plugin process itself went back to h2's settings.
	r, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: "h2", Type: "ledger.record", MessageID: "m-after", Key: "k", Payload: []byte(`{"seq":1}`), Attempt: 1})
	if err != nil || r.Status != sdk.StatusOK {
		t.Fatalf("handle at h2: %v %+v", err, r)
	}
	if b, err := os.ReadFile(filepath.Join(d2, "calls.log")); err != nil || !strings.Contains(string(b), "m-after") {
		t.Errorf("m-after is not in h2's ledger %s (%v): the plugin lost h2's settings", d2, err)
	}
}

// TestRefusedReloadReportsTheLaterCheckToo: a reload whose site settings
// have problems and whose later check (the daemon's mappings, compiled
// against the schema documents of the plugins: a vendor's new version
// that renamed a setting and tightened a schema) fails too is reported
// with both at once, as `medgate check-config` reports them. The later
// check used to run only once the settings had none, so an administrator
// learnt of the mappings only at the next reload. A later check that
// fails alone is returned as it is.
func TestRefusedReloadReportsTheLaterCheckToo(t *testing.T) {
	t.Parallel()
	path, sum := ledger(t)
	in, err := pluginhost.Start(t.Context(), pluginhost.Spec{Name: "ledger", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), pluginhost.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	plugins := map[string]*pluginhost.Instance{"ledger": in}
	mappingProblem := config.Problem{File: "/nonexistent/medgate.yaml", Path: "transforms", Message: "site h2: ledger.record: $.seq: the target schema no longer has this field"}
	cases := map[string]struct {
		h1   map[string]string
		then func() error
		want []string // paths of the problems reported, in order
		err  string   // the error as it is, when it is no config.Problems
	}{
		"settings and mappings": {h1: map[string]string{"label": "no ledgerDir"}, then: func() error { return config.Problems{mappingProblem} },
			want: []string{"sites[0].plugins.ledger.settings.ledgerDir", "transforms"}},
		"settings and another error": {h1: map[string]string{"label": "no ledgerDir"}, then: func() error { return errors.New("the mappings directory cannot be read") },
			want: []string{"sites[0].plugins.ledger.settings.ledgerDir", ""}},
		"mappings alone": {h1: map[string]string{"ledgerDir": t.TempDir()}, then: func() error { return config.Problems{mappingProblem} },
			want: []string{"transforms"}},
		"another error alone": {h1: map[string]string{"ledgerDir": t.TempDir()}, then: func() error { return errors.New("the mappings directory cannot be read") },
			err: "the mappings directory cannot be read"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := ApplyThen(t.Context(), siteCfg(at{"h1", tc.h1}, at{"h2", map[string]string{"ledgerDir": t.TempDir()}}), plugins, quiet, tc.then)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("reload = %v, want %q", err, tc.err)
				}
				return
			}
			var ps config.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("reload = %v, want config.Problems", err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Path)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems at %q, want %q:\n%v", got, tc.want, err)
			}
			if slices.Contains(tc.want, "") && !strings.Contains(err.Error(), "the mappings directory cannot be read") {
				t.Errorf("the report lacks the later check's error:\n%v", err)
			}
		})
	}
}

// TestRefusedSettingsDoNotHideThePluginsProblems: a site whose settings
// fail the host's check (an unknown name, a missing required value) is
// still configured without them when its plugin does not serve it yet,
// so the report also holds what the plugin refuses in the rest (an
// administrator used to fix the misspelt name, run check-config again and
// only then learn the ledger directory cannot be created), and none of
// the plugin's follow-ons of the refused settings. A site the plugin
// serves keeps its settings meanwhile: it is not configured with the
// rest, and reports the host's problems alone.
func TestRefusedSettingsDoNotHideThePluginsProblems(t *testing.T) {
	t.Parallel()
	path, sum := ledger(t)
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(notADir, "sub")
	type problem struct{ setting, message string }
	cases := map[string]struct {
		served   bool // the plugin already serves the site
		settings map[string]string
		want     []problem
	}{
		"unknown setting and a directory the plugin cannot create": {
			settings: map[string]string{"ledgerDir": bad, "lable": "x"},
			want:     []problem{{"lable", "unknown setting"}, {"ledgerDir", "cannot create the ledger directory"}},
		},
		"a missing required setting has no follow-on": {
			settings: map[string]string{"label": "warn"},
			want:     []problem{{"ledgerDir", "is required"}},
		},
		"a configuration the plugin accepts but for the refused settings": {
			settings: map[string]string{"ledgerDir": "GOOD", "label": "warn", "lable": "x"},
			want:     []problem{{"lable", "unknown setting"}},
		},
		"a served site reports the host's problems alone": {
			served:   true,
			settings: map[string]string{"ledgerDir": bad, "lable": "x"},
			want:     []problem{{"lable", "unknown setting"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in, err := pluginhost.Start(t.Context(), pluginhost.Spec{Name: "ledger", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), pluginhost.Options{Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			plugins := map[string]*pluginhost.Instance{"ledger": in}
			good := t.TempDir()
			if tc.served {
				if _, _, err := Apply(t.Context(), siteCfg(at{"h1", map[string]string{"ledgerDir": good}}), plugins, quiet); err != nil {
					t.Fatal(err)
				}
			}
			if tc.settings["ledgerDir"] == "GOOD" {
				tc.settings = maps.Clone(tc.settings)
				tc.settings["ledgerDir"] = t.TempDir()
			}
			before := in.Applied("h1")
			var logged lockedBuffer
			log := slog.New(slog.NewTextHandler(&logged, nil))
			_, _, err = Apply(t.Context(), siteCfg(at{"h1", tc.settings}), plugins, log)
			var ps config.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Apply = %v, want config.Problems", err)
			}
			var got []problem
			for _, p := range ps {
				setting := strings.TrimPrefix(p.Path, "sites[0].plugins.ledger.settings.")
				i := slices.IndexFunc(tc.want, func(w problem) bool { return w.setting == setting && strings.Contains(p.Message, w.message) })
				if i < 0 {
					t.Errorf("unexpected problem %s: %s", p.Path, p.Message)
					continue
				}
				got = append(got, tc.want[i])
			}
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("the report lacks %q at settings.%s:\n%v", w.message, w.setting, err)
				}
			}
			if got := in.Applied("h1"); !reflect.DeepEqual(got, before) {
				t.Errorf("after the refused configuration the plugin holds %+v, want %+v as before", got, before)
			}
			if s := logged.String(); strings.Contains(s, "configuration warning") {
				t.Errorf("a warning of the refused configuration was logged:\n%s", s)
			}
			if tc.served {
				r, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: "h1", Type: "ledger.record", MessageID: "m-after", Key: "k", Payload: []byte(`{"seq":1}`), Attempt: 1})
				if err != nil || r.Status != sdk.StatusOK {
					t.Fatalf("handle at h1: %v %+v", err, r)
				}
				if b, err := os.ReadFile(filepath.Join(good, "calls.log")); err != nil || !strings.Contains(string(b), "m-after") {
					t.Errorf("m-after is not in h1's ledger %s (%v): the plugin lost its settings", good, err)
				}
			} else if got := in.Sites(); len(got) != 0 {
				t.Errorf("after the refused configuration the plugin serves %v, want none", got)
			}
		})
	}
}
