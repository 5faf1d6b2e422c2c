package ingress

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
)

// instantConsumer hands every queued request its reply at once, as this
// instance's consumer does once the outcome is stored: what is left is the
// ingress's own work per request.
type instantConsumer struct{ g *Ingress }

func (c *instantConsumer) Send(_ context.Context, _ string, _, value []byte, _ map[string]string) error {
	env, _ := message.Parse(value)
	go c.g.Done(&message.Reply{ID: "r-" + env.ID, RequestID: env.ID, Site: env.Site, Type: env.Type, Status: message.StatusOK}, value)
	return nil
}

// BenchmarkProcess: one HTTP message through the ingress (queue, wait,
// hand-over) on a SQLite store, from 16 goroutines like the bench's HTTP
// clients; cpu-µs/op is the process's CPU time (user + system) per
// message.
func BenchmarkProcess(b *testing.B) {
	st, err := store.Open(b.Context(), "sqlite", filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	c := &instantConsumer{}
	g := New(Options{Store: st, Publisher: c, Topic: "requests", MaxPayloadBytes: 1 << 20, Logger: slog.New(slog.DiscardHandler)})
	c.g = g
	var n atomic.Int64
	run := time.Now().UnixNano()
	cpu0 := cpuTime()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("b%d-%d", run, n.Add(1))
			in := request(id)
			r, err := g.Process(context.Background(), in)
			if err != nil || r.RequestID != id {
				b.Errorf("%s: %+v %v", id, r, err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

// cpuTime is the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
