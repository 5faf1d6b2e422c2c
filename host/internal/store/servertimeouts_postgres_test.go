package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/testenv"
)

// TestPostgresServerTimeouts: the database ends the store's sessions
// idle for 200 ms (idle_session_timeout, as a pooler's idle timeout
// does) or those idle in a transaction for 100 ms
// (idle_in_transaction_session_timeout). The store's writes and reads
// keep working, round after round: a session the server ended while it
// waited in the pool is never handed out (the next read or write would
// fail on it), and the store never leaves a transaction open while it
// waits for something other than the database.
func TestPostgresServerTimeouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, set string
		// ended: wait, between rounds, until the server has ended every
		// session of the store.
		ended bool
	}{
		{"idle_session_timeout", "idle_session_timeout = '200ms'", true},
		{"idle_in_transaction_session_timeout", "idle_in_transaction_session_timeout = '100ms'", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn := testenv.Postgres(t)
			ctx := t.Context()
			admin, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { admin.Close(context.Background()) })
			var db string
			if err := admin.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
				t.Fatal(err)
			}
			if _, err := admin.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{db}.Sanitize()+` SET `+tc.set); err != nil {
				t.Fatalf("ALTER DATABASE … SET %s (PostgreSQL 14 or later): %v", tc.set, err)
			}
			s := openPostgres(t, dsn) // its sessions take the setting
			sessions := func() int {
				t.Helper()
				var n int
				if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
					t.Fatalf("count sessions: %v", err)
				}
				return n
			}
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for round := range 3 {
				var wg sync.WaitGroup
				errs := make(chan error, 8*4)
				for w := range 8 { // group commits, several sessions
					wg.Go(func() {
						id := fmt.Sprintf("r%d-w%d", round, w)
						if _, _, err := s.BeginMessage(ctx, store.Message{ID: id, Site: "s", Type: "p.op", Key: id, Request: []byte(`{}`)}); err != nil {
							errs <- fmt.Errorf("BeginMessage %s: %w", id, err)
						}
						if _, err := s.StatePut(ctx, "p/s", id, []byte(id)); err != nil {
							errs <- fmt.Errorf("StatePut %s: %w", id, err)
						}
						if m, err := s.GetMessage(ctx, id); err != nil || m.ID != id {
							errs <- fmt.Errorf("GetMessage %s: %v, %v", id, m, err)
						}
						if e, err := s.StateGet(ctx, "p/s", id); err != nil || string(e.Value) != id {
							errs <- fmt.Errorf("StateGet %s: %q, %v", id, e.Value, err)
						}
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Errorf("round %d: %v", round, err)
				}
				if ms, err := s.ListMessages(ctx, "s", "", "", 0); err != nil || len(ms) != 8*(round+1) {
					t.Errorf("round %d: ListMessages = %d messages, %v; want %d", round, len(ms), err, 8*(round+1))
				}
				if !tc.ended {
					continue
				}
				for deadline := time.Now().Add(20 * time.Second); sessions() > 0; <-tick.C {
					if time.Now().After(deadline) {
						t.Fatalf("round %d: the server did not end the store's idle sessions in 20s (%s)", round, tc.set)
					}
				}
			}
		})
	}
}
