package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/testenv"
)

// TestPostgresRefusesWrites: a write PostgreSQL refuses with disk_full
// (53100) or read_only_sql_transaction (25006), here raised by a trigger
// on the messages table as the server would, fails with an error holding
// store.ErrRefused that says the cause and the fix; Ping (/readyz)
// reports it and WithRefusals hears of it; once the server takes writes
// again the same write succeeds on the same store.
func TestPostgresRefusesWrites(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		errcode string
		kind    string
		want    []string
	}{
		"disk full": {errcode: "disk_full", kind: store.RefusedDiskFull, want: []string{"disk full on the PostgreSQL server", "free space"}},
		"read-only": {errcode: "read_only_sql_transaction", kind: store.RefusedReadOnly, want: []string{"accepts only reads", "primary"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := testenv.Postgres(t)
			var (
				mu    sync.Mutex
				heard []error
			)
			s, err := store.OpenPostgres(t.Context(), dsn, store.WithRefusals(func(err error) {
				mu.Lock()
				defer mu.Unlock()
				heard = append(heard, err)
			}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			last := func() (error, int) {
				mu.Lock()
				defer mu.Unlock()
				if len(heard) == 0 {
					return nil, 0
				}
				return heard[len(heard)-1], len(heard)
			}
			ctx := t.Context()
			admin, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { admin.Close(context.Background()) })
			exec := func(sql string) {
				t.Helper()
				if _, err := admin.Exec(ctx, sql); err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
			}
			exec(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused for the test' USING ERRCODE = '` + tc.errcode + `'; END $$`)
			exec(`CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON messages FOR EACH ROW EXECUTE FUNCTION refuse()`)

			m := store.Message{ID: "m-1", Site: "s", Type: "p.op", Key: "k", Request: []byte(`{}`)}
			_, _, err = s.BeginMessage(ctx, m)
			if !errors.Is(err, store.ErrRefused) {
				t.Fatalf("BeginMessage refused by the server: %v, want store.ErrRefused", err)
			}
			if kind, _, ok := store.Refusal(err); !ok || kind != tc.kind {
				t.Errorf("Refusal(%v) = %q, %v; want %q", err, kind, ok, tc.kind)
			}
			perr := s.Ping(ctx)
			if perr == nil {
				t.Fatal("Ping while the server refuses writes: nil")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("BeginMessage's error %q does not say %q", err, want)
				}
				if !strings.Contains(perr.Error(), want) {
					t.Errorf("Ping's error %q does not say %q", perr, want)
				}
			}
			if got, _ := last(); !errors.Is(got, store.ErrRefused) {
				t.Errorf("WithRefusals heard %v last, want the refusal", got)
			}

			exec(`DROP TRIGGER refuse ON messages`)
			if _, created, err := s.BeginMessage(ctx, m); err != nil || !created {
				t.Fatalf("BeginMessage once the server takes writes again: created %v, %v", created, err)
			}
			if _, n := last(); n != 1 {
				t.Errorf("WithRefusals heard %d refusals, want 1", n)
			}
		})
	}
}
