package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/testenv"
)

// BenchmarkStateGroups measures the plugin state writes of a message on
// PostgreSQL as a plugin keeping shared rows makes them: the next value
// of a per-operator msgid sequence (one of 4) and a mark (one of 100
// keys), by 16 messages side by side, so that the group commit puts the
// writes of several messages, on several shared rows, in one transaction.
//
//	go test ./host/internal/store -run '^$' -bench StateGroups
func BenchmarkStateGroups(b *testing.B) {
	s, err := store.OpenPostgres(b.Context(), testenv.Postgres(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := s.NextSequence(ctx, fmt.Sprintf("msgid/op%d", i%4)); err != nil {
				b.Error(err)
				return
			}
			if _, err := s.StatePut(ctx, "p/s1", fmt.Sprintf("mark/%d", i%100), []byte("2026-12")); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
