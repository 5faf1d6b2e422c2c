package testenv_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/medgate/medgate/test/testenv"
)

// query runs a one-value query on dsn.
func query[T any](t *testing.T, dsn, sql string, args ...any) T {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	var v T
	if err := conn.QueryRow(t.Context(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func TestPostgres(t *testing.T) {
	var name string
	t.Run("fresh database", func(t *testing.T) {
		dsn := testenv.Postgres(t)
		name = query[string](t, dsn, "SELECT current_database()")
		if !strings.HasPrefix(name, "medgate_test_") {
			t.Errorf("current_database() = %q, want a medgate_test_ database", name)
		}
		if n := query[int](t, dsn, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"); n != 0 {
			t.Errorf("new database has %d tables, want 0", n)
		}
		other := testenv.Postgres(t)
		if got := query[string](t, other, "SELECT current_database()"); got == name {
			t.Errorf("two calls returned the same database %q", got)
		}
	})
	if t.Failed() {
		return
	}
	// The databases are dropped when their test ends.
	admin := testenv.Postgres(t)
	if n := query[int](t, admin, "SELECT count(*) FROM pg_database WHERE datname = $1", name); n != 0 {
		t.Errorf("database %q still exists after its test ended", name)
	}
}

func TestStopAndRestart(t *testing.T) {
	if os.Getenv(testenv.PostgresDSNEnv) != "" {
		t.Skipf("%s is set: the server is not ours to stop", testenv.PostgresDSNEnv)
	}
	t.Cleanup(testenv.StopPostgres)
	var dsn string
	t.Run("first server", func(t *testing.T) {
		dsn = testenv.Postgres(t)
		query[int](t, dsn, "SELECT 1")
	})
	if t.Failed() || dsn == "" {
		return
	}
	testenv.StopPostgres()
	if _, err := pgx.Connect(t.Context(), dsn); err == nil {
		t.Errorf("connected to %s after Stop, want the server gone", dsn)
	}
	testenv.StopPostgres() // a second stop is harmless
	t.Run("second server", func(t *testing.T) {
		query[int](t, testenv.Postgres(t), "SELECT 1")
	})
}
