// Package scheduler runs the plugins' scheduled jobs (e.g. the work-injury
// downloads every 30 minutes) for every site where the plugin is enabled.
//
// With several medgate instances only one runs a given job: the instance
// that holds the job's lease in the store. The store shared by several
// instances (PostgreSQL) times leases by its own clock, so that theirs
// need not agree; the scheduler measures durations on its clock only
// from the moment it asked for the lease, which is before the store set
// the expiry, so its idea of the expiry is never later than the store's.
// A run takes the lease for one
// interval plus a grace period (Grace) from its start, so the owner keeps
// the job while it lives; a run longer than a third of that renews the
// lease every third while it lasts and, when it ends, sets it back to
// expire one interval plus grace after its start, if that is still ahead.
// The lease runs from the moment it was asked for, and so do its renewals
// (one granted after a third of it is renewed at once): a store that has
// not granted it within two thirds of it (so that the first renewal still
// has a third of the lease to be answered in) is not waited for, the
// lease is given up and the run does not start.
//
// An instance that fails to take the lease learns when it expires and
// tries again at that moment, not an interval later on its own schedule.
// While the owner lives, its next run, one interval after the last, has
// renewed the lease by then. If the owner died, another instance takes
// over as the lease expires: the job runs again one interval plus grace
// after the dead owner's last run started — never sooner, and later only
// after a run longer than the interval plus grace (then one lease after
// its last renewal, made at most a third of a lease before the run ended),
// or when the other instance started, or got the job, less than an
// interval before the owner died and has not tried yet (it first tries
// one interval after that). A run whose lease is lost
// (taken by another instance after this one stalled, or expired because
// the store could not be reached or did not answer the renewal before the
// expiry) is cancelled with ErrLeaseLost, at the expiry at the latest. A job
// can be triggered at once (CLI or admin API); the trigger takes the same
// lease, so it never runs beside the owner's run. A reload (SetJobs) that
// drops a job lets its run in progress finish but starts no other, and a
// reload that brings the job back does not start it beside that run.
//
// A job never runs twice at once on one instance: a scheduled run due
// while the previous one still lasts is skipped, and logged with how long
// that run has lasted. A run that lasts longer than its job's bound
// (Job.MaxRun, else DefaultMaxRuns intervals) is logged as an ALERT (as
// a warning while an outage reported elsewhere holds it up: see
// Job.Outage) and its context cancelled with ErrOverran; it keeps
// renewing its lease until it returns, so a run that ignores the
// cancellation (a hung plugin call) still has no other instance start the
// job beside it, and each run it keeps from starting is then logged as an
// ALERT too, outage or not: a run that does not return once cancelled is
// a fault of its own. A run that panics (a bug in the job's code on
// medgate's side) fails with ErrPanicked, logged as an ALERT with its
// stack; medgate goes on and the job runs again at its next interval.
//
// A run that fails runs again sooner than an interval, with backoff: a
// minute after, then 2, 4, 8, 16 minutes (each plus a jitter of up to a
// tenth), at most an interval after the failed run's start (see
// RetryFirst); a run that succeeds returns the job to its interval. A
// retry takes the lease like any run. A run that panicked or overran its
// bound is not retried sooner. The owner records each job's last run and
// next one in the store (RunRecords), so that an instance that starts (a
// restart, another instance, a reload adding the job) runs the job when
// that record says, at once if it has passed, rather than one interval
// after it started.
//
// On shutdown Stop starts no run any more (scheduled or triggered) and
// cancels the runs in progress, so that each stops at its next step (a
// download resumes from its stored step at its next run); Wait waits for
// them to return, so the store and the plugins they use are closed only
// after that; Release then frees the leases of the jobs that ended.
package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk/pii"
)

// Clock is the time source; tests use a fake one.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RealClock is the wall clock.
var RealClock Clock = realClock{}

// Leases is the part of the store the scheduler needs.
type Leases interface {
	// AcquireLease takes or renews the named lease for holder until
	// now+ttl, if it is free, expired (expiry <= now) or held by holder
	// already. expires is the lease's expiry on the caller's clock (now's):
	// now+ttl when held, else the current holder's (zero if it released
	// the lease meanwhile). A store shared by several instances times the
	// lease on its own clock, so that theirs need not agree (see
	// store.Store.AcquireLease).
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (held bool, expires time.Time, err error)
	// ReleaseLease frees the lease if holder holds it.
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Job is one scheduled job for one site.
type Job struct {
	Plugin, Site, Name string
	Interval           time.Duration
	// MaxRun bounds a run: one that lasts longer is logged as an ALERT
	// and its context cancelled (cause ErrOverran). Zero means
	// DefaultMaxRuns intervals. A plugin's job takes the MaxRun it
	// declares (sdk.Job.MaxRun, at least a second).
	MaxRun time.Duration
	// Outage, when set, is asked when a run outlasts its bound. A
	// non-empty answer names an outage that holds the run up and is
	// reported elsewhere already (Kafka unreachable: /readyz says so):
	// the overrun is then logged as a warning naming it, not as an ALERT,
	// since cancelling the run cannot end the outage and each run until
	// it ends would raise one more. The run is cancelled all the same.
	Outage func() string
	Run    func(ctx context.Context, now time.Time) error
}

// DefaultMaxRuns is a job's bound on a run, in intervals, when its MaxRun
// is zero.
const DefaultMaxRuns = 3

// maxRun is the job's bound on a run (see MaxRun).
func (j Job) maxRun() time.Duration {
	if j.MaxRun > 0 {
		return j.MaxRun
	}
	return DefaultMaxRuns * j.Interval
}

// ID names the job: "<plugin>/<site>/<job>".
func (j Job) ID() string { return j.Plugin + "/" + j.Site + "/" + j.Name }

// RunRecords is the part of the store where the scheduler records each
// job's last run and next one (namespace RunsNS, keyed by job id), when
// the Leases given to New has it too (the stores do): an instance that
// starts, or is given a job by a reload, runs the job when its schedule
// says, at once if that has passed, not one interval after it started.
type RunRecords interface {
	StateGet(ctx context.Context, ns, key string) (store.StateEntry, error)
	StatePut(ctx context.Context, ns, key string, value []byte) (int64, error)
}

// RunsNS is the store's state namespace of the jobs' run records (see
// RunRecords). No plugin can reach it: plugin names have no '.'.
const RunsNS = "medgate.scheduler/last-runs"

// lastRun is a job's run record: the start of its last run and when it
// runs next (an interval after, or sooner to retry a failed run), as the
// instance that ran it scheduled.
type lastRun struct {
	Start time.Time `json:"start"`
	Next  time.Time `json:"next"`
}

// recordTimeout bounds a run record's read or write: the record only
// brings a restarted instance's first run forward, and must not hold a
// run's end or a start up.
const recordTimeout = 10 * time.Second

// record writes job id's run record, if the store keeps them.
func (s *Scheduler) record(id string, rec lastRun) {
	recs, ok := s.leases.(RunRecords)
	if !ok {
		return
	}
	v, err := json.Marshal(rec)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		defer cancel()
		_, err = recs.StatePut(ctx, RunsNS, id, v)
	}
	if err != nil {
		s.log.Warn("could not record the job's run in the store; an instance started later runs it first one interval after its start", "job", id, "err", err)
	}
}

// resume brings the first run of job (entry e, new to this instance)
// forward to when its run record says it is due (an interval after its
// last run, or its retry), at once if that has passed, plus a jitter of up
// to a tenth of the interval (10 s at most) so that instances started
// together do not all ask for the lease at once (the lease decides which
// one runs it anyway). Without a record, or with a record that is later
// than one interval from now, the first run stays one interval from now.
func (s *Scheduler) resume(e *entry, job Job) {
	recs, ok := s.leases.(RunRecords)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(s.stopping, recordTimeout)
	defer cancel()
	got, err := recs.StateGet(ctx, RunsNS, job.ID())
	if errors.Is(err, store.ErrNotFound) {
		return // never run: one interval from now
	}
	var rec lastRun
	if err == nil {
		err = json.Unmarshal(got.Value, &rec)
	}
	if err != nil {
		if s.stopping.Err() != nil {
			// Stopped meanwhile (a shutdown, or a start that failed):
			// the read was cancelled or met the closed store, and no run
			// starts any more. A warning a job would hide what stopped
			// medgate.
			return
		}
		s.log.Warn("could not read the job's last run from the store; it runs first one interval after now", "job", job.ID(), "err", err)
		return
	}
	at := rec.Next
	if regular := rec.Start.Add(job.Interval); regular.Before(at) {
		at = regular // the interval was shortened since
	}
	now := s.clock.Now()
	if at.Before(now) {
		at = now
	}
	at = at.Add(s.jitter(min(10*time.Second, job.Interval/10)))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jobs[job.ID()] != e || e.status.Runs > 0 || !e.status.RunningSince.IsZero() || !at.Before(e.next) {
		return // ran, rescheduled or dropped meanwhile
	}
	e.next = at
	select {
	case s.changed <- struct{}{}: // Run waits for the new e.next
	default:
	}
}

// ErrNotOwner: another instance holds the job's lease.
var ErrNotOwner = errors.New("another instance holds this job's lease")

// ErrLeaseLost: a running job's lease was taken by another instance, or
// could not be renewed before it expired, so the run was stopped.
var ErrLeaseLost = errors.New("job lease lost during the run")

// ErrOverran: a run lasted longer than its job's bound (Job.MaxRun), so
// its context was cancelled.
var ErrOverran = errors.New("job run lasted longer than its bound")

// ErrPanicked: a run panicked (a bug in the job's code on medgate's side);
// the run failed, logged as an ALERT with its stack, and the job runs
// again at its next interval.
var ErrPanicked = errors.New("job run panicked")

// ErrStopped: the scheduler was stopped (medgate shuts down), so the run
// did not start or was cancelled.
var ErrStopped = errors.New("the scheduler is stopping: medgate shuts down")

// ErrUnknownJob: no such job is scheduled.
var ErrUnknownJob = errors.New("no such job")

// Status is what the scheduler knows of a job.
type Status struct {
	ID       string    `json:"id"`
	Interval string    `json:"interval"`
	LastRun  time.Time `json:"lastRun,omitzero"`
	LastErr  string    `json:"lastError,omitempty"`
	NextRun  time.Time `json:"nextRun"`
	Owner    bool      `json:"owner"`
	Runs     int       `json:"runs"`
	// Took is how long the last run took.
	Took time.Duration `json:"took,omitempty"`
	// Summary and Processed are what the last run reported (Report):
	// one line for people and the records it downloaded or sent.
	Summary   string `json:"summary,omitempty"`
	Processed int64  `json:"processed"`
	// RunningSince is when the run in progress started (zero when none
	// is): a run older than the job's bound was cancelled and has not
	// returned.
	RunningSince time.Time `json:"runningSince,omitzero"`
	// Failures counts the runs failed in a row (see RetryFirst): NextRun
	// is then the retry, sooner than an interval.
	Failures int `json:"failures,omitempty"`
}

// report is what a run says of itself through Report.
type report struct {
	summary   string
	processed int64
}

type reportKey struct{}

// Report lets a job's Run say what it did: a one-line summary and the
// number of records it processed, shown with the job's status. It does
// nothing outside a run.
func Report(ctx context.Context, summary string, processed int64) {
	if r, ok := ctx.Value(reportKey{}).(*report); ok {
		r.summary, r.processed = summary, processed
	}
}

// Scheduler runs jobs.
type Scheduler struct {
	leases Leases
	holder string
	clock  Clock
	log    *slog.Logger
	// Grace is added to the interval for the lease's time to live.
	Grace time.Duration
	// OnRun is called after each run (metrics).
	OnRun func(j Job, err error, d time.Duration)

	mu   sync.Mutex
	jobs map[string]*entry
	// gone holds the entries a reload dropped while a run of theirs was
	// in progress, by job id: a reload that brings the job back takes
	// up the entry again, with its running lock, so that the job does not
	// start beside that run (this instance holds the lease already).
	gone    map[string]*entry
	changed chan struct{}
	// stopped is set by Stop: no run starts any more. running counts the
	// runs in progress by job id, runs waits for them (Wait), and
	// stopping ends when Stop is called, cancelling them.
	stopped bool
	running map[string]int
	runs    sync.WaitGroup
	// resumes waits (Wait) for the new jobs' reads of their run records
	// (resume), which SetJobs starts only before Stop.
	resumes  sync.WaitGroup
	stopping context.Context
	stop     context.CancelCauseFunc
	// jitter returns a random duration in [0, d] (tests fix it).
	jitter func(d time.Duration) time.Duration
}

type entry struct {
	job     Job
	next    time.Time
	running sync.Mutex
	status  Status
	// failures counts the runs failed in a row, for the retry's backoff.
	failures int
}

// RetryFirst is how soon a job whose run failed runs again: the first
// retry comes RetryFirst after the failed run ended, each further one
// after twice the wait before (plus a jitter of up to a tenth of it, so
// that the jobs of many sites do not retry at the same moment), never
// later than the job's regular next run, one interval after the failed
// run's start. A run that succeeds returns the job to its interval. A
// download that stored its batch but failed before its feedback (GYU008)
// sends it a minute later, not 30, and a passing outage of the external
// system costs minutes, not an interval. Retries take the lease like any
// run, so only one instance runs them. Not retried sooner: a run that
// panicked (ErrPanicked: a bug, which a retry would only repeat) or
// overran its bound (ErrOverran), and a run stopped by the shutdown.
const RetryFirst = time.Minute

// retryDelay is how long after a failed run the job runs again, its
// failures-th failure in a row: RetryFirst doubled for each failure
// before, plus jitter of up to a tenth, at most interval.
func (s *Scheduler) retryDelay(interval time.Duration, failures int) time.Duration {
	d := RetryFirst
	for i := 1; i < failures && d < interval; i++ {
		d *= 2
	}
	if d >= interval {
		return interval
	}
	return min(d+s.jitter(d/10), interval)
}

func randJitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}

// New returns a scheduler whose leases are held in the name of holder.
func New(leases Leases, holder string, clock Clock, log *slog.Logger) *Scheduler {
	stopping, stop := context.WithCancelCause(context.Background())
	return &Scheduler{leases: leases, holder: holder, clock: clock, log: log, Grace: time.Minute, jobs: map[string]*entry{}, gone: map[string]*entry{}, changed: make(chan struct{}, 1),
		running: map[string]int{}, stopping: stopping, stop: stop, jitter: randJitter}
}

// SetJobs replaces the job list (on start and on reload). Jobs that keep
// their id and interval keep their schedule; new jobs first run when their
// run record in the store says (see RunRecords: an interval after their
// last run, by any instance, at once if that has passed), else one
// interval from now (use Trigger to run one at once). A job dropped while it runs
// and brought back by a later reload does not start again before that run
// ends.
func (s *Scheduler) SetJobs(jobs []Job) {
	s.mu.Lock()
	now := s.clock.Now()
	next := map[string]*entry{}
	var fresh []Job // new to this instance: resumed from their records
	for _, j := range jobs {
		if j.Interval <= 0 {
			continue
		}
		if e, ok := s.gone[j.ID()]; ok {
			// Dropped by an earlier reload while it ran: the same entry,
			// whose running lock the run may still hold, scheduled as a
			// new job.
			delete(s.gone, j.ID())
			e.job, e.next = j, now.Add(j.Interval)
			e.status.Interval = j.Interval.String()
			next[j.ID()] = e
			continue
		}
		if e, ok := s.jobs[j.ID()]; ok {
			// The same entry, with its running lock: a run in progress
			// keeps the next one of the job from starting beside it.
			if e.job.Interval != j.Interval {
				e.next = now.Add(j.Interval)
				e.status.Interval = j.Interval.String()
			}
			e.job = j
			next[j.ID()] = e
			continue
		}
		e := &entry{job: j, next: now.Add(j.Interval), status: Status{ID: j.ID(), Interval: j.Interval.String()}}
		next[j.ID()] = e
		fresh = append(fresh, j)
	}
	for id, e := range s.jobs {
		if _, kept := next[id]; !kept {
			s.gone[id] = e
		}
	}
	for id := range s.gone {
		if s.running[id] == 0 {
			// No run of the job is in progress (running counts them
			// before they take the running lock): nothing to keep apart.
			delete(s.gone, id)
		}
	}
	s.jobs = next
	if s.stopped {
		fresh = nil // no run starts any more: nothing to bring forward
	}
	s.resumes.Add(len(fresh)) // before Stop, so before Wait
	s.mu.Unlock()
	for _, j := range fresh {
		go func() {
			defer s.resumes.Done()
			s.resume(next[j.ID()], j)
		}()
	}
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Run runs due jobs until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	for {
		s.mu.Lock()
		now := s.clock.Now()
		var due []*entry
		wait := time.Hour
		for _, e := range s.jobs {
			if !e.next.After(now) {
				due = append(due, e)
				e.next = now.Add(e.job.Interval)
			}
			if d := e.next.Sub(now); d < wait {
				wait = d
			}
		}
		sort.Slice(due, func(i, j int) bool { return due[i].job.ID() < due[j].job.ID() })
		for _, e := range due {
			id := e.job.ID()
			go func() {
				switch err := s.run(ctx, e, nil); {
				case err == nil || errors.Is(err, ErrNotOwner):
				case errors.Is(err, ErrStopped):
					s.log.Warn("scheduled job stopped by the shutdown; it resumes at its next run", "job", id, "err", err)
				default:
					s.mu.Lock()
					next, failures := e.next, e.failures
					s.mu.Unlock()
					// A job's error may quote an external system's refusal: its
					// personal data is masked here, the status keeps it whole.
					s.log.Error("scheduled job failed", "job", id, "err", pii.Text(err.Error()), "nextRun", next, "failuresInARow", failures)
				}
			}()
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-s.changed:
		case <-s.clock.After(wait):
		}
	}
}

// Run is the record of one run of a job, as RunNow returns it: the run's
// own, whatever run of the job comes next (Jobs shows the latest).
type Run struct {
	Job string
	// StartedAt is zero when the run did not start (the error says why:
	// another instance holds the lease, the job runs already, …).
	StartedAt time.Time
	Took      time.Duration
	// Summary and Processed are what the run reported (Report).
	Summary   string
	Processed int64
	// Failures counts the runs failed in a row, this one included, and
	// NextRun is when the scheduler runs the job next (after a failure,
	// the retry), both as they stood when the run ended.
	Failures int
	NextRun  time.Time
}

// Trigger runs a job now, if this instance can take its lease: RunNow
// without the run's record.
func (s *Scheduler) Trigger(ctx context.Context, id string) error {
	_, err := s.RunNow(ctx, id)
	return err
}

// RunNow runs a job now, if this instance can take its lease, and returns
// the record of that run: read from Jobs afterwards, the status could be a
// scheduled run's that ended in between.
func (s *Scheduler) RunNow(ctx context.Context, id string) (Run, error) {
	s.mu.Lock()
	e, ok := s.jobs[id]
	s.mu.Unlock()
	if !ok {
		return Run{Job: id}, fmt.Errorf("job %q: %w; list jobs with `medgate jobs`", id, ErrUnknownJob)
	}
	rec := Run{Job: id}
	err := s.run(ctx, e, &rec)
	return rec, err
}

// run runs job entry e: a scheduled run when rec is nil, else one asked
// for (Trigger, RunNow), whose record it fills in.
func (s *Scheduler) run(ctx context.Context, e *entry, rec *Run) (err error) {
	manual := rec != nil
	s.mu.Lock()
	job := e.job // SetJobs may replace it meanwhile
	if s.stopped {
		s.mu.Unlock()
		if manual {
			return fmt.Errorf("job %s: %w; trigger it again once medgate runs", job.ID(), ErrStopped)
		}
		return nil
	}
	if s.jobs[job.ID()] != e {
		// A reload dropped the job since it was picked (a run counted
		// from here on is one of a scheduled entry: see SetJobs).
		s.mu.Unlock()
		if manual {
			return fmt.Errorf("job %s: %w: a reload removed it; list jobs with `medgate jobs`", job.ID(), ErrUnknownJob)
		}
		return nil
	}
	// Counted before the lease is taken: Wait, after Stop, waits for
	// every run that got past this point.
	s.runs.Add(1)
	s.running[job.ID()]++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.running[job.ID()]--; s.running[job.ID()] == 0 {
			delete(s.running, job.ID())
		}
		s.mu.Unlock()
		s.runs.Done()
	}()
	// Stop cancels the run, from the lease's take on.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer context.AfterFunc(s.stopping, func() {
		cancel(fmt.Errorf("job %s: cancelled at shutdown (it resumes at its next run): %w", job.ID(), ErrStopped))
	})()
	// The run's lock first, then the lease: Release, which frees only the
	// leases of jobs not running, then cannot free this one between the
	// two. A run in progress keeps its lease itself (keepLease).
	if !e.running.TryLock() {
		s.mu.Lock()
		since := e.status.RunningSince
		s.mu.Unlock()
		lasted := s.clock.Now().Sub(since)
		if since.IsZero() {
			lasted = 0 // the other run is just taking its lock
		}
		if manual {
			return fmt.Errorf("job %s is running now (for %s); wait for it to finish", job.ID(), lasted)
		}
		s.skipped(job, lasted)
		return nil
	}
	now := s.clock.Now()
	s.mu.Lock()
	e.status.RunningSince = now
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		e.status.RunningSince = time.Time{}
		s.mu.Unlock()
		e.running.Unlock()
	}()
	if rec != nil {
		// After ran (deferred next, so run first), before the run's lock
		// is released: the failures and next run as this run left them.
		defer func() {
			s.mu.Lock()
			rec.Failures, rec.NextRun = e.failures, e.next
			s.mu.Unlock()
		}()
	}
	// Before the run's lock is released: the next run of the job sees
	// the retry and its record.
	defer func() { s.ran(e, job, now, err) }()
	ttl := job.Interval + s.Grace
	// The lease runs from now, not from the store's answer, and so do its
	// renewals: a run may start only while its first renewal (a third of
	// the lease after now, or at once if that has passed) still has a
	// third of the lease to be answered in. A store that answers later (a
	// stalled connection) is not waited for, and a lease it granted too
	// late is given up, or the run would go on past the lease's expiry,
	// when another instance may start the job beside it.
	latest := now.Add(ttl - renewEvery(ttl))
	a, answered := s.within(ctx, latest.Sub(now), func(ctx context.Context) (a leaseAnswer) {
		a.ok, a.expires, a.err = s.leases.AcquireLease(ctx, "job/"+job.ID(), s.holder, ttl, now)
		return a
	})
	ok, expires, err := a.ok, a.expires, a.err
	if late := s.clock.Now(); !answered || err == nil && ok && !late.Before(latest) {
		s.giveUp(ctx, job.ID(), now.Add(ttl))
		return fmt.Errorf("job %s: the store did not grant the job's lease within %s (two thirds of the lease, taken at %s); the run was not started, as it could not renew the lease before it expires; check the store's latency and connection (the job is tried again at its next run)",
			job.ID(), latest.Sub(now), now.Format(time.RFC3339))
	}
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrStopped) {
			return fmt.Errorf("job %s: take lease: %w: %w", job.ID(), cause, err)
		}
		return fmt.Errorf("job %s: take lease: %w", job.ID(), err)
	}
	s.mu.Lock()
	e.status.Owner = ok
	if !ok && expires.After(now) {
		// Try again the moment the holder's lease expires, not an
		// interval from now: while the holder lives, its next run renews
		// the lease before that, and if it died this instance takes over
		// one interval plus grace after its last renewal (see the package
		// doc).
		e.next = expires
	}
	s.mu.Unlock()
	if !ok {
		select {
		case s.changed <- struct{}{}: // Run waits for the new e.next
		default:
		}
		return fmt.Errorf("job %s: %w", job.ID(), ErrNotOwner)
	}
	start := s.clock.Now()
	rep := &report{}
	runCtx, stop := context.WithCancelCause(ctx)
	// The job's own context: cancelled past the job's bound (overran)
	// while the lease is still renewed, on runCtx, until the run returns,
	// so that no other instance starts the job beside a run that ignores
	// the cancellation.
	jobCtx, overran := context.WithCancelCause(runCtx)
	defer overran(nil)
	kept := make(chan struct{})
	var renewed time.Time // the lease's expiry after the run's last renewal
	go func() {
		defer close(kept)
		renewed = s.keepLease(runCtx, stop, job.ID(), ttl, now.Add(ttl), leaseBound{since: now, max: job.maxRun(), cancel: overran, outage: job.Outage})
	}()
	err = s.call(context.WithValue(jobCtx, reportKey{}, rep), job, now)
	cause := context.Cause(jobCtx)
	if err != nil && (errors.Is(cause, ErrLeaseLost) || errors.Is(cause, ErrStopped) || errors.Is(cause, ErrOverran)) && !errors.Is(err, cause) {
		// The cause, unless the run returned it already (bare or wrapped).
		err = fmt.Errorf("%w: %w", cause, err)
	}
	stop(nil)
	<-kept
	if !errors.Is(cause, ErrLeaseLost) {
		s.settleLease(ctx, job.ID(), now.Add(ttl), renewed)
	}
	d := s.clock.Now().Sub(start)
	s.mu.Lock()
	e.status.LastRun = start
	e.status.Runs++
	e.status.Took = d
	e.status.Summary, e.status.Processed = rep.summary, rep.processed
	e.status.LastErr = ""
	if err != nil {
		e.status.LastErr = err.Error()
	}
	s.mu.Unlock()
	if rec != nil {
		rec.StartedAt, rec.Took, rec.Summary, rec.Processed = start, d, rep.summary, rep.processed
	}
	if s.OnRun != nil {
		s.OnRun(job, err, d)
	}
	if err == nil {
		s.log.Info("job ran", "job", job.ID(), "took", d.String(), "manual", manual)
	}
	return err
}

// ran schedules the next run of job (entry e) after its run that started
// at start returned err: a failed run is retried sooner (see RetryFirst),
// a run that succeeded leaves the job at its interval. This instance's
// schedule is then recorded in the store (see lastRun), for an instance
// that starts later.
func (s *Scheduler) ran(e *entry, job Job, start time.Time, err error) {
	s.mu.Lock()
	switch {
	case err == nil:
		e.failures = 0
	case errors.Is(err, ErrNotOwner):
		// Another instance runs the job; e.next is its lease's expiry.
		e.failures, e.status.Failures = 0, 0
		s.mu.Unlock()
		return
	case errors.Is(err, ErrStopped):
		s.mu.Unlock()
		return
	case errors.Is(err, ErrPanicked), errors.Is(err, ErrOverran):
		// Retrying sooner would only repeat it: the next interval.
	default:
		e.failures++
		at := s.clock.Now().Add(s.retryDelay(job.Interval, e.failures))
		if s.jobs[job.ID()] == e && at.Before(e.next) {
			e.next = at
			select {
			case s.changed <- struct{}{}: // Run waits for the new e.next
			default:
			}
		}
	}
	e.status.Failures = e.failures
	rec := lastRun{Start: start, Next: e.next}
	s.mu.Unlock()
	s.record(job.ID(), rec)
}

// call runs job.Run, with a panic of it (a bug in the job's code on
// medgate's side) logged as an ALERT with its stack and returned as an
// error (ErrPanicked), so that it fails this run only: it neither takes
// medgate down (every message in flight, every other job) nor keeps the
// job from running again at its next interval.
func (s *Scheduler) call(ctx context.Context, job Job, now time.Time) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("ALERT: job run panicked; the run failed and the job runs again at its next interval: report this bug with the stack",
				"job", job.ID(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("job %s: %w: %v (the log has its stack)", job.ID(), ErrPanicked, p)
		}
	}()
	return job.Run(ctx, now)
}

// keepLease renews the lease of a running job every third of its time to
// live, until ctx (the run's) ends, so that a run longer than the lease
// keeps it. When another instance holds the lease, or the lease expires
// (until) before a renewal succeeds (the store unreachable, or not
// answering: a renewal is waited for only until the lease expires, this
// instance stalled), it cancels the run with ErrLeaseLost: from then on
// another instance may start the job, and this run must not go on beside
// it. A renewal the store failed is tried again every renewRetry, so that
// a store back before the expiry keeps the run going.
//
// It also watches the run's bound: once the run has lasted b.max, it logs
// an ALERT (a warning during an outage reported elsewhere, see
// Job.Outage) and cancels the job's context with ErrOverran (b.cancel),
// but goes on renewing the lease until the run returns, so that no other
// instance starts the job beside a run that ignores the cancellation.
//
// It returns the lease's expiry as its last renewal set it (until, if
// none did).
func (s *Scheduler) keepLease(ctx context.Context, stop context.CancelCauseFunc, id string, ttl time.Duration, until time.Time, b leaseBound) time.Time {
	every := renewEvery(ttl)
	// The lease runs from the moment it was asked for (b.since), not from
	// the store's answer: a lease granted late is renewed at once.
	renewAt := b.since.Add(every)
	overran := false
	var lastErr error // of the renewals failed in a row (failed)
	failed := 0
	// While a renewal waits for the store (up to the lease's expiry), the
	// run's bound is watched all the same: a run past it is cancelled at
	// its bound, not once the store answers or the lease is lost.
	bound := func() watch {
		if at := b.since.Add(b.max); !overran && at.Before(until) {
			return watch{at: at, fn: func() {
				overran = true
				s.overran(id, s.clock.Now(), b)
			}}
		}
		return watch{}
	}
	for {
		wake := renewAt
		if at := b.since.Add(b.max); !overran && at.Before(wake) {
			wake = at
		}
		if d := wake.Sub(s.clock.Now()); d > 0 {
			select {
			case <-ctx.Done():
				return until
			case <-s.clock.After(d):
			}
		} else if ctx.Err() != nil {
			return until
		}
		now := s.clock.Now()
		if !overran && !now.Before(b.since.Add(b.max)) {
			overran = true
			s.overran(id, now, b)
		}
		if now.Before(renewAt) {
			continue
		}
		if !now.Before(until) {
			s.log.Error("job lease expired during the run and could not be renewed; stopping the run", "job", id, "err", lastErr)
			stop(fmt.Errorf("job %s: lease expired at %s and could not be renewed (%v); check the store: %w", id, until.Format(time.RFC3339), lastErr, ErrLeaseLost))
			return until
		}
		ok, answered, err := s.renew(ctx, id, ttl, now, until, bound())
		switch {
		case !answered:
			s.log.Error("job lease expired during the run while the store did not answer its renewal; stopping the run", "job", id)
			stop(fmt.Errorf("job %s: lease expired at %s while its renewal, sent at %s, waited for the store's answer; check the store's connection: %w", id, until.Format(time.RFC3339), now.Format(time.RFC3339), ErrLeaseLost))
			return until
		case ctx.Err() != nil:
			if err == nil && ok {
				until = now.Add(ttl)
			}
			return until
		case err == nil && ok:
			if failed > 0 {
				s.log.Info("job lease renewed again once the store answered", "job", id, "failedRenewals", failed, "lastErr", lastErr)
			}
			failed, lastErr = 0, nil
			until = now.Add(ttl)
			renewAt = now.Add(every)
		case err == nil:
			s.log.Error("job lease taken by another instance during the run; stopping the run", "job", id, "holder", s.holder)
			stop(fmt.Errorf("job %s: another instance holds its lease (this one was too slow to renew it): %w", id, ErrLeaseLost))
			return until
		default:
			if failed++; failed == 1 {
				// Once per outage: it is tried again every renewRetry.
				s.log.Warn("renew job lease failed; retrying until it expires", "job", id, "expires", until, "retryEvery", renewRetry.String(), "err", err)
			}
			lastErr = err
			// Try again soon (renewRetry), so that a store back before
			// the lease expires renews it, and at the latest when the
			// lease expires: the run must stop then if the store still
			// cannot be reached.
			renewAt = now.Add(max(min(every, renewRetry, until.Sub(now)), time.Millisecond))
		}
	}
}

// overran logs that the run b bounds, of job id, has lasted longer than
// its bound at now, as an ALERT (a warning during an outage reported
// elsewhere, see Job.Outage), and cancels the job's context with
// ErrOverran.
func (s *Scheduler) overran(id string, now time.Time, b leaseBound) {
	lasted := now.Sub(b.since)
	if outage := b.outageNow(); outage != "" {
		s.log.Warn("job run lasted longer than its bound during an outage reported elsewhere; cancelling it (the job runs again at its next interval once the run returns, and is held up again until the outage ends)",
			"job", id, "lasted", lasted.String(), "bound", b.max.String(), "outage", outage)
		b.cancel(fmt.Errorf("job %s: the run lasted %s, longer than its bound %s, held up by an outage (%s), and was cancelled: %w",
			id, lasted, b.max, outage, ErrOverran))
		return
	}
	s.log.Error("ALERT: job run lasted longer than its bound; cancelling it (the job runs again at its next interval once the run returns)",
		"job", id, "lasted", lasted.String(), "bound", b.max.String())
	b.cancel(fmt.Errorf("job %s: the run lasted %s, longer than its bound %s (the job's MaxRun, else %d intervals), and was cancelled; a run that hangs (a plugin call that ignores cancellation) keeps the job from running again until it returns: %w",
		id, lasted, b.max, DefaultMaxRuns, ErrOverran))
}

// leaseBound is a run's bound, watched by keepLease: the run started at
// since may last max; past it, cancel cancels the job's context. outage is
// the job's Outage (nil when it has none).
type leaseBound struct {
	since  time.Time
	max    time.Duration
	cancel context.CancelCauseFunc
	outage func() string
}

// outageNow names the outage reported elsewhere that holds the run up, or
// is "" when there is none (or the job cannot tell).
func (b leaseBound) outageNow() string {
	if b.outage == nil {
		return ""
	}
	return b.outage()
}

// skipped logs a scheduled run of job not started because its previous
// run, which has lasted lasted, is still going: a warning, or an ALERT
// once that run is past its bound (it was cancelled then and has not
// returned).
func (s *Scheduler) skipped(job Job, lasted time.Duration) {
	bound := job.maxRun()
	if lasted >= bound {
		s.log.Error("ALERT: scheduled job run skipped: the previous run has lasted longer than its bound, was cancelled and has not returned; the job does not run until it does: check the plugin (it may ignore cancellation) and restart it or medgate",
			"job", job.ID(), "running", lasted.String(), "bound", bound.String())
		return
	}
	s.log.Warn("scheduled job run skipped: the previous run is still going", "job", job.ID(), "running", lasted.String(), "bound", bound.String())
}

// renew renews the lease of a running job, taken until until, at now
// (before until). It waits for the store's answer only until the lease
// expires: another instance may take the lease and start the job from
// then on, so a store that does not answer (a stalled connection) must
// not keep the run going past it. answered is false when the lease
// expired first; the store call is then cancelled.
func (s *Scheduler) renew(ctx context.Context, id string, ttl time.Duration, now, until time.Time, meanwhile watch) (ok, answered bool, err error) {
	a, answered := s.withinWatching(ctx, until.Sub(now), meanwhile, func(ctx context.Context) (a leaseAnswer) {
		a.ok, a.expires, a.err = s.leases.AcquireLease(ctx, "job/"+id, s.holder, ttl, now)
		return a
	})
	return a.ok, answered, a.err
}

// renewRetry is how soon a running job tries again to renew its lease
// after the store failed to: a store back before the lease expires (a
// failover, a network cut) must not cost the run its lease.
const renewRetry = 10 * time.Second

// renewEvery is how often a run renews a lease of time to live ttl.
func renewEvery(ttl time.Duration) time.Duration { return max(ttl/3, time.Millisecond) }

// leaseAnswer is the store's answer to a lease call.
type leaseAnswer struct {
	ok      bool
	expires time.Time
	err     error
}

// within runs call (a store call) with a context that ends once d has
// passed on the scheduler's clock, and waits for its answer that long at
// most. answered is false (and the answer zero) if it had not come by
// then; the call is then cancelled.
func (s *Scheduler) within(ctx context.Context, d time.Duration, call func(ctx context.Context) leaseAnswer) (_ leaseAnswer, answered bool) {
	return s.withinWatching(ctx, d, watch{}, call)
}

// watch is something to do at a moment while a store call is waited for
// (withinWatching): fn, at at, if fn is set.
type watch struct {
	at time.Time
	fn func()
}

// withinWatching is within, calling w.fn once w.at has passed while the
// answer is waited for.
func (s *Scheduler) withinWatching(ctx context.Context, d time.Duration, w watch, call func(ctx context.Context) leaseAnswer) (_ leaseAnswer, answered bool) {
	expired, stopTimer := s.timer(d)
	defer stopTimer()
	var due <-chan time.Time
	if w.fn != nil {
		ch, stopWatch := s.timer(max(w.at.Sub(s.clock.Now()), 0))
		defer stopWatch()
		due = ch
	}
	callCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan leaseAnswer, 1)
	go func() { ch <- call(callCtx) }()
	for {
		select {
		case a := <-ch:
			return a, true
		case <-due:
			due = nil
			w.fn()
		case <-expired:
			select {
			case a := <-ch: // answered at the same moment
				return a, true
			default:
				return leaseAnswer{}, false
			}
		}
	}
}

// giveUp releases the lease of a job whose run did not start, so that
// another instance need not wait for its expiry (until). The store is
// waited for until then at most: past it the lease is free anyway.
func (s *Scheduler) giveUp(ctx context.Context, id string, until time.Time) {
	d := until.Sub(s.clock.Now())
	if d <= 0 {
		return
	}
	a, answered := s.within(ctx, d, func(ctx context.Context) leaseAnswer {
		return leaseAnswer{err: s.leases.ReleaseLease(ctx, "job/"+id, s.holder)}
	})
	if !answered || a.err != nil {
		s.log.Warn("could not release the lease of a job whose run did not start; another instance can take it when it expires", "job", id, "expires", until, "answered", answered, "err", a.err)
	}
}

// timerClock is a Clock whose timers can be stopped before they fire.
type timerClock interface {
	// timer returns a channel that receives once d has passed, and a
	// function that stops it.
	timer(d time.Duration) (<-chan time.Time, func())
}

func (realClock) timer(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// timer is s.clock's timer for d, stopped by the returned function if the
// clock can stop timers (else it simply fires later, unread).
func (s *Scheduler) timer(d time.Duration) (<-chan time.Time, func()) {
	if tc, ok := s.clock.(timerClock); ok {
		return tc.timer(d)
	}
	return s.clock.After(d), func() {}
}

// settleLease brings the lease of a run that renewed it (renewed, later
// than due, the expiry its start set) back to expire at due, one interval
// plus grace after the run started, if that is still ahead: so that, if
// this instance dies, another takes over one interval plus grace after the
// run's start, as after a short run, rather than after its last renewal.
// This instance's next run, one interval after the start, renews it
// before then. A lease another instance holds now is left alone (the
// store refuses), and a failure only leaves the later expiry. The store is
// waited for until due at most: past it the set-back is moot, and a store
// that does not answer (a stalled connection) must not hold the run's end,
// whose run lock keeps the job from running again meanwhile.
func (s *Scheduler) settleLease(ctx context.Context, id string, due, renewed time.Time) {
	now := s.clock.Now()
	if !renewed.After(due) || !due.After(now) || ctx.Err() != nil {
		return
	}
	a, answered := s.within(ctx, due.Sub(now), func(ctx context.Context) (a leaseAnswer) {
		_, _, a.err = s.leases.AcquireLease(ctx, "job/"+id, s.holder, due.Sub(now), now)
		return a
	})
	if !answered || a.err != nil {
		s.log.Warn("could not set the job lease back to one interval plus grace after the run's start; it expires later, delaying a takeover if this instance dies", "job", id, "expires", renewed, "answered", answered, "err", a.err)
	}
}

// Jobs lists the scheduled jobs.
func (s *Scheduler) Jobs() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(s.jobs))
	for _, e := range s.jobs {
		st := e.status
		st.NextRun = e.next
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Stop starts no run any more, scheduled or triggered (Trigger returns
// ErrStopped), and cancels the context of every run in progress (its
// cause is ErrStopped), so that each stops at its next step. Call Wait
// next, then Release.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.stop(ErrStopped)
}

// Wait waits, after Stop, until every run in progress has returned, or
// ctx ends: the error then names the jobs still running (their leases are
// left to expire by Release).
func (s *Scheduler) Wait(ctx context.Context) error {
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if !stopped {
		// Runs may still start: there is nothing to wait for yet.
		return errors.New("scheduler: Wait called before Stop; call Stop first, so that no run starts while Wait waits")
	}
	done := make(chan struct{})
	go func() {
		s.runs.Wait()
		s.resumes.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	ids := make([]string, 0, len(s.running))
	for id := range s.running {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	sort.Strings(ids)
	return fmt.Errorf("scheduler: jobs %v did not return from their cancelled runs before the shutdown deadline (%w); they may fail on the closed store, and resume from their stored step at the next start", ids, context.Cause(ctx))
}

// Release frees every lease this instance holds (graceful shutdown), so
// another instance can take the jobs over at once. The lease of a job
// still running is kept: it expires as usual, and no other instance
// starts the job beside that run meanwhile.
func (s *Scheduler) Release(ctx context.Context) {
	s.mu.Lock()
	es := make(map[string]*entry, len(s.jobs))
	for id, e := range s.jobs {
		es[id] = e
	}
	s.mu.Unlock()
	for id, e := range es {
		if !e.running.TryLock() {
			s.log.Warn("job still running at shutdown; its lease is left to expire", "job", id)
			continue
		}
		_ = s.leases.ReleaseLease(ctx, "job/"+id, s.holder)
		e.running.Unlock()
	}
}
