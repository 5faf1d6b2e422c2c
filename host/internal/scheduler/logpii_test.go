package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestFailedRunLogsNoPersonalData: a job that fails with an external
// system's refusal (a trace-code stock-in sync answered with the
// platform's message) is logged as "scheduled job failed" with the
// error masked: the name, old ID number, social-security card number and
// birth date in the platform's text never reach the log, and the run's
// status keeps the error for the console.
func TestFailedRunLogsNoPersonalData(t *testing.T) {
	t.Parallel()
	const interval = 30 * time.Minute
	const refusal = "platform refused: 患者张三丰（旧证号350203800101123，社保卡号D15629456，出生日期1980-01-01）"
	clock := newFakeClock()
	logs := &logBuffer{}
	s := New(&memLeases{}, "a", clock, slog.New(slog.NewTextHandler(logs, nil)))
	s.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: interval, Run: func(context.Context, time.Time) error {
		return errors.New(refusal)
	}}})
	reported := make(chan error, 1)
	s.OnRun = func(_ Job, err error, _ time.Duration) { reported <- err }
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go s.Run(ctx)

	checkFor(t, "the scheduler to wait", func() bool { return clock.waitsUntil(clock.Now().Add(interval)) })
	clock.Advance(interval)
	if err := awaitRun(t, "the failing run", reported); err == nil {
		t.Fatal("the run reported no error")
	}
	checkFor(t, "the failure to be logged", func() bool { return logs.count("scheduled job failed", "job=p/s/j") == 1 })
	for _, leak := range []string{"张三丰", "350203800101123", "D15629456", "1980-01-01"} {
		if logs.count(leak) != 0 {
			t.Errorf("the log carries %q:\n%s", leak, logs)
		}
	}
	if st := s.Jobs()[0]; !strings.Contains(st.LastErr, "platform refused") {
		t.Errorf("status last error %q, want the refusal", st.LastErr)
	}
}
