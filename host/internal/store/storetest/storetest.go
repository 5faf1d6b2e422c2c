// Package storetest is the conformance suite every store engine must pass.
//
// An engine's test calls Run with a function that opens a fresh, empty
// store for each subtest:
//
//	func TestSQLite(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "medgate.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Subtests run in parallel, so open must give each its own database.
//
// The suite pins down what the Store interface leaves open, so that both
// engines behave the same: times are kept to the microsecond and returned
// in UTC; a zero Message.ReceivedAt, Exchange.At or Batch.CreatedAt is set
// by the store; the exchange filter's From is inclusive and To exclusive;
// prefixes (StateScan, ListMessages) are literal, byte-ordered prefixes;
// an expired lease is free; AddAttempt on a done message is ErrConflict;
// after Close every method fails with store.ErrClosed.
// Leases are timed by the caller's clock (SQLite: LeasesOnCallerClock
// checks it) or the database's (PostgreSQL).
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/medgate/medgate/host/internal/store"
)

// t0 is the base of the times the tests set themselves.
var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// concurrency is the number of goroutines racing in the concurrency tests.
const concurrency = 8

// Run runs the conformance suite. open must return a new, empty store each
// time it is called and close it when t ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"BeginMessage", testBeginMessage},
		{"BeginMessageConcurrent", testBeginMessageConcurrent},
		{"GetMessageNotFound", testGetMessageNotFound},
		{"AddAttempt", testAddAttempt},
		{"FinishMessage", testFinishMessage},
		{"FinishMessageWithJournal", testFinishMessageWithJournal},
		{"FinishAndBegin", testFinishAndBegin},
		{"RecordFinished", testRecordFinished},
		{"RecordFinishedConcurrent", testRecordFinishedConcurrent},
		{"ReopenMessage", testReopenMessage},
		{"RestoreFailed", testRestoreFailed},
		{"LargeRequest", testLargeRequest},
		{"Prune", testPrune},
		{"OldestPending", testOldestPending},
		{"ListMessages", testListMessages},
		{"ListMessagesDefaultLimit", testListMessagesDefaultLimit},
		{"SearchMessages", testSearchMessages},
		{"SearchMessagesPages", testSearchMessagesPages},
		{"CountMessages", testCountMessages},
		{"AppendExchange", testAppendExchange},
		{"ListExchanges", testListExchanges},
		{"ListExchangesDefaultLimit", testListExchangesDefaultLimit},
		{"State", testState},
		{"StateCAS", testStateCAS},
		{"StateCASConcurrent", testStateCASConcurrent},
		{"StateScan", testStateScan},
		{"StateNamespaces", testStateNamespaces},
		{"StateOpaqueValues", testStateOpaqueValues},
		{"Batches", testBatches},
		{"Leases", testLeases},
		{"LeaseConcurrent", testLeaseConcurrent},
		{"NextSequence", testNextSequence},
		{"NextSequenceConcurrent", testNextSequenceConcurrent},
		{"ReserveSequence", testReserveSequence},
		{"Ping", testPing},
		{"Users", testUsers},
		{"UserSessionGeneration", testUserSessionGeneration},
		{"Audit", testAudit},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// ignoreUpdated leaves Message.UpdatedAt, set by the store, out of comparisons.
var ignoreUpdated = cmpopts.IgnoreFields(store.Message{}, "UpdatedAt")

// window records the wall-clock interval around a store call, to check
// the times the store sets itself.
type window struct{ from, to time.Time }

func startWindow() window { return window{from: time.Now().Truncate(time.Microsecond)} }

// check reports an error if got is not within the window closed now, or not UTC.
func (w window) check(t *testing.T, what string, got time.Time) {
	t.Helper()
	to := time.Now()
	if got.Before(w.from) || got.After(to) {
		t.Errorf("%s = %v, want between %v and %v", what, got, w.from, to)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s location = %v, want UTC", what, got.Location())
	}
}

// begin records m as pending and fails t if it was not created.
func begin(t *testing.T, s store.Store, m store.Message) {
	t.Helper()
	existing, created, err := s.BeginMessage(t.Context(), m)
	if err != nil || !created || existing != nil {
		t.Fatalf("BeginMessage(%q) = %v, %v, %v; want nil, true, nil", m.ID, existing, created, err)
	}
}

// finish marks a message done and fails t on error.
func finish(t *testing.T, s store.Store, id, outcome string, reply []byte, attempts int) {
	t.Helper()
	if err := s.FinishMessage(t.Context(), id, outcome, reply, attempts); err != nil {
		t.Fatalf("FinishMessage(%q): %v", id, err)
	}
}

func testBeginMessage(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := store.Message{
		ID: "m1", Site: "s1", Type: "workinjury.GYU101", Key: "P001",
		OccurredAt: t0.Add(123456789 * time.Nanosecond), // kept to the microsecond
		ReceivedAt: t0.Add(time.Minute).In(time.FixedZone("CST", 8*3600)),
	}
	w := startWindow()
	begin(t, s, m)

	want := store.Message{
		ID: "m1", Site: "s1", Type: "workinjury.GYU101", Key: "P001",
		Status:     store.StatusPending,
		OccurredAt: t0.Add(123456 * time.Microsecond),
		ReceivedAt: t0.Add(time.Minute),
	}
	got, err := s.GetMessage(ctx, "m1")
	if err != nil {
		t.Fatalf("GetMessage: %v", err)
	}
	if diff := cmp.Diff(&want, got, ignoreUpdated); diff != "" {
		t.Errorf("GetMessage after BeginMessage (-want +got):\n%s", diff)
	}
	if got.Reply != nil {
		t.Errorf("Reply of a pending message = %q, want nil", got.Reply)
	}
	if got.ReceivedAt.Location() != time.UTC || got.OccurredAt.Location() != time.UTC {
		t.Errorf("times not in UTC: received %v, occurred %v", got.ReceivedAt, got.OccurredAt)
	}
	w.check(t, "UpdatedAt", got.UpdatedAt)

	// A duplicate returns the stored record, whatever the new fields say.
	dup := store.Message{ID: "m1", Site: "other", Type: "selfpay.4201A", Key: "P999", OccurredAt: t0.Add(time.Hour)}
	existing, created, err := s.BeginMessage(ctx, dup)
	if err != nil || created {
		t.Fatalf("BeginMessage(duplicate) = _, %v, %v; want false, nil", created, err)
	}
	if diff := cmp.Diff(got, existing); diff != "" {
		t.Errorf("BeginMessage(duplicate) existing (-want +got):\n%s", diff)
	}

	// Once done, a duplicate gets the outcome back (for replay).
	finish(t, s, "m1", "ok", []byte(`{"status":"ok"}`), 1)
	existing, created, err = s.BeginMessage(ctx, dup)
	if err != nil || created || existing == nil {
		t.Fatalf("BeginMessage(duplicate of done) = %v, %v, %v; want existing, false, nil", existing, created, err)
	}
	if existing.Status != store.StatusDone || existing.Outcome != "ok" || string(existing.Reply) != `{"status":"ok"}` {
		t.Errorf("BeginMessage(duplicate of done) = status %q outcome %q reply %q; want done, ok, the reply",
			existing.Status, existing.Outcome, existing.Reply)
	}

	// A zero ReceivedAt and OccurredAt: the store sets the first, keeps the second zero.
	w = startWindow()
	begin(t, s, store.Message{ID: "m2", Site: "s1", Type: "ecard.register"})
	got, err = s.GetMessage(ctx, "m2")
	if err != nil {
		t.Fatalf("GetMessage(m2): %v", err)
	}
	w.check(t, "ReceivedAt set by the store", got.ReceivedAt)
	if !got.OccurredAt.IsZero() {
		t.Errorf("OccurredAt = %v, want zero (unknown)", got.OccurredAt)
	}

	if _, _, err := s.BeginMessage(ctx, store.Message{Site: "s1", Type: "ecard.register"}); err == nil {
		t.Error("BeginMessage with an empty id succeeded, want an error")
	}
}

func testBeginMessageConcurrent(t *testing.T, s store.Store) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for i := range concurrency {
		wg.Go(func() {
			m := store.Message{ID: "race", Site: "s1", Type: "t", Key: fmt.Sprint(i), ReceivedAt: t0}
			existing, ok, err := s.BeginMessage(t.Context(), m)
			if err != nil {
				t.Errorf("BeginMessage #%d: %v", i, err)
				return
			}
			if !ok && (existing == nil || existing.ID != "race") {
				t.Errorf("BeginMessage #%d: not created and existing = %+v", i, existing)
			}
			if ok {
				mu.Lock()
				created++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if created != 1 {
		t.Errorf("%d of %d concurrent BeginMessage calls created the message, want exactly 1", created, concurrency)
	}
}

func testGetMessageNotFound(t *testing.T, s store.Store) {
	_, err := s.GetMessage(t.Context(), "nope")
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetMessage(missing) error = %v, want ErrNotFound", err)
	}
}

func testAddAttempt(t *testing.T, s store.Store) {
	ctx := t.Context()
	begin(t, s, store.Message{ID: "m1", Site: "s1", Type: "t", ReceivedAt: t0})
	for want := 1; want <= 3; want++ {
		n, err := s.AddAttempt(ctx, "m1")
		if err != nil || n != want {
			t.Fatalf("AddAttempt #%d = %d, %v; want %d, nil", want, n, err, want)
		}
	}
	got, err := s.GetMessage(ctx, "m1")
	if err != nil || got.Attempts != 3 {
		t.Fatalf("GetMessage after 3 attempts = %+v, %v; want Attempts 3", got, err)
	}
	if _, err := s.AddAttempt(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddAttempt(missing) error = %v, want ErrNotFound", err)
	}
	finish(t, s, "m1", "ok", []byte("{}"), 3)
	if _, err := s.AddAttempt(ctx, "m1"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AddAttempt(done) error = %v, want ErrConflict", err)
	}
	if got, _ := s.GetMessage(ctx, "m1"); got == nil || got.Attempts != 3 {
		t.Errorf("AddAttempt on a done message changed it: %+v", got)
	}

	// A message begun with its first attempt counted goes on from there;
	// a duplicate BeginMessage changes nothing.
	begin(t, s, store.Message{ID: "m2", Site: "s1", Type: "t", ReceivedAt: t0, Attempts: 1})
	if _, _, err := s.BeginMessage(ctx, store.Message{ID: "m2", Site: "s1", Type: "t", Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.AddAttempt(ctx, "m2"); err != nil || n != 2 {
		t.Errorf("AddAttempt after BeginMessage with Attempts 1 = %d, %v; want 2, nil", n, err)
	}
}

func testFinishMessage(t *testing.T, s store.Store) {
	ctx := t.Context()
	in := store.Message{ID: "m1", Site: "s1", Type: "selfpay.4201A", Key: "V1", OccurredAt: t0, ReceivedAt: t0.Add(time.Second)}
	begin(t, s, in)
	if _, err := s.AddAttempt(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	reply := []byte(`{"id":"r1","requestId":"m1","status":"rejected"}`)
	w := startWindow()
	finish(t, s, "m1", "rejected", reply, 2)

	got, err := s.GetMessage(ctx, "m1")
	if err != nil {
		t.Fatalf("GetMessage: %v", err)
	}
	want := in
	want.Status, want.Outcome, want.Reply, want.Attempts = store.StatusDone, "rejected", reply, 2
	if diff := cmp.Diff(&want, got, ignoreUpdated); diff != "" {
		t.Errorf("GetMessage after FinishMessage (-want +got):\n%s", diff)
	}
	w.check(t, "UpdatedAt", got.UpdatedAt)

	if err := s.FinishMessage(ctx, "missing", "ok", reply, 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishMessage(missing) error = %v, want ErrNotFound", err)
	}
	begin(t, s, store.Message{ID: "m2", Site: "s1", Type: "t", ReceivedAt: t0})
	if err := s.FinishMessage(ctx, "m2", "", reply, 1); err == nil {
		t.Error("FinishMessage with an empty outcome succeeded, want an error")
	}
}

// testFinishAndBegin: the outcome of one message and the record of the
// next commit together, or neither does.
func testFinishAndBegin(t *testing.T, s store.Store) {
	ctx := t.Context()
	begin(t, s, store.Message{ID: "m1", Site: "s1", Type: "t.op", Key: "K", ReceivedAt: t0, Attempts: 1})
	reply := []byte(`{"requestId":"m1","status":"ok"}`)
	next := store.Message{ID: "m2", Site: "s1", Type: "t.op", Key: "K", OccurredAt: t0, ReceivedAt: t0.Add(time.Second), Request: []byte(`{"id":"m2"}`), Attempts: 1}
	existing, created, err := s.FinishAndBegin(ctx, "m1", "ok", reply, 1, next)
	if err != nil || !created || existing != nil {
		t.Fatalf("FinishAndBegin(m1, next m2) = %v, %v, %v; want nil, true, nil", existing, created, err)
	}
	m1, err := s.GetMessage(ctx, "m1")
	if err != nil || m1.Status != store.StatusDone || m1.Outcome != "ok" || string(m1.Reply) != string(reply) || m1.Attempts != 1 {
		t.Errorf("m1 after FinishAndBegin = %+v, %v; want done, ok, its reply", m1, err)
	}
	m2, err := s.GetMessage(ctx, "m2")
	if err != nil {
		t.Fatalf("m2 after FinishAndBegin: %v", err)
	}
	want := next
	want.Status = store.StatusPending
	if diff := cmp.Diff(&want, m2, ignoreUpdated); diff != "" {
		t.Errorf("m2 after FinishAndBegin (-want +got):\n%s", diff)
	}

	// A next message that exists comes back as stored, not created.
	existing, created, err = s.FinishAndBegin(ctx, "m2", "rejected", []byte(`{}`), 1, store.Message{ID: "m1", Site: "s1", Type: "t.op", Key: "K", Attempts: 1})
	if err != nil || created || existing == nil || existing.Status != store.StatusDone || existing.Outcome != "ok" {
		t.Errorf("FinishAndBegin(m2, next m1 done) = %+v, %v, %v; want the stored m1, false, nil", existing, created, err)
	}

	// Neither is stored when the finish fails.
	if _, _, err := s.FinishAndBegin(ctx, "missing", "ok", reply, 1, store.Message{ID: "m3", Site: "s1", Type: "t.op", Key: "K", Attempts: 1}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishAndBegin(missing) error = %v, want ErrNotFound", err)
	}
	if _, err := s.GetMessage(ctx, "m3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("m3 after a failed FinishAndBegin: %v, want ErrNotFound (not recorded)", err)
	}
	begin(t, s, store.Message{ID: "m4", Site: "s1", Type: "t.op", Key: "K"})
	if _, _, err := s.FinishAndBegin(ctx, "m4", "", reply, 1, store.Message{ID: "m5", Site: "s1", Type: "t.op", Key: "K"}); err == nil {
		t.Error("FinishAndBegin with an empty outcome succeeded, want an error")
	}
	if _, _, err := s.FinishAndBegin(ctx, "m4", "ok", reply, 1, store.Message{ID: "m4", Site: "s1", Type: "t.op", Key: "K"}); err == nil {
		t.Error("FinishAndBegin with the same id twice succeeded, want an error")
	}
	if _, err := s.GetMessage(ctx, "m5"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("m5 after a refused FinishAndBegin: %v, want ErrNotFound", err)
	}
	if m4, err := s.GetMessage(ctx, "m4"); err != nil || m4.Status != store.StatusPending {
		t.Errorf("m4 after refused FinishAndBegin calls = %+v, %v; want pending", m4, err)
	}
}

func testOldestPending(t *testing.T, s store.Store) {
	ctx := t.Context()
	check := func(step string, want time.Time, wantOK bool) {
		t.Helper()
		got, ok, err := s.OldestPending(ctx)
		if err != nil || ok != wantOK || !got.Equal(want) {
			t.Errorf("%s: OldestPending = %v, %v, %v; want %v, %v, nil", step, got, ok, err, want, wantOK)
		}
	}
	check("empty store", time.Time{}, false)

	begin(t, s, store.Message{ID: "a", Site: "s", Type: "t", OccurredAt: t0.Add(5 * time.Minute), ReceivedAt: t0.Add(6 * time.Minute)})
	begin(t, s, store.Message{ID: "b", Site: "s", Type: "t", OccurredAt: t0.Add(1 * time.Minute), ReceivedAt: t0.Add(9 * time.Minute)})
	// No occurredAt: its receivedAt counts.
	begin(t, s, store.Message{ID: "c", Site: "s", Type: "t", ReceivedAt: t0.Add(3 * time.Minute)})
	// Done messages never count, however old.
	begin(t, s, store.Message{ID: "d", Site: "s", Type: "t", OccurredAt: t0.Add(-time.Hour), ReceivedAt: t0})
	finish(t, s, "d", "ok", []byte("{}"), 1)

	check("a, b, c pending", t0.Add(1*time.Minute), true)
	finish(t, s, "b", "ok", []byte("{}"), 1)
	check("a, c pending (c has no occurredAt)", t0.Add(3*time.Minute), true)
	finish(t, s, "c", "failed", []byte("{}"), 5)
	check("a pending", t0.Add(5*time.Minute), true)
	finish(t, s, "a", "invalid", []byte("{}"), 0)
	check("none pending", time.Time{}, false)
}

func testListMessages(t *testing.T, s store.Store) {
	for i, m := range []struct {
		id, site, typ, outcome string
	}{
		{"a", "s1", "workinjury.GYU101", "ok"},
		{"b", "s1", "workinjury.GYU102", ""},
		{"c", "s2", "selfpay.4201A", "rejected"},
		{"d", "s1", "work_injury.X", ""}, // '_' is literal in prefixes
		{"e", "s1", "work%.Y", "ok"},     // '%' too
		{"f", "s2", "workinjury.GYU101", "failed"},
		{"g", "s1", "other.Z", "failed"}, // reopened below: pending again
	} {
		msg := store.Message{ID: m.id, Site: m.site, Type: m.typ, ReceivedAt: t0.Add(time.Duration(i) * time.Minute)}
		if m.id == "g" {
			msg.Request = []byte(`{"id":"g"}`) // kept, so that it can be replayed
		}
		begin(t, s, msg)
		if m.outcome != "" {
			finish(t, s, m.id, m.outcome, []byte("{}"), 1)
		}
	}
	// A failed message reopened (replay) is pending again: it keeps its
	// failed outcome until it finishes anew, but is no longer failed.
	if _, err := s.ReopenMessage(t.Context(), "g"); err != nil {
		t.Fatalf("ReopenMessage(g): %v", err)
	}
	tests := map[string]struct {
		site, typePrefix, outcome string
		limit                     int
		want                      []string
	}{
		"all, newest first":  {want: []string{"g", "f", "e", "d", "c", "b", "a"}},
		"site":               {site: "s1", want: []string{"g", "e", "d", "b", "a"}},
		"type prefix":        {typePrefix: "workinjury.", want: []string{"f", "b", "a"}},
		"full type":          {typePrefix: "workinjury.GYU101", want: []string{"f", "a"}},
		"underscore literal": {typePrefix: "work_", want: []string{"d"}},
		"percent literal":    {typePrefix: "work%", want: []string{"e"}},
		"outcome":            {outcome: "ok", want: []string{"e", "a"}},
		// "pending" (the README's /admin/messages?status=pending) is the
		// messages not finished, whatever outcome a reopened one keeps.
		"pending":              {outcome: store.StatusPending, want: []string{"g", "d", "b"}},
		"pending on a site":    {site: "s1", outcome: store.StatusPending, want: []string{"g", "d", "b"}},
		"failed, not reopened": {outcome: "failed", want: []string{"f"}},
		"site, prefix, result": {site: "s2", typePrefix: "workinjury", outcome: "failed", want: []string{"f"}},
		"limit":                {limit: 2, want: []string{"g", "f"}},
		"no match":             {site: "s3", want: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := s.ListMessages(t.Context(), tc.site, tc.typePrefix, tc.outcome, tc.limit)
			if err != nil {
				t.Fatalf("ListMessages: %v", err)
			}
			if diff := cmp.Diff(tc.want, messageIDs(got), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ListMessages(%q, %q, %q, %d) ids (-want +got):\n%s", tc.site, tc.typePrefix, tc.outcome, tc.limit, diff)
			}
		})
	}
	// Records come back whole.
	got, err := s.ListMessages(t.Context(), "s2", "selfpay.", "", 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("ListMessages(s2, selfpay.) = %v, %v; want 1 message", got, err)
	}
	want := store.Message{ID: "c", Site: "s2", Type: "selfpay.4201A", Status: store.StatusDone, Outcome: "rejected",
		Reply: []byte("{}"), Attempts: 1, ReceivedAt: t0.Add(2 * time.Minute)}
	if diff := cmp.Diff(want, got[0], ignoreUpdated); diff != "" {
		t.Errorf("ListMessages record (-want +got):\n%s", diff)
	}
}

func testSearchMessages(t *testing.T, s store.Store) {
	for i, m := range []struct {
		id, site, typ, key, outcome string
	}{
		{"console-1", "s1", "ecard.register", "P001", "ok"},
		{"console-2", "s1", "ecard.scan", "P002", ""},
		{"his-3", "s2", "tracecode.stockin", "P001", "failed"},
		{"his-4", "s1", "ecard.register", "P_01", "rejected"}, // '_' is literal
		{"his-5", "s2", "ecard.qrcode", "P001", "failed"},
		{"x%6", "s1", "ledger.record", "", "ok"}, // '%' is literal in id prefixes
	} {
		begin(t, s, store.Message{ID: m.id, Site: m.site, Type: m.typ, Key: m.key, ReceivedAt: t0.Add(time.Duration(i) * time.Minute)})
		if m.outcome != "" {
			finish(t, s, m.id, m.outcome, []byte("{}"), 1)
		}
	}
	tests := map[string]struct {
		q    store.MessageQuery
		want []string
	}{
		"all, newest first":    {want: []string{"x%6", "his-5", "his-4", "his-3", "console-2", "console-1"}},
		"whole id":             {q: store.MessageQuery{IDPrefix: "his-4"}, want: []string{"his-4"}},
		"id prefix":            {q: store.MessageQuery{IDPrefix: "console-"}, want: []string{"console-2", "console-1"}},
		"percent literal":      {q: store.MessageQuery{IDPrefix: "x%"}, want: []string{"x%6"}},
		"business key":         {q: store.MessageQuery{Key: "P001"}, want: []string{"his-5", "his-3", "console-1"}},
		"key is exact":         {q: store.MessageQuery{Key: "P_0"}, want: nil},
		"type prefix":          {q: store.MessageQuery{TypePrefix: "ecard."}, want: []string{"his-5", "his-4", "console-2", "console-1"}},
		"site":                 {q: store.MessageQuery{Site: "s2"}, want: []string{"his-5", "his-3"}},
		"pending":              {q: store.MessageQuery{Status: store.StatusPending}, want: []string{"console-2"}},
		"failed":               {q: store.MessageQuery{Status: "failed"}, want: []string{"his-5", "his-3"}},
		"from inclusive":       {q: store.MessageQuery{From: t0.Add(4 * time.Minute)}, want: []string{"x%6", "his-5"}},
		"to exclusive":         {q: store.MessageQuery{To: t0.Add(time.Minute)}, want: []string{"console-1"}},
		"every filter at once": {q: store.MessageQuery{IDPrefix: "his-", Key: "P001", TypePrefix: "ecard", Site: "s2", Status: "failed", From: t0, To: t0.Add(time.Hour)}, want: []string{"his-5"}},
		"no match":             {q: store.MessageQuery{Site: "s3"}, want: nil},
		"sites":                {q: store.MessageQuery{Sites: []string{"s2", "s3"}}, want: []string{"his-5", "his-3"}},
		"sites, both":          {q: store.MessageQuery{Sites: []string{"s1", "s2"}, Status: "failed"}, want: []string{"his-5", "his-3"}},
		"sites and site":       {q: store.MessageQuery{Sites: []string{"s1", "s3"}, Site: "s2"}, want: nil},
		"one of sites":         {q: store.MessageQuery{Sites: []string{"s1"}, TypePrefix: "ecard."}, want: []string{"his-4", "console-2", "console-1"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, next, err := s.SearchMessages(t.Context(), tc.q)
			if err != nil {
				t.Fatalf("SearchMessages: %v", err)
			}
			if next != "" {
				t.Errorf("SearchMessages(%+v): next page %q on the only page", tc.q, next)
			}
			if diff := cmp.Diff(tc.want, messageIDs(got), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("SearchMessages(%+v) ids (-want +got):\n%s", tc.q, diff)
			}
		})
	}
	if _, _, err := s.SearchMessages(t.Context(), store.MessageQuery{After: "not-a-cursor"}); err == nil {
		t.Error("SearchMessages accepted a forged cursor")
	}
}

// testSearchMessagesPages pages through messages of which several share
// one received time: every message comes exactly once, in order.
func testSearchMessagesPages(t *testing.T, s store.Store) {
	var want []string
	for i := range 23 {
		id := fmt.Sprintf("m%02d", i)
		begin(t, s, store.Message{ID: id, Site: "s1", Type: "ledger.record", ReceivedAt: t0.Add(time.Duration(i/4) * time.Second)})
		want = append([]string{id}, want...)
	}
	var got []string
	q := store.MessageQuery{Site: "s1", Limit: 5}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("SearchMessages never ends")
		}
		ms, next, err := s.SearchMessages(t.Context(), q)
		if err != nil {
			t.Fatalf("SearchMessages page %d: %v", pages, err)
		}
		if len(ms) > 5 {
			t.Fatalf("page of %d messages, limit 5", len(ms))
		}
		got = append(got, messageIDs(ms)...)
		if next == "" {
			break
		}
		q.After = next
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paged ids (-want +got):\n%s", diff)
	}
}

func messageIDs(ms []store.Message) []string {
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

func testListMessagesDefaultLimit(t *testing.T, s store.Store) {
	for i := range 101 {
		begin(t, s, store.Message{ID: fmt.Sprintf("m%03d", i), Site: "s", Type: "t", ReceivedAt: t0.Add(time.Duration(i) * time.Second)})
	}
	got, err := s.ListMessages(t.Context(), "", "", "", 0)
	if err != nil {
		t.Fatalf("ListMessages: %v", err)
	}
	if len(got) != 100 {
		t.Fatalf("ListMessages(limit 0) = %d messages, want 100", len(got))
	}
	if got[0].ID != "m100" || got[99].ID != "m001" {
		t.Errorf("ListMessages(limit 0) = %s … %s, want m100 … m001", got[0].ID, got[99].ID)
	}
}

func testCountMessages(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.CountMessages(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("CountMessages(empty) = %v, %v; want empty, nil", got, err)
	}
	for i, outcome := range []string{"", "", "ok", "ok", "ok", "rejected", "invalid", "failed"} {
		id := fmt.Sprint("m", i)
		begin(t, s, store.Message{ID: id, Site: "s", Type: "t", ReceivedAt: t0})
		if outcome != "" {
			finish(t, s, id, outcome, []byte("{}"), 1)
		}
	}
	got, err = s.CountMessages(ctx)
	if err != nil {
		t.Fatalf("CountMessages: %v", err)
	}
	want := map[string]int{"": 2, "ok": 3, "rejected": 1, "invalid": 1, "failed": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CountMessages (-want +got):\n%s", diff)
	}
}

func testAppendExchange(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := store.Exchange{
		MessageID: "m1", Plugin: "workinjury", Site: "s1", System: "workinjury", Code: "GYU101", Serial: "S0001",
		Request: []byte(`{"enc":"…"}`), Response: []byte(`{"code":"0"}`), Status: "ok", DurationMS: 42,
		At: t0.Add(1500 * time.Nanosecond),
	}
	id1, err := s.AppendExchange(ctx, e)
	if err != nil {
		t.Fatalf("AppendExchange: %v", err)
	}
	// No response, an error, and no time: the store sets At.
	e2 := store.Exchange{MessageID: "m1", Plugin: "workinjury", Site: "s1", System: "workinjury", Code: "GYU101",
		Serial: "S0002", Request: []byte("{}"), Status: "unknown", Error: "timeout after 30s", DurationMS: 30000}
	w := startWindow()
	id2, err := s.AppendExchange(ctx, e2)
	if err != nil {
		t.Fatalf("AppendExchange: %v", err)
	}
	if id1 <= 0 || id2 <= id1 {
		t.Errorf("ids = %d, %d; want positive and increasing", id1, id2)
	}
	got, err := s.ListExchanges(ctx, store.ExchangeFilter{MessageID: "m1"})
	if err != nil || len(got) != 2 {
		t.Fatalf("ListExchanges(m1) = %v, %v; want 2 entries", got, err)
	}
	w.check(t, "At set by the store", got[0].At)
	e2.ID, e2.At = id2, got[0].At
	e.ID, e.At = id1, t0.Add(time.Microsecond)
	if diff := cmp.Diff([]store.Exchange{e2, e}, got); diff != "" {
		t.Errorf("ListExchanges (-want +got):\n%s", diff)
	}
	if got[0].Response != nil {
		t.Errorf("Response = %q, want nil (none received)", got[0].Response)
	}
}

// testFinishMessageWithJournal: the journal entries given to FinishMessage
// are stored with the outcome, and neither is when the message is unknown.
func testFinishMessageWithJournal(t *testing.T, s store.Store) {
	ctx := t.Context()
	begin(t, s, store.Message{ID: "m1", Site: "s1", Type: "workinjury.GYD051", Key: "k", ReceivedAt: t0})
	journal := []store.Exchange{
		{MessageID: "m1", Plugin: "workinjury", Site: "s1", System: "workinjury", Code: "GYD051", Serial: "S1",
			Request: []byte(`{"enc":"a"}`), Response: []byte(`{"code":"0"}`), Status: "ok", DurationMS: 3, At: t0.Add(time.Second)},
		{MessageID: "m1", Plugin: "workinjury", Site: "s1", System: "workinjury", Code: "GYD053", Serial: "S2",
			Request: []byte(`{}`), Status: "unknown", Error: "timeout", DurationMS: 30000, At: t0.Add(2 * time.Second)},
	}
	if err := s.FinishMessage(ctx, "m1", "ok", []byte(`{"status":"ok"}`), 1, journal...); err != nil {
		t.Fatalf("FinishMessage with journal: %v", err)
	}
	got, err := s.ListExchanges(ctx, store.ExchangeFilter{MessageID: "m1"})
	if err != nil {
		t.Fatalf("ListExchanges(m1): %v", err)
	}
	want := []store.Exchange{journal[1], journal[0]} // newest first
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(store.Exchange{}, "ID")); diff != "" {
		t.Errorf("journal stored with the outcome (-want +got):\n%s", diff)
	}
	if len(got) == 2 && (got[0].ID <= 0 || got[1].ID <= 0 || got[0].ID == got[1].ID) {
		t.Errorf("journal ids = %d, %d; want positive and distinct", got[0].ID, got[1].ID)
	}
	if m, err := s.GetMessage(ctx, "m1"); err != nil || m.Status != store.StatusDone {
		t.Errorf("GetMessage(m1) = %+v, %v; want done", m, err)
	}

	lost := store.Exchange{MessageID: "missing", Plugin: "workinjury", Site: "s1", System: "workinjury", Code: "GYD051", Serial: "S3", Request: []byte(`{}`), Status: "ok"}
	if err := s.FinishMessage(ctx, "missing", "ok", []byte(`{}`), 1, lost); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishMessage(missing) with journal error = %v, want ErrNotFound", err)
	}
	if got, err := s.ListExchanges(ctx, store.ExchangeFilter{MessageID: "missing"}); err != nil || len(got) != 0 {
		t.Errorf("ListExchanges(missing) = %v, %v; want none: the journal is stored only with an outcome", got, err)
	}
}

func testListExchanges(t *testing.T, s store.Store) {
	ctx := t.Context()
	ids := map[string]int64{}
	for i, e := range []struct{ name, plugin, site, code, serial, msg string }{
		{"x1", "workinjury", "s1", "GYU101", "S1", "m1"},
		{"x2", "workinjury", "s1", "GYU102", "S2", "m2"},
		{"x3", "workinjury", "s2", "GYU101", "S3", "m3"},
		{"x4", "selfpay", "s1", "4201A", "S4", "m4"},
		{"x5", "workinjury", "s1", "GYD053", "S1", "m1"}, // reconciling x1 by its serial
	} {
		id, err := s.AppendExchange(ctx, store.Exchange{MessageID: e.msg, Plugin: e.plugin, Site: e.site,
			Code: e.code, Serial: e.serial, Status: "ok", At: t0.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatalf("AppendExchange(%s): %v", e.name, err)
		}
		ids[e.name] = id
	}
	name := map[int64]string{}
	for n, id := range ids {
		name[id] = n
	}
	tests := map[string]struct {
		f    store.ExchangeFilter
		want []string
	}{
		"all, newest first": {want: []string{"x5", "x4", "x3", "x2", "x1"}},
		"plugin":            {f: store.ExchangeFilter{Plugin: "selfpay"}, want: []string{"x4"}},
		"site":              {f: store.ExchangeFilter{Site: "s2"}, want: []string{"x3"}},
		"code":              {f: store.ExchangeFilter{Code: "GYU101"}, want: []string{"x3", "x1"}},
		"serial":            {f: store.ExchangeFilter{Serial: "S1"}, want: []string{"x5", "x1"}},
		"message":           {f: store.ExchangeFilter{MessageID: "m2"}, want: []string{"x2"}},
		"from inclusive":    {f: store.ExchangeFilter{From: t0.Add(3 * time.Minute)}, want: []string{"x5", "x4"}},
		"to exclusive":      {f: store.ExchangeFilter{To: t0.Add(2 * time.Minute)}, want: []string{"x2", "x1"}},
		"from and to":       {f: store.ExchangeFilter{From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute)}, want: []string{"x3", "x2"}},
		"combined":          {f: store.ExchangeFilter{Plugin: "workinjury", Site: "s1", Code: "GYU101"}, want: []string{"x1"}},
		"limit":             {f: store.ExchangeFilter{Limit: 2}, want: []string{"x5", "x4"}},
		"filter and limit":  {f: store.ExchangeFilter{Plugin: "workinjury", Limit: 3}, want: []string{"x5", "x3", "x2"}},
		"no match":          {f: store.ExchangeFilter{Plugin: "tracecode"}, want: nil},
	}
	for n, tc := range tests {
		t.Run(n, func(t *testing.T) {
			got, err := s.ListExchanges(t.Context(), tc.f)
			if err != nil {
				t.Fatalf("ListExchanges: %v", err)
			}
			var names []string
			for _, e := range got {
				names = append(names, name[e.ID])
			}
			if diff := cmp.Diff(tc.want, names, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ListExchanges(%+v) (-want +got):\n%s", tc.f, diff)
			}
		})
	}
}

func testListExchangesDefaultLimit(t *testing.T, s store.Store) {
	for i := range 101 {
		if _, err := s.AppendExchange(t.Context(), store.Exchange{Plugin: "p", Site: "s", Status: "ok",
			At: t0.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatalf("AppendExchange #%d: %v", i, err)
		}
	}
	got, err := s.ListExchanges(t.Context(), store.ExchangeFilter{})
	if err != nil {
		t.Fatalf("ListExchanges: %v", err)
	}
	if len(got) != 100 {
		t.Fatalf("ListExchanges(limit 0) = %d entries, want 100", len(got))
	}
	if !got[0].At.Equal(t0.Add(100*time.Second)) || !got[99].At.Equal(t0.Add(time.Second)) {
		t.Errorf("ListExchanges(limit 0) = %v … %v, want the 100 newest", got[0].At, got[99].At)
	}
}

func testState(t *testing.T, s store.Store) {
	ctx := t.Context()
	const ns = "workinjury/s1"
	if _, err := s.StateGet(ctx, ns, "token"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("StateGet(missing) error = %v, want ErrNotFound", err)
	}
	for i, value := range []string{"t1", "t2", "t3"} {
		want := int64(i + 1)
		v, err := s.StatePut(ctx, ns, "token", []byte(value))
		if err != nil || v != want {
			t.Fatalf("StatePut(%q) = %d, %v; want %d, nil", value, v, err, want)
		}
	}
	got, err := s.StateGet(ctx, ns, "token")
	if err != nil {
		t.Fatalf("StateGet: %v", err)
	}
	if diff := cmp.Diff(store.StateEntry{Key: "token", Value: []byte("t3"), Version: 3}, got); diff != "" {
		t.Errorf("StateGet (-want +got):\n%s", diff)
	}
	if err := s.StateDelete(ctx, ns, "token"); err != nil {
		t.Fatalf("StateDelete: %v", err)
	}
	if _, err := s.StateGet(ctx, ns, "token"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("StateGet after delete error = %v, want ErrNotFound", err)
	}
	if err := s.StateDelete(ctx, ns, "token"); err != nil {
		t.Errorf("StateDelete(missing) = %v, want nil", err)
	}
	// A value may be empty or nil.
	if v, err := s.StatePut(ctx, ns, "empty", nil); err != nil || v != 1 {
		t.Fatalf("StatePut(nil) = %d, %v; want 1, nil", v, err)
	}
	got, err = s.StateGet(ctx, ns, "empty")
	if err != nil || len(got.Value) != 0 || got.Version != 1 {
		t.Errorf("StateGet(empty) = %+v, %v; want empty value, version 1", got, err)
	}
}

func testStateCAS(t *testing.T, s store.Store) {
	ctx := t.Context()
	const ns = "tracecode/s1"
	steps := []struct {
		name    string
		key     string
		expect  int64
		value   string
		want    int64 // 0: ErrConflict
		wantVal string
	}{
		{"create-only on a new key", "doc", 0, "v1", 1, "v1"},
		{"create-only on an existing key", "doc", 0, "x", 0, "v1"},
		{"stale version", "doc", 2, "x", 0, "v1"},
		{"current version", "doc", 1, "v2", 2, "v2"},
		{"same expectation again", "doc", 1, "x", 0, "v2"},
		{"next version", "doc", 2, "v3", 3, "v3"},
		{"missing key with a version", "other", 1, "x", 0, ""},
	}
	for _, st := range steps {
		v, err := s.StateCAS(ctx, ns, st.key, st.expect, []byte(st.value))
		if st.want == 0 {
			if !errors.Is(err, store.ErrConflict) {
				t.Errorf("%s: StateCAS(%q, %d) = %d, %v; want ErrConflict", st.name, st.key, st.expect, v, err)
			}
		} else if err != nil || v != st.want {
			t.Errorf("%s: StateCAS(%q, %d) = %d, %v; want %d, nil", st.name, st.key, st.expect, v, err, st.want)
		}
		got, err := s.StateGet(ctx, ns, st.key)
		if st.wantVal == "" {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: StateGet(%q) = %+v, %v; want ErrNotFound", st.name, st.key, got, err)
			}
		} else if err != nil || string(got.Value) != st.wantVal {
			t.Errorf("%s: StateGet(%q) = %q, %v; want %q", st.name, st.key, got.Value, err, st.wantVal)
		}
	}
	if _, err := s.StateCAS(ctx, ns, "doc", -1, nil); err == nil || errors.Is(err, store.ErrConflict) {
		t.Errorf("StateCAS(expect -1) error = %v, want an error other than ErrConflict", err)
	}
	// After a delete the key can be created again.
	if err := s.StateDelete(ctx, ns, "doc"); err != nil {
		t.Fatal(err)
	}
	if v, err := s.StateCAS(ctx, ns, "doc", 0, []byte("again")); err != nil || v != 1 {
		t.Errorf("StateCAS(0) after delete = %d, %v; want 1, nil", v, err)
	}
}

func testStateCASConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const ns = "workinjury/s1"
	if _, err := s.StatePut(ctx, ns, "existing", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key    string
		expect int64
	}{{"existing", 1}, {"new", 0}} {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []int
		for i := range concurrency {
			wg.Go(func() {
				v, err := s.StateCAS(ctx, ns, tc.key, tc.expect, []byte(fmt.Sprint("writer", i)))
				switch {
				case errors.Is(err, store.ErrConflict):
				case err != nil:
					t.Errorf("StateCAS(%q) writer %d: %v", tc.key, i, err)
				case v != tc.expect+1:
					t.Errorf("StateCAS(%q) writer %d = version %d, want %d", tc.key, i, v, tc.expect+1)
				default:
					mu.Lock()
					winners = append(winners, i)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Errorf("StateCAS(%q, %d): %d of %d writers won (%v), want exactly 1", tc.key, tc.expect, len(winners), concurrency, winners)
			continue
		}
		got, err := s.StateGet(ctx, ns, tc.key)
		want := store.StateEntry{Key: tc.key, Value: []byte(fmt.Sprint("writer", winners[0])), Version: tc.expect + 1}
		if diff := cmp.Diff(want, got); err != nil || diff != "" {
			t.Errorf("StateGet(%q) after the race: %v (-want +got):\n%s", tc.key, err, diff)
		}
	}
}

func testStateScan(t *testing.T, s store.Store) {
	ctx := t.Context()
	const ns = "tracecode/s1"
	keys := []string{"a", "a%b", "a%c", "a_b", "ab", "axb", "a\\b", "b", "doc/1", "doc/10", "doc/2", "docx", "日本", "日本語", "日x"}
	for i, k := range keys {
		if _, err := s.StatePut(ctx, ns, k, []byte(fmt.Sprint(i))); err != nil {
			t.Fatalf("StatePut(%q): %v", k, err)
		}
	}
	// Another namespace with matching keys must not leak in.
	for _, k := range []string{"a%b", "doc/3"} {
		if _, err := s.StatePut(ctx, "tracecode/s2", k, []byte("other")); err != nil {
			t.Fatal(err)
		}
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted) // byte order
	tests := map[string]struct {
		prefix string
		after  string // StateScanAfter
		limit  int
		want   []string
	}{
		"empty prefix: everything in key order": {want: sorted},
		"percent is literal":                    {prefix: "a%", want: []string{"a%b", "a%c"}},
		"underscore is literal":                 {prefix: "a_", want: []string{"a_b"}},
		"backslash is literal":                  {prefix: "a\\", want: []string{"a\\b"}},
		"path prefix":                           {prefix: "doc/", want: []string{"doc/1", "doc/10", "doc/2"}},
		"prefix equal to a key":                 {prefix: "doc/1", want: []string{"doc/1", "doc/10"}},
		"multibyte":                             {prefix: "日本", want: []string{"日本", "日本語"}},
		"limit":                                 {prefix: "doc", limit: 2, want: []string{"doc/1", "doc/10"}},
		"limit above count":                     {prefix: "a%", limit: 10, want: []string{"a%b", "a%c"}},
		"no match":                              {prefix: "zz", want: nil},
		"wildcard alone matches nothing":        {prefix: "%", want: nil},
		"after a key":                           {prefix: "doc/", after: "doc/1", want: []string{"doc/10", "doc/2"}},
		"after the last key":                    {prefix: "doc/", after: "doc/2", want: nil},
		"after no key":                          {prefix: "doc/", after: "doc/100", want: []string{"doc/2"}},
		"after, before the prefix":              {prefix: "doc/", after: "b", want: []string{"doc/1", "doc/10", "doc/2"}},
		"after, past the prefix":                {prefix: "doc/", after: "e", want: nil},
		"after, with a limit":                   {prefix: "a", after: "a%b", limit: 2, want: []string{"a%c", "a\\b"}},
		"after, whole namespace":                {after: "日x", want: []string{"日本", "日本語"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []store.StateEntry
			var err error
			if tc.after == "" {
				got, err = s.StateScan(t.Context(), ns, tc.prefix, tc.limit)
			} else {
				// A read of a prefix page by page (hostsvc pages a
				// plugin's scans with it); not part of Store.
				sa, ok := s.(interface {
					StateScanAfter(ctx context.Context, ns, prefix, after string, limit int) ([]store.StateEntry, error)
				})
				if !ok {
					t.Skipf("%T has no StateScanAfter: nothing to check", s)
				}
				got, err = sa.StateScanAfter(t.Context(), ns, tc.prefix, tc.after, tc.limit)
			}
			if err != nil {
				t.Fatalf("StateScan(%q after %q, %d): %v", tc.prefix, tc.after, tc.limit, err)
			}
			var gotKeys []string
			for _, e := range got {
				gotKeys = append(gotKeys, e.Key)
				want := fmt.Sprint(slices.Index(keys, e.Key))
				if string(e.Value) != want || e.Version != 1 {
					t.Errorf("entry %q = value %q version %d, want %q version 1", e.Key, e.Value, e.Version, want)
				}
			}
			if diff := cmp.Diff(tc.want, gotKeys, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("StateScan(%q, %d) keys (-want +got):\n%s", tc.prefix, tc.limit, diff)
			}
		})
	}
}

func testStateNamespaces(t *testing.T, s store.Store) {
	ctx := t.Context()
	const a, b = "workinjury/s1", "workinjury/s2"
	if _, err := s.StatePut(ctx, a, "k", []byte("a1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StatePut(ctx, a, "k", []byte("a2")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StateGet(ctx, b, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("StateGet in another namespace error = %v, want ErrNotFound", err)
	}
	if v, err := s.StateCAS(ctx, b, "k", 0, []byte("b1")); err != nil || v != 1 {
		t.Errorf("StateCAS(0) in another namespace = %d, %v; want 1, nil", v, err)
	}
	if err := s.StateDelete(ctx, b, "k"); err != nil {
		t.Fatal(err)
	}
	got, err := s.StateGet(ctx, a, "k")
	if diff := cmp.Diff(store.StateEntry{Key: "k", Value: []byte("a2"), Version: 2}, got); err != nil || diff != "" {
		t.Errorf("StateGet(%s) after changes in %s: %v (-want +got):\n%s", a, b, err, diff)
	}
	if got, err := s.StateScan(ctx, "workinjury/s", "", 0); err != nil || len(got) != 0 {
		t.Errorf("StateScan of a namespace that is a prefix of others = %v, %v; want nothing", got, err)
	}
}

func testBatches(t *testing.T, s store.Store) {
	ctx := t.Context()
	put := func(b store.Batch) {
		t.Helper()
		if err := s.PutBatch(ctx, b); err != nil {
			t.Fatalf("PutBatch(%s): %v", b.BatchID, err)
		}
	}
	wi := func(id, step string, created time.Time, payload string) store.Batch {
		return store.Batch{Plugin: "workinjury", Site: "s1", Job: "GYD001", BatchID: id, Step: step,
			Payload: []byte(payload), CreatedAt: created}
	}
	if got, err := s.OpenBatches(ctx, "workinjury", "s1", "GYD001"); err != nil || len(got) != 0 {
		t.Fatalf("OpenBatches(empty) = %v, %v; want none", got, err)
	}
	put(wi("b2", "fetched", t0.Add(2*time.Minute), "p2"))
	put(wi("b1", "published", t0.Add(1*time.Minute), "p1"))
	put(wi("b3", "done", t0.Add(3*time.Minute), "p3"))
	put(wi("b4", "fetched", t0.Add(4*time.Minute), "p4"))
	// Other jobs, sites and plugins are separate.
	put(store.Batch{Plugin: "workinjury", Site: "s1", Job: "GYD002", BatchID: "b1", Step: "fetched", CreatedAt: t0})
	put(store.Batch{Plugin: "workinjury", Site: "s2", Job: "GYD001", BatchID: "b1", Step: "fetched", CreatedAt: t0})
	put(store.Batch{Plugin: "selfpay", Site: "s1", Job: "GYD001", BatchID: "b1", Step: "fetched", CreatedAt: t0})

	ids := func() []string {
		t.Helper()
		got, err := s.OpenBatches(ctx, "workinjury", "s1", "GYD001")
		if err != nil {
			t.Fatalf("OpenBatches: %v", err)
		}
		var out []string
		for _, b := range got {
			out = append(out, b.BatchID+":"+b.Step+":"+string(b.Payload))
		}
		return out
	}
	if diff := cmp.Diff([]string{"b1:published:p1", "b2:fetched:p2", "b4:fetched:p4"}, ids()); diff != "" {
		t.Errorf("OpenBatches, oldest first (-want +got):\n%s", diff)
	}

	// Updating keeps CreatedAt (and so the order) and sets UpdatedAt.
	w := startWindow()
	put(wi("b2", "acknowledged", t0.Add(time.Hour), "p2'"))
	got, err := s.OpenBatches(ctx, "workinjury", "s1", "GYD001")
	if err != nil || len(got) != 3 {
		t.Fatalf("OpenBatches = %v, %v", got, err)
	}
	want := wi("b2", "acknowledged", t0.Add(2*time.Minute), "p2'")
	want.UpdatedAt = got[1].UpdatedAt
	if diff := cmp.Diff(want, got[1]); diff != "" {
		t.Errorf("updated batch (-want +got):\n%s", diff)
	}
	w.check(t, "UpdatedAt", got[1].UpdatedAt)

	put(wi("b1", "done", time.Time{}, "p1"))
	if diff := cmp.Diff([]string{"b2:acknowledged:p2'", "b4:fetched:p4"}, ids()); diff != "" {
		t.Errorf("OpenBatches after b1 done (-want +got):\n%s", diff)
	}

	// A zero CreatedAt is set by the store.
	w = startWindow()
	put(store.Batch{Plugin: "tracecode", Site: "s1", Job: "stockin", BatchID: "x", Step: "fetched"})
	got, err = s.OpenBatches(ctx, "tracecode", "s1", "stockin")
	if err != nil || len(got) != 1 {
		t.Fatalf("OpenBatches(tracecode) = %v, %v; want 1 batch", got, err)
	}
	w.check(t, "CreatedAt set by the store", got[0].CreatedAt)
}

// testLeases checks what every engine does with leases, whichever clock
// it times them by (the caller's, or the database's): each call passes
// the wall clock's now, and an expiry reported for another holder's lease
// is checked within the latency of the calls. LeasesOnCallerClock checks
// the exact times of an engine timing leases by the caller's clock.
func testLeases(t *testing.T, s store.Store) {
	ctx := t.Context()
	const ttl = time.Hour
	type call struct {
		held    bool
		expires time.Time
		now     time.Time     // the now passed
		took    time.Duration // how long the call took
	}
	acquire := func(name, holder string, ttl time.Duration) call {
		t.Helper()
		c := call{now: time.Now()}
		var err error
		c.held, c.expires, err = s.AcquireLease(ctx, name, holder, ttl, c.now)
		c.took = time.Since(c.now)
		if err != nil {
			t.Fatalf("AcquireLease(%q, %q, %v): %v", name, holder, ttl, err)
		}
		return c
	}
	// taken checks that c took its lease until now+ttl.
	taken := func(what string, c call, ttl time.Duration) {
		t.Helper()
		if want := c.now.Add(ttl).Truncate(time.Microsecond); !c.held || !c.expires.Equal(want) {
			t.Errorf("%s: AcquireLease = %v, %v; want true, %v (now+ttl)", what, c.held, c.expires, want)
		}
	}
	// refused checks that c did not get the lease held by holder, and
	// reports holder's expiry: on the caller's clock, the same; on the
	// database's, the time left, measured after holder's call set it and
	// before c returned, added to c's now.
	refused := func(what string, c, holder call) {
		t.Helper()
		from, to := holder.expires.Add(-c.took), holder.expires.Add(holder.took)
		if c.held || c.expires.Before(from) || c.expires.After(to) {
			t.Errorf("%s: AcquireLease = %v, %v; want false and the holder's expiry, %v (between %v and %v)", what, c.held, c.expires, holder.expires, from, to)
		}
	}
	release := func(name, holder string) {
		t.Helper()
		if err := s.ReleaseLease(ctx, name, holder); err != nil {
			t.Fatalf("ReleaseLease(%q, %q): %v", name, holder, err)
		}
	}

	a := acquire("job", "A", ttl)
	taken("free lease", a, ttl)
	refused("held by another", acquire("job", "B", ttl), a)
	a = acquire("job", "A", 2*ttl)
	taken("renew by holder", a, 2*ttl)
	refused("held until the renewed expiry", acquire("job", "B", ttl), a)
	taken("other lease names are independent", acquire("other", "B", ttl), ttl)
	release("job", "B")
	refused("release by a non-holder does nothing", acquire("job", "B", ttl), a)
	release("job", "A")
	taken("free again before expiry, after the holder released it", acquire("job", "B", ttl), ttl)
	release("missing", "A")

	// An expired lease is free: taken at its expiry, not before.
	const short = 200 * time.Millisecond
	c := acquire("short", "C", short)
	taken("short lease", c, short)
	expiry := c.now.Truncate(time.Microsecond).Add(short)
	deadline := time.Now().Add(10 * time.Second)
	for {
		d := acquire("short", "D", ttl)
		if d.held {
			if end := d.now.Add(d.took); end.Before(expiry) {
				t.Errorf("D took C's lease by %v, before its expiry %v", end, expiry)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("D could not take C's lease, which expired at %v, by %v (the last answer: expires %v)", expiry, deadline, d.expires)
		}
	}

	if _, _, err := s.AcquireLease(ctx, "job", "A", 0, time.Now()); err == nil {
		t.Error("AcquireLease with ttl 0 succeeded, want an error")
	}
}

// LeasesOnCallerClock checks the leases of an engine that times them by
// the caller's clock (AcquireLease's now), as SQLite does, to the
// microsecond: a lease expiring exactly at now is free.
func LeasesOnCallerClock(t *testing.T, s store.Store) {
	ctx := t.Context()
	const ttl = 10 * time.Second
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	steps := []struct {
		name    string
		op      string // acquire | release
		lease   string
		holder  string
		now     time.Time
		wantGot bool
		// wantExpires is the expiry AcquireLease reports: the new one
		// when it took the lease, the current holder's when it did not.
		wantExpires time.Time
	}{
		{"free lease", "acquire", "job", "A", at(0), true, at(10)},
		{"held by another", "acquire", "job", "B", at(5), false, at(10)},
		{"renew by holder", "acquire", "job", "A", at(5), true, at(15)},
		{"held until the renewed expiry", "acquire", "job", "B", at(14), false, at(15)},
		{"other lease names are independent", "acquire", "other", "B", at(14), true, at(24)},
		{"steal after expiry (expiry == now)", "acquire", "job", "B", at(15), true, at(25)},
		{"old holder lost it", "acquire", "job", "A", at(16), false, at(25)},
		{"release by a non-holder does nothing", "release", "job", "A", at(16), false, time.Time{}},
		{"still held", "acquire", "job", "A", at(17), false, at(25)},
		{"release by the holder", "release", "job", "B", at(17), false, time.Time{}},
		{"free again before expiry", "acquire", "job", "A", at(18), true, at(28)},
		{"release of a missing lease", "release", "missing", "A", at(18), false, time.Time{}},
	}
	for _, st := range steps {
		switch st.op {
		case "acquire":
			got, expires, err := s.AcquireLease(ctx, st.lease, st.holder, ttl, st.now)
			if err != nil || got != st.wantGot || !expires.Equal(st.wantExpires) {
				t.Errorf("%s: AcquireLease(%q, %q, %v) = %v, %v, %v; want %v, %v, nil", st.name, st.lease, st.holder, st.now, got, expires, err, st.wantGot, st.wantExpires)
			}
		case "release":
			if err := s.ReleaseLease(ctx, st.lease, st.holder); err != nil {
				t.Errorf("%s: ReleaseLease(%q, %q) = %v", st.name, st.lease, st.holder, err)
			}
		}
	}
}

// testLeaseConcurrent races instances for one lease: exactly one gets it,
// and every other reports the winner's expiry (on the database's clock,
// less the time since the race began).
func testLeaseConcurrent(t *testing.T, s store.Store) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var holders []string
	start := time.Now()
	want := start.Add(time.Minute).Truncate(time.Microsecond)
	for i := range concurrency {
		wg.Go(func() {
			holder := fmt.Sprint("instance-", i)
			ok, expires, err := s.AcquireLease(t.Context(), "scheduler/GYD001", holder, time.Minute, start)
			if err != nil {
				t.Errorf("AcquireLease(%s): %v", holder, err)
			}
			if from := want.Add(-time.Since(start)); err == nil && (expires.After(want) || expires.Before(from)) {
				t.Errorf("AcquireLease(%s) reports the expiry %v, want %v (the winner's; at least %v)", holder, expires, want, from)
			}
			if ok {
				mu.Lock()
				holders = append(holders, holder)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(holders) != 1 {
		t.Errorf("%d of %d instances acquired the lease (%v), want exactly 1", len(holders), concurrency, holders)
	}
}

func testNextSequence(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, st := range []struct {
		name string
		want int64
	}{{"serial", 1}, {"serial", 2}, {"other", 1}, {"serial", 3}, {"other", 2}} {
		got, err := s.NextSequence(ctx, st.name)
		if err != nil || got != st.want {
			t.Errorf("NextSequence(%q) = %d, %v; want %d, nil", st.name, got, err, st.want)
		}
	}
}

// testReserveSequence: a reservation moves the counter by n, so the
// values it covers are given to nobody else, whether drawn one by one or
// reserved concurrently.
func testReserveSequence(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, st := range []struct {
		op   string
		n    int64
		want int64
	}{{"reserve", 10, 10}, {"next", 0, 11}, {"reserve", 1, 12}, {"reserve", 100, 112}, {"next", 0, 113}} {
		var got int64
		var err error
		if st.op == "next" {
			got, err = s.NextSequence(ctx, "blocks")
		} else {
			got, err = s.ReserveSequence(ctx, "blocks", st.n)
		}
		if err != nil || got != st.want {
			t.Errorf("%s %d on blocks = %d, %v; want %d, nil", st.op, st.n, got, err, st.want)
		}
	}
	if _, err := s.ReserveSequence(ctx, "blocks", 0); err == nil {
		t.Error("ReserveSequence(0) succeeded; want an error")
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	seen := map[int64]bool{}
	for i := range concurrency {
		wg.Go(func() {
			last, err := s.ReserveSequence(t.Context(), "shared", 5)
			if err != nil {
				t.Errorf("worker %d: ReserveSequence: %v", i, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for v := last - 4; v <= last; v++ {
				if seen[v] {
					t.Errorf("value %d reserved twice", v)
				}
				seen[v] = true
			}
		})
	}
	wg.Wait()
	if len(seen) != 5*concurrency {
		t.Errorf("%d distinct values reserved; want %d", len(seen), 5*concurrency)
	}
}

func testNextSequenceConcurrent(t *testing.T, s store.Store) {
	const perWorker = 50
	var wg sync.WaitGroup
	results := make([][]int64, concurrency)
	for i := range concurrency {
		wg.Go(func() {
			for range perWorker {
				v, err := s.NextSequence(t.Context(), "msgid")
				if err != nil {
					t.Errorf("worker %d: NextSequence: %v", i, err)
					return
				}
				results[i] = append(results[i], v)
			}
		})
	}
	wg.Wait()
	var all []int64
	for _, r := range results {
		if !slices.IsSorted(r) {
			t.Errorf("one worker's values are not increasing: %v", r)
		}
		all = append(all, r...)
	}
	slices.Sort(all)
	want := make([]int64, concurrency*perWorker)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("values from %d×%d concurrent NextSequence calls, sorted (-want +got):\n%s", concurrency, perWorker, diff)
	}
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// testReopenMessage: only a failed message with a stored request can be
// reopened; it becomes pending again with its request and attempts.
func testReopenMessage(t *testing.T, s store.Store) {
	ctx := t.Context()
	req := []byte(`{"id":"f1","site":"s","type":"p.op","payload":{}}`)
	for _, m := range []store.Message{
		{ID: "f1", Site: "s", Type: "p.op", Key: "k", Request: req},
		{ID: "ok1", Site: "s", Type: "p.op", Key: "k", Request: req},
		{ID: "pend", Site: "s", Type: "p.op", Key: "k", Request: req},
		{ID: "noreq", Site: "s", Type: "p.op", Key: "k"},
	} {
		if _, _, err := s.BeginMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddAttempt(ctx, "f1"); err != nil {
		t.Fatal(err)
	}
	must(t, s.FinishMessage(ctx, "f1", "failed", []byte(`{}`), 1))
	must(t, s.FinishMessage(ctx, "ok1", "ok", []byte(`{}`), 1))
	must(t, s.FinishMessage(ctx, "noreq", "failed", []byte(`{}`), 1))

	m, err := s.ReopenMessage(ctx, "f1")
	if err != nil {
		t.Fatalf("reopen a failed message: %v", err)
	}
	if m.Status != store.StatusPending || m.Outcome != "" || m.Attempts != 1 || string(m.Request) != string(req) {
		t.Fatalf("reopened = %+v, want pending with its request and 1 attempt", m)
	}
	if oldest, ok, err := s.OldestPending(ctx); err != nil || !ok || oldest.IsZero() {
		t.Fatalf("a reopened message must count as pending: %v %v %v", oldest, ok, err)
	}
	for id, want := range map[string]error{"ok1": store.ErrConflict, "pend": store.ErrConflict, "noreq": store.ErrConflict, "f1": store.ErrConflict, "nope": store.ErrNotFound} {
		if _, err := s.ReopenMessage(ctx, id); !errors.Is(err, want) {
			t.Errorf("ReopenMessage(%q) = %v, want %v", id, err, want)
		}
	}
}

// testRestoreFailed: the failed outcome of a reopened message is put back
// only while the message is as the reopen left it; a message taken up
// (an attempt counted), finished, or finished and reopened again since
// keeps what it has.
func testRestoreFailed(t *testing.T, s store.Store) {
	ctx := t.Context()
	failedReply := []byte(`{"status":"failed"}`)
	cases := map[string]struct {
		meanwhile func(t *testing.T, id string)
		restored  bool
		// want is the message afterwards: status, outcome, attempts, reply.
		want [4]any
	}{
		"nothing happened": {func(*testing.T, string) {}, true,
			[4]any{store.StatusDone, "failed", 2, string(failedReply)}},
		"an attempt counted": {func(t *testing.T, id string) {
			if _, err := s.AddAttempt(ctx, id); err != nil {
				t.Fatal(err)
			}
		}, false, [4]any{store.StatusPending, "", 3, string(failedReply)}},
		"finished": {func(t *testing.T, id string) {
			must(t, s.FinishMessage(ctx, id, "ok", []byte(`{"status":"ok"}`), 3))
		}, false, [4]any{store.StatusDone, "ok", 3, `{"status":"ok"}`}},
		"finished and reopened again": {func(t *testing.T, id string) {
			must(t, s.FinishMessage(ctx, id, "failed", []byte(`{"status":"failed","again":true}`), 2))
			if _, err := s.ReopenMessage(ctx, id); err != nil {
				t.Fatal(err)
			}
		}, false, [4]any{store.StatusPending, "", 2, `{"status":"failed","again":true}`}},
	}
	for name, tc := range cases {
		id := "rf-" + strings.ReplaceAll(name, " ", "-")
		begin(t, s, store.Message{ID: id, Site: "s", Type: "p.op", Key: "k", Request: []byte(`{}`), Attempts: 2})
		must(t, s.FinishMessage(ctx, id, "failed", failedReply, 2))
		reopened, err := s.ReopenMessage(ctx, id)
		if err != nil {
			t.Fatalf("%s: reopen: %v", name, err)
		}
		tc.meanwhile(t, id)
		restored, err := s.RestoreFailed(ctx, reopened)
		if err != nil || restored != tc.restored {
			t.Errorf("%s: RestoreFailed = %v, %v; want %v", name, restored, err, tc.restored)
		}
		m, err := s.GetMessage(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got := [4]any{m.Status, m.Outcome, m.Attempts, string(m.Reply)}; got != tc.want {
			t.Errorf("%s: message afterwards %v, want %v", name, got, tc.want)
		}
	}
	if _, err := s.RestoreFailed(ctx, nil); err == nil {
		t.Error("RestoreFailed(nil) gave no error")
	}
}

// testLargeRequest: a request of hundreds of KB (a 500-line fee upload;
// SQLite keeps it apart from its message's row) comes back whole from
// every read, through the outcome, FinishAndBegin, a replay of a failed
// message and ListMessages, and pruning its message takes it too (the id
// can then be begun again).
func testLargeRequest(t *testing.T, s store.Store) {
	ctx := t.Context()
	large := func(id string) []byte {
		b := make([]byte, 0, 300<<10)
		b = fmt.Appendf(b, `{"id":%q,"fee":[`, id)
		for i := 0; len(b) < 300<<10; i++ {
			b = fmt.Appendf(b, `{"detail_no":"D%07d","amount":"10.00"},`, i)
		}
		return append(b[:len(b)-1], "]}"...)
	}
	check := func(what string, m *store.Message, err error, want []byte) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !slices.Equal(m.Request, want) {
			t.Fatalf("%s: request of %d bytes, want the %d bytes begun", what, len(m.Request), len(want))
		}
	}
	r1, r2, r3 := large("L1"), large("L2"), large("L3")
	begin(t, s, store.Message{ID: "L1", Site: "s1", Type: "t.op", Key: "K", Request: r1})
	existing, created, err := s.BeginMessage(ctx, store.Message{ID: "L1", Site: "s1", Type: "t.op", Key: "K", Request: []byte(`{}`)})
	if created {
		t.Fatal("L1 begun twice")
	}
	check("BeginMessage of a pending L1", existing, err, r1)
	must(t, s.FinishMessage(ctx, "L1", "failed", []byte(`{"status":"failed"}`), 1))
	m, err := s.GetMessage(ctx, "L1")
	check("GetMessage of a finished L1", m, err, r1)
	m, err = s.ReopenMessage(ctx, "L1")
	check("ReopenMessage of L1", m, err, r1)
	if _, _, err := s.FinishAndBegin(ctx, "L1", "ok", []byte(`{"status":"ok"}`), 2, store.Message{ID: "L2", Site: "s1", Type: "t.op", Key: "K", Request: r2}); err != nil {
		t.Fatal(err)
	}
	m, err = s.GetMessage(ctx, "L2")
	check("GetMessage of L2 begun by FinishAndBegin", m, err, r2)
	m, err = s.GetMessage(ctx, "L1")
	check("GetMessage of L1 after FinishAndBegin", m, err, r1)
	if m.Status != store.StatusDone || m.Outcome != "ok" || string(m.Reply) != `{"status":"ok"}` {
		t.Fatalf("L1 = %s %s %s, want done ok with its reply", m.Status, m.Outcome, m.Reply)
	}
	ms, err := s.ListMessages(ctx, "s1", "t.", "", 10)
	if err != nil || len(ms) != 2 {
		t.Fatalf("ListMessages: %d messages, %v; want L1 and L2", len(ms), err)
	}
	for _, m := range ms {
		want := map[string][]byte{"L1": r1, "L2": r2}[m.ID]
		check("ListMessages, "+m.ID, &m, nil, want)
	}
	if nm, _, err := s.Prune(ctx, time.Now().Add(time.Minute), time.Time{}); err != nil || nm != 1 {
		t.Fatalf("Prune = %d, %v; want L1 pruned", nm, err)
	}
	if _, err := s.GetMessage(ctx, "L1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("L1 after Prune: %v, want ErrNotFound", err)
	}
	begin(t, s, store.Message{ID: "L1", Site: "s1", Type: "t.op", Key: "K", Request: r3})
	m, err = s.GetMessage(ctx, "L1")
	check("GetMessage of L1 begun again after Prune", m, err, r3)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// testPrune: finished ok/invalid/rejected messages and old journal entries
// go; pending and failed messages stay, whatever their age.
func testPrune(t *testing.T, s store.Store) {
	ctx := t.Context()
	for id, outcome := range map[string]string{"ok": "ok", "inv": "invalid", "rej": "rejected", "fail": "failed", "pend": ""} {
		if _, _, err := s.BeginMessage(ctx, store.Message{ID: id, Site: "s", Type: "p.op"}); err != nil {
			t.Fatal(err)
		}
		if outcome != "" {
			must(t, s.FinishMessage(ctx, id, outcome, []byte(`{}`), 1))
		}
	}
	if _, err := s.AppendExchange(ctx, store.Exchange{Plugin: "p", Site: "s", Code: "C", At: time.Now().Add(-48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendExchange(ctx, store.Exchange{Plugin: "p", Site: "s", Code: "C", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	nm, nx, err := s.Prune(ctx, time.Now().Add(time.Minute), time.Now().Add(-24*time.Hour))
	if err != nil || nm != 3 || nx != 1 {
		t.Fatalf("Prune = %d messages, %d exchanges, %v; want 3 and 1", nm, nx, err)
	}
	for _, id := range []string{"fail", "pend"} {
		if _, err := s.GetMessage(ctx, id); err != nil {
			t.Errorf("%s was pruned: %v", id, err)
		}
	}
	if _, err := s.GetMessage(ctx, "ok"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ok message kept: %v", err)
	}
	if nm, nx, err := s.Prune(ctx, time.Time{}, time.Time{}); err != nil || nm != 0 || nx != 0 {
		t.Errorf("zero times must prune nothing: %d %d %v", nm, nx, err)
	}
}

// testStateOpaqueValues: a plugin's state value is opaque bytes, stored
// and read back as they are, even one that starts as the store's own
// formats do (a NUL byte, then MGZ1, MGS1 or MGS2): the store must not
// take it for one of its compressed or encrypted values.
func testStateOpaqueValues(t *testing.T, s store.Store) {
	ctx := t.Context()
	values := map[string][]byte{
		"zip":    []byte("\x00MGZ1\x05hello"),
		"sealed": []byte("\x00MGS1\x02k1 twelve bytes and a tag of sixteen bytes"),
		"s2":     []byte("\x00MGS2\x02k1 twelve bytes and a tag of sixteen bytes"),
		"nul":    {0},
		"binary": {0, 1, 2, 0xff},
		"large":  append([]byte("\x00MGZ1"), bytes.Repeat([]byte("0123456789abcdef"), 1<<10)...),
	}
	for k, v := range values {
		if _, err := s.StatePut(ctx, "p/s", k, v); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	for k, v := range values {
		e, err := s.StateGet(ctx, "p/s", k)
		if err != nil {
			t.Errorf("get %s: %v", k, err)
			continue
		}
		if !bytes.Equal(e.Value, v) {
			t.Errorf("get %s = %.24q, want %.24q", k, e.Value, v)
		}
	}
}
