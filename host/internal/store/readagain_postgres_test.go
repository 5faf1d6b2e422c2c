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

// seeded is how many messages and state entries the read tests store
// before they read them.
const seeded = 20

// TestPostgresReadsOnSessionsEnded: the server ends every session of the
// store's database (pg_terminate_backend, as a restart, a failover or a
// pooler's idle timeout does) five times while readers read, outside any
// transaction, what was stored before. The server stays up, so no read
// may fail: a read whose session the server ended before it answered
// runs once more, on a new session, and returns what is stored.
func TestPostgresReadsOnSessionsEnded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// read reads the i-th seeded message or entry and checks what it
		// got.
		read func(ctx context.Context, s store.Store, i int) error
	}{
		{"GetMessage, a point read", func(ctx context.Context, s store.Store, i int) error {
			id := fmt.Sprintf("m-%d", i)
			m, err := s.GetMessage(ctx, id)
			if err != nil {
				return err
			}
			if m.ID != id || string(m.Request) != fmt.Sprintf(`{"n":%d}`, i) {
				return fmt.Errorf("GetMessage(%s) = %s with request %s, want %s with {\"n\":%d}", id, m.ID, m.Request, id, i)
			}
			return nil
		}},
		{"StateGet, a point read", func(ctx context.Context, s store.Store, i int) error {
			key := fmt.Sprintf("k-%d", i)
			e, err := s.StateGet(ctx, "p/s", key)
			if err != nil {
				return err
			}
			if want := fmt.Sprintf("v-%d", i); string(e.Value) != want {
				return fmt.Errorf("StateGet(%s) = %q, want %q", key, e.Value, want)
			}
			return nil
		}},
		{"ListMessages, rows", func(ctx context.Context, s store.Store, _ int) error {
			ms, err := s.ListMessages(ctx, "s", "", "", 0)
			if err != nil {
				return err
			}
			if len(ms) != seeded {
				return fmt.Errorf("ListMessages = %d messages, want %d", len(ms), seeded)
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn := testenv.Postgres(t)
			s := openPostgres(t, dsn)
			ctx := t.Context()
			for i := range seeded {
				if _, _, err := s.BeginMessage(ctx, store.Message{ID: fmt.Sprintf("m-%d", i), Site: "s", Type: "p.op", Key: "k", Request: fmt.Appendf(nil, `{"n":%d}`, i)}); err != nil {
					t.Fatal(err)
				}
				if _, err := s.StatePut(ctx, "p/s", fmt.Sprintf("k-%d", i), fmt.Appendf(nil, "v-%d", i)); err != nil {
					t.Fatal(err)
				}
			}
			admin, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { admin.Close(context.Background()) })

			const readers = 4
			var mu sync.Mutex
			var reads [readers]int // each reader's reads done
			var failed []error
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for r := range readers {
				wg.Go(func() {
					for i := r; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						err := tc.read(ctx, s, i%seeded)
						mu.Lock()
						reads[r]++
						if err != nil && len(failed) < 10 {
							failed = append(failed, err)
						}
						mu.Unlock()
					}
				})
			}
			readsSoFar := func() [readers]int {
				mu.Lock()
				defer mu.Unlock()
				return reads
			}
			// readAgain says whether every reader has done two reads
			// since the sessions were last ended: the read that met the
			// end, with its second run, is over. A read runs again once;
			// two ends within one read may fail it.
			readAgain := func(before [readers]int) bool {
				now := readsSoFar()
				for r := range readers {
					if now[r] < before[r]+2 {
						return false
					}
				}
				return true
			}
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
			ended := 0
			var before [readers]int
			for deadline := time.Now().Add(60 * time.Second); ended < 5 && time.Now().Before(deadline); {
				for !readAgain(before) && time.Now().Before(deadline) {
					<-tick.C
				}
				// With a timeout, pg_terminate_backend (PostgreSQL 14 and
				// later) returns once the session has ended.
				var n int
				if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
					close(stop)
					wg.Wait()
					t.Fatalf("end the store's sessions: %v", err)
				}
				before = readsSoFar()
				if n > 0 {
					ended++
				}
			}
			close(stop)
			wg.Wait()
			if ended < 5 {
				t.Fatalf("ended the store's sessions %d times in 60s, want 5", ended)
			}
			for _, err := range failed {
				t.Errorf("a read failed although the server stayed up: %v", err)
			}
			t.Logf("%d reads (by reader) while the store's sessions were ended %d times", readsSoFar(), ended)
		})
	}
}
