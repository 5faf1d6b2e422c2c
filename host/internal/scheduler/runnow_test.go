package scheduler

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRunNowReturnsItsOwnRun: RunNow returns the record of the run it
// started (start, duration, report, failures and next run as that run
// left them), which a later run of the job does not change; Jobs shows
// the latest run.
func TestRunNowReturnsItsOwnRun(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := New(&memLeases{}, "a", clock, quiet)
	n := 0
	s.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: 30 * time.Minute, Run: func(ctx context.Context, _ time.Time) error {
		n++
		if n == 1 {
			clock.Advance(2 * time.Second)
			Report(ctx, "12 filings downloaded", 12)
			return nil
		}
		clock.Advance(5 * time.Second)
		Report(ctx, "3 filings downloaded", 3)
		return errors.New("platform down")
	}}})
	start := clock.Now()
	first, err := s.RunNow(t.Context(), "p/s/j")
	if err != nil {
		t.Fatal(err)
	}
	// A run of the same job right after the first (a scheduled one).
	second, err := s.RunNow(t.Context(), "p/s/j")
	if err == nil {
		t.Fatal("the failing run reported no error")
	}
	cases := map[string]struct {
		got, want Run
	}{
		"first":  {first, Run{Job: "p/s/j", StartedAt: start, Took: 2 * time.Second, Summary: "12 filings downloaded", Processed: 12, Failures: 0, NextRun: start.Add(30 * time.Minute)}},
		"second": {second, Run{Job: "p/s/j", StartedAt: start.Add(2 * time.Second), Took: 5 * time.Second, Summary: "3 filings downloaded", Processed: 3, Failures: 1, NextRun: s.Jobs()[0].NextRun}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g, w := tc.got, tc.want
			if g.Job != w.Job || !g.StartedAt.Equal(w.StartedAt) || g.Took != w.Took || g.Summary != w.Summary || g.Processed != w.Processed || g.Failures != w.Failures || !g.NextRun.Equal(w.NextRun) {
				t.Errorf("run record\n%+v\nwant\n%+v", g, w)
			}
		})
	}
	if st := s.Jobs()[0]; st.Summary != "3 filings downloaded" || st.Runs != 2 || !second.NextRun.Before(first.NextRun) {
		t.Errorf("status %+v after the second run; the retry %s must come before the interval's next run %s", st, second.NextRun, first.NextRun)
	}
	if r, err := s.RunNow(t.Context(), "p/s/nope"); !errors.Is(err, ErrUnknownJob) || !r.StartedAt.IsZero() {
		t.Errorf("RunNow of an unknown job = %+v, %v", r, err)
	}
}
