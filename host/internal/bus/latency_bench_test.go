package bus

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/medgate/medgate/test/testenv"
)

// BenchmarkHop measures one Kafka hop on the real broker, one record at a
// time as at a low request rate: "send" is Producer.Send (acks=all) until
// acknowledged, "send-consume" is Send until the Consumer's handler has the
// record. Each op is one record; p50-us and p99-us are its latency.
func BenchmarkHop(b *testing.B) {
	brokers := testenv.Kafka(b)
	b.Run("send", func(b *testing.B) {
		topic := benchTopic(b, brokers)
		p, err := NewProducer(testConfig(brokers, ""))
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		ctx := b.Context()
		if err := p.Send(ctx, topic, []byte("warm"), []byte("{}"), nil); err != nil {
			b.Fatal(err)
		}
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := range b.N {
			t0 := time.Now()
			if err := p.Send(ctx, topic, []byte("k"+strconv.Itoa(i%50)), []byte(`{"id":"x"}`), map[string]string{"medgate-ingress": "http"}); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		reportLatency(b, lat)
	})
	b.Run("send-consume", func(b *testing.B) {
		topic := benchTopic(b, brokers)
		p, err := NewProducer(testConfig(brokers, ""))
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		// The handler says when it had which record: a warm-up record
		// that arrives late is told apart from the one being timed.
		type hop struct {
			at   time.Time
			warm bool
		}
		got := make(chan hop, 1)
		c, err := NewConsumer(testConfig(brokers, "bench-"+topic), []string{topic}, func(ctx context.Context, m *Message) error {
			got <- hop{at: time.Now(), warm: string(m.Key) == "warm"}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = c.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		// Warm up until the consumer has joined and reads.
		for warm := false; !warm; {
			if err := p.Send(b.Context(), topic, []byte("warm"), []byte("{}"), nil); err != nil {
				b.Fatal(err)
			}
			select {
			case <-got:
				warm = true
			case <-time.After(10 * time.Second):
			}
		}
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := range b.N {
			t0 := time.Now()
			if err := p.Send(b.Context(), topic, []byte("k"+strconv.Itoa(i%50)), []byte(`{"id":"x"}`), nil); err != nil {
				b.Fatal(err)
			}
			h := <-got
			for h.warm { // a warm-up record sent before the consumer joined
				h = <-got
			}
			lat = append(lat, h.at.Sub(t0))
		}
		reportLatency(b, lat)
	})
}

func benchTopic(b *testing.B, brokers []string) string {
	topic := "bench-hop-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	ctx, cancel := context.WithTimeout(b.Context(), 30*time.Second)
	defer cancel()
	if err := EnsureTopics(ctx, testConfig(brokers, ""), []string{topic}, 3, 1); err != nil {
		b.Fatal(err)
	}
	return topic
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(q int) float64 { return float64(lat[min(len(lat)-1, len(lat)*q/100)].Microseconds()) }
	b.ReportMetric(pct(50), "p50-us")
	b.ReportMetric(pct(99), "p99-us")
}
