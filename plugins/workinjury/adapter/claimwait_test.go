package adapter

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// otherProcess configures a second adapter instance on e's host, as a
// second medgate instance sharing the store would be.
func otherProcess(t *testing.T, e *env, clock func() time.Time) sdk.Plugin {
	t.Helper()
	other := New(WithLogger(discardLogger()), WithClock(clock))
	op := sdktest.Connect(t, other, e.host)
	if cr, err := op.Configure(context.Background(), &sdk.ConfigureRequest{Site: testSite, Settings: e.settings}); err != nil || cr.Diagnostics.HasError() {
		t.Fatalf("configure the other instance: %v %v", err, cr)
	}
	return op
}

// TestFreshFetchOfAnotherRunIsNotRecovered: a download message's fetch
// is in flight in one instance (the call made, its answer not yet
// stored) when a message of the same code comes to another instance. The
// state says fetching, fresh: that fetch is not lost, and recovering it
// (GYD008, GYR005, the download again) asks the national system for the
// batch twice. The second message waits, as for a fresh claim; the fetch
// of a run that ended (its answer lost, the message retried) is
// recovered at once, by its own retry or by another message.
func TestFreshFetchOfAnotherRunIsNotRecovered(t *testing.T) {
	t.Parallel()
	const code = "GYD009"
	cases := map[string]struct {
		// inFlight: the second message comes while the first's fetch is
		// in flight; otherwise after the first's answer was lost.
		inFlight bool
		second   string // the second message's id
		wait     bool
		gyr005   int
	}{
		"another message's fetch in flight: waits":       {inFlight: true, second: "m-second", wait: true, gyr005: 0},
		"own fetch whose answer was lost: recovered":     {second: "m-first", gyr005: 1},
		"another message's lost fetch, run ended: taken": {second: "m-second", gyr005: 1},
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
			op := otherProcess(t, e, clock)
			second := func() *sdk.HandleResponse {
				r, err := op.Handle(context.Background(), &sdk.HandleRequest{Site: testSite, Type: Name + "." + code, MessageID: tc.second,
					Key: tc.second, Format: "json", Payload: []byte("{}"), Attempt: 2, Deadline: time.Now().Add(time.Minute)})
				if err != nil {
					t.Fatalf("the other instance's message: %v", err)
				}
				return r
			}
			var msg *sdk.HandleResponse
			if tc.inFlight {
				var once sync.Once
				e.impl.hook = func(p string) error {
					if p == "fetch:answered" {
						once.Do(func() {
							offset.Add(int64(time.Second))
							msg = second()
						})
					}
					return nil
				}
				e.mustOK(e.handle("m-first", code, map[string]any{}, false))
			} else {
				e.sim.Inject(wisim.Fault{Code: code, Kind: wisim.FaultLostReply})
				if r := e.handle("m-first", code, map[string]any{}, false); r.Status != sdk.StatusFailed || !r.Retryable {
					t.Fatalf("lost answer: reply %s (retryable %v) %s; want a retryable failure", r.Status, r.Retryable, r.Diagnostics)
				}
				offset.Add(int64(time.Second))
				msg = second()
			}
			if msg == nil {
				t.Fatal("the second message never ran")
			}
			if n := len(e.sim.Received("GYR005")); n != tc.gyr005 {
				t.Fatalf("GYR005 sent %d times; want %d (second message: %s %s)", n, tc.gyr005, msg.Status, msg.Diagnostics)
			}
			if tc.wait {
				if msg.Status != sdk.StatusFailed || !msg.Retryable || !msg.Waiting {
					t.Fatalf("second message: status %s (retryable %v, waiting %v) %s; want a retryable wait", msg.Status, msg.Retryable, msg.Waiting, msg.Diagnostics)
				}
			} else if msg.Status != sdk.StatusOK {
				t.Fatalf("second message: status %s %s; want the lost batch recovered", msg.Status, msg.Diagnostics)
			}
			b := nonEmpty(e.sim.Batches(code))
			if len(b) != 1 || !b[0].Acked || b[0].Feedbacks != 1 {
				t.Fatalf("batches %+v; want the one batch acknowledged by one feedback", b)
			}
		})
	}
}

// TestScheduledDownloadWaitsQuietlyForAClaim: a scheduled GYD001/GYD006
// run that finds the fetch of its code being recovered by another run
// (a fresh claim) does nothing, as a message would; that is no failure
// of the job – no error in its result (which medgate jobs shows, and the
// stall alert counts) – but a summary saying what it waits for.
func TestScheduledDownloadWaitsQuietlyForAClaim(t *testing.T) {
	t.Parallel()
	for _, job := range []string{JobFilingApplications, JobFilings} {
		t.Run(job, func(t *testing.T) {
			t.Parallel()
			base := time.Now()
			var offset atomic.Int64
			clock := func() time.Time { return base.Add(time.Duration(offset.Load())) }
			e := newEnv(t, withSettings(setTimeout, "30s"), withClock(clock), withSeed(func(s *wisim.Server) {
				for i := range 3 {
					s.AddApplication(wisim.SampleApplication("SQ", i, "350200"))
					s.AddFiling(wisim.SampleFiling("BA", i, "350200"))
				}
			}))
			op := otherProcess(t, e, clock)
			// A run whose answer was lost leaves the fetch for the next.
			e.sim.Inject(wisim.Fault{Code: job, Kind: wisim.FaultLostReply})
			if r := e.runJob(job); !r.Diagnostics.HasError() {
				t.Fatalf("lost answer: job %s %s; want an error", r.Summary, r.Diagnostics)
			}
			offset.Add(int64(30*time.Second + fetchStaleMargin + time.Second))
			var other *sdk.RunJobResponse
			var once sync.Once
			e.impl.hook = func(p string) error {
				if p == "fetch:answered" {
					once.Do(func() {
						// This run claimed the lost fetch and asked for it
						// again; a run in the other instance starts now.
						offset.Add(int64(time.Second))
						r, err := op.RunJob(context.Background(), &sdk.RunJobRequest{Site: testSite, Job: job, Now: time.Now(), TraceID: "other"})
						if err != nil {
							t.Errorf("the other instance's run: %v", err)
						}
						other = r
					})
				}
				return nil
			}
			if r := e.runJob(job); r.Diagnostics.HasError() {
				t.Fatalf("recovering run: %s %s", r.Summary, r.Diagnostics)
			}
			if other == nil {
				t.Fatal("the other run never ran during the recovery")
			}
			if other.Diagnostics.HasError() || !strings.Contains(other.Summary, "waiting") {
				t.Fatalf("the other run: summary %q, diagnostics %s; want no error and a summary saying what it waits for", other.Summary, other.Diagnostics)
			}
			if n := len(e.sim.Received("GYR005")); n != 1 {
				t.Fatalf("GYR005 sent %d times; want the lost batch asked for once", n)
			}
		})
	}
}
