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

// TestPruneBatches: Prune deletes the download batches that are done and
// were last updated before the messages' retention, in bounded batches;
// open batches (a resume still needs them, however old) and recent done
// ones stay.
func TestPruneBatches(t *testing.T) {
	t.Parallel()
	testPruneBatches(t, &openGroupTest(t).sqlStore)
}

// TestPruneBatchesPostgres: the same on PostgreSQL.
func TestPruneBatchesPostgres(t *testing.T) {
	t.Parallel()
	s, err := OpenPostgres(t.Context(), testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	testPruneBatches(t, &s.sqlStore)
}

func testPruneBatches(t *testing.T, s *sqlStore) {
	ctx := t.Context()
	old := time.Now().Add(-48 * time.Hour)
	batches := []struct {
		id, step string
		updated  time.Time // zero: as PutBatch set it (now)
		kept     bool
	}{
		{"done-old-1", "done", old, false},
		{"done-old-2", "done", old, false},
		{"done-old-3", "done", old.Add(time.Hour), false},
		{"done-recent", "done", time.Time{}, true},
		{"fetched-old", "fetched", old, true},
		{"published-old", "published", old, true},
		{"acknowledged-old", "acknowledged", old, true},
	}
	for _, b := range batches {
		if err := s.PutBatch(ctx, Batch{Plugin: "workinjury", Site: "s1", Job: "GYD001", BatchID: b.id, Step: b.step, Payload: []byte("p")}); err != nil {
			t.Fatal(err)
		}
		if !b.updated.IsZero() {
			if _, err := s.exec(ctx, `UPDATE batches SET updated_at = ? WHERE batch_id = ?`, s.d.encodeTime(normTime(b.updated)), b.id); err != nil {
				t.Fatal(err)
			}
		}
	}
	remaining := func() map[string]bool {
		t.Helper()
		ids, err := readAll(ctx, s, func(row rowScanner) (string, error) {
			var id string
			return id, row.Scan(&id)
		}, `SELECT batch_id FROM batches`)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, id := range ids {
			out[id] = true
		}
		return out
	}

	// No message retention (a zero time): no batch goes.
	if _, _, err := s.Prune(ctx, time.Time{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := remaining(); len(got) != len(batches) {
		t.Errorf("after a prune without message retention, batches %v remain; want all %d", got, len(batches))
	}

	s.pruneBatch = 2
	var rounds []int64
	s.pruned = func(table string, n int64) {
		if table == "batches" {
			rounds = append(rounds, n)
		}
	}
	if _, _, err := s.Prune(ctx, time.Now().Add(-24*time.Hour), time.Time{}); err != nil {
		t.Fatal(err)
	}
	got := remaining()
	for _, b := range batches {
		if got[b.id] != b.kept {
			t.Errorf("batch %s (step %s) kept = %v, want %v", b.id, b.step, got[b.id], b.kept)
		}
	}
	if fmt.Sprint(rounds) != "[2 1]" {
		t.Errorf("batches pruned in rounds %v, want [2 1]", rounds)
	}
	open, err := s.OpenBatches(ctx, "workinjury", "s1", "GYD001")
	if err != nil || len(open) != 3 {
		t.Errorf("OpenBatches after the prune = %d batches, %v; want the 3 open ones", len(open), err)
	}
}
