package pluginhost

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestCloseDuringHungRelaunch: Close does not wait for a relaunch whose
// reconfiguration hangs (it would hold a shutdown or reload for up to
// CallTimeout); it stops the relaunch and returns.
func TestCloseDuringHungRelaunch(t *testing.T) {
	t.Parallel()
	path, sum := buildPlugin(t, "github.com/medgate/medgate/host/internal/pluginhost/testdata/hang")
	in, err := Start(t.Context(), Spec{Name: "hang", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{
		Logger: quiet, HealthInterval: time.Hour, MinBackoff: time.Millisecond, CallTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	trigger := filepath.Join(t.TempDir(), "hang")
	if diags, err := in.Configure(t.Context(), "s1", map[string]string{"hangIfExists": trigger}); err != nil || diags.HasError() {
		t.Fatalf("configure: %v %v", err, diags)
	}
	if err := os.WriteFile(trigger, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	in.Kill()
	for deadline := time.Now().Add(20 * time.Second); ; {
		if _, err := os.Stat(trigger + ".hanging"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the relaunched plugin did not reach its hanging Configure within 20s")
		}
		<-time.After(10 * time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { in.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for the hung relaunch (more than 10s); it must stop it")
	}
}
