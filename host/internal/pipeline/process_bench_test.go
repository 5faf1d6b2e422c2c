package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// noop is a plugin that answers ok at once, with no gRPC hop.
type noop struct{}

func (noop) Handle(context.Context, *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{"seq":1}`)}, nil
}

// discard is a publisher that acknowledges at once, with no broker.
type discard struct{}

func (discard) Send(context.Context, string, []byte, []byte, map[string]string) error { return nil }

// BenchmarkProcess is the host's own cost of one message in process: the
// envelope parsed, routed to a plugin that answers at once, the pending
// record, the attempt and the outcome written to SQLite (encrypted at
// rest, as the daemon opens it), the reply built and handed to a publisher
// that acknowledges at once. No Kafka, no gRPC, no external system: what
// remains is JSON and the store. "keys16" runs 16 keys side by side as the
// consumer does with many keys in flight.
//
//	go test ./host/internal/pipeline -run '^$' -bench Process -benchmem
func BenchmarkProcess(b *testing.B) {
	for _, par := range []int{1, 16} {
		b.Run(fmt.Sprintf("keys%d", par), func(b *testing.B) {
			st, err := store.Open(b.Context(), store.DriverSQLite, filepath.Join(b.TempDir(), "bench.db"),
				store.WithKeys(store.Key{ID: "bench", Secret: bytes.Repeat([]byte{7}, 32)}))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close() })
			p, err := pipeline.New(pipeline.Options{Store: st, Publisher: discard{}, Topics: pipeline.Topics{Replies: "replies", DLQ: "dlq"},
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxPayloadBytes: 1 << 20, MaxAttempts: 4,
				InitialBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, CallTimeout: time.Second,
				UploadDeadline: 30 * time.Minute, RetryBudget: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			p.SetRoutes(&pipeline.Routes{Sites: map[string]map[string]*pipeline.Target{"s1": {"ledger": {Plugin: "ledger", Handler: noop{},
				Operations: map[string]sdk.Operation{"ledger.record": {Type: "ledger.record", Upload: true}}}}}})
			run := time.Now().UnixNano()
			occurred := time.Now().Format(time.RFC3339)
			var seq atomic.Int64
			b.SetParallelism(max(1, par/2))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := seq.Add(1)
					v := fmt.Appendf(nil, `{"id":"bench-%d-%d","site":"s1","type":"ledger.record","occurredAt":%q,"payload":{"seq":%d}}`, run, i, occurred, i)
					r, err := p.Process(context.Background(), pipeline.Input{Value: v, Key: fmt.Sprintf("key-%d", i%int64(par))})
					if err != nil {
						b.Error(err)
						return
					}
					if r.Status != "ok" {
						b.Errorf("status %s: %+v", r.Status, r.Errors)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
