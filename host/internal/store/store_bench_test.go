package store_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/testenv"
)

// BenchmarkMessageWrites measures the store writes the pipeline makes for
// one message, one message after the other as one key is processed:
// BeginMessage (the request, before the plugin call), AddAttempt, and
// FinishMessage (the reply, before the offset is committed); "+exchange"
// adds the journal entry of one external call (AppendExchange, 2 KiB each
// way). Personal data is encrypted at rest as the daemon configures it
// (WithKeys). PostgreSQL runs when the test harness can start it.
// "parallel16" runs 16 messages side by side, as the consumer does with
// many keys in flight (SQLite groups their writes into shared commits).
//
//	go test ./host/internal/store -run '^$' -bench MessageWrites -benchmem
func BenchmarkMessageWrites(b *testing.B) {
	key := store.Key{ID: "bench", Secret: bytes.Repeat([]byte{7}, 32)}
	engines := map[string]func(b *testing.B) store.Store{
		"sqlite": func(b *testing.B) store.Store {
			s, err := store.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "medgate.db"), store.WithKeys(key))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		},
		"postgres": func(b *testing.B) store.Store {
			s, err := store.OpenPostgres(b.Context(), testenv.Postgres(b), store.WithKeys(key))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
	request := []byte(`{"id":"m","site":"s1","type":"ledger.record","occurredAt":"2026-12-02T10:00:00+08:00","payload":{"seq":1,"aac002":"440302198001010011"}}`)
	reply := []byte(`{"id":"r","requestId":"m","site":"s1","type":"ledger.record","status":"ok","payload":{"seq":1},"attempts":1,"completedAt":"2026-12-02T10:00:00+08:00"}`)
	body := bytes.Repeat([]byte("x"), 2<<10)
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine+"/message-parallel16", func(b *testing.B) {
			s := engines[engine](b)
			run := time.Now().UnixNano()
			var seq atomic.Int64
			b.SetParallelism(8) // 16 goroutines on 2 CPUs
			b.ReportAllocs()
			b.ResetTimer() // not the start of the database
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					id := fmt.Sprintf("bench-p-%d-%d", run, seq.Add(1))
					now := time.Now()
					if _, created, err := s.BeginMessage(ctx, store.Message{ID: id, Site: "s1", Type: "ledger.record", Key: id,
						OccurredAt: now, Request: request, ReceivedAt: now, Attempts: 1}); err != nil || !created {
						b.Errorf("BeginMessage: created %v, %v", created, err)
						return
					}
					if err := s.FinishMessage(ctx, id, "ok", reply, 1); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
		for _, exchange := range []bool{false, true} {
			name := engine + "/message"
			if exchange {
				name += "+exchange"
			}
			b.Run(name, func(b *testing.B) {
				s := engines[engine](b)
				ctx := context.Background()
				run := time.Now().UnixNano()
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					i++
					id := fmt.Sprintf("bench-%d-%d", run, i)
					now := time.Now()
					if _, created, err := s.BeginMessage(ctx, store.Message{ID: id, Site: "s1", Type: "ledger.record", Key: "key-1",
						Status: store.StatusPending, OccurredAt: now, Request: request, ReceivedAt: now, UpdatedAt: now}); err != nil || !created {
						b.Fatalf("BeginMessage: created %v, %v", created, err)
					}
					n, err := s.AddAttempt(ctx, id)
					if err != nil {
						b.Fatal(err)
					}
					if exchange {
						if _, err := s.AppendExchange(ctx, store.Exchange{MessageID: id, Plugin: "workinjury", Site: "s1", System: "workinjury",
							Code: "GYD051", Serial: id, Request: body, Response: body, Status: "ok", DurationMS: 3, At: now}); err != nil {
							b.Fatal(err)
						}
					}
					if err := s.FinishMessage(ctx, id, "ok", reply, n); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}
