package pluginhost

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// lockedBuffer is a log destination safe for concurrent writes.
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

// handled is the outcome of one Handle call.
type handled struct {
	r   *sdk.HandleResponse
	err error
}

// TestRetireWaitsForCallsInFlight: a plugin a reload removed (Retire) is
// stopped only once the message inside its Handle has its answer, not cut
// with its outcome unknown; meanwhile a retry of a message that still
// holds the plugin gets a failed answer no retry fixes, naming the plugin,
// instead of a call to a plugin being stopped (for an upload, retried
// without end). When the call does not end within the bound, the plugin is
// stopped anyway, with a warning naming it and the calls cut. The reload
// used to Close the plugin at once.
func TestRetireWaitsForCallsInFlight(t *testing.T) {
	t.Parallel()
	path, sum := buildPlugin(t, "github.com/medgate/medgate/host/internal/pluginhost/testdata/sitehop")
	for name, tc := range map[string]struct {
		release bool          // the held call is released while Retire waits
		wait    time.Duration // Retire's bound
	}{
		"call finishes":  {release: true, wait: time.Minute},
		"bound runs out": {release: false, wait: 300 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			logs := &lockedBuffer{}
			in, err := Start(t.Context(), Spec{Name: "sitehop", Path: path, SHA256: sum}, sdktest.NewMemoryHost(),
				Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), HealthInterval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			if diags, err := in.Configure(t.Context(), "h1", map[string]string{}); err != nil || diags.HasError() {
				t.Fatalf("configure: %v %v", err, diags)
			}
			release := filepath.Join(t.TempDir(), "release")
			held := make(chan handled, 1)
			go func() {
				r, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: "h1", Type: "sitehop.use", MessageID: "held", Key: "k", Attempt: 1,
					Payload: []byte(`{"call":"hold","release":"` + release + `"}`)})
				held <- handled{r, err}
			}()
			// The call is inside the plugin once the host counts it.
			deadline := time.Now().Add(30 * time.Second)
			for {
				in.mu.RLock()
				n := in.calls
				in.mu.RUnlock()
				if n == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the held call never reached the plugin")
				}
				time.Sleep(5 * time.Millisecond)
			}
			pid := in.Pid()
			retired := make(chan struct{})
			go func() {
				in.Retire(tc.wait)
				close(retired)
			}()

			// A retry after the reload: not sent to the plugin, failed
			// for good, naming the plugin and how to go on.
			deadline = time.Now().Add(30 * time.Second)
			var retry *sdk.HandleResponse
			for {
				r, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: "h1", Type: "sitehop.use", MessageID: "retry", Key: "k", Attempt: 2,
					Payload: []byte(`{"call":"get"}`)})
				if err != nil {
					t.Fatalf("a call after Retire failed with %v; want a failed answer no retry fixes", err)
				}
				if r.Status != sdk.StatusOK {
					retry = r
					break
				}
				// Retire has not begun yet: the call went through.
				if time.Now().After(deadline) {
					t.Fatal("calls after Retire still reach the plugin")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if retry.Status != sdk.StatusFailed || retry.Retryable || len(retry.Diagnostics) == 0 ||
				!strings.Contains(retry.Diagnostics[0].Message(), `plugin "sitehop" was removed`) || !strings.Contains(retry.Diagnostics[0].Message(), "medgate replay retry") {
				t.Fatalf("a call after Retire got %+v; want failed, not retryable, naming the plugin and the replay", retry)
			}

			if tc.release {
				select {
				case <-retired:
					t.Fatal("Retire stopped the plugin while a call was in flight")
				case h := <-held:
					t.Fatalf("the held call ended before its release: %+v %v", h.r, h.err)
				default:
				}
				if p := in.Pid(); p != pid {
					t.Fatalf("the plugin process changed (pid %d, was %d) while Retire waited", p, pid)
				}
				if err := os.WriteFile(release, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var h handled
			select {
			case h = <-held:
			case <-time.After(30 * time.Second):
				t.Fatal("the held call never ended")
			}
			select {
			case <-retired:
			case <-time.After(30 * time.Second):
				t.Fatal("Retire never returned")
			}
			if in.Pid() != 0 {
				t.Error("the plugin still runs after Retire returned")
			}
			warned := strings.Contains(logs.String(), "calls still in flight") && strings.Contains(logs.String(), "plugin=sitehop") && strings.Contains(logs.String(), "calls=1")
			if tc.release {
				if h.err != nil || h.r.Status != sdk.StatusOK || !strings.Contains(string(h.r.Payload), `"err":""`) {
					t.Fatalf("the call in flight at Retire got %+v %v; want its own answer", h.r, h.err)
				}
				if warned {
					t.Errorf("Retire warned of cut calls though none was cut:\n%s", logs)
				}
				return
			}
			if h.err == nil {
				t.Errorf("the call still in flight when the bound ran out answered %+v; want it cut", h.r)
			}
			if !warned {
				t.Errorf("no warning naming the plugin and the one call cut; logs:\n%s", logs)
			}
		})
	}
}
