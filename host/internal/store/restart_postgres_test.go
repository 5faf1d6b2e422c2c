package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medgate/medgate/host/internal/api/outage"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/testenv"
)

// TestPostgresSessionsEndedMidBatch: the server ends every session of
// the store's database (pg_terminate_backend, as a restart or a failover
// does) while group commits are under way, three times. A write told it
// is stored is stored; a write that failed failed with an error the
// ingress and admin API answer 503 to (outage.Store), and the same write
// succeeds when sent again, on the same store: no reopening, nothing lost.
func TestPostgresSessionsEndedMidBatch(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	s := openPostgres(t, dsn)
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	sessions := func() int {
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
			t.Errorf("count sessions: %v", err)
		}
		return n
	}

	// The writers keep writing until the sessions were ended three times
	// (a fixed number of writes could all be done before the third end,
	// and an idle pool opens no session to end).
	const writers = 8
	errs := make([][]error, writers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_, _, err := s.BeginMessage(ctx, store.Message{ID: fmt.Sprintf("w%d-%d", w, i), Site: "s", Type: "p.op", Key: fmt.Sprintf("k%d", w), Request: []byte(`{}`)})
				errs[w] = append(errs[w], err)
			}
		})
	}
	ended := 0
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for ended < 3 && time.Now().Before(deadline) {
		if sessions() == 0 {
			<-tick.C // the store has not connected again yet
			continue
		}
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("end the store's sessions: %v", err)
		}
		ended++
		<-tick.C // let writes run between the ends
	}
	close(stop)
	wg.Wait()
	if ended < 3 {
		t.Fatalf("ended the store's sessions %d times in 60s, want 3", ended)
	}

	failed := 0
	for w := range writers {
		for i, err := range errs[w] {
			id := fmt.Sprintf("w%d-%d", w, i)
			if err == nil {
				if _, gerr := s.GetMessage(ctx, id); gerr != nil {
					t.Errorf("message %s was told stored, then: %v", id, gerr)
				}
				continue
			}
			failed++
			if _, ok := outage.Store(err); !ok {
				t.Errorf("message %s failed with %v, which is no outage of the store (the HTTP answer would be 500)", id, err)
			}
			if _, _, err := s.BeginMessage(ctx, store.Message{ID: id, Site: "s", Type: "p.op", Key: fmt.Sprintf("k%d", w), Request: []byte(`{}`)}); err != nil {
				t.Errorf("message %s sent again on the same store: %v", id, err)
			}
		}
	}
	total := 0
	for w := range writers {
		total += len(errs[w])
	}
	t.Logf("%d of %d writes failed while sessions were ended", failed, total)
	counts, err := s.CountMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[""] != total {
		t.Errorf("%d messages stored, want %d", counts[""], total)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after the sessions came back: %v", err)
	}
}
