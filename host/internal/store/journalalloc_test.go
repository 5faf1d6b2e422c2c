package store

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestOutcomeJournalAllocations: the journal entries written with a
// message's outcome (RecordFinished, FinishMessage with entries: every
// GYD051, every upload) are inserted without reading their id back, which
// no one asks for. Until 2026-12-05 each was inserted with RETURNING id
// and read as a query (SQLite's RETURNING, a result set, a scan): 19 of
// the 124 allocations of a GYD051's write (153 of an upload's outcome),
// and 8 % of its CPU time (BenchmarkQueryOutcome). The bounds leave a
// little room for the drivers.
func TestOutcomeJournalAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what allocates")
	}
	s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "medgate.db"), WithKeys(Key{ID: "k", Secret: bytes.Repeat([]byte{7}, 32)}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	n := 0
	entry := func(id string) Exchange {
		return Exchange{MessageID: id, Plugin: "workinjury", Site: "wi", System: "workinjury", Code: "GYD051", Serial: "S" + id,
			Request: bytes.Repeat([]byte("e"), 600), Response: bytes.Repeat([]byte("r"), 800), Status: "ok", DurationMS: 3}
	}
	cases := map[string]struct {
		write func(id string) error
		max   float64
	}{
		"RecordFinished": {func(id string) error {
			now := time.Now()
			_, err := s.RecordFinished(ctx, Message{ID: id, Site: "wi", Type: "workinjury.GYD051", Key: id, OccurredAt: now, ReceivedAt: now,
				Request: []byte(`{"id":"x"}`), Outcome: "ok", Reply: []byte(`{"status":"ok"}`), Attempts: 1}, entry(id))
			return err
		}, 110},
		"FinishMessage": {func(id string) error {
			now := time.Now()
			if _, _, err := s.BeginMessage(ctx, Message{ID: id, Site: "wi", Type: "workinjury.GYU101", Key: id, OccurredAt: now, ReceivedAt: now,
				Request: []byte(`{"id":"x"}`), Attempts: 1}); err != nil {
				return err
			}
			return s.FinishMessage(ctx, id, "ok", []byte(`{"status":"ok"}`), 1, entry(id))
		}, 140},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := testing.AllocsPerRun(50, func() {
				n++
				if err := tc.write(fmt.Sprintf("%s-%d", name, n)); err != nil {
					t.Fatal(err)
				}
			})
			if got > tc.max {
				t.Errorf("%s with one journal entry allocates %.0f times, want at most %.0f", name, got, tc.max)
			}
		})
	}
}
