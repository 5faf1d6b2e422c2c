package adapter

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestRemovedKeyWarned: taking a key out of qrKeys while codes sealed with
// it are still valid makes Configure warn, and log an ALERT, naming the key
// id (never its secret), until when its codes stay valid and how to fix it;
// once they have expired, or when the key stays, there is neither.
func TestRemovedKeyWarned(t *testing.T) {
	ringAB := testSettings()
	ringAB[setQRKeys] = "A:" + testKeyAHex + ",B:" + testKeyBHex
	ringAB[setQRActiveKey] = "B"
	onlyB := testSettings()
	onlyB[setQRKeys] = "B:" + testKeyBHex
	onlyB[setQRActiveKey] = "B"
	cases := []struct {
		name     string
		validity string
		after    time.Duration // clock moved on before the reconfiguration
		next     map[string]string
		warn     bool
	}{
		{"removed while codes valid", "90m", time.Hour, onlyB, true},
		{"removed after codes expired", "90m", 3 * time.Hour, onlyB, false},
		{"kept in the ring", "90m", time.Hour, ringAB, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logged bytes.Buffer
			e := newEnv(t, testSettings())
			e.p = sdktest.Connect(t, New(WithClock(e.clock.Now), WithLogger(slog.New(slog.NewTextHandler(&logged, nil)))), e.host)
			e.mustConfigure(testSettings())
			no := e.register(zhang()).CardNo
			var qr struct {
				ExpiresAt time.Time `json:"expiresAt"`
			}
			e.ok(OpQRCode, map[string]any{"cardNo": no, "validity": c.validity}, &qr)
			e.clock.Set(testT0.Add(c.after))
			ds := e.configure(c.next)
			if ds.HasError() {
				t.Fatalf("Configure: %s", ds)
			}
			var found string
			for _, d := range ds {
				if d.Field == setQRKeys && d.Rule == "removed-key" {
					found = d.Summary + " " + d.Detail
				}
			}
			if (found != "") != c.warn {
				t.Fatalf("removed-key warning = %q, want one: %v (all: %s)", found, c.warn, ds)
			}
			alert := logged.String()
			if strings.Contains(alert, "ALERT") != c.warn {
				t.Fatalf("log = %q, want an ALERT: %v", alert, c.warn)
			}
			if !c.warn {
				return
			}
			// The plugin records the expiry rounded up to the hour.
			end := qr.ExpiresAt.UTC()
			if r := end.Truncate(time.Hour); !r.Equal(end) {
				end = r.Add(time.Hour)
			}
			until := end.Format(time.RFC3339)
			for _, text := range []string{found, alert} {
				for _, want := range []string{"key A ", until, "qrKeys"} {
					if !strings.Contains(text, want) {
						t.Errorf("%q does not name %q", text, want)
					}
				}
				if strings.Contains(text, testKeyAHex) {
					t.Errorf("%q quotes the key's secret", text)
				}
			}
		})
	}
}
