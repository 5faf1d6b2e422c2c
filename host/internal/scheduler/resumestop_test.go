package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
)

// stoppingRecords answers the run records' reads as a store does while
// medgate's start fails: the read waits (a slow store) until the
// scheduler stops, then fails with its context's error, or with the
// store's own once closed; with running, it fails while the scheduler
// still runs.
type stoppingRecords struct {
	memLeases
	err     error // the read's error; nil: the context's
	running bool  // fail at once, while the scheduler runs
	asked   atomic.Int32
}

func (r *stoppingRecords) StateGet(ctx context.Context, _, _ string) (store.StateEntry, error) {
	r.asked.Add(1)
	if !r.running {
		<-ctx.Done()
	}
	if r.err != nil {
		return store.StateEntry{}, r.err
	}
	return store.StateEntry{}, ctx.Err()
}

func (r *stoppingRecords) StatePut(context.Context, string, string, []byte) (int64, error) {
	return 0, errors.New("not written")
}

// TestResumeQuietWhenStopping: a start that fails (the HTTP port in use)
// stops the scheduler while its new jobs still read their run records;
// those reads then fail (context canceled, the store closed) and say
// nothing: one warning a job would bury the error that stopped medgate.
// A read that fails while the scheduler runs is still a warning.
func TestResumeQuietWhenStopping(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		rec   *stoppingRecords
		warns int
	}{
		"cancelled by the stop":     {rec: &stoppingRecords{}, warns: 0},
		"store closed after stop":   {rec: &stoppingRecords{err: errors.New("sql: database is closed")}, warns: 0},
		"store fails while it runs": {rec: &stoppingRecords{err: errors.New("connection refused"), running: true}, warns: 10},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs logBuffer
			s := New(tc.rec, "me", newFakeClock(), slog.New(slog.NewTextHandler(&logs, nil)))
			var jobs []Job
			for i := range 10 {
				jobs = append(jobs, Job{Plugin: "p", Site: "s", Name: fmt.Sprintf("j%d", i), Interval: time.Hour, Run: func(context.Context, time.Time) error { return nil }})
			}
			s.SetJobs(jobs)
			checkFor(t, "every job to read its record", func() bool { return tc.rec.asked.Load() == 10 })
			if !tc.rec.running {
				s.Stop()
			}
			want := "could not read the job's last run"
			s.Stop()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			if err := s.Wait(ctx); err != nil { // the reads of the records too
				t.Fatal(err)
			}
			if got := strings.Count(logs.String(), want); got != tc.warns {
				t.Fatalf("%d warnings %q, want %d:\n%s", got, want, tc.warns, logs.String())
			}
		})
	}
}
