package adapter

import (
	"sync/atomic"
	"testing"
	"time"

	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestFeedbackSentLateIsFlagged: a batch stored by a run that stopped
// before its feedback (a crash right after the batch was stored) is fed
// back by the next run; when that is past the 30-minute deadline the
// feedback is late even though nothing fails any more, and it is flagged
// (workinjury.feedback.late, once), and still sent. In time, nothing is
// flagged.
func TestFeedbackSentLateIsFlagged(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		after time.Duration // between the crashed run and the next
		late  int
	}{
		"resumed in time":      {time.Minute, 0},
		"resumed past the 30m": {31 * time.Minute, 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var offset atomic.Int64
			base := time.Now()
			clock := func() time.Time { return base.Add(time.Duration(offset.Load())) }
			e := newEnv(t, withClock(clock), withSeed(func(s *wisim.Server) {
				for i := 1; i <= 3; i++ {
					s.AddApplication(wisim.SampleApplication("LT", i, "350200"))
				}
			}))
			crashed := false
			e.impl.hook = func(p string) error {
				if p == "stored" && !crashed {
					crashed = true
					return errCrash
				}
				return nil
			}
			if r := e.runJob(JobFilingApplications); !r.Diagnostics.HasError() {
				t.Fatalf("the crashed run reported no error: %s", r.Summary)
			}
			if n := len(e.events("workinjury.feedback.late")); n != 0 {
				t.Fatalf("%d late-feedback events before the deadline, want 0", n)
			}
			offset.Store(int64(tc.after))
			e.connect()
			if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() {
				t.Fatalf("resumed run: %s", r.Diagnostics)
			}
			b := nonEmpty(e.sim.Batches("GYD001"))
			if len(b) != 1 || !b[0].Acked || b[0].Feedbacks != 1 {
				t.Fatalf("batches %+v: the batch should be fed back once", b)
			}
			evs := e.events("workinjury.feedback.late")
			if len(evs) != tc.late {
				t.Fatalf("%d late-feedback events, want %d", len(evs), tc.late)
			}
			if tc.late > 0 && evs[0].Key != b[0].No {
				t.Fatalf("late-feedback event for batch %q, want %q", evs[0].Key, b[0].No)
			}
			// A later run does not flag the batch again.
			if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() {
				t.Fatalf("third run: %s", r.Diagnostics)
			}
			if n := len(e.events("workinjury.feedback.late")); n != tc.late {
				t.Fatalf("%d late-feedback events after another run, want %d", n, tc.late)
			}
		})
	}
}
