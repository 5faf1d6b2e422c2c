package store

import (
	"fmt"
	"testing"

	"github.com/medgate/medgate/test/testenv"
)

// BenchmarkStateWritesPostgres measures one StateWrites of 64 new keys on
// PostgreSQL, as a trace-code stock-in records its codes (64 a host call,
// each a create): the seeding of a million codes is 15,625 of them.
//
//	go test ./host/internal/store -run '^$' -bench StateWritesPostgres
func BenchmarkStateWritesPostgres(b *testing.B) {
	s, err := OpenPostgres(b.Context(), testenv.Postgres(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	ctx := b.Context()
	value := []byte(`{"state":"in","doc":"RK2026120500001","kind":"purchase","billTime":"2026-12-05 06:00:00","inDoc":"RK2026120500001"}`)
	writes := make([]StateWrite, 64)
	b.ResetTimer()
	for i := range b.N {
		for j := range writes {
			writes[j] = StateWrite{Key: fmt.Sprintf("stock/8%019d", i*len(writes)+j), Value: value}
		}
		if _, err := s.StateWrites(ctx, "tracecode/s1", writes); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(writes)), "µs/key")
}
