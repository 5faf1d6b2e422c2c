package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
)

// fakeClock moves only when told to.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
	// stoppable: made by timer (a store call's deadline), not After.
	stoppable bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var keep []waiter
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
	c.mu.Unlock()
}

// timer is After with a stop function (see timerClock): a stopped timer
// is no longer a waiter.
func (c *fakeClock) timer(d time.Duration) (<-chan time.Time, func()) {
	ch := c.After(d)
	c.mu.Lock()
	c.waiters[len(c.waiters)-1].stoppable = true
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, w := range c.waiters {
			if w.ch == ch {
				c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
				return
			}
		}
	}
}

// waitsUntil reports whether something waits on the clock for at.
func (c *fakeClock) waitsUntil(at time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.waiters {
		if w.at.Equal(at) {
			return true
		}
	}
	return false
}

// idle reports whether something waits on the clock through After and
// nothing through timer: no store call is waited for.
func (c *fakeClock) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	after := false
	for _, w := range c.waiters {
		if w.stoppable {
			return false
		}
		after = true
	}
	return after
}

func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// memLeases is an in-memory lease table with the store's semantics.
type memLeases struct {
	mu sync.Mutex
	m  map[string]struct {
		holder string
		until  time.Time
	}
}

func (l *memLeases) AcquireLease(_ context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]struct {
			holder string
			until  time.Time
		}{}
	}
	cur, ok := l.m[name]
	if ok && cur.holder != holder && now.Before(cur.until) {
		return false, cur.until, nil
	}
	l.m[name] = struct {
		holder string
		until  time.Time
	}{holder, now.Add(ttl)}
	return true, now.Add(ttl), nil
}

// expiry returns the named lease's holder and expiry.
func (l *memLeases) expiry(name string) (string, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.m[name]
	return cur.holder, cur.until
}

func (l *memLeases) ReleaseLease(_ context.Context, name, holder string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m[name].holder == holder {
		delete(l.m, name)
	}
	return nil
}

func checkFor(t *testing.T, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// awaitRun waits (as checkFor) for a run started in a goroutine to end
// and returns its error.
func awaitRun(t *testing.T, what string, done <-chan error) error {
	t.Helper()
	var err error
	checkFor(t, what, func() bool {
		select {
		case err = <-done:
			return true
		default:
			return false
		}
	})
	return err
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestJobRunsEveryIntervalOnFakeClock(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := New(&memLeases{}, "a", clock, quiet)
	var runs atomic.Int32
	s.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "download", Interval: 30 * time.Minute, Run: func(context.Context, time.Time) error {
		runs.Add(1)
		return nil
	}}})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go s.Run(ctx)
	checkFor(t, "scheduler to wait", func() bool { return clock.pending() > 0 })
	clock.Advance(29 * time.Minute)
	if n := runs.Load(); n != 0 {
		t.Fatalf("ran %d times before the interval passed", n)
	}
	for i := 1; i <= 3; i++ {
		checkFor(t, "scheduler to wait", func() bool { return clock.pending() > 0 })
		clock.Advance(time.Minute)
		checkFor(t, "run", func() bool { return runs.Load() == int32(i) })
		clock.Advance(29 * time.Minute)
	}
}

func TestOnlyLeaseHolderRuns(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	leases := &memLeases{}
	var runsA, runsB atomic.Int32
	job := func(n *atomic.Int32) []Job {
		return []Job{{Plugin: "p", Site: "s", Name: "j", Interval: 30 * time.Minute, Run: func(context.Context, time.Time) error {
			n.Add(1)
			return nil
		}}}
	}
	a := New(leases, "a", clock, quiet)
	b := New(leases, "b", clock, quiet)
	a.SetJobs(job(&runsA))
	b.SetJobs(job(&runsB))
	ctx := t.Context()
	if err := a.Trigger(ctx, "p/s/j"); err != nil {
		t.Fatal(err)
	}
	if err := b.Trigger(ctx, "p/s/j"); err == nil {
		t.Fatal("second instance ran a job whose lease the first holds")
	}
	// The owner dies: after the lease expires the other takes over.
	clock.Advance(30*time.Minute + time.Minute + time.Second)
	if err := b.Trigger(ctx, "p/s/j"); err != nil {
		t.Fatalf("takeover after expiry: %v", err)
	}
	if runsA.Load() != 1 || runsB.Load() != 1 {
		t.Fatalf("runs a=%d b=%d, want 1 and 1", runsA.Load(), runsB.Load())
	}
	if err := a.Trigger(ctx, "nope"); err == nil {
		t.Fatal("unknown job accepted")
	}
}

// TestRunReports: what a run reports (Report) is in the job's status
// until the next run, which starts afresh; Report outside a run is a no-op.
func TestRunReports(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := New(&memLeases{}, "a", clock, quiet)
	n := 0
	s.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: 30 * time.Minute, Run: func(ctx context.Context, _ time.Time) error {
		n++
		if n == 1 {
			Report(ctx, "12 filings downloaded", 12)
			return nil
		}
		return errors.New("platform down")
	}}})
	Report(t.Context(), "outside", 1)
	if err := s.Trigger(t.Context(), "p/s/j"); err != nil {
		t.Fatal(err)
	}
	st := s.Jobs()[0]
	if st.Summary != "12 filings downloaded" || st.Processed != 12 || st.LastErr != "" || st.Runs != 1 {
		t.Fatalf("after the first run: %+v", st)
	}
	if err := s.Trigger(t.Context(), "p/s/j"); err == nil {
		t.Fatal("the failing run reported no error")
	}
	st = s.Jobs()[0]
	if st.Summary != "" || st.Processed != 0 || st.LastErr != "platform down" || st.Runs != 2 {
		t.Fatalf("after the failed run: %+v", st)
	}
}

// TestReloadDuringRunDoesNotRunTwice: a reload that changes a job's
// interval while the job runs must not let a second run of the same job
// start beside the first one.
func TestReloadDuringRunDoesNotRunTwice(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := New(&memLeases{}, "a", clock, quiet)
	var running, most atomic.Int32
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	run := func(context.Context, time.Time) error {
		n := running.Add(1)
		defer running.Add(-1)
		if n > most.Load() {
			most.Store(n)
		}
		started <- struct{}{}
		<-release
		return nil
	}
	s.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: 30 * time.Minute, Run: run}})
	first := make(chan error, 1)
	go func() { first <- s.Trigger(t.Context(), "p/s/j") }()
	<-started
	s.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: 10 * time.Minute, Run: run}})
	second := make(chan error, 1)
	go func() { second <- s.Trigger(t.Context(), "p/s/j") }()
	select {
	case err := <-second:
		if err == nil {
			t.Fatal("a second run of the job ran while the first was running")
		}
	case <-started:
		close(release)
		<-first
		<-second
		t.Fatalf("a second run of the job started while the first was running (%d at once)", most.Load())
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if st := s.Jobs()[0]; st.Interval != "10m0s" || !st.NextRun.Equal(clock.Now().Add(10*time.Minute)) {
		t.Fatalf("after the reload: %+v, want the new interval from now", st)
	}
}

// TestReleaseKeepsLeaseOfRunningJob: on shutdown, the lease of a job whose
// run has not ended yet is kept (it expires as usual), so another instance
// does not start the job beside that run.
func TestReleaseKeepsLeaseOfRunningJob(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	leases := &memLeases{}
	started, release := make(chan struct{}), make(chan struct{})
	a := New(leases, "a", clock, quiet)
	a.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: 30 * time.Minute, Run: func(context.Context, time.Time) error {
		close(started)
		<-release
		return nil
	}}, {Plugin: "p", Site: "s", Name: "idle", Interval: 30 * time.Minute, Run: func(context.Context, time.Time) error { return nil }}})
	var runsB atomic.Int32
	b := New(leases, "b", clock, quiet)
	count := func(context.Context, time.Time) error { runsB.Add(1); return nil }
	b.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: 30 * time.Minute, Run: count}, {Plugin: "p", Site: "s", Name: "idle", Interval: 30 * time.Minute, Run: count}})

	if err := a.Trigger(t.Context(), "p/s/idle"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Trigger(t.Context(), "p/s/j") }()
	<-started
	a.Release(t.Context())
	if err := b.Trigger(t.Context(), "p/s/j"); !errors.Is(err, ErrNotOwner) {
		t.Errorf("another instance's trigger during the released run: %v, want ErrNotOwner", err)
	}
	if err := b.Trigger(t.Context(), "p/s/idle"); err != nil {
		t.Errorf("the idle job's lease was not released: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// awaitTimer waits, up to two seconds, until something waits on clock
// (here, a run waiting to renew its lease), so that advancing the clock
// wakes it. It does not fail: a run that never waits on the clock is
// caught by the assertions that follow.
func awaitTimer(clock *fakeClock) {
	deadline := time.Now().Add(2 * time.Second)
	for clock.pending() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// TestLongRunKeepsLease: a run that lasts longer than the lease's time to
// live (interval plus grace) renews the lease while it runs, so another
// instance cannot take the job and start it beside the run.
func TestLongRunKeepsLease(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	leases := &memLeases{}
	started, release := make(chan struct{}), make(chan struct{})
	a := New(leases, "a", clock, quiet)
	// A bound past the two hours, so that the run is not cancelled.
	a.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: 30 * time.Minute, MaxRun: 3 * time.Hour, Run: func(ctx context.Context, _ time.Time) error {
		close(started)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}})
	var runsB atomic.Int32
	b := New(leases, "b", clock, quiet)
	b.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: 30 * time.Minute, Run: func(context.Context, time.Time) error {
		runsB.Add(1)
		return nil
	}}})

	done := make(chan error, 1)
	go func() { done <- a.Trigger(t.Context(), "p/s/j") }()
	<-started
	// Two hours of a run that does not end, well past the 31 minutes the
	// lease was taken for, in steps shorter than the lease. Each step
	// waits for the next renewal's timer, a third of the lease after the
	// last renewal: any timer would do as well the deadline of a renewal
	// in flight, and a step then would take the store ten minutes to
	// answer, past the lease's expiry.
	const ttl = 30*time.Minute + time.Minute
	for range 12 {
		checkFor(t, "the next renewal's timer", func() bool {
			_, until := leases.expiry("job/p/s/j")
			return clock.waitsUntil(until.Add(-ttl).Add(ttl / 3))
		})
		clock.Advance(10 * time.Minute)
		if err := b.Trigger(t.Context(), "p/s/j"); !errors.Is(err, ErrNotOwner) {
			t.Fatalf("another instance's trigger %s into a run: %v, want ErrNotOwner", clock.Now().Sub(newFakeClock().now), err)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := runsB.Load(); n != 0 {
		t.Fatalf("the other instance ran the job %d times during the run", n)
	}
}

// downLeases is a lease table whose store becomes unreachable once down
// is set.
type downLeases struct {
	memLeases
	down atomic.Bool
}

func (l *downLeases) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, time.Time, error) {
	if l.down.Load() {
		return false, time.Time{}, errors.New("store unreachable")
	}
	return l.memLeases.AcquireLease(ctx, name, holder, ttl, now)
}

// TestRunStopsWhenLeaseLost: when the lease of a running job is taken by
// another instance (this one stalled past its expiry), or cannot be
// renewed before it expires (the store unreachable), the run's context is
// cancelled with ErrLeaseLost, so the run stops instead of going on beside
// another instance's.
func TestRunStopsWhenLeaseLost(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		lose    func(t *testing.T, l *downLeases, now time.Time)
		advance []time.Duration // each waits for the run's renewal timer first
	}{
		"taken by another instance": {
			lose: func(t *testing.T, l *downLeases, now time.Time) {
				if ok, _, err := l.memLeases.AcquireLease(t.Context(), "job/p/s/j", "b", time.Hour, now.Add(40*time.Minute)); err != nil || !ok {
					t.Fatalf("b takes the lease: %v %v", ok, err)
				}
			},
			advance: []time.Duration{11 * time.Minute},
		},
		"store unreachable until the lease expires": {
			lose:    func(_ *testing.T, l *downLeases, _ time.Time) { l.down.Store(true) },
			advance: []time.Duration{11 * time.Minute, 11 * time.Minute, 11 * time.Minute},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			leases := &downLeases{}
			started := make(chan struct{})
			a := New(leases, "a", clock, quiet)
			a.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: 30 * time.Minute, Run: func(ctx context.Context, _ time.Time) error {
				close(started)
				<-ctx.Done()
				return ctx.Err()
			}}})
			done := make(chan error, 1)
			go func() { done <- a.Trigger(t.Context(), "p/s/j") }()
			<-started
			tc.lose(t, leases, clock.Now())
			for _, d := range tc.advance {
				awaitTimer(clock)
				clock.Advance(d)
			}
			err := awaitRun(t, "the run to stop", done)
			if !errors.Is(err, ErrLeaseLost) {
				t.Fatalf("run ended with %v, want ErrLeaseLost", err)
			}
		})
	}
}

// gatedLeases holds an AcquireLease of holder, once it took the lease,
// until gate is closed, after saying so on taken.
type gatedLeases struct {
	memLeases
	holder      string
	taken, gate chan struct{}
	once        sync.Once
}

func (l *gatedLeases) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, time.Time, error) {
	ok, until, err := l.memLeases.AcquireLease(ctx, name, holder, ttl, now)
	if holder == l.holder {
		l.once.Do(func() {
			close(l.taken)
			<-l.gate
		})
	}
	return ok, until, err
}

// TestReleaseDuringLeaseTakeKeepsIt: a shutdown (Release) that comes
// while a run has just taken its job's lease and not started yet must not
// free the lease under that run, or another instance starts the job
// beside it.
func TestReleaseDuringLeaseTakeKeepsIt(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	leases := &gatedLeases{holder: "a", taken: make(chan struct{}), gate: make(chan struct{})}
	started, release := make(chan struct{}), make(chan struct{})
	a := New(leases, "a", clock, quiet)
	a.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: 30 * time.Minute, Run: func(context.Context, time.Time) error {
		close(started)
		<-release
		return nil
	}}})
	var runsB atomic.Int32
	b := New(leases, "b", clock, quiet)
	b.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: 30 * time.Minute, Run: func(context.Context, time.Time) error {
		runsB.Add(1)
		return nil
	}}})

	done := make(chan error, 1)
	go func() { done <- a.Trigger(t.Context(), "p/s/j") }()
	<-leases.taken
	a.Release(t.Context())
	close(leases.gate)
	ranA := false
	select {
	case <-started:
		ranA = true
	case err := <-done:
		if err == nil {
			t.Fatal("the run neither started nor failed")
		}
	}
	if err := b.Trigger(t.Context(), "p/s/j"); ranA && !errors.Is(err, ErrNotOwner) {
		t.Errorf("another instance's trigger while the run goes on: %v, want ErrNotOwner", err)
	}
	close(release)
	if ranA {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if ranA && runsB.Load() != 0 {
		t.Fatalf("the other instance ran the job beside the run")
	}
}

// TestHandoverKeepsTheInterval: a job (the work-injury downloads, every
// 30 minutes) must keep its spacing when its owner dies. An instance that
// fails to take the lease tries again when it expires, not an interval
// later: if the owner died, it runs the job one interval plus grace after
// the owner's last run started (not nine minutes later on its own
// schedule); if the owner lives, the owner's next run has renewed the
// lease by then, and the other instance only looks again.
func TestHandoverKeepsTheInterval(t *testing.T) {
	t.Parallel()
	const interval, grace = 30 * time.Minute, time.Minute
	for _, ownerDies := range []bool{true, false} {
		name := map[bool]string{true: "owner dies", false: "owner lives"}[ownerDies]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			t0 := clock.Now()
			leases := &memLeases{}
			var mu sync.Mutex
			var runsA, runsB []time.Time
			job := func(runs *[]time.Time) []Job {
				return []Job{{Plugin: "p", Site: "s", Name: "j", Interval: interval, Run: func(_ context.Context, now time.Time) error {
					mu.Lock()
					defer mu.Unlock()
					*runs = append(*runs, now)
					return nil
				}}}
			}
			count := func(runs *[]time.Time) func() int {
				return func() int {
					mu.Lock()
					defer mu.Unlock()
					return len(*runs)
				}
			}
			nA, nB := count(&runsA), count(&runsB)
			waits := func(at time.Time) {
				t.Helper()
				checkFor(t, "a scheduler to wait until "+at.Sub(t0).String(), func() bool { return clock.waitsUntil(at) })
			}

			a := New(leases, "a", clock, quiet)
			a.Grace = grace
			a.SetJobs(job(&runsA))
			ctxA, stopA := context.WithCancel(t.Context())
			doneA := make(chan struct{})
			go func() { defer close(doneA); a.Run(ctxA) }()
			defer func() { stopA(); <-doneA }()
			waits(t0.Add(interval))

			// b starts ten minutes later: its own schedule is at :40, :10…
			clock.Advance(10 * time.Minute)
			b := New(leases, "b", clock, quiet)
			b.Grace = grace
			b.SetJobs(job(&runsB))
			go b.Run(t.Context())
			waits(t0.Add(10*time.Minute + interval))

			clock.Advance(20 * time.Minute) // :30, a runs and takes the lease
			checkFor(t, "a's run", func() bool { return nA() == 1 })
			waits(t0.Add(2 * interval))
			lastA := t0.Add(interval)

			clock.Advance(10 * time.Minute) // :40, b fails to take it
			expiry := lastA.Add(interval + grace)
			checkFor(t, "b to schedule its next try at the expiry of a's lease", func() bool {
				st := b.Jobs()[0]
				return st.Runs == 0 && !st.Owner && st.NextRun.Equal(expiry)
			})
			waits(expiry)

			if ownerDies {
				stopA()
				<-doneA
				clock.Advance(expiry.Sub(clock.Now()))
				checkFor(t, "b to take the job over", func() bool { return nB() == 1 })
				mu.Lock()
				defer mu.Unlock()
				if got := runsB[0].Sub(lastA); got != interval+grace {
					t.Fatalf("b ran %s after a's last run, want %s (one interval plus grace)", got, interval+grace)
				}
				return
			}
			clock.Advance(2*interval - clock.Now().Sub(t0)) // 1:00, a runs again
			checkFor(t, "a's second run", func() bool { return nA() == 2 })
			clock.Advance(expiry.Sub(clock.Now()))
			next := t0.Add(2 * interval).Add(interval + grace)
			checkFor(t, "b to schedule its next try at the expiry of a's renewed lease", func() bool {
				return b.Jobs()[0].NextRun.Equal(next)
			})
			if n := nB(); n != 0 {
				t.Fatalf("b ran %d times while a held the lease", n)
			}
		})
	}
}

// TestLongRunSetsLeaseBack: a run that renewed its lease while it ran sets
// it back, when it ends, to expire one interval plus grace after its
// start, so that if its instance then dies another takes over at that
// spacing, not one lease after the last renewal.
func TestLongRunSetsLeaseBack(t *testing.T) {
	t.Parallel()
	const interval, grace = 30 * time.Minute, time.Minute
	clock := newFakeClock()
	leases := &memLeases{}
	started, release := make(chan struct{}), make(chan struct{})
	a := New(leases, "a", clock, quiet)
	a.Grace = grace
	a.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: interval, Run: func(ctx context.Context, _ time.Time) error {
		close(started)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}})
	start := clock.Now()
	done := make(chan error, 1)
	go func() { done <- a.Trigger(t.Context(), "p/s/j") }()
	<-started
	// 25 minutes: renewals at a third of the 31-minute lease, twice.
	every := (interval + grace) / 3
	for range 2 {
		awaitTimer(clock)
		clock.Advance(every)
	}
	checkFor(t, "the second renewal", func() bool {
		_, until := leases.expiry("job/p/s/j")
		return until.Equal(start.Add(2 * every).Add(interval + grace))
	})
	clock.Advance(25*time.Minute - 2*every)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	holder, until := leases.expiry("job/p/s/j")
	if want := start.Add(interval + grace); holder != "a" || !until.Equal(want) {
		t.Fatalf("after the run the lease is %q's until %s after the start, want a's until %s", holder, until.Sub(start), want.Sub(start))
	}
}

// settleHangLeases is a lease table whose store, once hang is set, never
// answers (a stalled connection) a call of holder "a" that sets its lease
// back (a time to live other than the full lease's, full), until the
// call's context ends; entered receives each such call.
type settleHangLeases struct {
	memLeases
	full    time.Duration
	hang    atomic.Bool
	entered chan struct{}
}

func (l *settleHangLeases) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, time.Time, error) {
	if l.hang.Load() && holder == "a" && ttl != l.full {
		l.entered <- struct{}{}
		<-ctx.Done()
		return false, time.Time{}, ctx.Err()
	}
	return l.memLeases.AcquireLease(ctx, name, holder, ttl, now)
}

// TestSettleWaitsForTheStoreOnlyUntilTheLeaseIsDue: a long run that ends
// sets its lease back (see TestLongRunSetsLeaseBack); a store that does not
// answer that call (a stalled connection) must not hold the run's end, or
// the job's run lock stays taken and every later run of the job on this
// instance is skipped as if the run still lasted. The call is waited for
// only until the lease it sets back would expire: past that it is moot.
func TestSettleWaitsForTheStoreOnlyUntilTheLeaseIsDue(t *testing.T) {
	t.Parallel()
	const interval, grace = 30 * time.Minute, time.Minute
	const ttl = interval + grace
	clock := newFakeClock()
	leases := &settleHangLeases{full: ttl, entered: make(chan struct{}, 1)}
	started, release := make(chan struct{}), make(chan struct{})
	var runs atomic.Int32
	a := New(leases, "a", clock, quiet)
	a.Grace = grace
	a.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: interval, Run: func(ctx context.Context, _ time.Time) error {
		if runs.Add(1) > 1 {
			return nil
		}
		close(started)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}})
	start := clock.Now()
	done := make(chan error, 1)
	go func() { done <- a.Trigger(t.Context(), "p/s/j") }()
	<-started
	every := ttl / 3
	for range 2 {
		awaitTimer(clock)
		clock.Advance(every)
	}
	checkFor(t, "the second renewal", func() bool {
		_, until := leases.expiry("job/p/s/j")
		return until.Equal(start.Add(2 * every).Add(ttl))
	})
	clock.Advance(25*time.Minute - 2*every)
	leases.hang.Store(true)
	close(release)
	select {
	case <-leases.entered: // the set-back waits for a store that does not answer
	case <-time.After(5 * time.Second):
		t.Fatal("the run did not set its lease back")
	}
	// The call's deadline, if it has one, was set before the call.
	clock.Advance(start.Add(ttl).Sub(clock.Now()))
	if err := awaitRun(t, "the run to end once its lease is due", done); err != nil {
		t.Fatalf("run: %v (a set-back that failed is only logged)", err)
	}
	leases.hang.Store(false)
	if err := a.Trigger(t.Context(), "p/s/j"); err != nil || runs.Load() != 2 {
		t.Fatalf("the job's next run: %v, %d runs; want it run (2 runs)", err, runs.Load())
	}
}

// hungLeases is a lease table whose store, once hung is set, takes every
// AcquireLease call and never answers it (a stalled connection) until the
// call's context ends; entered receives each hung call.
type hungLeases struct {
	memLeases
	hung    atomic.Bool
	entered chan struct{}
}

func (l *hungLeases) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, time.Time, error) {
	if l.hung.Load() && holder == "a" {
		l.entered <- struct{}{}
		<-ctx.Done()
		return false, time.Time{}, ctx.Err()
	}
	return l.memLeases.AcquireLease(ctx, name, holder, ttl, now)
}

// TestRunStopsWhenRenewalHangs: a renewal the store never answers (a
// stalled connection, not a quick error) must not keep the run going past
// the lease's expiry: another instance takes the lease the moment it
// expires (it retries right then) and starts the job, so the run must be
// cancelled with ErrLeaseLost by then, not whenever the store call ends.
func TestRunStopsWhenRenewalHangs(t *testing.T) {
	t.Parallel()
	const interval, grace = 30 * time.Minute, time.Minute
	clock := newFakeClock()
	leases := &hungLeases{entered: make(chan struct{}, 1)}
	started := make(chan struct{})
	a := New(leases, "a", clock, quiet)
	a.Grace = grace
	a.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: interval, Run: func(ctx context.Context, _ time.Time) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}}})
	done := make(chan error, 1)
	go func() { done <- a.Trigger(t.Context(), "p/s/j") }()
	<-started
	start := clock.Now()
	until := start.Add(interval + grace)
	every := (interval + grace) / 3
	leases.hung.Store(true)
	checkFor(t, "the first renewal's timer", func() bool { return clock.waitsUntil(start.Add(every)) })
	clock.Advance(every)
	select {
	case <-leases.entered: // the renewal waits for a store that does not answer
	case <-time.After(5 * time.Second):
		t.Fatal("the run did not try to renew its lease")
	}
	clock.Advance(until.Sub(clock.Now()))
	// Another instance takes the expired lease at once, as it may.
	if ok, _, err := leases.memLeases.AcquireLease(t.Context(), "job/p/s/j", "b", interval+grace, clock.Now()); err != nil || !ok {
		t.Fatalf("b takes the expired lease: %v %v", ok, err)
	}
	err := awaitRun(t, "the run to stop at its lease's expiry", done)
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("run ended with %v, want ErrLeaseLost", err)
	}
}

// slowTakeLeases is a lease table whose store takes the first
// AcquireLease of holder "a" (the lease is recorded at once), says so on
// entered, and answers it only once answer is closed, or, if hang is
// set, never (a stalled connection) until the call's context ends.
type slowTakeLeases struct {
	memLeases
	hang            bool
	entered, answer chan struct{}
	once            sync.Once
}

func (l *slowTakeLeases) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, time.Time, error) {
	ok, until, err := l.memLeases.AcquireLease(ctx, name, holder, ttl, now)
	if holder != "a" {
		return ok, until, err
	}
	first := false
	l.once.Do(func() { first = true })
	if !first {
		return ok, until, err
	}
	close(l.entered)
	if l.hang {
		<-ctx.Done()
		return false, time.Time{}, ctx.Err()
	}
	<-l.answer
	return ok, until, err
}

// TestRunStartsOnlyWithinTheLease: the lease a run takes runs from the
// moment it was asked for, so a store that grants it late (or never
// answers) must not start the run once its first renewal, a third of the
// lease after the start, would come after the expiry: the run would go on
// past the expiry, when another instance may start the job beside it.
// The lease is given up then; a lease granted in time starts the run.
func TestRunStartsOnlyWithinTheLease(t *testing.T) {
	t.Parallel()
	const interval, grace = 30 * time.Minute, time.Minute
	const ttl = interval + grace
	cases := []struct {
		name    string
		hang    bool
		advance time.Duration // before the store answers
		starts  bool
	}{
		{name: "granted in time", advance: ttl*2/3 - time.Second, starts: true},
		{name: "granted after two thirds of the lease", advance: ttl*2/3 + time.Second},
		{name: "granted just before the expiry", advance: ttl - time.Second},
		{name: "store never answers", hang: true, advance: ttl * 2 / 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			leases := &slowTakeLeases{hang: tc.hang, entered: make(chan struct{}), answer: make(chan struct{})}
			started := make(chan struct{})
			a := New(leases, "a", clock, quiet)
			a.Grace = grace
			a.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: interval, Run: func(context.Context, time.Time) error {
				close(started)
				return nil
			}}})
			taken := clock.Now()
			done := make(chan error, 1)
			go func() { done <- a.Trigger(t.Context(), "p/s/j") }()
			<-leases.entered
			// Whatever waits on the clock for the answer has set its timer
			// once the call is made; give it the chance to.
			awaitTimer(clock)
			clock.Advance(tc.advance)
			close(leases.answer)
			err := awaitRun(t, "the trigger to return", done)
			ran := false
			select {
			case <-started:
				ran = true
			default:
			}
			if ran != tc.starts {
				t.Fatalf("run started %v at %s after the lease was asked for (expiry %s after), want %v; trigger: %v", ran, tc.advance, ttl, tc.starts, err)
			}
			if tc.starts {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("the trigger reported no error for a run it did not start")
			}
			if h, until := leases.expiry("job/p/s/j"); h == "a" && until.After(clock.Now()) {
				t.Errorf("the lease taken too late is still held by a until %s (asked for at %s); want it given up", until, taken)
			}
		})
	}
}

// TestStopCancelsRunsAndWaits: at shutdown Stop cancels the runs in
// progress (cause ErrStopped), scheduled or triggered, and starts no
// new one; Wait returns once they have returned, or names the jobs
// still running when its context ends first; Release then frees the
// leases of the jobs that ended, and keeps the one still running.
func TestStopCancelsRunsAndWaits(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	leases := &memLeases{}
	a := New(leases, "a", clock, quiet)
	if err := a.Wait(t.Context()); err == nil {
		t.Fatal("Wait before Stop did not report it")
	}
	startedJ, startedK, releaseK := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var cause error
	var ranIdle atomic.Int32
	a.SetJobs([]Job{
		{Plugin: "p", Site: "s", Name: "j", Interval: 30 * time.Minute, Run: func(ctx context.Context, _ time.Time) error {
			close(startedJ)
			<-ctx.Done()
			cause = context.Cause(ctx)
			return ctx.Err()
		}},
		// k does not heed the cancellation until released.
		{Plugin: "p", Site: "s", Name: "k", Interval: 30 * time.Minute, Run: func(context.Context, time.Time) error {
			close(startedK)
			<-releaseK
			return nil
		}},
		{Plugin: "p", Site: "s", Name: "idle", Interval: 30 * time.Minute, Run: func(context.Context, time.Time) error {
			ranIdle.Add(1)
			return nil
		}},
	})
	doneJ, doneK := make(chan error, 1), make(chan error, 1)
	go func() { doneJ <- a.Trigger(context.Background(), "p/s/j") }()
	go func() { doneK <- a.Trigger(context.Background(), "p/s/k") }()
	<-startedJ
	<-startedK

	a.Stop()
	if err := a.Trigger(t.Context(), "p/s/idle"); !errors.Is(err, ErrStopped) || ranIdle.Load() != 0 {
		t.Errorf("a trigger after Stop: %v (ran %d times), want ErrStopped and no run", err, ranIdle.Load())
	}
	var err error
	checkFor(t, "the cancelled run of j to return", func() bool {
		select {
		case err = <-doneJ:
			return true
		default:
			return false
		}
	})
	if !errors.Is(err, ErrStopped) || !errors.Is(cause, ErrStopped) {
		t.Errorf("j's run ended with %v (its context's cause %v), want ErrStopped", err, cause)
	}
	// k still runs: Wait gives up when its context ends, naming k.
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	if err := a.Wait(ended); err == nil || !strings.Contains(err.Error(), "p/s/k") || strings.Contains(err.Error(), "p/s/j") {
		t.Errorf("Wait past its deadline with k running: %v, want an error naming p/s/k only", err)
	}
	a.Release(t.Context())
	if h, _ := leases.expiry("job/p/s/k"); h != "a" {
		t.Errorf("the lease of k, still running, was released (holder %q)", h)
	}
	if h, _ := leases.expiry("job/p/s/j"); h != "" {
		t.Errorf("the lease of j, whose run ended, is still held by %q", h)
	}
	close(releaseK)
	waitCtx, stop := context.WithTimeout(t.Context(), 5*time.Second)
	defer stop()
	if err := a.Wait(waitCtx); err != nil {
		t.Fatal(err)
	}
	if err := <-doneK; err != nil {
		t.Fatalf("k's run, which finished its work, ended with %v", err)
	}
}

// TestRemovedAndReaddedJobDoesNotRunTwice: a reload that drops a job (its
// plugin disabled for the site) while it runs, and a later reload that
// brings it back, must not let the job start again beside the run still in
// progress: this instance holds the lease already, so only the job's own
// run lock keeps the two apart.
func TestRemovedAndReaddedJobDoesNotRunTwice(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := New(&memLeases{}, "a", clock, quiet)
	var running, most atomic.Int32
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	run := func(context.Context, time.Time) error {
		n := running.Add(1)
		defer running.Add(-1)
		if n > most.Load() {
			most.Store(n)
		}
		started <- struct{}{}
		<-release
		return nil
	}
	job := []Job{{Plugin: "p", Site: "s", Name: "j", Interval: 30 * time.Minute, Run: run}}
	s.SetJobs(job)
	first := make(chan error, 1)
	go func() { first <- s.Trigger(t.Context(), "p/s/j") }()
	<-started
	s.SetJobs(nil)
	s.SetJobs(job)
	second := make(chan error, 1)
	go func() { second <- s.Trigger(t.Context(), "p/s/j") }()
	select {
	case err := <-second:
		if err == nil {
			t.Fatal("a second run of the job ran while the first was running")
		}
	case <-started:
		close(release)
		<-first
		<-second
		t.Fatalf("a second run of the job started while the first was running (%d at once)", most.Load())
	}
	close(release)
	if err := awaitRun(t, "the first run", first); err != nil {
		t.Fatal(err)
	}
	// Once the first run ended, the job runs again.
	third := make(chan error, 1)
	go func() { third <- s.Trigger(t.Context(), "p/s/j") }()
	<-started
	if err := awaitRun(t, "the third run", third); err != nil {
		t.Fatal(err)
	}
	if st := s.Jobs()[0]; st.Runs != 2 {
		t.Fatalf("after the runs: %+v, want 2 runs", st)
	}
}

// logBuffer collects a logger's text output, safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was logged.
func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// count returns how many logged lines hold every one of parts.
func (b *logBuffer) count(parts ...string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for line := range strings.SplitSeq(b.buf.String(), "\n") {
		all := line != ""
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// TestHungRunIsReportedAndCancelled: a run that never returns (a plugin
// call that ignores cancellation) does not silence its job. Each scheduled
// run it keeps from starting is logged with how long it has lasted; once
// it has lasted its bound (three intervals) an ALERT is logged and its
// context cancelled with ErrOverran, while the lease stays held, so no
// other instance starts the job beside it; once it returns, the next
// scheduled run starts.
func TestHungRunIsReportedAndCancelled(t *testing.T) {
	t.Parallel()
	const id = "p/s/download"
	clock := newFakeClock()
	leases := &memLeases{}
	logs := &logBuffer{}
	s := New(leases, "a", clock, slog.New(slog.NewTextHandler(logs, nil)))
	runCtx := make(chan context.Context, 1)
	release := make(chan struct{})
	var runs atomic.Int32
	s.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "download", Interval: 30 * time.Minute, Run: func(ctx context.Context, _ time.Time) error {
		if runs.Add(1) > 1 {
			return nil
		}
		runCtx <- ctx
		<-release // ignores ctx
		return context.Cause(ctx)
	}}})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go s.Run(ctx)
	// step advances the clock by d once both the scheduler's loop and the
	// run's lease renewal wait on it.
	step := func(d time.Duration) {
		t.Helper()
		checkFor(t, "the scheduler and the lease renewal to wait", func() bool { return clock.pending() >= 2 })
		clock.Advance(d)
	}
	checkFor(t, "the scheduler to wait", func() bool { return clock.pending() > 0 })
	clock.Advance(30 * time.Minute)
	var hung context.Context
	checkFor(t, "the first run to start", func() bool {
		select {
		case hung = <-runCtx:
			return true
		default:
			return false
		}
	})
	start := clock.Now()

	skipped := []string{"level=WARN", "scheduled job run skipped", "job=" + id}
	for i, lasted := range []string{"30m0s", "1h0m0s"} {
		for range 3 {
			step(10 * time.Minute)
		}
		checkFor(t, "the skipped run after "+lasted+" to be logged", func() bool {
			return logs.count(append(skipped, "running="+lasted, "bound=1h30m0s")...) == 1
		})
		if err := hung.Err(); err != nil {
			t.Fatalf("the run was cancelled after %s, before its bound: %v", lasted, context.Cause(hung))
		}
		if n := logs.count("ALERT"); n != 0 {
			t.Fatalf("%d ALERT lines before the bound (skip %d)", n, i+1)
		}
	}
	for range 3 {
		step(10 * time.Minute)
	}
	checkFor(t, "the run to be cancelled at its bound", func() bool { return hung.Err() != nil })
	if cause := context.Cause(hung); !errors.Is(cause, ErrOverran) || !strings.Contains(cause.Error(), id) {
		t.Fatalf("the run was cancelled with %v, want ErrOverran naming %s", cause, id)
	}
	checkFor(t, "the ALERT at the bound", func() bool {
		return logs.count("level=ERROR", "ALERT: job run lasted longer than its bound", "job="+id, "lasted=1h30m0s") == 1
	})
	checkFor(t, "the ALERT for the run skipped past the bound", func() bool {
		return logs.count("level=ERROR", "ALERT: scheduled job run skipped", "job="+id, "running=1h30m0s") == 1
	})
	if st := s.Jobs()[0]; !st.RunningSince.Equal(start) {
		t.Fatalf("status shows the run in progress since %v, want %v", st.RunningSince, start)
	}
	// The lease stays held while the cancelled run has not returned: past
	// the lease's time to live (31 minutes) after the cancellation, no
	// other instance can take the job.
	for range 4 {
		step(10 * time.Minute)
	}
	b := New(leases, "b", clock, quiet)
	b.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "download", Interval: 30 * time.Minute, Run: func(context.Context, time.Time) error { return nil }}})
	if err := b.Trigger(t.Context(), id); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("another instance's trigger beside the cancelled run: %v, want ErrNotOwner", err)
	}

	close(release)
	checkFor(t, "the hung run's failure to be recorded", func() bool {
		st := s.Jobs()[0]
		return st.Runs == 1 && strings.Contains(st.LastErr, ErrOverran.Error()) && st.RunningSince.IsZero()
	})
	checkFor(t, "the scheduler to wait", func() bool { return clock.waitsUntil(start.Add(5 * 30 * time.Minute)) })
	clock.Advance(start.Add(5 * 30 * time.Minute).Sub(clock.Now()))
	checkFor(t, "the next run to start", func() bool { return runs.Load() == 2 })
}

// TestRunBoundIsTheJobsMaxRun: a job's MaxRun, when set, is its run's
// bound in place of three intervals: a run that honours cancellation is
// cancelled then, not before, and fails with ErrOverran.
func TestRunBoundIsTheJobsMaxRun(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := New(&memLeases{}, "a", clock, quiet)
	started := make(chan context.Context, 1)
	s.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: 30 * time.Minute, MaxRun: 45 * time.Minute, Run: func(ctx context.Context, _ time.Time) error {
		started <- ctx
		<-ctx.Done()
		return ctx.Err()
	}}})
	done := make(chan error, 1)
	go func() { done <- s.Trigger(t.Context(), "p/s/j") }()
	run := <-started
	for _, d := range []time.Duration{11 * time.Minute, 11 * time.Minute, 11 * time.Minute, 11 * time.Minute} {
		checkFor(t, "the lease renewal to wait", func() bool { return clock.pending() > 0 })
		clock.Advance(d)
	}
	if err := run.Err(); err != nil {
		t.Fatalf("the run was cancelled after 44 minutes, before its 45-minute bound: %v", context.Cause(run))
	}
	checkFor(t, "the lease renewal to wait", func() bool { return clock.pending() > 0 })
	clock.Advance(time.Minute)
	if err := awaitRun(t, "the run to stop at its bound", done); !errors.Is(err, ErrOverran) || !errors.Is(err, context.Canceled) {
		t.Fatalf("the run ended with %v, want ErrOverran wrapping the run's own error", err)
	}
}

// TestOverrunDuringOutage: a run past its bound is cancelled with
// ErrOverran whatever the job's Outage says; it is logged as an ALERT
// when the job has no Outage or it names none, and as a warning naming the
// outage when it does (an outage reported elsewhere, which cancelling the
// run cannot end).
func TestOverrunDuringOutage(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		outage func() string
		alert  bool
	}{
		"no Outage":     {outage: nil, alert: true},
		"no outage now": {outage: func() string { return "" }, alert: true},
		"an outage now": {outage: func() string { return "Kafka is unreachable" }, alert: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			logs := &logBuffer{}
			s := New(&memLeases{}, "a", clock, slog.New(slog.NewTextHandler(logs, nil)))
			started := make(chan context.Context, 1)
			s.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: time.Minute, Outage: tc.outage, Run: func(ctx context.Context, _ time.Time) error {
				started <- ctx
				<-ctx.Done()
				return ctx.Err()
			}}})
			done := make(chan error, 1)
			go func() { done <- s.Trigger(t.Context(), "p/s/j") }()
			<-started
			for range 9 { // 3 minutes, the bound of a 1-minute job
				checkFor(t, "the lease renewal to wait", func() bool { return clock.pending() > 0 })
				clock.Advance(20 * time.Second)
			}
			if err := awaitRun(t, "the run to stop at its bound", done); !errors.Is(err, ErrOverran) {
				t.Fatalf("the run ended with %v, want ErrOverran", err)
			}
			alerts := logs.count("level=ERROR", "ALERT: job run lasted longer than its bound", "job=p/s/j", "lasted=3m0s")
			warnings := logs.count("level=WARN", "job run lasted longer than its bound during an outage", "job=p/s/j", "lasted=3m0s", `outage="Kafka is unreachable"`)
			if tc.alert && (alerts != 1 || warnings != 0) {
				t.Errorf("%d ALERT and %d outage warning lines, want 1 ALERT:\n%s", alerts, warnings, logs)
			}
			if !tc.alert && (logs.count("ALERT") != 0 || warnings != 1) {
				t.Errorf("%d ALERT and %d outage warning lines, want 1 warning:\n%s", logs.count("ALERT"), warnings, logs)
			}
		})
	}
}

// TestPanickingRunFailsAndTheJobRunsAgain: a run that panics (a bug in
// the job's code on the host's side) fails that run only, logged as an
// ALERT with its stack and reported through OnRun; it does not take
// medgate down with it, and the job runs again at its next interval.
func TestPanickingRunFailsAndTheJobRunsAgain(t *testing.T) {
	t.Parallel()
	const interval = 30 * time.Minute
	clock := newFakeClock()
	logs := &logBuffer{}
	s := New(&memLeases{}, "a", clock, slog.New(slog.NewTextHandler(logs, nil)))
	var runs atomic.Int32
	s.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: interval, Run: func(context.Context, time.Time) error {
		if runs.Add(1) == 1 {
			panic("boom: a bug in the job's code")
		}
		return nil
	}}})
	reported := make(chan error, 2)
	s.OnRun = func(_ Job, err error, _ time.Duration) { reported <- err }
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go s.Run(ctx)

	checkFor(t, "the scheduler to wait", func() bool { return clock.waitsUntil(clock.Now().Add(interval)) })
	clock.Advance(interval)
	if err := awaitRun(t, "the panicking run to be reported", reported); !errors.Is(err, ErrPanicked) {
		t.Fatalf("OnRun got %v, want ErrPanicked", err)
	}
	checkFor(t, "the panic to be logged as an ALERT", func() bool {
		return logs.count("level=ERROR", "ALERT: job run panicked", "job=p/s/j", "boom: a bug in the job's code", "scheduler_test.go") == 1
	})
	if st := s.Jobs()[0]; !strings.Contains(st.LastErr, "panicked") || !st.RunningSince.IsZero() {
		t.Fatalf("status after the panic: last error %q, running since %v; want the panic and no run in progress", st.LastErr, st.RunningSince)
	}
	checkFor(t, "the scheduler to wait for the next interval", func() bool { return clock.waitsUntil(clock.Now().Add(interval)) })
	clock.Advance(interval)
	if err := awaitRun(t, "the next run", reported); err != nil || runs.Load() != 2 {
		t.Fatalf("the next run: %v after %d runs, want it to succeed (2 runs)", err, runs.Load())
	}
}

// TestRunKeepsLeaseWhenStoreReturnsBeforeExpiry: a store unreachable for a
// while during a run (a failover, a network cut) must not cost the run its
// lease if it is back before the lease expires: no other instance could
// take the lease meanwhile (it needs the store too), so the run renews it
// once the store answers again and goes on. Only a store still
// unreachable at the expiry stops the run (see TestRunStopsWhenLeaseLost).
func TestRunKeepsLeaseWhenStoreReturnsBeforeExpiry(t *testing.T) {
	t.Parallel()
	const interval, grace = 30 * time.Minute, time.Minute
	const ttl = interval + grace
	clock := newFakeClock()
	leases := &downLeases{}
	started, release := make(chan struct{}), make(chan struct{})
	logs := &logBuffer{}
	a := New(leases, "a", clock, slog.New(slog.NewTextHandler(logs, nil)))
	a.Grace = grace
	a.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: interval, Run: func(ctx context.Context, _ time.Time) error {
		close(started)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}}})
	done := make(chan error, 1)
	go func() { done <- a.Trigger(t.Context(), "p/s/j") }()
	<-started
	start := clock.Now()
	// The store is unreachable from the start (the first renewal comes a
	// third of the lease in) until 21 minutes in, ten minutes before the
	// lease expires. The clock moves in steps of five seconds, past the
	// expiry, each once the run's lease keeper waits on it again (and no
	// store call is in flight, whose deadline a step could pass).
	back := start.Add(21 * time.Minute)
	leases.down.Store(true)
	for clock.Now().Before(start.Add(ttl + time.Minute)) {
		checkFor(t, "the run's lease keeper to wait", func() bool {
			select {
			case err := <-done:
				t.Fatalf("the run ended %s in: %v; want it to renew its lease once the store is back, %s in, before the expiry %s in",
					clock.Now().Sub(start), err, back.Sub(start), ttl)
			default:
			}
			return clock.idle()
		})
		clock.Advance(5 * time.Second)
		if !clock.Now().Before(back) {
			leases.down.Store(false)
		}
	}
	if holder, until := leases.expiry("job/p/s/j"); holder != "a" || !until.After(start.Add(ttl)) {
		t.Fatalf("the lease is %q's until %s after the run's start, want a's, renewed past %s", holder, until.Sub(start), ttl)
	}
	// Said once per outage, not at every try.
	if failed, renewed := logs.count("level=WARN", "renew job lease failed", "job=p/s/j"), logs.count("level=INFO", "job lease renewed again", "job=p/s/j"); failed != 1 || renewed != 1 {
		t.Errorf("%d warnings of failed renewals and %d of the renewal after them, want 1 each:\n%s", failed, renewed, logs)
	}
	close(release)
	if err := awaitRun(t, "the run", done); err != nil {
		t.Fatalf("run: %v, want it to end as it chose to", err)
	}
}

// TestRunErrorNamesItsCauseOnce: a run cancelled by the scheduler fails
// with the cancellation's cause (here the shutdown's) wrapped around the
// run's own error, so that errors.Is finds it; a run that returns that
// cause itself, bare or wrapped, must not get it a second time, or its
// error (in the log, `medgate jobs`, the console) says it twice.
func TestRunErrorNamesItsCauseOnce(t *testing.T) {
	t.Parallel()
	const cause = "cancelled at shutdown"
	cases := map[string]func(ctx context.Context) error{
		"the context's error":     func(ctx context.Context) error { return ctx.Err() },
		"the cause itself":        func(ctx context.Context) error { return context.Cause(ctx) },
		"the cause, wrapped":      func(ctx context.Context) error { return fmt.Errorf("download step 3 of 5: %w", context.Cause(ctx)) },
		"an error of its own too": func(ctx context.Context) error { return errors.New("store the batch: connection reset") },
	}
	for name, ret := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := New(&memLeases{}, "a", newFakeClock(), quiet)
			started := make(chan struct{})
			s.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: 30 * time.Minute, Run: func(ctx context.Context, _ time.Time) error {
				close(started)
				<-ctx.Done()
				return ret(ctx)
			}}})
			done := make(chan error, 1)
			go func() { done <- s.Trigger(t.Context(), "p/s/j") }()
			<-started
			s.Stop()
			err := awaitRun(t, "the cancelled run", done)
			if !errors.Is(err, ErrStopped) {
				t.Fatalf("run ended with %v, want ErrStopped", err)
			}
			if n := strings.Count(err.Error(), cause); n != 1 {
				t.Fatalf("the run's error names its cause %d times, want once: %v", n, err)
			}
		})
	}
}

// TestBoundHoldsWhileRenewalHangs: a run past its bound is cancelled at
// its bound (ErrOverran, logged as an ALERT) even while a renewal of its
// lease waits for a store that does not answer (a stalled connection),
// not only once the lease is lost, up to two thirds of a lease later.
func TestBoundHoldsWhileRenewalHangs(t *testing.T) {
	t.Parallel()
	const interval, grace, bound = 30 * time.Minute, time.Minute, 15 * time.Minute
	clock := newFakeClock()
	logs := &logBuffer{}
	leases := &hungLeases{entered: make(chan struct{}, 1)}
	started := make(chan context.Context, 1)
	a := New(leases, "a", clock, slog.New(slog.NewTextHandler(logs, nil)))
	a.Grace = grace
	a.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: interval, MaxRun: bound, Run: func(ctx context.Context, _ time.Time) error {
		started <- ctx
		<-ctx.Done()
		return ctx.Err()
	}}})
	done := make(chan error, 1)
	go func() { done <- a.Trigger(t.Context(), "p/s/j") }()
	run := <-started
	start := clock.Now()
	every := (interval + grace) / 3
	leases.hung.Store(true)
	checkFor(t, "the first renewal's timer", func() bool { return clock.waitsUntil(start.Add(every)) })
	clock.Advance(every)
	select {
	case <-leases.entered: // the renewal waits for a store that does not answer
	case <-time.After(5 * time.Second):
		t.Fatal("the run did not try to renew its lease")
	}
	// Whatever waits for the bound meanwhile set its timer before the call.
	clock.Advance(start.Add(bound).Sub(clock.Now()))
	checkFor(t, "the run to be cancelled at its bound", func() bool { return run.Err() != nil })
	if cause := context.Cause(run); !errors.Is(cause, ErrOverran) {
		t.Fatalf("the run was cancelled with %v, want ErrOverran", cause)
	}
	if err := awaitRun(t, "the run", done); !errors.Is(err, ErrOverran) {
		t.Fatalf("the run ended with %v, want ErrOverran", err)
	}
	if n := logs.count("level=ERROR", "ALERT: job run lasted longer than its bound", "job=p/s/j", "lasted=15m0s"); n != 1 {
		t.Fatalf("%d overrun ALERTs, want 1:\n%s", n, logs)
	}
}

// TestLateGrantRenewsAtOnce: a lease runs from the moment it was asked
// for, so a run whose store granted it late (within two thirds of it: see
// TestRunStartsOnlyWithinTheLease) renews it at once, a third of the lease
// having passed already; renewing only a third after the grant would
// leave that renewal as little as a second before the expiry to be
// answered in, or the run loses its lease.
func TestLateGrantRenewsAtOnce(t *testing.T) {
	t.Parallel()
	const interval, grace = 30 * time.Minute, time.Minute
	const ttl = interval + grace
	clock := newFakeClock()
	leases := &slowTakeLeases{entered: make(chan struct{}), answer: make(chan struct{})}
	started, release := make(chan struct{}), make(chan struct{})
	a := New(leases, "a", clock, quiet)
	a.Grace = grace
	a.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: interval, Run: func(ctx context.Context, _ time.Time) error {
		close(started)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}}})
	done := make(chan error, 1)
	go func() { done <- a.Trigger(t.Context(), "p/s/j") }()
	<-leases.entered
	awaitTimer(clock) // the take's deadline
	clock.Advance(ttl*2/3 - time.Second)
	granted := clock.Now()
	close(leases.answer)
	<-started
	checkFor(t, "the lease granted late to be renewed at once", func() bool {
		_, until := leases.expiry("job/p/s/j")
		return until.Equal(granted.Add(ttl))
	})
	close(release)
	if err := awaitRun(t, "the run", done); err != nil {
		t.Fatal(err)
	}
}

// TestRetryDelay: a failed run's retry comes RetryFirst after it, twice
// as long after each further failure, plus a jitter of up to a tenth,
// and never later than an interval.
func TestRetryDelay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		interval time.Duration
		failures int
		jitter   bool // the largest jitter, else none
		want     time.Duration
	}{
		{30 * time.Minute, 1, false, time.Minute},
		{30 * time.Minute, 1, true, time.Minute + 6*time.Second},
		{30 * time.Minute, 2, false, 2 * time.Minute},
		{30 * time.Minute, 3, true, 4*time.Minute + 24*time.Second},
		{30 * time.Minute, 5, false, 16 * time.Minute},
		{30 * time.Minute, 5, true, 17*time.Minute + 36*time.Second},
		{30 * time.Minute, 6, true, 30 * time.Minute}, // 32 minutes: the interval
		{30 * time.Minute, 1000, false, 30 * time.Minute},
		{20 * time.Minute, 5, true, 17*time.Minute + 36*time.Second},
		{17 * time.Minute, 5, true, 17 * time.Minute}, // the jitter stays within the interval
		{time.Minute, 1, true, time.Minute},           // the requeue job: its interval
		{30 * time.Second, 3, true, 30 * time.Second},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d/jitter=%v", tc.interval, tc.failures, tc.jitter), func(t *testing.T) {
			s := New(&memLeases{}, "a", newFakeClock(), quiet)
			s.jitter = func(time.Duration) time.Duration { return 0 }
			if tc.jitter {
				s.jitter = func(d time.Duration) time.Duration { return d }
			}
			if got := s.retryDelay(tc.interval, tc.failures); got != tc.want {
				t.Fatalf("retryDelay(%s, %d) = %s, want %s", tc.interval, tc.failures, got, tc.want)
			}
		})
	}
	// The real jitter stays within [0, d].
	for range 1000 {
		if j := randJitter(6 * time.Second); j < 0 || j > 6*time.Second {
			t.Fatalf("randJitter(6s) = %s, want 0 to 6s", j)
		}
	}
}

// TestFailedRunRetriesWithBackoff: a scheduled run that fails runs again
// a minute after, then after 2, 4, 8, 16 minutes (each plus its jitter),
// then at the interval, each time under the job's lease; a run that
// succeeds returns the job to its interval.
func TestFailedRunRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	const interval, grace = 30 * time.Minute, time.Minute
	clock := newFakeClock()
	t0 := clock.Now()
	leases := &memLeases{}
	s := New(leases, "a", clock, quiet)
	s.jitter = func(d time.Duration) time.Duration { return d } // the largest
	const failing = 7
	var runs atomic.Int32
	s.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "download", Interval: interval, Run: func(context.Context, time.Time) error {
		if runs.Add(1) <= failing {
			return errors.New("the national system is down")
		}
		return nil
	}}})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go s.Run(ctx)

	at := t0.Add(interval)    // the first run
	waits := []time.Duration{ // after each run, until the next
		time.Minute + 6*time.Second,
		2*time.Minute + 12*time.Second,
		4*time.Minute + 24*time.Second,
		8*time.Minute + 48*time.Second,
		16*time.Minute + 96*time.Second,
		interval, // 32 minutes: the interval
		interval,
		interval, // the 8th run succeeded: the interval
		interval,
	}
	for i, wait := range waits {
		checkFor(t, fmt.Sprintf("run %d to be scheduled at +%s", i+1, at.Sub(t0)), func() bool {
			return s.Jobs()[0].NextRun.Equal(at) && clock.waitsUntil(at)
		})
		clock.Advance(at.Sub(clock.Now()))
		checkFor(t, fmt.Sprintf("run %d", i+1), func() bool { return runs.Load() == int32(i+1) && s.Jobs()[0].Runs == i+1 })
		// Every run, retries included, took the lease.
		if holder, until := leases.expiry("job/p/s/download"); holder != "a" || !until.Equal(at.Add(interval+grace)) {
			t.Fatalf("run %d at +%s: lease held by %q until +%s, want a's until +%s", i+1, at.Sub(t0), holder, until.Sub(t0), at.Add(interval+grace).Sub(t0))
		}
		want := min(i+1, failing)
		if i+1 > failing {
			want = 0
		}
		checkFor(t, fmt.Sprintf("run %d's failures in a row to be %d", i+1, want), func() bool { return s.Jobs()[0].Failures == want })
		at = at.Add(wait)
	}
}

// memRecords is memLeases with the store's state, where the scheduler
// keeps its run records (RunRecords).
type memRecords struct {
	memLeases
	mu    sync.Mutex
	state map[string][]byte
	gets  atomic.Int32
}

func (r *memRecords) StateGet(_ context.Context, ns, key string) (store.StateEntry, error) {
	defer r.gets.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.state[ns+"\x00"+key]
	if !ok {
		return store.StateEntry{}, store.ErrNotFound
	}
	return store.StateEntry{Key: key, Value: v, Version: 1}, nil
}

func (r *memRecords) StatePut(_ context.Context, ns, key string, value []byte) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == nil {
		r.state = map[string][]byte{}
	}
	r.state[ns+"\x00"+key] = value
	return 1, nil
}

// TestFirstRunResumesFromTheRecord: a job new to an instance (its start,
// or a reload) first runs when the store's run record says: an interval
// after its last run (or at its retry), at once if that has passed, plus
// a jitter (here the largest: a tenth of the interval, 10 s at most);
// without a record, one interval from now.
func TestFirstRunResumesFromTheRecord(t *testing.T) {
	t.Parallel()
	const interval = 30 * time.Minute
	const jitter = 10 * time.Second
	tests := map[string]struct {
		record   *[2]time.Duration // the record's start and next, from now
		interval time.Duration
		want     time.Duration // from now
	}{
		"no record":                 {want: interval},
		"due an interval after":     {record: &[2]time.Duration{-20 * time.Minute, 10 * time.Minute}, want: 10*time.Minute + jitter},
		"overdue: at once":          {record: &[2]time.Duration{-2 * time.Hour, -90 * time.Minute}, want: jitter},
		"a failed run's retry":      {record: &[2]time.Duration{-5 * time.Minute, -4 * time.Minute}, want: jitter},
		"interval shortened since":  {record: &[2]time.Duration{-20 * time.Minute, 10 * time.Minute}, interval: 15 * time.Minute, want: jitter},
		"interval of a minute":      {record: &[2]time.Duration{-20 * time.Minute, -19 * time.Minute}, interval: time.Minute, want: 6 * time.Second},
		"later than an interval":    {record: &[2]time.Duration{time.Hour, 90 * time.Minute}, want: interval},
		"recorded an interval away": {record: &[2]time.Duration{0, interval}, want: interval},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			now := clock.Now()
			recs := &memRecords{}
			if tc.record != nil {
				v, err := json.Marshal(lastRun{Start: now.Add(tc.record[0]), Next: now.Add(tc.record[1])})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := recs.StatePut(t.Context(), RunsNS, "p/s/j", v); err != nil {
					t.Fatal(err)
				}
			}
			iv := interval
			if tc.interval != 0 {
				iv = tc.interval
			}
			s := New(recs, "a", clock, quiet)
			s.jitter = func(d time.Duration) time.Duration { return d }
			s.SetJobs([]Job{{Plugin: "p", Site: "s", Name: "j", Interval: iv, Run: func(context.Context, time.Time) error { return nil }}})
			checkFor(t, "the record to be read", func() bool { return recs.gets.Load() == 1 })
			want := now.Add(tc.want)
			checkFor(t, "the first run at +"+tc.want.String(), func() bool { return s.Jobs()[0].NextRun.Equal(want) })
		})
	}
}

// TestRestartedInstanceKeepsTheSchedule: an instance that ran a job and
// was restarted (its lease released at shutdown) runs the job next one
// interval after its last run, not one interval after its restart; a
// failed last run is retried at its retry.
func TestRestartedInstanceKeepsTheSchedule(t *testing.T) {
	t.Parallel()
	const interval = 30 * time.Minute
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("last run failed=%v", fail), func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			t0 := clock.Now()
			recs := &memRecords{}
			var runs atomic.Int32
			job := []Job{{Plugin: "p", Site: "s", Name: "j", Interval: interval, Run: func(context.Context, time.Time) error {
				if runs.Add(1) == 1 && fail {
					return errors.New("the national system is down")
				}
				return nil
			}}}
			a := New(recs, "a", clock, quiet)
			a.jitter = func(time.Duration) time.Duration { return 0 }
			a.SetJobs(job)
			ctxA, stopA := context.WithCancel(t.Context())
			doneA := make(chan struct{})
			go func() { defer close(doneA); a.Run(ctxA) }()
			checkFor(t, "a to wait for its first run", func() bool { return clock.waitsUntil(t0.Add(interval)) })
			clock.Advance(interval)
			checkFor(t, "a's run", func() bool { return a.Jobs()[0].Runs == 1 })
			next := t0.Add(2 * interval)
			if fail {
				next = t0.Add(interval + RetryFirst)
			}
			checkFor(t, "a's run to be recorded", func() bool {
				recs.mu.Lock()
				defer recs.mu.Unlock()
				var rec lastRun
				return json.Unmarshal(recs.state[RunsNS+"\x00p/s/j"], &rec) == nil && rec.Next.Equal(next)
			})
			// Shutdown: the lease is released.
			stopA()
			<-doneA
			a.Stop()
			if err := a.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
			a.Release(t.Context())

			clock.Advance(RetryFirst / 2) // restarted half a minute later
			b := New(recs, "a", clock, quiet)
			b.jitter = func(d time.Duration) time.Duration { return d }
			b.SetJobs(job)
			go b.Run(t.Context())
			want := next.Add(10 * time.Second) // the largest jitter
			checkFor(t, "the restarted instance to run the job at +"+want.Sub(t0).String(), func() bool {
				return b.Jobs()[0].NextRun.Equal(want) && clock.waitsUntil(want)
			})
			clock.Advance(want.Sub(clock.Now()))
			checkFor(t, "the restarted instance's run", func() bool { return runs.Load() == 2 && b.Jobs()[0].Runs == 1 })
		})
	}
}
