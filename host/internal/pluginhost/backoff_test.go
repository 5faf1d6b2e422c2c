package pluginhost

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// downLog records the retryIn of every "plugin down" line.
type downLog struct {
	mu    sync.Mutex
	delay []string
}

func (l *downLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *downLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *downLog) WithGroup(string) slog.Handler            { return l }
func (l *downLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "plugin down; relaunching" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "retryIn" {
			l.mu.Lock()
			l.delay = append(l.delay, a.Value.String())
			l.mu.Unlock()
		}
		return true
	})
	return nil
}

func (l *downLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.delay) == 0 {
		return ""
	}
	return l.delay[len(l.delay)-1]
}

// TestCrashLoopBacksOff: a plugin that launches fine but dies at once,
// again and again, is relaunched after ever longer delays (up to
// MaxBackoff), not every MinBackoff; a launch that stayed up for
// MaxBackoff starts the delays again from MinBackoff.
func TestCrashLoopBacksOff(t *testing.T) {
	t.Parallel()
	path, sum := ledger(t)
	const minB, maxB = 10 * time.Millisecond, 80 * time.Millisecond
	log := &downLog{}
	restarted := make(chan time.Time, 10)
	in, err := Start(t.Context(), Spec{Name: "ledger", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{
		Logger: slog.New(log), PluginOutput: io.Discard, HealthInterval: time.Hour, MinBackoff: minB, MaxBackoff: maxB,
		OnRestart: func(string) { restarted <- time.Now() },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	crash := func() time.Time {
		t.Helper()
		in.Kill()
		select {
		case at := <-restarted:
			return at
		case <-time.After(20 * time.Second):
			t.Fatal("the killed plugin was not relaunched within 20s")
			return time.Time{}
		}
	}
	var upAt time.Time
	for i, want := range []time.Duration{minB, 2 * minB, 4 * minB, maxB, maxB} {
		upAt = crash()
		if got := log.last(); got != want.String() {
			t.Fatalf("crash %d in a row: relaunched after %s, want %s (delays so far %v)", i+1, got, want, log.delay)
		}
	}
	// A launch that stays up for MaxBackoff is a good one: the next crash
	// is relaunched after MinBackoff again.
	<-time.After(time.Until(upAt.Add(maxB)))
	crash()
	if got := log.last(); got != minB.String() {
		t.Fatalf("crash after %s up: relaunched after %s, want %s", maxB, got, minB)
	}
}

// TestCloseDuringHungRelaunch: Close does not wait for a relaunch whose
// reconfiguration hangs (it would hold a shutdown or reload for up to
// CallTimeout); it stops the relaunch and returns.
func TestCloseDuringHungRelaunch(t *testing.T) {
	t.Parallel()
	path, sum := buildPlugin(t, "github.com/medgate/medgate/host/internal/pluginhost/testdata/hang")
	in, err := Start(t.Context(), Spec{Name: "hang", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{
		Logger: quiet, PluginOutput: io.Discard, HealthInterval: time.Hour, MinBackoff: time.Millisecond, CallTimeout: time.Minute,
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
