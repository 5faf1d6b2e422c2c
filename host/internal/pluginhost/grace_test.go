package pluginhost

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// fakeClock is a clock that moves only when told (Options.now).
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestLateJournalWithinGrace: a plugin whose site is disabled (Forget)
// while a call of that site is in flight, and whose call then times out,
// still journals for the site within Options.JournalGrace of the call's
// end, and is refused after it with the SiteError; every other host
// service for the site is refused at once, and a site the plugin never
// served gets no grace.
func TestLateJournalWithinGrace(t *testing.T) {
	t.Parallel()
	const grace = 70 * time.Second
	path, sum := buildPlugin(t, "github.com/medgate/medgate/host/internal/pluginhost/testdata/sitehop")
	mem := sdktest.NewMemoryHost()
	clock := newFakeClock()
	in, err := Start(t.Context(), Spec{Name: "sitehop", Path: path, SHA256: sum}, mem, Options{Logger: quiet, JournalGrace: grace, now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for _, site := range []string{"h1", "h2"} {
		if diags, err := in.Configure(t.Context(), site, map[string]string{}); err != nil || diags.HasError() {
			t.Fatalf("configure %s: %v %v", site, err, diags)
		}
	}
	if diags, err := in.Configure(t.Context(), "h9", map[string]string{"refuse": "yes"}); err != nil || !diags.HasError() {
		t.Fatalf("configure h9: %v %v, want refused", err, diags)
	}
	// use has the plugin call a host service for site via, during a
	// message of h1: what it would send for via at this moment, whatever
	// call of the host it comes from.
	n := 0
	use := func(via, call string) string {
		t.Helper()
		n++
		r, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: "h1", Type: "sitehop.use", MessageID: "m" + strings.Repeat("x", n), Key: "k",
			Payload: []byte(`{"via":"` + via + `","call":"` + call + `"}`), Attempt: 1})
		if err != nil || r.Status != sdk.StatusOK {
			t.Fatalf("handle via %s %s: %v %+v", via, call, err, r)
		}
		var out struct{ Err string }
		if err := json.Unmarshal(r.Payload, &out); err != nil {
			t.Fatal(err)
		}
		return out.Err
	}
	refused := func(when, via, call string) {
		t.Helper()
		e := use(via, call)
		for _, want := range []string{`plugin "sitehop"`, `site "` + via + `"`, "not enabled", "enable it there in the configuration"} {
			if !strings.Contains(e, want) {
				t.Errorf("%s: %s for %s: error %q lacks %s", when, call, via, e, want)
			}
		}
	}
	accepted := func(when, via, call string) {
		t.Helper()
		if e := use(via, call); e != "" {
			t.Errorf("%s: %s for %s refused: %s", when, call, via, e)
		}
	}

	// A message of h2 is in flight when a reload disables h2; then the
	// call times out.
	ctx, timeout := context.WithCancel(t.Context())
	ended := make(chan error, 1)
	go func() {
		_, err := in.Handle(ctx, &sdk.HandleRequest{Site: "h2", Type: "sitehop.use", MessageID: "m-h2", Key: "k", Payload: []byte(`{"call":"wait"}`), Attempt: 1})
		ended <- err
	}()
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for deadline := time.Now().Add(time.Minute); ; {
		in.mu.RLock()
		flying := in.inFlight["h2"] > 0
		in.mu.RUnlock()
		if flying {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message of h2 was not in flight within a minute")
		}
		<-poll.C
	}
	in.Forget("h2")
	accepted("call in flight", "h2", "journal")
	accepted("call in flight", "h2", "put")
	// The call lasts longer than the grace counted from Forget.
	clock.Advance(grace)
	timeout()
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("the message of h2 ended without error, want it timed out")
		}
	case <-time.After(time.Minute):
		t.Fatal("the message of h2 did not end within a minute of its timeout")
	}

	// The grace runs from the call's end.
	for _, call := range []string{"get", "put", "cas", "scan", "delete", "seq", "publish", "write", "artifact"} {
		refused("after the call", "h2", call)
	}
	refused("never served", "h9", "journal")
	before := len(mem.Exchanges())
	accepted("just after the call", "h2", "journal")
	clock.Advance(grace - time.Nanosecond)
	accepted("at the end of the grace", "h2", "journal")
	if got := len(mem.Exchanges()) - before; got != 2 {
		t.Errorf("%d journal entries stored within the grace, want 2", got)
	}
	clock.Advance(time.Nanosecond)
	refused("after the grace", "h2", "journal")
	if got := len(mem.Exchanges()) - before; got != 2 {
		t.Errorf("%d journal entries stored, want the 2 made within the grace", got)
	}
	// h1 is served throughout.
	accepted("served", "h1", "journal")
}
