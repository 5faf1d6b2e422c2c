package pluginhost

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestRelaunchesLeakNothing relaunches a plugin 20 times and checks that
// the host's goroutines and open file descriptors come back to what one
// running plugin needs. Not parallel: both counts are the whole process's.
func TestRelaunchesLeakNothing(t *testing.T) {
	path, sum := ledger(t)
	restarted := make(chan struct{}, 1)
	in, err := Start(t.Context(), Spec{Name: "ledger", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{
		Logger: quiet, HealthInterval: time.Hour, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		OnRestart: func(string) { restarted <- struct{}{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if diags, err := in.Configure(t.Context(), "s1", map[string]string{"ledgerDir": t.TempDir()}); err != nil || diags.HasError() {
		t.Fatalf("configure: %v %v", err, diags)
	}
	relaunch := func(i int) {
		t.Helper()
		in.Kill()
		select {
		case <-restarted:
		case <-time.After(20 * time.Second):
			t.Fatalf("relaunch %d: not relaunched within 20s", i)
		}
		r, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: "ledger.state", MessageID: fmt.Sprint("m", i), Key: "k", Payload: []byte(`{"seq":1}`), Attempt: 1})
		if err != nil || r.Status != sdk.StatusOK {
			t.Fatalf("relaunch %d: call: %v %+v", i, err, r)
		}
	}
	relaunch(0) // the first relaunch may start pools that stay
	fds := func() int {
		es, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	g0, f0 := runtime.NumGoroutine(), fds()
	for i := 1; i <= 20; i++ {
		relaunch(i)
	}
	// Slack for goroutines and descriptors that are being torn down.
	const slack = 5
	var g, f int
	for deadline := time.Now().Add(10 * time.Second); ; {
		g, f = runtime.NumGoroutine(), fds()
		if g <= g0+slack && f <= f0+slack {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		<-time.After(20 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	t.Fatalf("after 20 relaunches: %d goroutines (was %d), %d file descriptors (was %d)\n%s", g, g0, f, f0, buf[:runtime.Stack(buf, true)])
}
