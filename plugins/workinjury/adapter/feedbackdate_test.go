package adapter

import (
	"sync/atomic"
	"testing"
	"time"

	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestFeedbackReconciledOnTheDayItWasSent: a run stops after drawing the
// feedback's serial, just before midnight; the next run sends the
// feedback after midnight and its reply is lost. GYD053 must be asked
// about the day the feedback went out (orig_date), not the day its serial
// was drawn, or the national system looks for it on the wrong day.
func TestFeedbackReconciledOnTheDayItWasSent(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	base := time.Date(2026, 3, 9, 23, 59, 0, 0, cst)
	clock := func() time.Time { return base.Add(time.Duration(offset.Load())) }
	e := newEnv(t, withClock(clock), withSettings(setFeedbackBackoff, "10ms"), withSeed(func(s *wisim.Server) {
		s.AddApplication(wisim.SampleApplication("FD", 1, "350200"))
	}))
	crashed := false
	e.impl.hook = func(p string) error {
		if p == "feedback:sending" && !crashed {
			crashed = true
			return errCrash
		}
		return nil
	}
	if r := e.runJob(JobFilingApplications); !r.Diagnostics.HasError() {
		t.Fatalf("the crashed run reported no error: %s", r.Summary)
	}
	offset.Store(int64(5 * time.Minute)) // 00:04 the next day
	e.connect()
	e.sim.Inject(wisim.Fault{Code: "GYU008", Kind: wisim.FaultLostReply})
	if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() {
		t.Fatalf("resumed run: %s", r.Diagnostics)
	}
	fb := e.sim.Received("GYU008")
	if len(fb) != 1 {
		t.Fatalf("GYU008 sent %d times, want 1 (its lost reply is reconciled, not resent)", len(fb))
	}
	var asked []string
	for _, q := range e.sim.Received("GYD053") {
		if q.Input["orig_code"] == "GYU008" {
			asked = append(asked, str(q.Input, "orig_date"))
		}
	}
	if len(asked) == 0 {
		t.Fatal("the lost feedback reply was not reconciled with GYD053")
	}
	for _, d := range asked {
		if d != "2026-03-10" {
			t.Errorf("GYD053 asked about the feedback of %s, want 2026-03-10, the day it was sent", d)
		}
	}
}
