package pluginhost

import (
	"log/slog"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestReplacedInstanceHandsCallsToItsSuccessor: an Instance a reload
// replaced by a new binary (Replace) stops, and the calls made to it
// afterwards (a retry of a message that began on it, a job run that held
// it) go to the new Instance, where a removed plugin's (Retire) end
// failed or with ErrRetired.
func TestReplacedInstanceHandsCallsToItsSuccessor(t *testing.T) {
	t.Parallel()
	path, sum := buildPlugin(t, "github.com/medgate/medgate/host/internal/pluginhost/testdata/sitehop")
	start := func() *Instance {
		t.Helper()
		in, err := Start(t.Context(), Spec{Name: "sitehop", Path: path, SHA256: sum}, sdktest.NewMemoryHost(),
			Options{Logger: slog.New(slog.DiscardHandler), HealthInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(in.Close)
		if diags, err := in.Configure(t.Context(), "h1", map[string]string{}); err != nil || diags.HasError() {
			t.Fatalf("configure: %v %v", err, diags)
		}
		return in
	}
	old, next := start(), start()
	old.Replace(next, time.Minute)
	if old.Pid() != 0 {
		t.Fatal("the replaced plugin still runs after Replace returned")
	}
	if got := old.Current(); got != next {
		t.Fatalf("Current of the replaced Instance is %p, want its successor %p", got, next)
	}
	if got := next.Current(); got != next {
		t.Fatalf("Current of the successor is %p, want itself", got)
	}
	r, err := old.Handle(t.Context(), &sdk.HandleRequest{Site: "h1", Type: "sitehop.use", MessageID: "retry", Key: "k", Attempt: 2,
		Payload: []byte(`{"call":"get"}`)})
	if err != nil || r.Status != sdk.StatusOK {
		t.Fatalf("a retry on the replaced Instance got %+v %v; want the successor's answer", r, err)
	}
	if _, err := old.RunJob(t.Context(), &sdk.RunJobRequest{Site: "h1", Job: "j", Now: time.Now()}); err != nil {
		t.Fatalf("a job run on the replaced Instance: %v; want it run by the successor", err)
	}
}
