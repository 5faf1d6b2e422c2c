package store_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/host/internal/store/storetest"
	"github.com/medgate/medgate/test/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Stop()
	os.Exit(code)
}

func openPostgres(t *testing.T, dsn string) *store.Postgres {
	t.Helper()
	p, err := store.OpenPostgres(t.Context(), dsn)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		return openPostgres(t, testenv.Postgres(t))
	})
}

// TestPostgresConcurrentOpen starts several instances on one empty
// database at once: the advisory lock must make exactly one of them apply
// each migration, and all must open.
func TestPostgresConcurrentOpen(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	const instances = 4
	var wg sync.WaitGroup
	stores := make([]*store.Postgres, instances)
	errs := make([]error, instances)
	for i := range instances {
		wg.Go(func() { stores[i], errs[i] = store.OpenPostgres(t.Context(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: OpenPostgres: %v", i, err)
			continue
		}
		stores[i].Close()
	}
	checkMigrations(t, dsn)

	// Opening again applies nothing new.
	openPostgres(t, dsn)
	checkMigrations(t, dsn)
}

// checkMigrations checks that schema_migrations lists version 1 once.
func checkMigrations(t *testing.T, dsn string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(t.Context(), "SELECT version FROM schema_migrations ORDER BY version")
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(versions) == 0 || versions[0] != 1 {
		t.Errorf("schema_migrations versions = %v, %v; want 1…n once each", versions, err)
	}
	for i, v := range versions {
		if v != int64(i+1) {
			t.Errorf("schema_migrations versions = %v, want 1…n once each", versions)
			break
		}
	}
}

// TestPostgresLeasesIgnoreInstanceClocks: two instances whose clocks are
// ten minutes apart (far beyond the scheduler's grace) share one database.
// The lease is timed by the database's clock, so neither takes the other's
// lease before it expires nor waits past its expiry, and the expiry an
// instance is told is on its own clock.
func TestPostgresLeasesIgnoreInstanceClocks(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	a, b := openPostgres(t, dsn), openPostgres(t, dsn)
	const skew = 10 * time.Minute
	for _, tc := range []struct {
		name         string
		skewA, skewB time.Duration // each instance's clock, ahead of the database's
		ttl          time.Duration
		// wantFree: B takes A's lease once it expires; else B is refused
		// and told A's expiry.
		wantFree bool
	}{
		{"a clock ahead does not take a live lease", 0, skew, time.Minute, false},
		{"a lease taken by a clock behind is not already expired", -skew, 0, time.Minute, false},
		{"a lease taken by a clock ahead expires on time", skew, 0, 200 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			name := "job/" + tc.name
			began := time.Now()
			nowA := began.Add(tc.skewA)
			held, expires, err := a.AcquireLease(ctx, name, "A", tc.ttl, nowA)
			if want := nowA.Add(tc.ttl).Truncate(time.Microsecond); err != nil || !held || !expires.Equal(want) {
				t.Fatalf("A: AcquireLease(now %v) = %v, %v, %v; want true, %v (A's now+ttl)", nowA, held, expires, err, want)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				nowB := time.Now().Add(tc.skewB)
				held, expires, err := b.AcquireLease(ctx, name, "B", time.Hour, nowB)
				if err != nil {
					t.Fatalf("B: AcquireLease(now %v): %v", nowB, err)
				}
				elapsed := time.Since(began)
				if !tc.wantFree {
					// A's lease has ttl left, less the time since A took it, on B's clock.
					left := expires.Sub(nowB.Truncate(time.Microsecond))
					if held || left > tc.ttl || left < tc.ttl-elapsed {
						t.Errorf("B: AcquireLease(now %v) = %v, %v; want false and A's expiry on B's clock, %v to %v after B's now", nowB, held, expires, tc.ttl-elapsed, tc.ttl)
					}
					return
				}
				if held {
					if elapsed < tc.ttl {
						t.Errorf("B took A's lease %v after A took it, before its ttl %v ran out", elapsed, tc.ttl)
					}
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("B could not take A's lease of %v in %v: the last answer was that it expires at %v (B's clock, now %v)", tc.ttl, elapsed, expires, nowB)
				}
			}
		})
	}
}

// TestPostgresNewerSchema refuses a database migrated by a newer medgate.
func TestPostgresNewerSchema(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	openPostgres(t, dsn)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')"); err != nil {
		t.Fatal(err)
	}
	_, err = store.Open(t.Context(), "postgres", dsn)
	if err == nil || !strings.Contains(err.Error(), "999") {
		t.Errorf("Open on a newer schema error = %v, want one naming version 999", err)
	}
}

func TestPostgresUnreachable(t *testing.T) {
	t.Parallel()
	// Port 1 on loopback: nothing listens there.
	_, err := store.OpenPostgres(t.Context(), "postgres://u:secret@127.0.0.1:1/db?connect_timeout=5")
	if err == nil {
		t.Fatal("OpenPostgres on a closed port succeeded")
	}
	if !strings.HasPrefix(err.Error(), "store: postgres: ") || strings.Contains(err.Error(), "secret") {
		t.Errorf("error = %q, want a store: postgres: error without the password", err)
	}
}

// TestPostgresAuditAppendOnly: the database itself refuses to change,
// delete or truncate the audit log.
func TestPostgresAuditAppendOnly(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	s := openPostgres(t, dsn)
	if _, err := s.AppendAudit(t.Context(), store.AuditEntry{Actor: "amy", Action: "login", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range []string{"UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log", "TRUNCATE audit_log"} {
		if _, err := conn.Exec(t.Context(), q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only refusal", q, err)
		}
	}
	got, err := s.ListAudit(t.Context(), store.AuditFilter{})
	if err != nil || len(got) != 1 || got[0].Actor != "amy" {
		t.Fatalf("audit after the attempts = %+v, %v; want amy's entry unchanged", got, err)
	}
}
