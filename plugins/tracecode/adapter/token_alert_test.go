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

// TestTokenEndpointDownAlertsOncePerStreak: a token endpoint that does
// not answer was a WARN per attempt however long it lasted, so once it
// had been down for longer than a token lives, every trace-code call of
// the site stopped (no call is made without a token: the pharmacy's
// stock-in and stock-out uploads, the fetches) and nothing paged. It is
// an ALERT once such an outage has left the site without a usable token
// and lasted tokenOutageAlertAfter (5 minutes), once per streak of failed
// token requests; a refresh failing while the token still works, and a
// short outage, stay a WARN.
func TestTokenEndpointDownAlertsOncePerStreak(t *testing.T) {
	t.Parallel()
	const (
		ok   = "ok"
		down = "down" // HTTP 503
	)
	type step struct {
		at     time.Duration // after the start; the simulator's tokens live an hour
		answer string
	}
	tests := map[string]struct {
		steps  []step
		alerts int
	}{
		"down for longer than a token lives": {[]step{{0, ok}, {56 * time.Minute, down}, {61 * time.Minute, down}, {62 * time.Minute, down}, {90 * time.Minute, down}}, 1},
		"refresh fails, back before expiry":  {[]step{{0, ok}, {56 * time.Minute, down}, {58 * time.Minute, down}, {59 * time.Minute, ok}, {61 * time.Minute, ok}}, 0},
		"down at first use for a minute":     {[]step{{0, down}, {time.Minute, down}, {2 * time.Minute, ok}}, 0},
		"down at first use for ten minutes":  {[]step{{0, down}, {time.Minute, down}, {5 * time.Minute, down}, {10 * time.Minute, down}}, 1},
		"two outages, a token in between": {[]step{{0, ok}, {56 * time.Minute, down}, {61 * time.Minute, down}, {62 * time.Minute, ok},
			{118 * time.Minute, down}, {123 * time.Minute, down}, {130 * time.Minute, down}}, 2},
		"tokens obtained, no outage": {[]step{{0, ok}, {56 * time.Minute, ok}, {120 * time.Minute, ok}}, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			start := time.Date(2026, 11, 26, 10, 0, 0, 0, cst)
			clk := &clock{t: start}
			sim := tracecode.New(tracecode.Options{AppID: "app-1", AppSecret: appSecret, OrgCode: "H35020300001", TokenTTL: time.Hour, Seed: 42, Now: clk.Now})
			var mode atomic.Value
			mode.Store(ok)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/auth/token") && mode.Load() == down {
					http.Error(w, "service unavailable", http.StatusServiceUnavailable)
					return
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
			for _, s := range tc.steps {
				clk.Add(start.Add(s.at).Sub(clk.Now()))
				mode.Store(s.answer)
				e.send(adapter.OpToken, map[string]any{"force": false})
			}
			var alerts []string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, `msg="ALERT`) {
					alerts = append(alerts, l)
				}
			}
			if len(alerts) != tc.alerts {
				t.Fatalf("%d ALERT lines, want %d:\n%s", len(alerts), tc.alerts, logs.String())
			}
			for _, l := range alerts {
				if !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "site=") || !strings.Contains(l, "baseUrl") {
					t.Errorf("ALERT line is not an ERROR naming the site and what to check (baseUrl, …): %s", l)
				}
				if strings.Contains(l, appSecret) {
					t.Errorf("ALERT line carries the app secret: %s", l)
				}
			}
		})
	}
}
