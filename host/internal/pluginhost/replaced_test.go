package pluginhost

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestReplacedBinaryIsRefusedAtRelaunch: a plugin binary replaced on disk
// by one with another checksum while the plugin runs is not relaunched
// after a crash; Status says why, naming both sums. Once the trusted
// binary is back the plugin is relaunched.
func TestReplacedBinaryIsRefusedAtRelaunch(t *testing.T) {
	t.Parallel()
	orig, sum := ledger(t)
	other, _ := buildPlugin(t, "github.com/medgate/medgate/host/internal/pluginhost/testdata/hang")
	path := filepath.Join(t.TempDir(), "ledger")
	install := func(from string) {
		t.Helper()
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		// A new file, as an installer writes it: the running process keeps
		// its own.
		tmp := path + ".new"
		if err := os.WriteFile(tmp, data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	install(orig)
	restarted := make(chan struct{}, 10)
	in, err := Start(t.Context(), Spec{Name: "ledger", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{
		Logger: quiet, HealthInterval: time.Hour, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		OnRestart: func(string) { restarted <- struct{}{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	install(other)
	in.Kill()
	for deadline := time.Now().Add(20 * time.Second); ; {
		if len(restarted) > 0 {
			t.Fatal("the plugin was relaunched from a binary whose checksum is not the configured one")
		}
		_, _, lastErr := in.Status()
		if errors.Is(lastErr, ErrChecksum) {
			if msg := lastErr.Error(); !strings.Contains(msg, sum) || !strings.Contains(msg, path) {
				t.Fatalf("lastErr = %v; want the binary's path and the expected sum", msg)
			}
			if running, _, _ := in.Status(); running {
				t.Fatal("Status says running while the relaunch is refused")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checksum error within 20s; lastErr = %v", lastErr)
		}
		<-time.After(5 * time.Millisecond)
	}
	install(orig)
	select {
	case <-restarted:
	case <-time.After(20 * time.Second):
		t.Fatal("the plugin was not relaunched within 20s of the trusted binary coming back")
	}
	if running, _, lastErr := in.Status(); !running || lastErr != nil {
		t.Fatalf("after the trusted binary came back: running=%v lastErr=%v", running, lastErr)
	}
}
