package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestSQLiteReadsKeepTheirConnections: concurrent reads reuse the read
// pool's connections, up to its size, instead of closing and reopening
// them. database/sql keeps two idle connections unless told otherwise, so
// a pool of four closed a connection whenever more than two reads ended
// together and opened a new one for the next: a new SQLite connection
// (its file, its pragmas, its WAL index) for many of a query's GetMessage,
// which made the pure-query path cost more CPU than an upload's (issue
// #15, ninth round).
func TestSQLiteReadsKeepTheirConnections(t *testing.T) {
	t.Parallel()
	s := openGroupTest(t)
	readers := s.r.Stats().MaxOpenConnections
	var wg sync.WaitGroup
	errs := make(chan error, 4*readers)
	for g := range 4 * readers { // more readers than connections: every connection is opened
		wg.Go(func() {
			for i := range 200 {
				if _, err := s.GetMessage(t.Context(), fmt.Sprintf("m-%d-%d", g, i)); !errors.Is(err, ErrNotFound) {
					errs <- fmt.Errorf("GetMessage of an unknown id: %v, want ErrNotFound", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := s.r.Stats()
	if st.MaxIdleClosed > 0 || st.MaxLifetimeClosed > 0 || st.MaxIdleTimeClosed > 0 {
		t.Errorf("%d concurrent readers: the read pool closed %d connections as surplus idle ones (%d for their lifetime, %d for idle time), want 0: each is reopened for a later read",
			readers, st.MaxIdleClosed, st.MaxLifetimeClosed, st.MaxIdleTimeClosed)
	}
}

// TestSQLitePointReadsDetached: a point read under a cancellable context
// costs what it costs under context.Background (the driver starts no
// goroutine to watch the context, see readRow), and a context that has
// ended still fails it.
func TestSQLitePointReadsDetached(t *testing.T) {
	s := openGroupTest(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	read := func(ctx context.Context) func() {
		return func() {
			if _, err := s.GetMessage(ctx, "unknown"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("GetMessage of an unknown id: %v, want ErrNotFound", err)
			}
		}
	}
	read(ctx)() // the connection is open and the statement prepared
	plain := testing.AllocsPerRun(200, read(context.Background()))
	cancellable := testing.AllocsPerRun(200, read(ctx))
	// context.WithoutCancel allocates its wrapper.
	if cancellable > plain+1 {
		t.Errorf("a point read allocates %.0f times under a cancellable context and %.0f under context.Background: the driver watches the context (a goroutine per read)", cancellable, plain)
	}
	cancel()
	if _, err := s.GetMessage(ctx, "unknown"); !errors.Is(err, context.Canceled) {
		t.Errorf("GetMessage under an ended context: %v, want context.Canceled", err)
	}
}

// BenchmarkPointRead: GetMessage of ids that have no record, from as
// many goroutines as GOMAXPROCS, each under a cancellable context as in
// the pipeline (a delivery's context). A pure query reads its id so
// before calling its plugin.
//
//	go test ./host/internal/store -run '^$' -bench PointRead -benchmem
func BenchmarkPointRead(b *testing.B) {
	s := openGroupTest(b)
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.GetMessage(ctx, fmt.Sprint("m-", n.Add(1))); !errors.Is(err, ErrNotFound) {
				b.Error(err)
				return
			}
		}
	})
}
