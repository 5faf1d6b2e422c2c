package pluginhost

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestRelaunchIsolatesSiteWhoseConfigureCrashes: a site whose Configure
// kills the plugin process at every relaunch (a bad setting the adapter
// panics on) does not keep the plugin down for its other sites: after
// DefaultConfigureCrashLimit such crashes the plugin is relaunched without
// it and serves the others; the site's calls fail retryably without
// reaching the plugin; the plugin's status names the site and why. A
// reload that configures it and crashes the plugin again leaves it
// isolated (and undoing that reload does not configure it again); a
// reload whose Configure of the site succeeds ends the isolation.
func TestRelaunchIsolatesSiteWhoseConfigureCrashes(t *testing.T) {
	t.Parallel()
	path, sum := buildPlugin(t, "github.com/medgate/medgate/host/internal/pluginhost/testdata/picky")
	cases := map[string]struct {
		crash map[string]string // how the bad site's Configure kills the process
	}{
		"Configure panics": {crash: map[string]string{"panic": "1"}},
		"Configure exits":  {crash: map[string]string{"exit": "1"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs lockedBuffer
			var health healthLog
			in, err := Start(t.Context(), Spec{Name: "picky", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{
				Logger: slog.New(slog.NewTextHandler(&logs, nil)), HealthInterval: 20 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
				CallTimeout: 5 * time.Second, OnHealth: health.note,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			marker := filepath.Join(t.TempDir(), "fail")
			bad := map[string]string{"failIf": marker}
			for k, v := range tc.crash {
				bad[k] = v
			}
			for site, settings := range map[string]map[string]string{"good1": {}, "bad": bad, "good2": {}} {
				if diags, err := in.Configure(t.Context(), site, settings); err != nil || diags.HasError() {
					t.Fatalf("configure %s: %v %v", site, err, diags)
				}
			}
			if err := os.WriteFile(marker, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			pid := in.Pid()
			in.Kill()
			waitServing(t, in, pid, "good1", "good2")
			if _, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: "bad", Type: "picky.echo", MessageID: "m-bad", Attempt: 1}); err == nil ||
				!strings.Contains(err.Error(), `site "bad"`) || !strings.Contains(err.Error(), "reload") {
				t.Errorf("the isolated site's call: err = %v, want an error naming the site and that a reload configures it again", err)
			}
			running, _, lastErr := in.Status()
			if !running || lastErr == nil || !strings.Contains(lastErr.Error(), `site "bad"`) || !strings.Contains(lastErr.Error(), "Configure") {
				t.Errorf("status: running %v, last error %v; want running, with a last error naming the isolated site and its Configure", running, lastErr)
			}
			if got := in.Isolated(); len(got) != 1 || got["bad"] == nil {
				t.Errorf("Isolated() = %v, want site bad only", got)
			}
			if got := health.all(); !slices.Equal(got, []bool{true, false}) {
				t.Errorf("health reported %v; want up at start, then down (the crash, then running without the isolated site): [true false]", got)
			}
			if in.serves("bad") || !in.serves("good1") {
				t.Errorf("host services: site bad served %v, good1 %v; want the isolated site refused (the process runs without it), good1 served", in.serves("bad"), in.serves("good1"))
			}
			if !strings.Contains(logs.String(), "site=bad") {
				t.Errorf("the log does not name the isolated site:\n%s", logs.String())
			}

			// A reload tries the site again: its Configure crashes the
			// plugin once more; the reload is refused and undone, and the
			// plugin comes back for the other sites, the site still
			// isolated.
			before := in.Applied("bad")
			pid = in.Pid()
			if _, err := in.Configure(t.Context(), "bad", bad); err == nil {
				t.Fatal("a reload's Configure that crashed the plugin succeeded")
			}
			if err := in.Restore(t.Context(), before); err != nil {
				t.Errorf("undoing the refused reload: %v", err)
			}
			waitServing(t, in, pid, "good1", "good2")
			if got := in.Isolated(); got["bad"] == nil {
				t.Errorf("after a reload whose Configure crashed the plugin again, Isolated() = %v, want site bad", got)
			}

			// The setting is fixed: the reload configures the site and
			// ends its isolation.
			if err := os.Remove(marker); err != nil {
				t.Fatal(err)
			}
			if diags, err := in.Configure(t.Context(), "bad", bad); err != nil || diags.HasError() {
				t.Fatalf("reload with the site fixed: %v %v", err, diags)
			}
			if r, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: "bad", Type: "picky.echo", MessageID: "m-bad", Attempt: 2}); err != nil || r.Status != sdk.StatusOK {
				t.Errorf("site bad after the reload fixed it: %v %+v, want ok", err, r)
			}
			if _, _, lastErr := in.Status(); lastErr != nil || len(in.Isolated()) != 0 {
				t.Errorf("after the reload fixed the site: last error %v, isolated %v; want none", lastErr, in.Isolated())
			}
			if got := health.all(); !slices.Equal(got, []bool{true, false, true}) {
				t.Errorf("health reported %v; want up again once the reload fixed the site: [true false true]", got)
			}
		})
	}
}

// waitServing polls until the plugin runs in a process other than pid and
// answers ok for each site.
func waitServing(t *testing.T, in *Instance, pid int, sites ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if running, _, _ := in.Status(); running && in.Pid() != pid {
			break
		}
		if time.Now().After(deadline) {
			_, _, lastErr := in.Status()
			t.Fatalf("the plugin was not relaunched for its sites %v within 30s (last error: %v)", sites, lastErr)
		}
		time.Sleep(10 * time.Millisecond) // polling the supervisor
	}
	for _, site := range sites {
		r, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: "picky.echo", MessageID: "m-" + site, Attempt: 1})
		if err != nil || r.Status != sdk.StatusOK {
			t.Errorf("site %s after the relaunch: %v %+v, want ok", site, err, r)
		}
	}
}

// healthLog records what Options.OnHealth reports.
type healthLog struct {
	mu sync.Mutex
	up []bool
}

func (h *healthLog) note(_ string, up bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.up = append(h.up, up)
}

func (h *healthLog) all() []bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]bool(nil), h.up...)
}
