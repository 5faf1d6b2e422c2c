package audit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
)

type memSink struct {
	got []store.AuditEntry
	err error
}

func (m *memSink) AppendAudit(_ context.Context, e store.AuditEntry) (int64, error) {
	if m.err != nil {
		return 0, m.err
	}
	m.got = append(m.got, e)
	return int64(len(m.got)), nil
}

func TestRecord(t *testing.T) {
	t.Parallel()
	sink := &memSink{}
	rc := New(sink, nil)
	if err := Record(t.Context(), Entry{Action: "x"}); !errors.Is(err, ErrNoRecorder) {
		t.Fatalf("Record without a recorder = %v", err)
	}
	ctx := With(t.Context(), rc, Actor{Name: "amy", Role: "operator", Remote: "10.0.0.1"})
	if Recorded(ctx) {
		t.Fatal("recorded before anything was")
	}
	if err := Record(ctx, Entry{Action: "message.replay", Target: "m1", Site: "s1", Detail: strings.Repeat("长", 3000)}); err != nil {
		t.Fatal(err)
	}
	if !Recorded(ctx) {
		t.Fatal("Recorded is false after Record")
	}
	e := sink.got[0]
	if e.Actor != "amy" || e.Role != "operator" || e.Remote != "10.0.0.1" || e.Outcome != OK || e.Action != "message.replay" ||
		len([]rune(e.Detail)) != maxDetail+1 {
		t.Fatalf("entry %+v", e)
	}
	sink.err = errors.New("disk full")
	if err := Record(ctx, Entry{Action: "y"}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("a failed write is not reported: %v", err)
	}
}

// TestUnrecordedEntriesAreLogged: an entry that cannot be recorded (no
// recorder in the context, a nil recorder, a recorder without a store) is
// logged as an error naming its action, never lost silently. Not
// parallel: it replaces slog's default logger while it runs.
func TestUnrecordedEntriesAreLogged(t *testing.T) {
	var deflt bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&deflt, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	var own bytes.Buffer
	noStore := New(nil, slog.New(slog.NewTextHandler(&own, nil)))
	amy := Actor{Name: "amy", Role: "operator"}
	e := Entry{Action: "ecard.print", Target: "11010519491231002X", Site: "s1", Outcome: OK}
	cases := []struct {
		name   string
		record func() error
		want   error
		log    *bytes.Buffer
	}{
		{"no recorder in the context", func() error { return Record(t.Context(), e) }, ErrNoRecorder, &deflt},
		{"a nil recorder in the context", func() error { return Record(With(t.Context(), nil, amy), e) }, ErrNoRecorder, &deflt},
		{"a nil recorder", func() error { var none *Recorder; return none.Write(t.Context(), amy, e) }, ErrNoRecorder, &deflt},
		{"a recorder without a store", func() error { return Record(With(t.Context(), noStore, amy), e) }, ErrNoSink, &own},
	}
	for _, tc := range cases {
		deflt.Reset()
		own.Reset()
		if err := tc.record(); !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "ecard.print") {
			t.Errorf("%s: error %v; want %v naming the action", tc.name, err, tc.want)
		}
		got := tc.log.String()
		for _, want := range []string{"level=ERROR", "entry not recorded", "action=ecard.print", "outcome=ok", "110***********002X"} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: the log lacks %q: %q", tc.name, want, got)
			}
		}
		if strings.Contains(got, "11010519491231002X") {
			t.Errorf("%s: the log holds an unmasked ID number: %q", tc.name, got)
		}
	}
}

func TestParseFilter(t *testing.T) {
	t.Parallel()
	loc := time.FixedZone("CST", 8*3600)
	f, problems := ParseFilter(url.Values{"user": {" amy "}, "action": {"message.*"}, "from": {"2026-12-03T08:30"}, "to": {"2026-12-04"},
		"before": {"42"}, "limit": {"20"}}, loc, 50)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	want := store.AuditFilter{Actor: "amy", Action: "message.*", From: time.Date(2026, 12, 3, 8, 30, 0, 0, loc), To: time.Date(2026, 12, 4, 0, 0, 0, 0, loc), Before: 42, Limit: 20}
	if !f.From.Equal(want.From) || !f.To.Equal(want.To) || f.Actor != want.Actor || f.Action != want.Action || f.Before != 42 || f.Limit != 20 {
		t.Fatalf("filter %+v, want %+v", f, want)
	}
	_, problems = ParseFilter(url.Values{"from": {"yesterday"}, "to": {"2026-01-01"}, "before": {"-1"}, "limit": {"9999"}}, loc, 50)
	if len(problems) != 3 {
		t.Fatalf("want 3 problems at once (from, before, limit), got %q", problems)
	}
	_, problems = ParseFilter(url.Values{"from": {"2026-01-02"}, "to": {"2026-01-01"}}, loc, 50)
	if len(problems) != 1 || !strings.Contains(problems[0], "after") {
		t.Fatalf("to before from: %q", problems)
	}
}

// TestWriteBoundsWhatCallersPass: an actor name or target from outside
// (a sign-in form's user name, a URL path) cannot put megabytes into the
// append-only table.
func TestWriteBoundsWhatCallersPass(t *testing.T) {
	t.Parallel()
	sink := &memSink{}
	rc := New(sink, nil)
	long := strings.Repeat("名", 1<<20)
	if err := rc.Write(t.Context(), Actor{Name: long, Remote: "10.0.0.1"}, Entry{Action: "login", Outcome: Refused, Target: long, Site: long}); err != nil {
		t.Fatal(err)
	}
	e := sink.got[0]
	for what, v := range map[string]string{"actor": e.Actor, "target": e.Target, "site": e.Site} {
		if n := len([]rune(v)); n > maxDetail+1 {
			t.Errorf("the %s is stored with %d characters", what, n)
		}
	}
}

// TestAttemptThenOutcome: a change is announced (attempted) before it is
// made, and its outcome names the attempt; an attempt that cannot be
// written is an error (the change must not be made), and an outcome that
// cannot be written is logged as the attempt's lost outcome; both are
// counted as lost.
func TestAttemptThenOutcome(t *testing.T) {
	t.Parallel()
	sink := &memSink{}
	var logs bytes.Buffer
	rc := New(sink, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := With(t.Context(), rc, Actor{Name: "amy", Role: "admin"})
	actx, err := Begin(ctx, Entry{Action: "config.reload", Target: "/admin/reload", Detail: "admin API POST /admin/reload"})
	if err != nil {
		t.Fatal(err)
	}
	if Recorded(actx) {
		t.Fatal("Begin counts as the outcome")
	}
	if err := Record(actx, Entry{Action: "config.reload", Target: "/admin/reload", Outcome: OK, Detail: "reloaded"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range sink.got {
		got = append(got, e.Actor+" "+e.Action+" "+e.Outcome+" "+e.Detail)
	}
	want := []string{"amy config.reload attempted admin API POST /admin/reload", "amy config.reload ok reloaded; attempt #1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("entries\n got %q\nwant %q", got, want)
	}

	sink.err = errors.New("database is locked")
	if _, err := Begin(ctx, Entry{Action: "job.run"}); err == nil || !strings.Contains(err.Error(), "database is locked") ||
		!strings.Contains(err.Error(), "not made") {
		t.Fatalf("Begin on a failing store = %v", err)
	}
	if err := Record(actx, Entry{Action: "config.reload", Outcome: Failed}); err == nil {
		t.Fatal("a lost outcome is not reported")
	}
	if !strings.Contains(logs.String(), "outcome of an attempted change is not recorded") || !strings.Contains(logs.String(), "attempt=1") {
		t.Errorf("the lost outcome is not logged with its attempt:\n%s", logs.String())
	}
	if rc.Lost() != 2 {
		t.Errorf("Lost() = %d, want 2", rc.Lost())
	}
	if _, err := New(nil, slog.New(slog.NewTextHandler(io.Discard, nil))).Begin(ctx, Actor{Name: "amy"}, Entry{Action: "x"}); !errors.Is(err, ErrNoSink) {
		t.Errorf("Begin without a store = %v; want ErrNoSink", err)
	}
}
