package storetest

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/host/internal/store"
)

// testRecordFinished: a message never begun is recorded done with its
// outcome in one write; an id that exists is left as it is, done or
// pending, and comes back; the journal entries are kept either way.
func testRecordFinished(t *testing.T, s store.Store) {
	ctx := t.Context()
	reply := []byte(`{"requestId":"q1","status":"ok"}`)
	q1 := store.Message{ID: "q1", Site: "s1", Type: "t.check", Key: "K", Outcome: "ok", Reply: reply, Attempts: 1,
		OccurredAt: t0, ReceivedAt: t0.Add(time.Second), Request: []byte(`{"id":"q1"}`)}
	entry := store.Exchange{MessageID: "q1", Plugin: "t", Site: "s1", System: "x", Code: "C1", Serial: "S1", Status: "ok", At: t0}
	w := startWindow()
	existing, err := s.RecordFinished(ctx, q1, entry)
	if err != nil || existing != nil {
		t.Fatalf("RecordFinished(q1, new) = %v, %v; want nil, nil", existing, err)
	}
	got, err := s.GetMessage(ctx, "q1")
	if err != nil {
		t.Fatal(err)
	}
	want := q1
	want.Status = store.StatusDone
	if diff := cmp.Diff(&want, got, ignoreUpdated); diff != "" {
		t.Errorf("q1 recorded finished (-want +got):\n%s", diff)
	}
	w.check(t, "q1 UpdatedAt", got.UpdatedAt)
	if xs, err := s.ListExchanges(ctx, store.ExchangeFilter{MessageID: "q1"}); err != nil || len(xs) != 1 || xs[0].Serial != "S1" {
		t.Errorf("journal of q1 = %+v, %v; want its one entry", xs, err)
	}

	// Again, as a redelivery that ran the query a second time: the stored
	// outcome stays and comes back; the second call's entry is kept.
	again := q1
	again.Outcome, again.Reply, again.Attempts = "rejected", []byte(`{"status":"rejected"}`), 2
	entry.Serial = "S2"
	existing, err = s.RecordFinished(ctx, again, entry)
	if err != nil || existing == nil {
		t.Fatalf("RecordFinished(q1, done) = %v, %v; want the stored q1", existing, err)
	}
	if diff := cmp.Diff(got, existing); diff != "" {
		t.Errorf("RecordFinished(q1, done) returned (-stored +returned):\n%s", diff)
	}
	if now, err := s.GetMessage(ctx, "q1"); err != nil || now.Outcome != "ok" || string(now.Reply) != string(reply) || now.Attempts != 1 {
		t.Errorf("q1 after a second RecordFinished = %+v, %v; want it unchanged", now, err)
	}
	if xs, err := s.ListExchanges(ctx, store.ExchangeFilter{MessageID: "q1"}); err != nil || len(xs) != 2 {
		t.Errorf("journal of q1 = %d entries, %v; want both calls", len(xs), err)
	}

	// A pending message (begun while its operation was no query) is left
	// pending for the delivery that began it: no outcome, no attempt.
	begin(t, s, store.Message{ID: "p1", Site: "s1", Type: "t.check", Key: "K", Attempts: 1})
	existing, err = s.RecordFinished(ctx, store.Message{ID: "p1", Site: "s1", Type: "t.check", Key: "K", Outcome: "ok", Reply: reply, Attempts: 3})
	if err != nil || existing == nil || existing.Status != store.StatusPending || existing.Attempts != 1 {
		t.Fatalf("RecordFinished(p1, pending) = %+v, %v; want the pending p1", existing, err)
	}
	if m, err := s.GetMessage(ctx, "p1"); err != nil || m.Status != store.StatusPending || m.Outcome != "" || m.Reply != nil {
		t.Errorf("p1 after RecordFinished = %+v, %v; want it still pending", m, err)
	}
	// AddAttempt and the reconciliation's FinishMessage work on it as before.
	if n, err := s.AddAttempt(ctx, "p1"); err != nil || n != 2 {
		t.Errorf("AddAttempt(p1) = %d, %v; want 2", n, err)
	}
	finish(t, s, "p1", "ok", reply, 2)

	// FinishAndBegin whose next message was recorded finished meanwhile
	// gets it back, done, as BeginMessage does.
	begin(t, s, store.Message{ID: "u1", Site: "s1", Type: "t.send", Key: "K", Attempts: 1})
	existing, created, err := s.FinishAndBegin(ctx, "u1", "ok", []byte(`{}`), 1, store.Message{ID: "q1", Site: "s1", Type: "t.check", Key: "K", Attempts: 1})
	if err != nil || created || existing == nil || existing.Status != store.StatusDone || existing.Outcome != "ok" {
		t.Errorf("FinishAndBegin(u1, next q1 recorded finished) = %+v, %v, %v; want the stored q1", existing, created, err)
	}

	// An empty outcome stores nothing, journal included.
	if _, err := s.RecordFinished(ctx, store.Message{ID: "q2", Site: "s1", Type: "t.check", Key: "K"}, store.Exchange{MessageID: "q2", Plugin: "t", Site: "s1", Code: "C1"}); err == nil {
		t.Error("RecordFinished with an empty outcome succeeded, want an error")
	}
	if _, err := s.GetMessage(ctx, "q2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("q2 after a refused RecordFinished: %v, want ErrNotFound", err)
	}
	if xs, err := s.ListExchanges(ctx, store.ExchangeFilter{MessageID: "q2"}); err != nil || len(xs) != 0 {
		t.Errorf("journal of q2 = %d entries, %v; want none", len(xs), err)
	}

	// None is pending: a query without record is not in OldestPending.
	if _, ok, err := s.OldestPending(ctx); err != nil || ok {
		t.Errorf("OldestPending = %v, %v; want none pending", ok, err)
	}

	// A large request (kept apart from the row on SQLite) is read back whole.
	large := []byte(`{"id":"q3","x":"` + strings.Repeat("y", 64<<10) + `"}`)
	if _, err := s.RecordFinished(ctx, store.Message{ID: "q3", Site: "s1", Type: "t.check", Key: "K", Outcome: "failed", Reply: reply, Attempts: 1, Request: large}); err != nil {
		t.Fatal(err)
	}
	if m, err := s.GetMessage(ctx, "q3"); err != nil || string(m.Request) != string(large) {
		t.Fatalf("q3 request read back: %v", err)
	}
	// A failed one can be replayed: reopened pending, then reconciled.
	if m, err := s.ReopenMessage(ctx, "q3"); err != nil || m.Status != store.StatusPending {
		t.Errorf("ReopenMessage(q3) = %+v, %v; want it pending", m, err)
	}
}

// testRecordFinishedConcurrent: several deliveries of one query racing
// (two instances during a rebalance) record one outcome; the others get
// it back.
func testRecordFinishedConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []int
		seen    = map[string]int{}
	)
	for i := range concurrency {
		wg.Go(func() {
			existing, err := s.RecordFinished(ctx, store.Message{ID: "race", Site: "s1", Type: "t.check", Key: "K", Outcome: "ok",
				Reply: fmt.Appendf(nil, `{"by":%d}`, i), Attempts: 1})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("RecordFinished #%d: %v", i, err)
			case existing == nil:
				winners = append(winners, i)
			default:
				seen[string(existing.Reply)]++
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d RecordFinished calls recorded the message, want exactly 1", len(winners))
	}
	stored := fmt.Sprintf(`{"by":%d}`, winners[0])
	if len(seen) != 1 || seen[stored] != concurrency-1 {
		t.Errorf("the others got %v; want the winner's reply %s each", seen, stored)
	}

	// Queries recorded beside the begins, outcomes and merged pairs of
	// other messages, as under load (one group commit may take them all,
	// and an engine may merge the others into one statement): each gets
	// its own result.
	for i := range concurrency {
		wg.Go(func() {
			u, q := fmt.Sprintf("u%d", i), fmt.Sprintf("q%d", i)
			if _, _, err := s.BeginMessage(ctx, store.Message{ID: u, Site: "s1", Type: "t.send", Key: "K", Attempts: 1}); err != nil {
				t.Errorf("BeginMessage(%s): %v", u, err)
				return
			}
			if existing, err := s.RecordFinished(ctx, store.Message{ID: q, Site: "s1", Type: "t.check", Key: "K", Outcome: "ok", Reply: []byte(`{}`), Attempts: 1}); err != nil || existing != nil {
				t.Errorf("RecordFinished(%s) = %v, %v; want nil, nil", q, existing, err)
			}
			next := store.Message{ID: u + "-next", Site: "s1", Type: "t.send", Key: "K", Attempts: 1}
			if _, created, err := s.FinishAndBegin(ctx, u, "ok", []byte(`{}`), 1, next); err != nil || !created {
				t.Errorf("FinishAndBegin(%s) = %v, %v; want created", u, created, err)
			}
			// The query again, as a redelivery: the stored outcome back.
			if existing, err := s.RecordFinished(ctx, store.Message{ID: q, Site: "s1", Type: "t.check", Key: "K", Outcome: "failed", Reply: []byte(`{"x":1}`), Attempts: 2}); err != nil || existing == nil || existing.Outcome != "ok" {
				t.Errorf("RecordFinished(%s) again = %+v, %v; want the stored ok", q, existing, err)
			}
		})
	}
	wg.Wait()
	counts, err := s.CountMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"ok": 1 + 2*concurrency, "": concurrency}; !maps.Equal(counts, want) {
		t.Errorf("messages by outcome %v, want %v (the race, the queries and the uploads done; the next messages pending)", counts, want)
	}
}
