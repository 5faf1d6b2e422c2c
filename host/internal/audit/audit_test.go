package audit

import (
	"bytes"
	"context"
	"errors"
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
