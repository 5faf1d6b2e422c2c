package sites

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestRetryAfterTheSiteIsDisabled: a message keeps the route it was
// resolved with through its retries. Once a reload has disabled the plugin
// at the message's site, a retry on that old route is not sent to the
// plugin (which would act for a site the administrator disabled, or answer
// "not configured", retryable, so an upload retried without end): it ends
// failed, not retryable, naming the plugin and the site and how to replay
// it. Routes of the sites still enabled keep reaching the plugin. The
// routes used to call the plugin whatever the reload did.
func TestRetryAfterTheSiteIsDisabled(t *testing.T) {
	t.Parallel()
	path, sum := ledger(t)
	in, err := pluginhost.Start(t.Context(), pluginhost.Spec{Name: "ledger", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), pluginhost.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	plugins := map[string]*pluginhost.Instance{"ledger": in}
	d1, d2 := t.TempDir(), t.TempDir()
	before, _, err := Apply(t.Context(), siteCfg(at{"h1", map[string]string{"ledgerDir": d1}}, at{"h2", map[string]string{"ledgerDir": d2}}), plugins, quiet)
	if err != nil {
		t.Fatal(err)
	}
	// The reload disables the plugin at h2.
	if _, _, err := Apply(t.Context(), siteCfg(at{"h1", map[string]string{"ledgerDir": d1}}, at{"h2", nil}), plugins, quiet); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		site string
		ok   bool
	}{
		{site: "h1", ok: true},
		{site: "h2", ok: false},
	} {
		id := "retry-" + tc.site
		r, err := before.Sites[tc.site]["ledger"].Handler.Handle(t.Context(), &sdk.HandleRequest{Site: tc.site, Type: "ledger.record", MessageID: id, Key: "k", Payload: []byte(`{"seq":1}`), Attempt: 2, Recovering: true})
		if err != nil {
			t.Fatalf("%s: retry on the old route: %v", tc.site, err)
		}
		if tc.ok {
			if r.Status != sdk.StatusOK {
				t.Errorf("%s (still enabled): retry on the old route got %+v; want it handled", tc.site, r)
			}
			continue
		}
		if r.Status != sdk.StatusFailed || r.Retryable || len(r.Diagnostics) == 0 ||
			!strings.Contains(r.Diagnostics[0].Message(), `plugin "ledger" is no longer enabled at site "h2"`) || !strings.Contains(r.Diagnostics[0].Message(), "medgate replay "+id) {
			t.Errorf("%s (disabled): retry on the old route got %+v; want failed, not retryable, naming the plugin, the site and the replay", tc.site, r)
		}
		if b, err := os.ReadFile(filepath.Join(d2, "calls.log")); err == nil && strings.Contains(string(b), id) {
			t.Errorf("%s (disabled): the retry reached the plugin (it is in %s)", tc.site, d2)
		}
	}
}
