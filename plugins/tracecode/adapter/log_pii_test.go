package adapter_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
)

// TestTokenRefusalLogsNoPersonalData: the platform refuses the token
// request quoting a person (a name after 姓名, an ID number, a mobile
// number). The token operation's WARN logged the platform's answer as it
// came; the log line now carries it masked, and so does the reply, which
// the host publishes and stores: it keeps the platform's code, and its
// message with the personal data masked (TestRefusalMasksPatientData).
func TestTokenRefusalLogsNoPersonalData(t *testing.T) {
	t.Parallel()
	const refusal = "操作员姓名：张三丰，身份证号350203198001011234，手机13912345678，无权获取令牌"
	personal := []string{"张三丰", "350203198001011234", "13912345678"}
	tests := map[string]struct {
		status int
		code   string
		// external: the reply carries the platform's code and message,
		// masked (a business refusal; HTTP 401/403 are the credentials
		// refused).
		external bool
	}{
		"business refusal (HTTP 200)": {status: http.StatusOK, code: "AUTH_FAILED", external: true},
		"HTTP 401 with a message":     {status: http.StatusUnauthorized, code: "TOKEN_INVALID"},
		"HTTP 403 with a message":     {status: http.StatusForbidden, code: "NO_RIGHT"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, cst)}
			sim := tracecode.New(tracecode.Options{AppID: "app-1", AppSecret: appSecret, OrgCode: "H35020300001", TokenTTL: time.Hour, Seed: 42, Now: clk.Now})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/auth/token") {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tc.status)
					_, _ = fmt.Fprintf(w, `{"code":%q,"message":%q}`, tc.code, refusal)
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
			r := e.send(adapter.OpToken, map[string]any{"force": true})
			if r.Status != sdk.StatusRejected {
				t.Fatalf("token refused: status %s, want rejected: %s", r.Status, r.Diagnostics)
			}
			const masked = "操作员姓名：张**，身份证号350***********1234，手机139****5678，无权获取令牌"
			if tc.external && (r.External == nil || r.External.Code != tc.code || r.External.Message != masked) {
				t.Errorf("reply's external = %+v, want the platform's code %s and message %s", r.External, tc.code, masked)
			}
			if reply, err := json.Marshal(r); err == nil {
				for _, p := range personal {
					if strings.Contains(string(reply), p) {
						t.Errorf("the reply carries personal data %q of the platform's refusal: %s", p, reply)
					}
				}
			}
			out := logs.String()
			warned := false
			for _, l := range strings.Split(out, "\n") {
				warned = warned || strings.Contains(l, "level=WARN") && strings.Contains(l, "token operation failed") && strings.Contains(l, tc.code)
			}
			if !warned {
				t.Fatalf("no WARN of the failed token operation naming %s:\n%s", tc.code, out)
			}
			for _, p := range personal {
				if strings.Contains(out, p) {
					t.Errorf("the log carries personal data %q of the platform's refusal:\n%s", p, out)
				}
			}
		})
	}
}
