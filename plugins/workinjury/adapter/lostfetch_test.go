package adapter

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestFeedbackJobRecoversALostFetch: a download asked for by a message
// (GYD009 …) whose answer was lost leaves its step fetching; the national
// system holds the batch unacknowledged and hands out nothing more of the
// code, and the next message of the code may be days away while the
// feedback is due within 30 minutes. The GYU008 job recovers such a fetch
// once its state has not moved for longer than any fetch can take (GYD008,
// GYR005, as the next message would): the batch is stored, published and
// fed back exactly once. A fetch whose state is fresh may still be in
// flight and is left alone.
func TestFeedbackJobRecoversALostFetch(t *testing.T) {
	t.Parallel()
	const code = "GYD009"
	cases := map[string]struct {
		idle      time.Duration // how long the state stays unmoved before the job runs
		recovered bool
		// raced: another run (a message of the code, in another
		// process) moves the workflow on between the job's read and
		// its claim: the job leaves the fetch to it.
		raced bool
	}{
		"answer lost, state unmoved past any fetch": {idle: 30*time.Second + fetchStaleMargin + time.Second, recovered: true},
		"fetch perhaps in flight (state fresh)":     {idle: time.Second},
		"another run claims it first":               {idle: 30*time.Second + fetchStaleMargin + time.Second, raced: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base := time.Now()
			var offset atomic.Int64
			e := newEnv(t, withSettings(setTimeout, "30s"), withClock(func() time.Time { return base.Add(time.Duration(offset.Load())) }),
				withSeed(func(s *wisim.Server) {
					s.AddInstitution(wisim.SampleInstitution("H35020300791", "厦门市示例医院", "1", "350200"))
					s.AddInstitution(wisim.SampleInstitution("H35020300792", "厦门市示例二院", "1", "350200"))
				}))
			e.sim.Inject(wisim.Fault{Code: code, Kind: wisim.FaultLostReply})
			if r := e.handle("m-lost-fetch", code, map[string]any{}, false); r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("lost answer: reply %s (retryable %v) %s; want a retryable failure", r.Status, r.Retryable, r.Diagnostics)
			}
			offset.Store(int64(tc.idle))
			if tc.raced {
				var once sync.Once
				e.impl.hook = func(p string) error {
					if p == "fetch:claim" {
						once.Do(func() {
							// As save does: the state is written anew, its time now.
							h := hostFor(e.host, testSite)
							var st dlState
							ver, err := getJSON(context.Background(), h, "dl/"+code, &st)
							if err == nil {
								st.UpdatedAt = base.Add(time.Duration(offset.Load())).UTC()
								_, err = casJSON(context.Background(), h, "dl/"+code, ver, st)
							}
							if err != nil {
								t.Errorf("the other run's claim: %v", err)
							}
						})
					}
					return nil
				}
			}
			for run := 1; run <= 2; run++ {
				if r := e.runJob(JobFeedback); r.Diagnostics.HasError() {
					t.Fatalf("run %d: %s %s", run, r.Summary, r.Diagnostics)
				}
			}
			b := nonEmpty(e.sim.Batches(code))
			if len(b) != 1 {
				t.Fatalf("batches %+v; want the one batch handed out", b)
			}
			events := e.events(eventTypes[code])
			if !tc.recovered {
				if n := len(e.sim.Received("GYD008")) + len(e.sim.Received("GYR005")); n != 0 || b[0].Acked || len(events) != 0 {
					t.Fatalf("fetch fresh or claimed by another run: %d GYD008/GYR005 sent, batch %+v, %d events; want it left alone", n, b[0], len(events))
				}
				var st dlState
				if _, err := getJSON(t.Context(), hostFor(e.host, testSite), "dl/"+code, &st); err != nil || st.Step != stepFetching {
					t.Fatalf("state %+v (%v); want the fetch left as it was", st, err)
				}
				return
			}
			if !b[0].Acked || b[0].Feedbacks != 1 {
				t.Fatalf("batch %+v after two runs of the job; want it acknowledged by one feedback", b[0])
			}
			if n := len(e.sim.Received("GYR005")); n != 1 {
				t.Fatalf("GYR005 sent %d times; want the lost batch asked for once", n)
			}
			if len(events) != b[0].Records {
				t.Fatalf("%d events published for a batch of %d records; want each once", len(events), b[0].Records)
			}
		})
	}
}

// TestMessageWaitsForAFreshRecoveryClaim: the GYU008 job claims a lost
// fetch (compare-and-set) and recovers it (GYD008, GYR005, the download
// again). A message of the code in another process that reads the state
// after that claim must not recover it a second time: it waits,
// retryably, while the claim is fresh; a claim older than any fetch takes
// (the call timeout plus fetchStaleMargin) is taken over.
func TestMessageWaitsForAFreshRecoveryClaim(t *testing.T) {
	t.Parallel()
	const code = "GYD009"
	stale := 30*time.Second + fetchStaleMargin + time.Second
	cases := map[string]struct {
		after time.Duration // how long after the claim the message comes
		wait  bool
	}{
		"claim fresh: the message waits":      {after: time.Second, wait: true},
		"claim stale: the message takes over": {after: stale, wait: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base := time.Now()
			var offset atomic.Int64
			clock := func() time.Time { return base.Add(time.Duration(offset.Load())) }
			e := newEnv(t, withSettings(setTimeout, "30s"), withClock(clock), withSeed(func(s *wisim.Server) {
				s.AddInstitution(wisim.SampleInstitution("H35020300791", "厦门市示例医院", "1", "350200"))
			}))
			e.sim.Inject(wisim.Fault{Code: code, Kind: wisim.FaultLostReply})
			if r := e.handle("m-lost-fetch", code, map[string]any{}, false); r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("lost answer: reply %s (retryable %v) %s; want a retryable failure", r.Status, r.Retryable, r.Diagnostics)
			}
			offset.Store(int64(stale))
			// The other process: its own adapter instance on the same host.
			other := New(WithLogger(discardLogger()), WithClock(clock))
			op := sdktest.Connect(t, other, e.host)
			if cr, err := op.Configure(context.Background(), &sdk.ConfigureRequest{Site: testSite, Settings: e.settings}); err != nil || cr.Diagnostics.HasError() {
				t.Fatalf("configure the other instance: %v %v", err, cr)
			}
			var msg *sdk.HandleResponse
			var once sync.Once
			e.impl.hook = func(p string) error {
				if p == "fetch:answered" {
					once.Do(func() {
						// The job claimed the fetch and asked for the
						// batch again; the message reads the state now.
						offset.Add(int64(tc.after))
						r, err := op.Handle(context.Background(), &sdk.HandleRequest{Site: testSite, Type: Name + "." + code, MessageID: "m-other-process",
							Key: "m-other-process", Format: "json", Payload: []byte("{}"), Attempt: 1, Deadline: time.Now().Add(time.Minute)})
						if err != nil {
							t.Errorf("the other process's message: %v", err)
						}
						msg = r
					})
				}
				return nil
			}
			jr := e.runJob(JobFeedback)
			if msg == nil {
				t.Fatalf("the message never ran during the job's recovery: job %s %s", jr.Summary, jr.Diagnostics)
			}
			n := len(e.sim.Received("GYR005"))
			if !tc.wait {
				if n != 2 {
					t.Fatalf("GYR005 sent %d times; want the stale claim taken over by the message (2)", n)
				}
				return
			}
			if msg.Status != sdk.StatusFailed || !msg.Retryable || !msg.Waiting {
				t.Fatalf("message: status %s (retryable %v, waiting %v) %s; want a retryable wait", msg.Status, msg.Retryable, msg.Waiting, msg.Diagnostics)
			}
			if n != 1 {
				t.Fatalf("GYR005 sent %d times; want the lost batch asked for once (by the job)", n)
			}
			b := nonEmpty(e.sim.Batches(code))
			if len(b) != 1 || !b[0].Acked || b[0].Feedbacks != 1 {
				t.Fatalf("batches %+v; want the one batch acknowledged by one feedback", b)
			}
		})
	}
}
