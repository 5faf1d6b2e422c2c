package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/test/testenv"
)

// countingPub counts the records its producer acknowledged.
type countingPub struct {
	*bus.Producer
	acked atomic.Int64
}

func (c *countingPub) Send(ctx context.Context, topic string, key, value []byte, h map[string]string) error {
	err := c.Producer.Send(ctx, topic, key, value, h)
	if err == nil {
		c.acked.Add(1)
	}
	return err
}

// SendAsync counts the records acknowledged through the producer's
// callback too.
func (c *countingPub) SendAsync(ctx context.Context, topic string, key, value []byte, h map[string]string, done func(error)) {
	c.Producer.SendAsync(ctx, topic, key, value, h, func(err error) {
		if err == nil {
			c.acked.Add(1)
		}
		done(err)
	})
}

// BenchmarkConsumed is the Kafka pass-through without the plugin process:
// b.N requests over 50 keys, already on a real broker's request topic (3
// partitions), consumed by a bus.Consumer whose handler is Process, with a
// plugin that answers at once, the SQLite store (encrypted at rest) and
// replies sent through a bus.Producer with a 5 ms linger, as the daemon
// does. msgs/s is the rate from the first message reaching the handler
// (the group joined) to the last reply's acknowledgement; cpu-µs/msg is
// this process's CPU (user and system) over the same span, per message:
// the host's own cost without the plugin process. msgs/s is bound by each key's chain of
// store commit, call and reply acknowledgement more than by CPU.
//
//	go test ./host/internal/pipeline -run '^$' -bench Consumed -benchtime 3000x
func BenchmarkConsumed(b *testing.B) {
	brokers := testenv.Kafka(b)
	const keys = 50
	st, err := store.Open(b.Context(), store.DriverSQLite, filepath.Join(b.TempDir(), "bench.db"),
		store.WithKeys(store.Key{ID: "bench", Secret: bytes.Repeat([]byte{7}, 32)}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	run := fmt.Sprint(time.Now().UnixNano())
	cfg := bus.Config{Brokers: brokers, ClientID: "bench", GroupID: "bench-" + run}
	topics := []string{"requests-" + run, "replies-" + run, "dlq-" + run}
	if err := bus.EnsureTopics(b.Context(), cfg, topics, 3, 1); err != nil {
		b.Fatal(err)
	}
	rc := cfg
	rc.Linger = config.DefaultReplyLinger // as the daemon's replies producer
	replies, err := bus.NewProducer(rc)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = replies.Close() })
	pub := &countingPub{Producer: replies}
	p, err := pipeline.New(pipeline.Options{Store: st, Publisher: pub, Topics: pipeline.Topics{Replies: topics[1], DLQ: topics[2]},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxPayloadBytes: 1 << 20, MaxAttempts: 4,
		InitialBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, CallTimeout: time.Second,
		UploadDeadline: 30 * time.Minute, RetryBudget: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	p.SetRoutes(&pipeline.Routes{Sites: map[string]map[string]*pipeline.Target{"s1": {"ledger": {Plugin: "ledger", Handler: noop{},
		Operations: map[string]sdk.Operation{"ledger.noop": {Type: "ledger.noop"}}}}}})

	writer, err := bus.NewProducer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer writer.Close()
	occurred := time.Now().Format(time.RFC3339)
	errs := make(chan error, b.N)
	for i := range b.N {
		v := fmt.Appendf(nil, `{"id":"bench-%s-%d","site":"s1","type":"ledger.noop","occurredAt":%q,"payload":{"seq":%d}}`, run, i, occurred, i)
		go func() { errs <- writer.Send(b.Context(), topics[0], fmt.Appendf(nil, "key-%d", i%keys), v, nil) }()
	}
	for range b.N {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}

	var first atomic.Int64 // when the first message reached the handler (the group is joined)
	c, err := bus.NewConsumer(cfg, topics[:1], func(ctx context.Context, m *bus.Message) error {
		first.CompareAndSwap(0, time.Now().UnixNano())
		_, err := p.Process(ctx, pipeline.Input{Value: m.Value, Key: string(m.Key)})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var ru0 syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru0); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Minute)
	for pub.acked.Load() < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d replies acknowledged after 5 minutes", pub.acked.Load(), b.N)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	var ru1 syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru1); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(time.Unix(0, first.Load())).Seconds(), "msgs/s")
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/msg")
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
