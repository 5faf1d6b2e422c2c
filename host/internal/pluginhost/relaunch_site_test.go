package pluginhost

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestRelaunchSurvivesOneSitesConfigure: after a crash, a site whose
// Configure now fails (an error, or no answer within the call timeout)
// does not keep the plugin down for its other sites: the plugin is
// relaunched, serves them, and the failing site's calls fail (so its
// messages are retried, never lost) until a reload or the next relaunch
// configures it; the log names the site.
func TestRelaunchSurvivesOneSitesConfigure(t *testing.T) {
	t.Parallel()
	path, sum := buildPlugin(t, "github.com/medgate/medgate/host/internal/pluginhost/testdata/picky")
	cases := map[string]struct {
		bad map[string]string // the failing site's settings, besides failIf
	}{
		"Configure fails": {bad: map[string]string{}},
		"Configure hangs": {bad: map[string]string{"hang": "1"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs lockedBuffer
			in, err := Start(t.Context(), Spec{Name: "picky", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{
				Logger: slog.New(slog.NewTextHandler(&logs, nil)), HealthInterval: 20 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
				CallTimeout: 300 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			marker := filepath.Join(t.TempDir(), "fail")
			bad := map[string]string{"failIf": marker}
			for k, v := range tc.bad {
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
			deadline := time.Now().Add(20 * time.Second)
			for {
				if running, _, _ := in.Status(); running && in.Pid() != pid {
					break
				}
				if time.Now().After(deadline) {
					_, _, lastErr := in.Status()
					t.Fatalf("the plugin was not relaunched within 20s for its good sites (last error: %v)", lastErr)
				}
				time.Sleep(10 * time.Millisecond) // polling the supervisor
			}
			for _, site := range []string{"good1", "good2"} {
				r, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: "picky.echo", MessageID: "m-" + site, Attempt: 1})
				if err != nil || r.Status != sdk.StatusOK {
					t.Errorf("site %s after the relaunch: %v %+v, want ok", site, err, r)
				}
			}
			if _, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: "bad", Type: "picky.echo", MessageID: "m-bad", Attempt: 1}); err == nil {
				t.Error("the site whose Configure failed was answered ok; want its call to fail (retried)")
			}
			if got := logs.String(); !strings.Contains(got, "site=bad") || !strings.Contains(got, "configure") {
				t.Errorf("the log does not name the site whose Configure failed:\n%s", got)
			}
		})
	}
}

// TestRelaunchDiesInConfigure: a relaunch whose process dies in a site's
// Configure fails, and the plugin's status says which site's Configure
// (GET /admin/plugins shows it), rather than running a dead process and
// logging every other site as failing to configure.
func TestRelaunchDiesInConfigure(t *testing.T) {
	t.Parallel()
	path, sum := buildPlugin(t, "github.com/medgate/medgate/host/internal/pluginhost/testdata/picky")
	var logs lockedBuffer
	in, err := Start(t.Context(), Spec{Name: "picky", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), HealthInterval: 20 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		CallTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	marker := filepath.Join(t.TempDir(), "fail")
	if diags, err := in.Configure(t.Context(), "bad", map[string]string{"failIf": marker, "exit": "1"}); err != nil || diags.HasError() {
		t.Fatalf("configure bad: %v %v", err, diags)
	}
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	in.Kill()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, _, lastErr := in.Status()
		if lastErr != nil && strings.Contains(lastErr.Error(), `reconfigure site "bad"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the plugin's status does not say that its relaunch died configuring site bad within 20s (last error: %v)", lastErr)
		}
		time.Sleep(10 * time.Millisecond) // polling the supervisor
	}
	if strings.Contains(logs.String(), "failed to configure a site after relaunch") {
		t.Errorf("a process that died in Configure was taken for a site's failure:\n%s", logs.String())
	}
}
