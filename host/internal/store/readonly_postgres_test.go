package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/testenv"
)

// TestPostgresWritesAgainAfterReadOnly: the database becomes read-only
// for new sessions (ALTER DATABASE … SET default_transaction_read_only,
// what an admin does for maintenance, and what a failover to a standby
// looks like to the sessions opened meanwhile) and the store's sessions
// are ended, so the store connects again, read-only. Its writes fail as
// refused (read_only). Once the database takes writes again, the same
// write succeeds on the same store within seconds, without a restart:
// the pool's sessions opened while it was read-only kept that setting
// for their lifetime (up to an hour), and refused every write until
// then.
func TestPostgresWritesAgainAfterReadOnly(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	s := openPostgres(t, dsn)
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
	var db string
	if err := admin.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	ident := pgx.Identifier{db}.Sanitize()
	sessions := func() int {
		t.Helper()
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	write := func(id string) error {
		_, _, err := s.BeginMessage(ctx, store.Message{ID: id, Site: "s", Type: "p.op", Key: "k", Request: []byte(`{}`)})
		return err
	}
	for i := range 20 {
		if err := write(fmt.Sprintf("before-%d", i)); err != nil {
			t.Fatal(err)
		}
	}

	exec(`ALTER DATABASE ` + ident + ` SET default_transaction_read_only = on`)
	exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	var refused error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		// The first writes may meet a session ended under them.
		if err := write("m-1"); errors.Is(err, store.ErrRefused) {
			refused = err
			break
		} else if err == nil {
			t.Fatal("BeginMessage written while the database is read-only")
		}
	}
	if kind, _, ok := store.Refusal(refused); !ok || kind != store.RefusedReadOnly {
		t.Fatalf("BeginMessage on a read-only database: %v, want refused as %q", refused, store.RefusedReadOnly)
	}
	// Several sessions of the store, all read-only.
	for range 10 {
		if err := write("m-1"); !errors.Is(err, store.ErrRefused) {
			t.Fatalf("BeginMessage on a read-only database: %v, want refused", err)
		}
	}

	exec(`ALTER DATABASE ` + ident + ` RESET default_transaction_read_only`)
	var err2 error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if err2 = write("m-1"); err2 == nil {
			break
		}
	}
	if err2 != nil {
		t.Fatalf("BeginMessage 20s after the database takes writes again: %v", err2)
	}
	if err := write("m-2"); err != nil {
		t.Errorf("the next write: %v", err)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if n := sessions(); n > int(cfg.MaxConns) {
		t.Errorf("%d sessions of the store's database after the outage, want at most its pool's %d", n, cfg.MaxConns)
	}
}
