package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/hostsvc"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// query is a plugin shaped like a work-injury query (GYD051) as the host
// sees it: it draws a message serial and journals one exchange through the
// host services, then answers. gaps draws the serial from blocks, as
// sdk.NextSequenceGaps does in a plugin.
type query struct {
	host       sdkhost.HostServer
	gaps       bool
	next, last int64 // the block being handed out
}

func (q *query) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	var n int64
	var err error
	if gs, ok := q.host.(sdkhost.GapSequenceServer); ok && q.gaps {
		if q.next == 0 || q.next > q.last {
			if q.next, q.last, err = gs.NextSequenceGaps(ctx, req.Site, "serial"); err != nil {
				return nil, err
			}
		}
		n = q.next
		q.next++
	} else if n, err = q.host.NextSequence(ctx, req.Site, "serial"); err != nil {
		return nil, err
	}
	serial := fmt.Sprintf("H0001%06d", n)
	if _, err := q.host.Journal(ctx, req.Site, sdk.Exchange{MessageID: req.MessageID, System: "workinjury", Code: "GYD051", Serial: serial,
		Request: bytes.Repeat([]byte("e"), 600), Response: bytes.Repeat([]byte("r"), 800), Status: "ok", Duration: time.Millisecond}); err != nil {
		return nil, err
	}
	return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{"ok":true}`), External: &sdk.External{System: "workinjury", Code: "0", MsgID: serial}}, nil
}

// BenchmarkQueryLatency is the store's part of one GYD051-shaped message,
// one message at a time as at a low request rate: the pending record, a
// serial, a journal entry and the outcome on SQLite (encrypted at rest),
// in process, with no Kafka, no gRPC and no external system. "sync" is how
// the host worked before: the serial and the journal entry are a store
// write (one fsync) each during the call. "held" is how it works now: the
// serial comes from a reserved block and the journal entry is stored in
// the outcome's transaction. "query" is "held" with the operation
// declared a pure query (sdk.Operation.Query): no pending record before
// the call, the message recorded with its outcome in one write. p50-us and
// p99-us are per message, until Process returns; answered-p50-us and
// answered-p99-us until the reply is handed to a waiting HTTP client
// (Options.Stored): after the outcome's write, except for a query, whose
// client has its reply before the write.
//
//	go test ./host/internal/pipeline -run '^$' -bench QueryLatency -benchmem
func BenchmarkQueryLatency(b *testing.B) {
	for _, name := range []string{"sync", "held", "query"} {
		held := name != "sync"
		b.Run(name, func(b *testing.B) {
			st, err := store.Open(b.Context(), store.DriverSQLite, filepath.Join(b.TempDir(), "bench.db"),
				store.WithKeys(store.Key{ID: "bench", Secret: bytes.Repeat([]byte{7}, 32)}))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close() })
			svc := hostsvc.New(st, "events")
			o := pipeline.Options{Store: st, Publisher: discard{}, Topics: pipeline.Topics{Replies: "replies", DLQ: "dlq"},
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxPayloadBytes: 1 << 20, MaxAttempts: 4,
				InitialBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, CallTimeout: time.Second,
				UploadDeadline: 30 * time.Minute, RetryBudget: time.Minute}
			if held {
				o.Journal = svc
			}
			var answered time.Time
			o.Stored = func(*message.Reply, []byte) { answered = time.Now() }
			p, err := pipeline.New(o)
			if err != nil {
				b.Fatal(err)
			}
			p.SetRoutes(&pipeline.Routes{Sites: map[string]map[string]*pipeline.Target{"s1": {"workinjury": {Plugin: "workinjury",
				Handler: &query{host: svc.For("workinjury"), gaps: held}, Operations: map[string]sdk.Operation{"workinjury.GYD051": {Type: "workinjury.GYD051", Query: name == "query"}}}}}})
			run := time.Now().UnixNano()
			lat, ans := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				v := fmt.Appendf(nil, `{"id":"q-%d-%d","site":"s1","type":"workinjury.GYD051","payload":{"aac002":"x"}}`, run, i)
				t0 := time.Now()
				r, err := p.Process(context.Background(), pipeline.Input{Value: v, Key: fmt.Sprint("k", i)})
				lat = append(lat, time.Since(t0))
				ans = append(ans, answered.Sub(t0))
				if err != nil || r.Status != "ok" {
					b.Fatalf("Process = %+v, %v", r, err)
				}
			}
			b.StopTimer()
			for _, m := range []struct {
				name string
				d    []time.Duration
			}{{"", lat}, {"answered-", ans}} {
				slices.Sort(m.d)
				b.ReportMetric(float64(m.d[len(m.d)/2].Microseconds()), m.name+"p50-us")
				b.ReportMetric(float64(m.d[min(len(m.d)-1, len(m.d)*99/100)].Microseconds()), m.name+"p99-us")
			}
		})
	}
}
