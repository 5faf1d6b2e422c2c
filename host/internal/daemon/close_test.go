package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/store"
)

// TestCloseWaitsForRunningJobs: Close must not close the store (and the
// plugins) under a job's run, such as a work-injury download between two
// of its steps. It cancels the run, waits for it to return, and only then
// closes the store, so the step the run stores on its way out is written
// (or fails with a context error), never refused by a closed store; and
// the lease of the job, which has ended, is freed for the next instance.
// Both a run the schedule started and one triggered through the admin
// API or CLI (whose context Close does not end) are covered.
func TestCloseWaitsForRunningJobs(t *testing.T) {
	t.Parallel()
	for _, triggered := range []bool{false, true} {
		name := "scheduled"
		if triggered {
			name = "triggered"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "medgate.db")
			st, err := store.Open(t.Context(), store.DriverSQLite, path)
			if err != nil {
				t.Fatal(err)
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			d := &Daemon{log: log, store: st, plugins: map[string]*pluginhost.Instance{}}
			d.sched = scheduler.New(st, "node-a", scheduler.RealClock, log)
			interval := time.Hour
			if !triggered {
				interval = 20 * time.Millisecond // the schedule starts it
			}
			var (
				once     sync.Once
				started  = make(chan struct{})
				returned = make(chan struct{})
				writeErr error
			)
			job := scheduler.Job{Plugin: "workinjury", Site: "h1", Name: "download", Interval: interval, Run: func(ctx context.Context, _ time.Time) error {
				first := false
				once.Do(func() { first = true })
				if !first {
					return errors.New("the job ran twice")
				}
				close(started)
				<-ctx.Done()
				// The download records the step it reached on its way
				// out, to resume from it after the restart.
				_, writeErr = st.StatePut(context.WithoutCancel(ctx), "workinjury", "h1/download/step", []byte("stored"))
				close(returned)
				return ctx.Err()
			}}
			d.sched.SetJobs([]scheduler.Job{job})
			runCtx, stopRun := context.WithCancel(context.Background())
			d.stopRun = stopRun
			d.runJobs(runCtx)
			// The admin API's request: Close does not end its context.
			trigger, untrigger := context.WithCancel(context.Background())
			t.Cleanup(untrigger)
			if triggered {
				go func() { _ = d.sched.Trigger(trigger, job.ID()) }()
			}
			select {
			case <-started:
			case <-time.After(10 * time.Second):
				t.Fatal("the job did not start")
			}

			if err := d.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			select {
			case <-returned:
			default:
				t.Fatal("Close returned (the store closed) while the job's run was still going")
			}
			if writeErr != nil && !errors.Is(writeErr, context.Canceled) && !errors.Is(writeErr, context.DeadlineExceeded) {
				t.Fatalf("the job's write after the cancellation: %v; want it written or a context error, not refused by a closed store", writeErr)
			}

			// The run has ended: its lease is free for the next instance.
			st2, err := store.Open(t.Context(), store.DriverSQLite, path)
			if err != nil {
				t.Fatal(err)
			}
			defer st2.Close()
			if held, until, err := st2.AcquireLease(t.Context(), "job/"+job.ID(), "node-b", time.Hour, time.Now()); err != nil || !held {
				t.Fatalf("another instance takes the ended job's lease: held %v (until %s), %v; want it released at shutdown", held, until, err)
			}
			if e, err := st2.StateGet(t.Context(), "workinjury", "h1/download/step"); writeErr == nil && (err != nil || string(e.Value) != "stored") {
				t.Fatalf("the step the job stored is not in the store: %q, %v", e.Value, err)
			}
		})
	}
}
