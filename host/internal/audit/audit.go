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
package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
		return fmt.Errorf("audit: record %s by %s: %w", e.Action, a.Name, ErrNoRecorder)
	}
	if rc.sink == nil {
		rc.log.Error("audit: entry not recorded: no audit store", "action", e.Action, "actor", a.Name, "target", logging.Mask(e.Target), "site", e.Site, "outcome", e.Outcome)
		return fmt.Errorf("audit: record %s by %s: %w", e.Action, a.Name, ErrNoSink)
	}
	_, err := rc.sink.AppendAudit(context.WithoutCancel(ctx), store.AuditEntry{Actor: a.Name, Role: a.Role, Remote: a.Remote,
		Action: e.Action, Target: e.Target, Site: e.Site, Outcome: e.Outcome, Detail: e.Detail})
	if err != nil {
		rc.log.Error("audit: entry not recorded", "action", e.Action, "actor", a.Name, "target", logging.Mask(e.Target), "err", err)
		return fmt.Errorf("audit: record %s by %s: %w", e.Action, a.Name, err)
	}
	return nil
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
func Record(ctx context.Context, e Entry) error {
	if m, ok := ctx.Value(markKey).(*atomic.Bool); ok {
		m.Store(true)
	}
	a, _ := ActorFrom(ctx)
	rc, _ := ctx.Value(recorderKey).(*Recorder)
	return rc.Write(ctx, a, e)
}

// Recorded reports whether [Record] was called with ctx (or one derived
// from it) since [With]; the console uses it to record a change no
// handler recorded itself.
func Recorded(ctx context.Context) bool {
	m, ok := ctx.Value(markKey).(*atomic.Bool)
	return ok && m.Load()
}
