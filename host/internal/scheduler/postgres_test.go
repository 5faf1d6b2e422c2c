package scheduler

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Stop()
	os.Exit(code)
}

// TestSkewedInstancesShareAPostgresLease: two instances whose clocks are
// ten minutes apart, far beyond the lease's grace, share a PostgreSQL
// store. The one whose clock is ahead neither runs the job beside the
// other's run nor learns a retry time off by the skew, and a lease taken
// by it expires on time for the other.
func TestSkewedInstancesShareAPostgresLease(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	open := func() *store.Postgres {
		st, err := store.OpenPostgres(t.Context(), dsn)
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	const skew = 10 * time.Minute
	// instance returns a scheduler of the job p/s/<job>, holder name, on
	// its own connection to the store, whose clock stands (fake) at the
	// wall clock plus skew.
	instance := func(name, job string, skew, interval, grace time.Duration, run func(context.Context, time.Time) error) (*Scheduler, *fakeClock) {
		clock := &fakeClock{now: time.Now().Add(skew)}
		s := New(open(), name, clock, quiet)
		s.Grace = grace
		s.SetJobs([]Job{{Plugin: "p", Site: "s", Name: job, Interval: interval, Run: run}})
		return s, clock
	}

	t.Run("a clock ahead does not run the job beside the owner's run", func(t *testing.T) {
		started, release := make(chan struct{}), make(chan struct{})
		const interval, grace = time.Minute, time.Minute
		a, _ := instance("a", "beside", 0, interval, grace, func(context.Context, time.Time) error {
			close(started)
			<-release
			return nil
		})
		var runsB atomic.Int32
		b, clockB := instance("b", "beside", skew, interval, grace, func(context.Context, time.Time) error {
			runsB.Add(1)
			return nil
		})
		took := time.Now()
		done := make(chan error, 1)
		go func() { done <- a.Trigger(t.Context(), "p/s/beside") }()
		checkFor(t, "a's run to start", func() bool {
			select {
			case <-started:
				return true
			default:
				return false
			}
		})
		err := b.Trigger(t.Context(), "p/s/beside")
		elapsed := time.Since(took)
		if !errors.Is(err, ErrNotOwner) || runsB.Load() != 0 {
			t.Errorf("b, its clock %v ahead, triggered the job during a's run: %v, %d runs; want ErrNotOwner and none", skew, err, runsB.Load())
		}
		// b tries again when a's lease expires, on b's clock.
		ttl := interval + grace
		if next, now := b.Jobs()[0].NextRun, clockB.Now(); next.After(now.Add(ttl)) || next.Before(now.Add(ttl-elapsed)) {
			t.Errorf("b's next try at %v, want a's expiry on b's clock: %v to %v after its now %v", next, ttl-elapsed, ttl, now)
		}
		close(release)
		if err := awaitRun(t, "a's run", done); err != nil {
			t.Fatalf("a's run: %v", err)
		}
	})

	t.Run("a lease taken by a clock ahead expires on time", func(t *testing.T) {
		// A short lease, so that it expires during the test.
		const interval, grace = 100 * time.Millisecond, 100 * time.Millisecond
		a, _ := instance("a", "takeover", skew, interval, grace, func(context.Context, time.Time) error { return nil })
		var runsB atomic.Int32
		b, _ := instance("b", "takeover", 0, interval, grace, func(context.Context, time.Time) error {
			runsB.Add(1)
			return nil
		})
		// a runs once and dies (keeps its lease, as a crash would).
		took := time.Now()
		if err := a.Trigger(t.Context(), "p/s/takeover"); err != nil {
			t.Fatalf("a: %v", err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := b.Trigger(t.Context(), "p/s/takeover")
			if err == nil {
				break
			}
			if !errors.Is(err, ErrNotOwner) {
				t.Fatalf("b: %v", err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("b could not take over the lease of %v that a, its clock %v ahead, took %v ago", interval+grace, skew, time.Since(took))
			}
		}
		if elapsed := time.Since(took); elapsed < interval+grace || runsB.Load() != 1 {
			t.Errorf("b took over after %v with %d runs, want once, not before the lease of %v expired", elapsed, runsB.Load(), interval+grace)
		}
	})
}
