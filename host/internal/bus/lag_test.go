package bus

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// lagOf returns the lag Consumer.Lags reports for topic's partition, and
// whether it reports one.
func lagOf(c *Consumer, topic string, partition int32) (int64, bool) {
	for _, l := range c.Lags() {
		if l.Topic == topic && l.Partition == partition {
			return l.Lag, true
		}
	}
	return 0, false
}

// TestConsumerLag: Lags counts the records of each claimed partition
// that the consumer has not read yet (its high-water mark, as of the
// last fetch, less the next offset to read): while a slow handler holds
// the buffer full, the records waiting in Kafka are the lag; once they
// are read it is 0, and a partition no longer claimed (the consumer
// stopped) has no lag at all.
func TestConsumerLag(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a broker")
	}
	forEachBackend(t, func(t *testing.T, brokers []string) {
		const n, size, fit = 30, 10 << 10, 3
		topic := newTopic(t, brokers, 1)
		p := newProducer(t, brokers)
		value := `{"pad":"` + strings.Repeat("x", size) + `"}`
		for i := range n {
			send(t, p, topic, fmt.Sprintf("key-%d", i), value)
		}
		cfg := testConfig(brokers, uniqueName(t, "group"))
		cfg.MaxBufferedBytes = fit*(size+64) + size/2 // room for 3 messages, not 4
		gate := make(chan struct{})
		var handled atomic.Int64
		r := startConsumer(t, cfg, []string{topic}, func(ctx context.Context, m *Message) error {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
			handled.Add(1)
			return nil
		})
		eventually(t, 60*time.Second, "reading to pause on the byte bound with 3 messages held", func() bool {
			return r.c.bufWaits.Load() > 0
		})
		// 3 messages are queued, the 4th waits for room: 27 unread.
		eventually(t, 30*time.Second, fmt.Sprintf("a lag of %d while the handler holds the buffer", n-fit), func() bool {
			lag, ok := lagOf(r.c, topic, 0)
			return ok && lag == n-fit
		})
		close(gate)
		eventually(t, 60*time.Second, "every message handled and a lag of 0", func() bool {
			lag, ok := lagOf(r.c, topic, 0)
			return handled.Load() == n && ok && lag == 0
		})
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
		if lag, ok := lagOf(r.c, topic, 0); ok {
			t.Fatalf("a stopped consumer still reports a lag of %d for its released partition", lag)
		}
	})
}

// TestConsumerLagGoneAtRelease: a partition being released (here, the
// consumer stopping while its handlers still run within the release
// grace) has no lag any more from the moment its reading stops, so that
// only its next owner reports it.
func TestConsumerLagGoneAtRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a broker")
	}
	forEachBackend(t, func(t *testing.T, brokers []string) {
		const n, size, fit = 30, 10 << 10, 3
		topic := newTopic(t, brokers, 1)
		p := newProducer(t, brokers)
		value := `{"pad":"` + strings.Repeat("x", size) + `"}`
		for i := range n {
			send(t, p, topic, fmt.Sprintf("key-%d", i), value)
		}
		cfg := testConfig(brokers, uniqueName(t, "group"))
		cfg.MaxBufferedBytes = fit*(size+64) + size/2
		cfg.ReleaseGrace = 20 * time.Second
		let := make(chan struct{})
		var running, returned atomic.Int64
		r := startConsumer(t, cfg, []string{topic}, func(ctx context.Context, m *Message) error {
			running.Add(1)
			defer returned.Add(1)
			select {
			case <-let:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		eventually(t, 60*time.Second, fmt.Sprintf("a lag of %d while the handlers hold the buffer", n-fit), func() bool {
			lag, ok := lagOf(r.c, topic, 0)
			return ok && lag == n-fit && running.Load() == fit
		})
		r.cancel() // release the partition; the handlers run on within the grace
		eventually(t, 10*time.Second, "the released partition's lag gone", func() bool {
			_, ok := lagOf(r.c, topic, 0)
			return !ok
		})
		if got := returned.Load(); got != 0 {
			t.Fatalf("%d handlers returned before the lag was checked; the check must happen within the release grace", got)
		}
		close(let)
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
	})
}

// TestConsumerLagWhileNotFetching: while nothing is fetched from a
// partition (the handlers hold medgate's buffer full, so sarama's channel
// fills and it stops fetching), the records produced meanwhile still
// count in the lag: the consumer refreshes the high-water marks of its
// claimed partitions on its own, every Config.lagRefresh here.
func TestConsumerLagWhileNotFetching(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a broker")
	}
	forEachBackend(t, func(t *testing.T, brokers []string) {
		const before, after, size, fit = 10, 20, 1 << 10, 3
		topic := newTopic(t, brokers, 1)
		p := newProducer(t, brokers)
		value := `{"pad":"` + strings.Repeat("x", size) + `"}`
		for i := range before {
			send(t, p, topic, fmt.Sprintf("key-%d", i), value)
		}
		cfg := testConfig(brokers, uniqueName(t, "group"))
		cfg.MaxBufferedBytes = fit*(size+64) + size/2 // room for 3 messages, not 4
		cfg.lagRefresh = 50 * time.Millisecond
		tune := cfg.tune
		cfg.tune = func(sc *sarama.Config) {
			tune(sc)
			// sarama stops fetching once one message waits in its
			// channel, as it does with its default 256 once medgate
			// stops taking them.
			sc.ChannelBufferSize = 1
		}
		gate := make(chan struct{})
		var handled atomic.Int64
		r := startConsumer(t, cfg, []string{topic}, func(ctx context.Context, m *Message) error {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
			handled.Add(1)
			return nil
		})
		eventually(t, 60*time.Second, fmt.Sprintf("a lag of %d while the handler holds the buffer", before-fit), func() bool {
			lag, ok := lagOf(r.c, topic, 0)
			return ok && lag == before-fit && r.c.bufWaits.Load() > 0
		})
		for i := range after {
			send(t, p, topic, fmt.Sprintf("key-%d", before+i), value)
		}
		want := int64(before + after - fit)
		eventually(t, 30*time.Second, fmt.Sprintf("a lag of %d counting the records produced while nothing is fetched", want), func() bool {
			lag, ok := lagOf(r.c, topic, 0)
			return ok && lag == want
		})
		if got := handled.Load(); got != 0 {
			t.Fatalf("%d messages handled while the handler was held; the lag must have risen without reading", got)
		}
		close(gate)
		eventually(t, 60*time.Second, "every message handled and a lag of 0", func() bool {
			lag, ok := lagOf(r.c, topic, 0)
			return handled.Load() == before+after && ok && lag == 0
		})
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
	})
}
