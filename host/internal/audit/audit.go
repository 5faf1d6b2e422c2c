// Package audit records who did what in medgate's console and admin API:
// every change, replay, run-now, confirmation, print, sign-in and
// sign-out (and failed ones), and every reveal of personal data. Entries
// go to the store's audit_log table, which the database keeps
// append-only; nothing in medgate can edit or delete them.
//
// Handlers call one function:
//
//	audit.Record(r.Context(), audit.Entry{Action: "ecard.print", Target: cardNo, Site: site, Outcome: audit.OK})
//
// The console and the admin API put the recorder and the signed-in actor
// (name, role, client address) in every request's context, so the entry
// says who and when by itself. An entry that cannot be recorded (the
// store fails, no store, no recorder in the context) is logged as an
// error naming its action and actor, so no loss goes unnoticed even
// where a caller ignores the error. Detail must never hold a secret or
// personal data: it names what changed (a setting's name, not its value
// when secret; a message id, not its payload).
//
// # A change is announced before it is made
//
// The audit log is append-only, and a change (a site's settings, a
// reload, a replay, a job run, a plugin's form or confirmation, a user's
// role) is made elsewhere: in the configuration file, in Kafka, at an
// external system. No transaction spans both, so every change is written
// twice: first an entry with the outcome [Attempted] ([Begin], or
// [Recorder.Begin]), and only once that entry is in the store is the
// change made; then an entry with its outcome (ok, refused or failed),
// whose detail names the attempt ("attempt #41"). When the attempt cannot
// be written (the store is down, no store is configured), the change is
// not made: the console and the admin API refuse it (503 with Retry-After
// while the store is passing unavailable, naming the store), and so does
// `medgate user`. So the log never lacks a change that was made, and never
// shows as done one that was not: an attempt without its outcome entry
// means the outcome could not be written (or the process died meanwhile).
// When the outcome cannot be written, the change has already happened (or
// been refused) and cannot be taken back; the loss is logged as an error
// naming the attempt, counted ([Recorder.Lost], the admin API exports it
// as medgate_audit_entries_lost_total, an alert's signal), and the
// attempt already in the log says who tried what.
package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"unicode/utf8"

	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/store"
)

// Outcomes.
const (
	OK      = "ok"      // done
	Refused = "refused" // not allowed, wrong password, locked out, invalid input
	Failed  = "failed"  // allowed but did not succeed
	// Attempted: about to be made; an entry with the outcome follows,
	// naming this one (see the package doc).
	Attempted = "attempted"
)

// Entry is what a handler records; who, when and from where come from the
// context.
type Entry struct {
	Action  string // dotted, e.g. "message.replay", "site.plugin.enable"
	Target  string // what was acted on: a message id, "plugin/site", a user
	Site    string
	Outcome string // OK, Refused or Failed
	Detail  string // what changed; never secrets or personal data
}

// Actor is who acts.
type Actor struct {
	Name   string
	Role   string
	Remote string
}

// Sink stores entries (the store).
type Sink interface {
	AppendAudit(ctx context.Context, e store.AuditEntry) (int64, error)
}

// Recorder writes entries to a sink and logs the ones it cannot write.
type Recorder struct {
	sink Sink
	log  *slog.Logger
	// lost counts the entries not written (see Lost).
	lost atomic.Int64
}

// Lost is how many entries the recorder could not write since it was
// made: attempts (whose change was then not made) and outcomes (whose
// change was made or refused already). Alert on any rise: the admin API
// exports it as medgate_audit_entries_lost_total.
func (rc *Recorder) Lost() int64 {
	if rc == nil {
		return 0
	}
	return rc.lost.Load()
}

// New returns a recorder writing to sink (the store). With a nil sink it
// records nothing and logs every entry as an error (a console or admin
// API started without the store), so no action goes unnoticed.
func New(sink Sink, log *slog.Logger) *Recorder {
	if log == nil {
		log = slog.Default()
	}
	return &Recorder{sink: sink, log: log}
}

// maxDetail bounds an entry's detail, target, site and actor name (runes).
const maxDetail = 2000

// Write records e as done by a; the error says what failed. A failure is
// also logged, since an action that cannot be audited must be noticed: by
// the recorder's logger, or by [slog.Default] on a nil recorder.
func (rc *Recorder) Write(ctx context.Context, a Actor, e Entry) error {
	_, err := rc.write(ctx, a, e)
	return err
}

// write is Write returning the entry's id.
func (rc *Recorder) write(ctx context.Context, a Actor, e Entry) (int64, error) {
	if a.Name == "" {
		a.Name = "unknown"
	}
	if e.Outcome == "" {
		e.Outcome = OK
	}
	// The actor's name, target and site may come from outside (a sign-in
	// form, a URL path): bounded like the detail, so nobody can fill the
	// append-only table with one request.
	a.Name, e.Target, e.Site, e.Detail = clip(a.Name), clip(e.Target), clip(e.Site), clip(e.Detail)
	if rc == nil {
		slog.Default().Error("audit: entry not recorded: no recorder", "action", e.Action, "actor", a.Name, "target", logging.Mask(e.Target), "site", e.Site, "outcome", e.Outcome)
		return 0, fmt.Errorf("audit: record %s by %s: %w", e.Action, a.Name, ErrNoRecorder)
	}
	if rc.sink == nil {
		rc.lost.Add(1)
		rc.log.Error("audit: entry not recorded: no audit store", "action", e.Action, "actor", a.Name, "target", logging.Mask(e.Target), "site", e.Site, "outcome", e.Outcome)
		return 0, fmt.Errorf("audit: record %s by %s: %w", e.Action, a.Name, ErrNoSink)
	}
	id, err := rc.sink.AppendAudit(context.WithoutCancel(ctx), store.AuditEntry{Actor: a.Name, Role: a.Role, Remote: a.Remote,
		Action: e.Action, Target: e.Target, Site: e.Site, Outcome: e.Outcome, Detail: e.Detail})
	if err != nil {
		rc.lost.Add(1)
		rc.log.Error("audit: entry not recorded", "action", e.Action, "actor", a.Name, "target", logging.Mask(e.Target), "outcome", e.Outcome, "err", err)
		return 0, fmt.Errorf("audit: record %s by %s: %w", e.Action, a.Name, err)
	}
	return id, nil
}

// Attempt is a change announced in the audit log before it is made
// ([Recorder.Begin]); Finish records its outcome.
type Attempt struct {
	rc    *Recorder
	actor Actor
	entry Entry
	// ID is the attempt's entry.
	ID int64
}

// Begin records e as attempted by a (its outcome is set to [Attempted])
// and returns the attempt, whose Finish records the outcome. When it
// returns an error the change must not be made: the error says what
// failed (wrapping the store's error, [ErrNoSink] or [ErrNoRecorder]).
func (rc *Recorder) Begin(ctx context.Context, a Actor, e Entry) (*Attempt, error) {
	e.Outcome = Attempted
	id, err := rc.write(ctx, a, e)
	if err != nil {
		return nil, fmt.Errorf("%w; the change was not made, since it could not be recorded first", err)
	}
	return &Attempt{rc: rc, actor: a, entry: e, ID: id}, nil
}

// Finish records the attempt's outcome (OK, Refused or Failed) with
// detail (the attempt's own detail when empty), naming the attempt. An
// error means the outcome is not in the log (it is logged and counted,
// see [Recorder.Lost]); the attempt is.
func (at *Attempt) Finish(ctx context.Context, outcome, detail string) error {
	e := at.entry
	e.Outcome, e.Detail = outcome, cmp.Or(detail, e.Detail)
	return at.record(ctx, e)
}

// record writes e, an outcome of the attempt, naming the attempt.
func (at *Attempt) record(ctx context.Context, e Entry) error {
	e.Detail = withAttempt(e.Detail, at.ID)
	_, err := at.rc.write(ctx, at.actor, e)
	if err != nil {
		at.rc.log.Error("audit: the outcome of an attempted change is not recorded; the attempt is", "attempt", at.ID,
			"action", e.Action, "actor", at.actor.Name, "outcome", e.Outcome)
	}
	return err
}

// withAttempt appends the attempt's entry id to detail.
func withAttempt(detail string, id int64) string {
	if id == 0 {
		return detail
	}
	ref := "attempt #" + strconv.FormatInt(id, 10)
	if detail == "" {
		return ref
	}
	return detail + "; " + ref
}

// clip bounds s to maxDetail runes.
func clip(s string) string {
	if len(s) <= maxDetail || utf8.RuneCountInString(s) <= maxDetail {
		return s
	}
	return string([]rune(s)[:maxDetail]) + "…"
}

type ctxKey int

const (
	recorderKey ctxKey = iota
	actorKey
	markKey
	attemptKey
)

// With returns ctx carrying the recorder and the actor, and a mark that
// [Recorded] reads.
func With(ctx context.Context, rc *Recorder, a Actor) context.Context {
	ctx = context.WithValue(ctx, recorderKey, rc)
	ctx = context.WithValue(ctx, actorKey, a)
	return context.WithValue(ctx, markKey, new(atomic.Bool))
}

// ActorFrom returns the actor in ctx.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey).(Actor)
	return a, ok
}

// ErrNoRecorder: the context carries no recorder (a handler outside the
// console and admin API).
var ErrNoRecorder = errors.New("audit: no recorder in the context; record from a console or admin API handler")

// ErrNoSink: the recorder has no store to write to (see [New]).
var ErrNoSink = errors.New("audit: no audit store; start the console and admin API with a recorder writing to the store")

// Record records e by the context's actor. Every entry that cannot be
// recorded is logged as an error with its action (by the recorder, or by
// [slog.Default] when the context carries none), so a caller may ignore
// the error without the loss going unnoticed.
//
// After [Begin], e is the change's outcome: its detail names the attempt,
// and a failure to write it is also logged as the attempt's lost outcome.
func Record(ctx context.Context, e Entry) error {
	if m, ok := ctx.Value(markKey).(*atomic.Bool); ok {
		m.Store(true)
	}
	a, _ := ActorFrom(ctx)
	rc, _ := ctx.Value(recorderKey).(*Recorder)
	if at, ok := ctx.Value(attemptKey).(*Attempt); ok && at.rc == rc {
		at := *at
		at.actor = a
		return at.record(ctx, e)
	}
	return rc.Write(ctx, a, e)
}

// Begin records e, a change about to be made by the context's actor, as
// attempted ([Recorder.Begin]) and returns ctx carrying the attempt: the
// next [Record] with it (or a context derived from it) records the
// change's outcome, naming the attempt. When Begin returns an error the
// change must not be made (see the package doc). Begin does not count as
// [Recorded].
func Begin(ctx context.Context, e Entry) (context.Context, error) {
	a, _ := ActorFrom(ctx)
	rc, _ := ctx.Value(recorderKey).(*Recorder)
	at, err := rc.Begin(ctx, a, e)
	if err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, attemptKey, at), nil
}

// Recorded reports whether [Record] was called with ctx (or one derived
// from it) since [With]; the console uses it to record a change no
// handler recorded itself.
func Recorded(ctx context.Context) bool {
	m, ok := ctx.Value(markKey).(*atomic.Bool)
	return ok && m.Load()
}
