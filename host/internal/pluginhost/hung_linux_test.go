package pluginhost

import (
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestHungPluginIsRelaunched stops the plugin process (SIGSTOP: alive but
// answering nothing, not even the health check) and checks that the
// supervisor does not wait on it for ever: it kills and relaunches it.
func TestHungPluginIsRelaunched(t *testing.T) {
	t.Parallel()
	path, sum := ledger(t)
	restarted := make(chan struct{})
	var once sync.Once
	in, err := Start(t.Context(), Spec{Name: "ledger", Path: path, SHA256: sum}, sdktest.NewMemoryHost(), Options{
		Logger: quiet, HealthInterval: 50 * time.Millisecond, MinBackoff: 10 * time.Millisecond,
		OnRestart: func(string) { once.Do(func() { close(restarted) }) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if diags, err := in.Configure(t.Context(), "s1", map[string]string{"ledgerDir": t.TempDir(), "label": "x"}); err != nil || diags.HasError() {
		t.Fatalf("configure: %v %v", err, diags)
	}
	pid := in.Pid()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGKILL)
	select {
	case <-restarted:
	case <-time.After(20 * time.Second):
		t.Fatal("the stopped plugin was not relaunched within 20s: the supervisor waits on its health check")
	}
	r, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: "ledger.record", MessageID: "after", Key: "k", Payload: []byte(`{"seq":1}`), Attempt: 1})
	if err != nil || r.Status != sdk.StatusOK || in.Pid() == pid {
		t.Fatalf("after the relaunch: %v %+v pid %d→%d", err, r, pid, in.Pid())
	}
}
