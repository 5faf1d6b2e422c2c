package sites

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// lockedBuffer is a bytes.Buffer safe for the logger's writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestConfigureWarningsAreLogged: a warning a plugin returns from the
// Configure of a site it accepts (the e-card's QR key removed while codes
// sealed with it are valid) is logged with the plugin, the site and the
// setting; only errors were looked at, so such a warning reached no one.
func TestConfigureWarningsAreLogged(t *testing.T) {
	t.Parallel()
	path, sum := ledger(t)
	in, err := pluginhost.Start(t.Context(), pluginhost.Spec{Name: "ledger", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), pluginhost.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	plugins := map[string]*pluginhost.Instance{"ledger": in}
	cases := []struct {
		label string
		warns bool
	}{
		{"warn", true},
		{"plain", false},
	}
	for _, tc := range cases {
		var out lockedBuffer
		log := slog.New(slog.NewTextHandler(&out, nil))
		if _, _, err := Apply(t.Context(), siteCfg(at{"h1", map[string]string{"ledgerDir": t.TempDir(), "label": tc.label}}), plugins, log); err != nil {
			t.Fatalf("label %s: the configuration was refused: %v", tc.label, err)
		}
		got := out.String()
		logged := strings.Contains(got, "plugin configuration warning")
		if logged != tc.warns {
			t.Fatalf("label %s: warning logged %v, want %v; log:\n%s", tc.label, logged, tc.warns, got)
		}
		if tc.warns {
			for _, want := range []string{"plugin=ledger", "site=h1", "setting=sites[0].plugins.ledger.settings.label", "rule=example", "label warn asks for a configuration warning"} {
				if !strings.Contains(got, want) {
					t.Errorf("label %s: the warning lacks %q:\n%s", tc.label, want, got)
				}
			}
		}
	}
}
