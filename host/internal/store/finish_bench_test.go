package store_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
)

// BenchmarkFinishLatency is the latency of FinishMessage alone on SQLite,
// one message at a time: "finish" stores the outcome only, "finish+journal"
// stores one journal entry (700 bytes each way, sealed) in the same
// transaction, as the pipeline does with the entries a plugin made during
// its call. p50-us and p99-us are FinishMessage's own time per message.
//
//	go test ./host/internal/store -run '^$' -bench FinishLatency
func BenchmarkFinishLatency(b *testing.B) {
	key := store.Key{ID: "bench", Secret: bytes.Repeat([]byte{7}, 32)}
	reply := []byte(`{"id":"r","requestId":"m","status":"ok","payload":{"ok":true},"attempts":1}`)
	body := bytes.Repeat([]byte("x"), 700)
	for _, journal := range []bool{false, true} {
		name := "finish"
		if journal {
			name += "+journal"
		}
		b.Run(name, func(b *testing.B) {
			s, err := store.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "medgate.db"), store.WithKeys(key))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			ctx := context.Background()
			run := time.Now().UnixNano()
			lat := make([]time.Duration, 0, b.N)
			for i := range b.N {
				id := fmt.Sprintf("fin-%d-%d", run, i)
				now := time.Now()
				if _, _, err := s.BeginMessage(ctx, store.Message{ID: id, Site: "s1", Type: "workinjury.GYD051", Key: id, ReceivedAt: now, Request: reply, Attempts: 1}); err != nil {
					b.Fatal(err)
				}
				var js []store.Exchange
				if journal {
					js = []store.Exchange{{MessageID: id, Plugin: "workinjury", Site: "s1", System: "workinjury", Code: "GYD051", Serial: id,
						Request: body, Response: body, Status: "ok", DurationMS: 1, At: now}}
				}
				t0 := time.Now()
				if err := s.FinishMessage(ctx, id, "ok", reply, 1, js...); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
			b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds()), "p99-us")
		})
	}
}
