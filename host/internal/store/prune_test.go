package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/medgate/medgate/test/testenv"
)

// TestPruneInBatches: Prune deletes in bounded batches, each its own
// transaction, so the write lock (on SQLite, the whole database's) is let
// go between batches and the message path's writes get in: a first prune
// of months of rows no longer holds every writer for as long as it takes,
// long enough for their busy timeout to fail them.
func TestPruneInBatches(t *testing.T) {
	testPruneInBatches(t, &openGroupTest(t).sqlStore)
}

// TestPruneInBatchesPostgres: the same on PostgreSQL.
func TestPruneInBatchesPostgres(t *testing.T) {
	t.Parallel()
	s, err := OpenPostgres(t.Context(), testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	testPruneInBatches(t, &s.sqlStore)
}

func testPruneInBatches(t *testing.T, s *sqlStore) {
	ctx := t.Context()
	const messages, exchanges = 10, 7
	for i := range messages {
		id := fmt.Sprintf("old-%d", i)
		if _, _, err := s.BeginMessage(ctx, Message{ID: id, Site: "s", Type: "p.op"}); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishMessage(ctx, id, "ok", []byte(`{}`), 1); err != nil {
			t.Fatal(err)
		}
	}
	for range exchanges {
		if _, err := s.AppendExchange(ctx, Exchange{Plugin: "p", Site: "s", Code: "C", At: time.Now().Add(-48 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	s.pruneBatch = 3
	batches := map[string][]int64{}
	s.pruned = func(table string, n int64) {
		batches[table] = append(batches[table], n)
		// Between two batches no lock is held: a write of the message
		// path goes through at once, well within its busy timeout.
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		id := fmt.Sprintf("new-%s-%d", table, len(batches[table]))
		if _, _, err := s.BeginMessage(wctx, Message{ID: id, Site: "s", Type: "p.op"}); err != nil {
			t.Errorf("a write between two %s prune batches: %v", table, err)
		}
	}
	nm, nx, err := s.Prune(ctx, time.Now().Add(time.Minute), time.Now().Add(-24*time.Hour))
	if err != nil || nm != messages || nx != exchanges {
		t.Fatalf("Prune = %d messages, %d exchanges, %v; want %d and %d", nm, nx, err, messages, exchanges)
	}
	want := map[string][]int64{"messages": {3, 3, 3, 1}, "exchanges": {3, 3, 1}}
	for table, w := range want {
		if fmt.Sprint(batches[table]) != fmt.Sprint(w) {
			t.Errorf("%s pruned in batches %v, want %v", table, batches[table], w)
		}
	}
	// The messages written between batches are pending: they stay.
	for _, id := range []string{"new-messages-1", "new-exchanges-1"} {
		if _, err := s.GetMessage(ctx, id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
}

// TestPruneStopsWithItsContext: a prune whose context ends stops between
// batches with the context's error and the counts of what it deleted.
func TestPruneStopsWithItsContext(t *testing.T) {
	s := &openGroupTest(t).sqlStore
	for range 5 {
		if _, err := s.AppendExchange(t.Context(), Exchange{Plugin: "p", Site: "s", Code: "C", At: time.Now().Add(-48 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s.pruneBatch = 2
	s.pruned = func(string, int64) { cancel() }
	_, nx, err := s.Prune(ctx, time.Time{}, time.Now().Add(-24*time.Hour))
	if err == nil || nx != 2 {
		t.Fatalf("Prune after its context ended = %d exchanges, %v; want 2 and an error", nx, err)
	}
}
