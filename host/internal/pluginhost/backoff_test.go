package pluginhost

import (
	"context"
	"log/slog"
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
// CrashBackoff), not every MinBackoff; a launch that stayed up for
// CrashBackoff starts the delays again from MinBackoff.
func TestCrashLoopBacksOff(t *testing.T) {
	t.Parallel()
	path, sum := ledger(t)
	// CrashBackoff leaves a loaded machine 320ms to notice a crash before
	// a launch counts as one that stayed up.
	const minB, crashB, maxB = 10 * time.Millisecond, 320 * time.Millisecond, 640 * time.Millisecond
	log := &downLog{}
	restarted := make(chan time.Time, 10)
	in, err := Start(t.Context(), Spec{Name: "ledger", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{
		Logger: slog.New(log), HealthInterval: time.Hour, MinBackoff: minB, CrashBackoff: crashB, MaxBackoff: maxB,
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
	for i, want := range []time.Duration{minB, 2 * minB, 4 * minB, 8 * minB, 16 * minB, crashB, crashB} {
		upAt = crash()
		if got := log.last(); got != want.String() {
			t.Fatalf("crash %d in a row: relaunched after %s, want %s (delays so far %v)", i+1, got, want, log.delay)
		}
	}
	// A launch that stays up for CrashBackoff is a good one: the next
	// crash is relaunched after MinBackoff again.
	<-time.After(time.Until(upAt.Add(crashB)))
	crash()
	if got := log.last(); got != minB.String() {
		t.Fatalf("crash after %s up: relaunched after %s, want %s", crashB, got, minB)
	}
}
