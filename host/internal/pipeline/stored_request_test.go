package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestStoredRequestReference: a record referring to a request recorded in
// the store (HeaderStoredRequest, as the HTTP ingress queues a request
// too large for Kafka) processes the recorded request, with its first
// call not a recovery; a reference to a message the store does not hold
// is answered invalid (RuleRequestNotStored), and neither calls the
// plugin nor gets recorded, even when it waits behind another message of
// its key (whose finish records the next message ahead of its turn).
// The outcome is handed over (Options.Stored) with the request recorded,
// which the HTTP requests waiting for it are, not with the reference.
func TestStoredRequestReference(t *testing.T) {
	t.Parallel()
	r := newChainRig(t, chainBackends["kfake"](t))
	var firstCallRecovering atomic.Bool
	base := r.p.routes.Load().Sites["s1"]["x"]
	inner := base.Handler
	base.Handler = ctxHandler(func(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		if req.MessageID == "big" {
			firstCallRecovering.Store(req.Recovering)
			var p struct{ A int }
			if err := json.Unmarshal(req.Payload, &p); err != nil || p.A != 1 {
				return nil, errors.New("the plugin was not given the recorded payload")
			}
		}
		return inner.Handle(ctx, req)
	})
	var (
		handedMu sync.Mutex
		handed   = map[string]string{} // request id: request handed over
	)
	r.p.opts.Stored = func(rep *message.Reply, request []byte) {
		handedMu.Lock()
		defer handedMu.Unlock()
		handed[rep.RequestID] = string(request)
	}
	big := msg("big", "x.do")
	env, _ := message.Parse(big)
	if _, _, err := r.st.BeginMessage(t.Context(), QueuedRecord(env, "K", big, time.Now())); err != nil {
		t.Fatal(err)
	}
	prod, err := bus.NewProducer(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	// One batch, so that the consumer holds the three at once and the
	// finish of one records the next ahead of its turn.
	errs := make(chan error, 3)
	send := func(id string, value []byte, h map[string]string) {
		prod.SendAsync(t.Context(), r.topic, []byte("K"), value, h, func(err error) { errs <- err })
	}
	send("a", msg("a", "x.do"), nil)
	send("ghost", []byte(`{"id":"ghost","site":"s1","type":"x.do"}`), map[string]string{HeaderStoredRequest: "ghost"})
	send("big", []byte(`{"id":"big","site":"s1","type":"x.do"}`), map[string]string{HeaderStoredRequest: "big"})
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	r.consume()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for len(repliedIDs(t, &r.pub.memPub)) < 3 {
		select {
		case <-deadline:
			t.Fatalf("replies after 30s: %v; want a, ghost and big", repliedIDs(t, &r.pub.memPub))
		case <-tick.C:
		}
	}
	if got := repliedIDs(t, &r.pub.memPub); len(got) != 3 || got[0] != "a" || got[1] != "ghost" || got[2] != "big" {
		t.Errorf("replies %v; want a, ghost, big in the key's order", got)
	}
	for _, s := range r.pub.on("replies") {
		var rep message.Reply
		if err := json.Unmarshal(s.value, &rep); err != nil {
			t.Fatal(err)
		}
		switch rep.RequestID {
		case "ghost":
			if rep.Status != message.StatusInvalid || len(rep.Errors) == 0 || rep.Errors[0].Rule != RuleRequestNotStored {
				t.Errorf("reply to the reference to an unrecorded message: %+v; want invalid, rule %s", rep, RuleRequestNotStored)
			}
		case "big":
			if rep.Status != message.StatusOK {
				t.Errorf("reply to the reference to a recorded message: %+v; want ok", rep)
			}
		}
	}
	if _, err := r.st.GetMessage(t.Context(), "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the reference to an unrecorded message was recorded: %v", err)
	}
	if r.callsOf("ghost") != 0 || r.callsOf("big") != 1 || firstCallRecovering.Load() {
		t.Errorf("plugin calls: ghost %d, big %d (recovering %v); want 0 and 1, not recovering", r.callsOf("ghost"), r.callsOf("big"), firstCallRecovering.Load())
	}
	if !r.done("big") {
		t.Error("the recorded message is not done")
	}
	handedMu.Lock()
	defer handedMu.Unlock()
	if got, want := handed["big"], string(big); got != want {
		t.Errorf("the outcome of the recorded message was handed over with request %s; want the request recorded, %s", got, want)
	}
}
