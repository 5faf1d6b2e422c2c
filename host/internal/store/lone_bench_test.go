package store

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkLoneWriter is the latency the SQLite group commit adds for a
// writer alone (as at a low request rate): one small write (a sequence
// increment) through the committer ("group") against the same write in a
// transaction of its own on the writer connection ("direct"). Both commit
// with one fsync; the difference is the committer's hand-offs.
//
//	go test ./host/internal/store -run '^$' -bench LoneWriter
func BenchmarkLoneWriter(b *testing.B) {
	for _, name := range []string{"direct", "group"} {
		b.Run(name, func(b *testing.B) {
			s, err := OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "medgate.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			ctx := context.Background()
			var v int64
			fn := func(ctx context.Context, q querier) error {
				return s.rowOn(ctx, q, sqlNextSequence, "lone").Scan(&v)
			}
			write := func() error { return s.group.write(ctx, nil, fn) }
			if name == "direct" {
				write = func() error {
					tx, err := s.w.BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					if err := fn(ctx, tx); err != nil {
						_ = tx.Rollback()
						return err
					}
					return tx.Commit()
				}
			}
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if err := write(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
			b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds()), "p99-us")
		})
	}
}
