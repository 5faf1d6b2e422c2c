package adapter

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestRefusedFeedbackInAJobIsRetriedSoon: a GYU008 the national system
// refuses inside a scheduled download is sent again within the run, after
// a short backoff, under a new serial: left to the next run, 30 minutes
// later, it would miss the 30-minute feedback rule. The retries are
// bounded (a refusal that never passes costs feedbackRefusedTries sends a
// run, not a loop), and a run that ends with the feedback still refused
// says in its result when the feedback is due, or by how much it is late.
func TestRefusedFeedbackInAJobIsRetriedSoon(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		refusals int           // GYU008 refused this many times (-1: always)
		after    time.Duration // between the batch's download and the second run
		acked    bool
		sends    int    // GYU008 sent by the first run
		rule     string // of the result's diagnostic when not acked
	}{
		"refused once":       {refusals: 1, acked: true, sends: 2},
		"refused twice":      {refusals: 2, acked: true, sends: 3},
		"refused every time": {refusals: -1, sends: feedbackRefusedTries, rule: "feedback-due"},
		"refused, then late": {refusals: -1, after: 31 * time.Minute, sends: feedbackRefusedTries, rule: "feedback-late"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var offset atomic.Int64
			base := time.Now()
			clock := func() time.Time { return base.Add(time.Duration(offset.Load())) }
			e := newEnv(t, withClock(clock), withSettings(setFeedbackBackoff, "10ms"), withSeed(func(s *wisim.Server) {
				for i := 1; i <= 3; i++ {
					s.AddApplication(wisim.SampleApplication("FR", i, "350200"))
				}
			}))
			e.sim.Inject(wisim.Fault{Code: "GYU008", Kind: wisim.FaultBusiness, Times: tc.refusals, ErrCode: "E9001", ErrMessage: "系统繁忙"})
			r := e.runJob(JobFilingApplications)
			if got := len(e.sim.Received("GYU008")); got != tc.sends {
				t.Fatalf("the run sent GYU008 %d times, want %d", got, tc.sends)
			}
			b := nonEmpty(e.sim.Batches("GYD001"))
			if len(b) != 1 || b[0].Acked != tc.acked {
				t.Fatalf("batches %+v; want the batch acknowledged: %v", b, tc.acked)
			}
			if tc.acked {
				if r.Diagnostics.HasError() {
					t.Fatalf("run: %s", r.Diagnostics)
				}
				serials := map[string]bool{}
				for _, x := range e.sim.Received("GYU008") {
					serials[x.Serial] = true
				}
				if len(serials) != tc.sends {
					t.Fatalf("%d distinct GYU008 serials, want %d", len(serials), tc.sends)
				}
				return
			}
			if !strings.Contains(r.Diagnostics.String(), "due") || !strings.Contains(r.Diagnostics.String(), "E9001") {
				t.Fatalf("first run: %s; want the refusal and when the feedback is due", r.Diagnostics)
			}
			offset.Store(int64(tc.after))
			r = e.runJob(JobFilingApplications)
			if got := len(e.sim.Received("GYU008")); got != 2*tc.sends {
				t.Fatalf("after the second run GYU008 was sent %d times, want %d: bounded per run", got, 2*tc.sends)
			}
			found := false
			for _, d := range r.Diagnostics {
				found = found || d.Rule == tc.rule
			}
			if !found {
				t.Fatalf("second run: %s; want a diagnostic of rule %s", r.Diagnostics, tc.rule)
			}
		})
	}
}
