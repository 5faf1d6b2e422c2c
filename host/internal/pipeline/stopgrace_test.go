package pipeline

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// stopGrace is the release grace (bus.Config.ReleaseGrace) of the
// consumers of TestCallInFlightWhenThePartitionIsReleased.
const stopGrace = 2 * time.Second

// TestCallInFlightWhenThePartitionIsReleased: a plugin call in flight when
// its partition is released (the consumer stops, or a rebalance takes the
// partition away) is not cancelled at once: the external system may have
// acted, and a call cut off mid-flight leaves an outcome to reconcile. A
// call that ends within the release grace has its outcome stored, its
// reply published once and its offset committed before the partition is
// let go, so it is not delivered again. A call still running when the
// grace is over is cancelled, not before: its message stays pending,
// uncommitted, and its next delivery reconciles it (Recovering) and
// publishes the one reply. The grace is for calls in flight only: a call
// that failed retryably is not made again during it (a new call could be
// cut off mid-flight itself); its next delivery reconciles it.
func TestCallInFlightWhenThePartitionIsReleased(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("needs Kafka brokers")
	}
	for name, brokers := range chainBackends {
		for _, tc := range []struct {
			name string
			// rebalance: a second member joins the group, which takes
			// the partition away; otherwise the consumer stops.
			rebalance bool
			// slow: the call runs on until its context ends.
			slow bool
			// retry: the call fails retryably (the external system did
			// not answer).
			retry bool
		}{
			{name: "consumer stops, call ends within the grace"},
			{name: "partition revoked, call ends within the grace", rebalance: true},
			{name: "consumer stops, call longer than the grace", slow: true},
			{name: "consumer stops, call fails retryably", retry: true},
			{name: "partition revoked, call fails retryably", rebalance: true, retry: true},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				testCallInFlight(t, brokers(t), tc.rebalance, tc.slow, tc.retry)
			})
		}
	}
}

func testCallInFlight(t *testing.T, brokers []string, rebalance, slow, retry bool) {
	r := newChainRig(t, brokers)
	var (
		mu         sync.Mutex
		calls      []sdk.HandleRequest
		deliveries = map[string]int{}
		cancelled  time.Duration // after the release began, for a slow call
	)
	called := make(chan struct{}, 1)
	plugin := ctxHandler(func(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		mu.Lock()
		calls = append(calls, *req)
		first := len(calls) == 1
		mu.Unlock()
		if first {
			select {
			case called <- struct{}{}:
			default:
			}
			// The external system answers only once the partition is
			// being released.
			<-bus.Released(ctx)
			released := time.Now()
			if slow {
				<-ctx.Done()
				mu.Lock()
				cancelled = time.Since(released)
				mu.Unlock()
				return nil, ctx.Err()
			}
			if retry {
				return transient(req)
			}
		}
		return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{"id":"` + req.MessageID + `"}`)}, nil
	})
	r.p.SetRoutes(&Routes{Sites: map[string]map[string]*Target{"s1": {"x": {Plugin: "x", Handler: plugin, Operations: map[string]sdk.Operation{"x.do": {Type: "x.do"}}}}}})
	r.p.opts.CallTimeout = time.Minute // the grace, not the call timeout, ends a slow call
	r.cfg.ReleaseGrace = stopGrace
	consume := func() (stop func()) {
		c, err := bus.NewConsumer(r.cfg, []string{r.topic}, func(ctx context.Context, m *bus.Message) error {
			env, _ := message.Parse(m.Value)
			mu.Lock()
			deliveries[env.ID]++
			mu.Unlock()
			_, err := r.p.Process(ctx, Input{Value: m.Value, Key: string(m.Key)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		var once sync.Once
		stop = func() {
			once.Do(func() {
				cancel()
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("Run: %v", err)
					}
				case <-time.After(time.Minute):
					t.Fatal("Consumer.Run did not return within a minute of cancel")
				}
			})
		}
		t.Cleanup(stop)
		return stop
	}

	r.send("m1")
	stop := consume()
	select {
	case <-called:
	case <-time.After(time.Minute):
		t.Fatal("m1 did not reach the plugin within a minute")
	}
	if rebalance {
		consume()
	} else {
		stop()
	}

	unfinished := slow || retry
	if rebalance && retry {
		// The partition's next owner, this member or the other, delivers
		// m1 again; nothing was stored or published before.
		waitFor(t, "m1 stored and committed", func() bool { return r.done("m1") && r.committed() == 1 })
	} else if unfinished {
		mu.Lock()
		after, n := cancelled, len(calls)
		mu.Unlock()
		if slow && after < stopGrace {
			t.Errorf("the call in flight was cancelled %s after the consumer began to stop, before the release grace of %s", after, stopGrace)
		}
		if n != 1 {
			t.Errorf("the plugin was called %d times before the consumer stopped, want once: no new call once the partition is released", n)
		}
		if r.done("m1") {
			t.Error("m1 is done although its call did not succeed")
		}
		if at := r.committed(); at > 0 {
			t.Errorf("offset %d committed although m1's call did not succeed", at)
		}
		if got := repliedIDs(t, &r.pub.memPub); len(got) != 0 {
			t.Errorf("replies %v published for a call that did not succeed", got)
		}
		consume()
	} else {
		waitFor(t, "m1 stored and committed", func() bool { return r.done("m1") && r.committed() == 1 })
		if !rebalance {
			consume()
		}
	}
	r.send("m2")
	waitFor(t, "m2 stored and offset 2 committed", func() bool { return r.done("m2") && r.committed() == 2 })

	mu.Lock()
	defer mu.Unlock()
	if got := repliedIDs(t, &r.pub.memPub); !slices.Equal(got, []string{"m1", "m2"}) {
		t.Errorf("replies %v, want m1 m2, each once", got)
	}
	wantDeliveries := 1
	wantCalls := []bool{false} // m1's calls, Recovering
	if unfinished {
		wantDeliveries, wantCalls = 2, []bool{false, true}
	}
	if deliveries["m1"] != wantDeliveries {
		t.Errorf("m1 delivered %d times, want %d", deliveries["m1"], wantDeliveries)
	}
	var got []bool
	for _, c := range calls {
		if c.MessageID == "m1" {
			got = append(got, c.Recovering)
		}
	}
	if !slices.Equal(got, wantCalls) {
		t.Errorf("m1's calls, Recovering: %v, want %v", got, wantCalls)
	}
	m, err := r.st.GetMessage(t.Context(), "m1")
	if err != nil || m.Status != store.StatusDone || m.Outcome != "ok" {
		t.Errorf("m1's stored outcome: %+v, %v; want done, ok", m, err)
	}
}

// TestReleasedReplyWaitsForAnEarlierOneGivenUp: within the release grace a
// message's reply is published, but not after an earlier reply of its key
// that gave up: m1's reply is refused while the consumer stops (its
// publication ends, unacknowledged), then m2's call ends within the grace.
// m2's outcome is stored and its reply not published, so that no reply of
// the key overtakes another: the next consumer publishes the stored
// replies of m1 and m2, in order, without calling the plugin again.
func TestReleasedReplyWaitsForAnEarlierOneGivenUp(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("needs Kafka brokers")
	}
	eachChainCase(t, func(t *testing.T, brokers func(t *testing.T) []string, mode string) {
		t.Parallel()
		r := newChainRig(t, brokers(t), "m1")
		r.callbacks(mode)
		r.cfg.ReleaseGrace = time.Minute // ample: nothing here waits for its end
		var (
			mu    sync.Mutex
			calls = map[string]int{}
		)
		released := make(chan struct{})
		m1Ended := make(chan struct{})
		plugin := ctxHandler(func(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
			mu.Lock()
			calls[req.MessageID]++
			n := calls[req.MessageID]
			mu.Unlock()
			if req.MessageID == "m2" && n == 1 {
				<-bus.Released(ctx)
				close(released)
				<-m1Ended
			}
			return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{"id":"` + req.MessageID + `"}`)}, nil
		})
		r.p.SetRoutes(&Routes{Sites: map[string]map[string]*Target{"s1": {"x": {Plugin: "x", Handler: plugin, Operations: map[string]sdk.Operation{"x.do": {Type: "x.do"}}}}}})
		r.send("m1", "m2")
		stop := r.consume()
		waitFor(t, "m1 stored, its reply held", func() bool { return r.done("m1") && slices.Contains(r.pub.triedIDs(), "m1") })
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			stop()
		}()
		<-released
		r.pub.hold["m1"] <- errors.New("kafka: broker not available")
		waitFor(t, "m1's publication to end", func() bool {
			r.p.chains.mu.Lock()
			defer r.p.chains.mu.Unlock()
			return r.p.chains.m["K"] == nil
		})
		close(m1Ended)
		<-stopped
		if !r.done("m2") {
			t.Fatal("m2's outcome is not stored although its call ended within the grace")
		}
		if got := repliedIDs(t, &r.pub.memPub); len(got) != 0 {
			t.Fatalf("replies %v published while m1's had given up: m2's would overtake it", got)
		}
		if at := r.committed(); at > 0 {
			t.Fatalf("offset %d committed, but m1's reply was never acknowledged", at)
		}
		close(r.pub.hold["m1"])
		r.consume()
		waitFor(t, "offset 2 committed", func() bool { return r.committed() == 2 })
		got := repliedIDs(t, &r.pub.memPub)
		if !slices.Equal(got, []string{"m1", "m2"}) {
			t.Errorf("replies %v, want m1 m2", got)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, id := range []string{"m1", "m2"} {
			if calls[id] != 1 {
				t.Errorf("%s reached the plugin %d times, want once", id, calls[id])
			}
		}
	})
}

// TestReleaseDoesNotWaitAtThePluginGate: a message whose retry waits to go
// into the plugin alone (its last call crashed the plugin) while another
// message's call runs there is not in flight: when its partition is
// released it gives up at once (the next delivery reconciles it), rather
// than waiting at the gate until the grace is over and being counted
// with the calls the grace cut off (bus.Config.OnReleaseCut, which feeds
// medgate_kafka_release_cut_total and the WARN that tells staff to look
// for slow calls). Only the call really in flight, m2's, is cut.
func TestReleaseDoesNotWaitAtThePluginGate(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("needs Kafka brokers")
	}
	for name, brokers := range chainBackends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newChainRig(t, brokers(t))
			var (
				mu    sync.Mutex
				calls = map[string]int{}
				cut   []int
			)
			r.cfg.ReleaseGrace = stopGrace
			r.cfg.OnReleaseCut = func(_ string, _ int32, unfinished int) {
				mu.Lock()
				cut = append(cut, unfinished)
				mu.Unlock()
			}
			m2In := make(chan struct{})
			plugin := ctxHandler(func(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
				mu.Lock()
				calls[req.MessageID]++
				n := calls[req.MessageID]
				mu.Unlock()
				switch {
				case req.MessageID == "m2" && n == 1:
					close(m2In)
					<-ctx.Done() // in flight until the grace is over
					return nil, ctx.Err()
				case req.MessageID == "m1" && n == 1:
					return nil, &pluginhost.CrashError{Plugin: "x", Generation: 1, Err: errors.New("connection is shut down")}
				}
				return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{"id":"` + req.MessageID + `"}`)}, nil
			})
			r.p.SetRoutes(&Routes{Sites: map[string]map[string]*Target{"s1": {"x": {Plugin: "x", Handler: plugin, Operations: map[string]sdk.Operation{"x.do": {Type: "x.do"}}}}}})
			r.p.opts.CallTimeout = time.Minute // the grace, not the call timeout, ends m2's call
			r.send("m2@B")
			stop := r.consume()
			select {
			case <-m2In:
			case <-time.After(time.Minute):
				t.Fatal("m2 did not reach the plugin within a minute")
			}
			r.send("m1@A")
			gate := r.p.gates.get("x")
			waitFor(t, "m1's retry waiting to go into the plugin alone", func() bool {
				gate.mu.Lock()
				defer gate.mu.Unlock()
				return gate.waiting == 1
			})
			stop()
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(cut, []int{1}) {
				t.Errorf("the release grace cut off %v messages, want [1]: m2's call, in flight; m1 was waiting at the plugin's gate, not in a call", cut)
			}
			if calls["m1"] != 1 {
				t.Errorf("m1 reached the plugin %d times, want once: no new call once its partition is released", calls["m1"])
			}
		})
	}
}

// TestReleaseDoesNotWaitForTheKeyLock: a delivery waiting for its key
// while another message of the key runs outside the consumer (the HTTP
// ingress's, whose call takes long) is not in flight: when its partition
// is released it gives up at once (it is delivered again), rather than
// waiting until the grace is over and being counted and logged as a call
// the grace cut off (bus.Config.OnReleaseCut).
func TestReleaseDoesNotWaitForTheKeyLock(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("needs Kafka brokers")
	}
	for name, brokers := range chainBackends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newChainRig(t, brokers(t))
			var (
				mu    sync.Mutex
				calls = map[string]int{}
				cut   []int
			)
			r.cfg.ReleaseGrace = stopGrace
			r.cfg.OnReleaseCut = func(_ string, _ int32, unfinished int) {
				mu.Lock()
				cut = append(cut, unfinished)
				mu.Unlock()
			}
			httpIn, httpEnd := make(chan struct{}), make(chan struct{})
			plugin := ctxHandler(func(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
				mu.Lock()
				calls[req.MessageID]++
				mu.Unlock()
				if req.MessageID == "h1" {
					close(httpIn)
					<-httpEnd // longer than the grace
				}
				return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{"id":"` + req.MessageID + `"}`)}, nil
			})
			r.p.SetRoutes(&Routes{Sites: map[string]map[string]*Target{"s1": {"x": {Plugin: "x", Handler: plugin, Operations: map[string]sdk.Operation{"x.do": {Type: "x.do"}}}}}})
			r.p.opts.CallTimeout = time.Minute
			httpDone := make(chan error, 1)
			go func() {
				_, err := r.p.Process(context.Background(), Input{Value: msg("h1", "x.do"), Key: "K"})
				httpDone <- err
			}()
			<-httpIn
			r.send("m1")
			stop := r.consume()
			waitFor(t, "m1 waiting for its key", func() bool {
				r.p.keys.mu.Lock()
				defer r.p.keys.mu.Unlock()
				l := r.p.keys.m["K"]
				return l != nil && l.refs == 2
			})
			stop()
			close(httpEnd)
			if err := <-httpDone; err != nil {
				t.Fatalf("the message outside the consumer: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(cut) != 0 {
				t.Errorf("the release grace cut off %v messages, want none: m1 was waiting for its key, not in a call", cut)
			}
			if calls["m1"] != 0 {
				t.Errorf("m1 reached the plugin %d times after its partition was released, want never", calls["m1"])
			}
		})
	}
}
