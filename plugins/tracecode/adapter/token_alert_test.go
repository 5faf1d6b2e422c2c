package adapter_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
)

// TestTokenRefusedAlertsOncePerStreak: the platform refusing the site's
// credentials at the token endpoint is logged as an ALERT (ERROR, the
// message starting "ALERT", which the host counts in
// medgate_plugin_alerts_total), once per streak of failed token
// requests, naming the site and the settings to check and never the
// secret; a streak ends with a token obtained. A token endpoint that
// does not answer (HTTP 503) is a transient outage: no ALERT.
func TestTokenRefusedAlertsOncePerStreak(t *testing.T) {
	t.Parallel()
	const (
		ok      = "ok"
		refused = "refused" // AUTH_FAILED: the credentials refused
		down    = "down"    // HTTP 503
	)
	tests := map[string]struct {
		answers []string // one per forced token request
		alerts  int
	}{
		"refused three times":              {[]string{refused, refused, refused}, 1},
		"endpoint down":                    {[]string{down, down, down}, 0},
		"down, then refused":               {[]string{down, refused, refused}, 1},
		"refused, fixed, refused again":    {[]string{refused, refused, ok, refused}, 2},
		"refused once, then obtained":      {[]string{refused, ok, ok}, 1},
		"tokens obtained, no refusal":      {[]string{ok, ok}, 0},
		"down, obtained, refused, refused": {[]string{down, ok, refused, refused}, 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, cst)}
			sim := tracecode.New(tracecode.Options{AppID: "app-1", AppSecret: appSecret, OrgCode: "H35020300001", TokenTTL: time.Hour, Seed: 42, Now: clk.Now})
			var mode atomic.Value
			mode.Store(ok)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/auth/token") {
					switch mode.Load() {
					case refused:
						w.Header().Set("Content-Type", "application/json")
						_, _ = w.Write([]byte(`{"code":"AUTH_FAILED","message":"应用标识或机构编码错误"}`))
						return
					case down:
						http.Error(w, "service unavailable", http.StatusServiceUnavailable)
						return
					}
				}
				sim.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			var logs syncBuffer
			a := adapter.New(adapter.WithClock(clk.Now), adapter.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			host := sdktest.NewMemoryHost()
			e := &env{t: t, sim: sim, url: srv.URL, host: host, plugin: sdktest.Connect(t, a, host), clock: clk, dir: t.TempDir()}
			if ds := e.configure(baseSettings(srv.URL, e.dir)); ds.HasError() {
				t.Fatal(ds)
			}
			for _, answer := range tc.answers {
				mode.Store(answer)
				e.send(adapter.OpToken, map[string]any{"force": true})
				clk.Add(time.Minute)
			}
			var alerts []string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, `msg="ALERT`) {
					alerts = append(alerts, l)
				}
			}
			if len(alerts) != tc.alerts {
				t.Fatalf("token answers %v: %d ALERT lines, want %d:\n%s", tc.answers, len(alerts), tc.alerts, logs.String())
			}
			for _, l := range alerts {
				if !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "site=") || !strings.Contains(l, "appSecret") {
					t.Errorf("ALERT line is not an ERROR naming the site and the settings to check (appSecret, …): %s", l)
				}
				if strings.Contains(l, appSecret) {
					t.Errorf("ALERT line carries the app secret: %s", l)
				}
			}
		})
	}
}
