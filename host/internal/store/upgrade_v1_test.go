package store_test

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/testenv"
)

// TestUpgradeFromFirstSchema: a store the first released medgate wrote
// (schema version 1, before every later migration) is upgraded by this
// one at open with every kind of row intact — a finished message whose
// redelivery still gets the stored reply and is not begun again (no second
// external effect across an upgrade), a pending one still pending for its
// plugin to reconcile and still counted as the oldest pending upload, a
// journal entry, plugin state with its version (so a compare-and-set
// against it holds), an open download batch, a job lease and a sequence
// that goes on from where it was — on both engines.
func TestUpgradeFromFirstSchema(t *testing.T) {
	t.Parallel()
	occurred := time.Date(2026, 3, 1, 8, 30, 0, 123456000, time.UTC)
	received := occurred.Add(2 * time.Second)
	reply := []byte(`{"id":"r-done","requestId":"m-done","status":"ok"}`)
	for _, eng := range []struct {
		name, driver string
		dsn          func(t *testing.T) string
		open         func(t *testing.T, dsn string) store.Store
		// ts writes a time as this engine's schema keeps it.
		ts func(time.Time) any
		// ins rebinds a statement's ? placeholders.
		ins func(string) string
	}{
		{
			name: "sqlite", driver: "sqlite",
			dsn:  func(t *testing.T) string { return filepath.Join(t.TempDir(), "medgate.db") },
			open: func(t *testing.T, dsn string) store.Store { return openSQLite(t, dsn) },
			ts:   func(t time.Time) any { return t.UnixMicro() },
			ins:  func(q string) string { return q },
		},
		{
			name: "postgres", driver: "pgx",
			dsn:  func(t *testing.T) string { return testenv.Postgres(t) },
			open: func(t *testing.T, dsn string) store.Store { return openPostgres(t, dsn) },
			ts:   func(t time.Time) any { return t },
			ins:  dollarPlaceholders,
		},
	} {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			dsn := eng.dsn(t)
			db, err := sql.Open(eng.driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			// The schema as the first medgate left it.
			b, err := os.ReadFile(filepath.Join("migrations", eng.name, "0001_init.sql"))
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			stmts := []struct {
				q    string
				args []any
			}{
				{string(b), nil},
				{schemaMigrationsV1[eng.name], nil},
				{`INSERT INTO messages (id, site, type, business_key, status, outcome, reply, attempts, occurred_at, received_at, updated_at) VALUES (?, 'xm01', 'ledger.record', 'V1', 'done', 'ok', ?, 1, ?, ?, ?)`,
					[]any{"m-done", reply, eng.ts(occurred), eng.ts(received), eng.ts(received)}},
				{`INSERT INTO messages (id, site, type, business_key, status, attempts, occurred_at, received_at, updated_at) VALUES ('m-pending', 'xm01', 'ledger.record', 'V2', 'pending', 2, ?, ?, ?)`,
					[]any{eng.ts(occurred), eng.ts(received), eng.ts(received)}},
				{`INSERT INTO exchanges (message_id, plugin, site, system, code, serial, request, response, status, duration_ms, at) VALUES ('m-done', 'ledger', 'xm01', 'ledger', 'REC', 'S-1', ?, ?, 'ok', 12, ?)`,
					[]any{[]byte(`{"seq":1}`), []byte(`{"ok":true}`), eng.ts(received)}},
				{`INSERT INTO plugin_state (ns, key, value, version, updated_at) VALUES ('ledger/xm01', 'card/1', ?, 3, ?)`,
					[]any{[]byte(`{"card":"88010001"}`), eng.ts(received)}},
				{`INSERT INTO batches (plugin, site, job, batch_id, step, payload, created_at, updated_at) VALUES ('workinjury', 'xm01', 'GYD001', 'b-1', 'published', ?, ?, ?)`,
					[]any{[]byte(`[{"id":"F1"}]`), eng.ts(received), eng.ts(received)}},
				{`INSERT INTO leases (name, holder, expires_at) VALUES ('workinjury/xm01/GYD001', 'old-node', ?)`, []any{eng.ts(received)}},
				{`INSERT INTO sequences (name, value) VALUES ('ecard/xm01', 41)`, nil},
			}
			for _, s := range stmts {
				if _, err := db.ExecContext(ctx, eng.ins(s.q), s.args...); err != nil {
					t.Fatalf("writing the version-1 store: %s: %v", s.q, err)
				}
			}
			db.Close()

			s := eng.open(t, dsn)

			done, err := s.GetMessage(ctx, "m-done")
			if err != nil || done.Status != store.StatusDone || done.Outcome != "ok" || !bytes.Equal(done.Reply, reply) || !done.OccurredAt.Equal(occurred) || done.Key != "V1" {
				t.Fatalf("finished message after the upgrade: %+v, %v; want it done, ok, with its reply and times", done, err)
			}
			// A redelivery of the finished message gets the stored reply:
			// it is not begun again.
			existing, created, err := s.BeginMessage(ctx, store.Message{ID: "m-done", Site: "xm01", Type: "ledger.record", Key: "V1", ReceivedAt: time.Now()})
			if err != nil || created || existing == nil || !bytes.Equal(existing.Reply, reply) {
				t.Fatalf("BeginMessage of a message finished before the upgrade: created %v, existing %+v, %v; want the stored reply, not a new message", created, existing, err)
			}
			pending, err := s.GetMessage(ctx, "m-pending")
			if err != nil || pending.Status != store.StatusPending || pending.Attempts != 2 {
				t.Fatalf("pending message after the upgrade: %+v, %v; want it pending after 2 attempts (to reconcile)", pending, err)
			}
			if at, ok, err := s.OldestPending(ctx); err != nil || !ok || !at.Equal(occurred) {
				t.Fatalf("OldestPending after the upgrade: %v, %v, %v; want %v", at, ok, err, occurred)
			}
			if err := s.FinishMessage(ctx, "m-pending", "ok", []byte(`{"status":"ok"}`), 3); err != nil {
				t.Fatalf("finishing a message begun before the upgrade: %v", err)
			}

			xs, err := s.ListExchanges(ctx, store.ExchangeFilter{MessageID: "m-done"})
			if err != nil || len(xs) != 1 || string(xs[0].Request) != `{"seq":1}` || string(xs[0].Response) != `{"ok":true}` || xs[0].Serial != "S-1" || xs[0].Status != "ok" {
				t.Fatalf("journal after the upgrade: %+v, %v; want the one entry with its bodies", xs, err)
			}

			e, err := s.StateGet(ctx, "ledger/xm01", "card/1")
			if err != nil || string(e.Value) != `{"card":"88010001"}` || e.Version != 3 {
				t.Fatalf("plugin state after the upgrade: %+v, %v; want its value at version 3", e, err)
			}
			if _, err := s.StateCAS(ctx, "ledger/xm01", "card/1", 2, []byte("stale")); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("StateCAS with a stale version after the upgrade: %v, want ErrConflict", err)
			}
			if v, err := s.StateCAS(ctx, "ledger/xm01", "card/1", 3, []byte(`{"card":"88010002"}`)); err != nil || v != 4 {
				t.Fatalf("StateCAS at the version written before the upgrade: %d, %v; want version 4", v, err)
			}

			bs, err := s.OpenBatches(ctx, "workinjury", "xm01", "GYD001")
			if err != nil || len(bs) != 1 || bs[0].BatchID != "b-1" || bs[0].Step != "published" || string(bs[0].Payload) != `[{"id":"F1"}]` {
				t.Fatalf("download batch after the upgrade: %+v, %v; want b-1 at its step, to resume", bs, err)
			}
			if held, _, err := s.AcquireLease(ctx, "workinjury/xm01/GYD001", "new-node", time.Minute, time.Now()); err != nil || !held {
				t.Fatalf("taking over the expired lease of the old version: held %v, %v", held, err)
			}
			if n, err := s.NextSequence(ctx, "ecard/xm01"); err != nil || n != 42 {
				t.Fatalf("sequence after the upgrade: %d, %v; want 42 (it was at 41)", n, err)
			}
		})
	}
}

// schemaMigrationsV1 records version 1 as applied, as the first medgate
// did, per engine.
var schemaMigrationsV1 = map[string]string{
	"sqlite": `CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT;
		INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, '0001_init.sql', 0)`,
	"postgres": `CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
		INSERT INTO schema_migrations (version, name) VALUES (1, '0001_init.sql')`,
}

// dollarPlaceholders turns ? placeholders into PostgreSQL's $1, $2, ….
func dollarPlaceholders(q string) string {
	var out []byte
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] != '?' {
			out = append(out, q[i])
			continue
		}
		n++
		out = strconv.AppendInt(append(out, '$'), int64(n), 10)
	}
	return string(out)
}
