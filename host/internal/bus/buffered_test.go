package bus

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestBufferedBytesBounded: a burst of large messages on distinct keys is
// read only as far as Config.MaxBufferedBytes allows while the handler
// holds them; the rest waits in Kafka, and every message is still
// handled and committed once the handler lets go.
func TestBufferedBytesBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a broker")
	}
	forEachBackend(t, func(t *testing.T, brokers []string) {
		const n, size, fit = 30, 100 << 10, 3
		topic := newTopic(t, brokers, 1)
		p := newProducer(t, brokers)
		value := `{"pad":"` + strings.Repeat("x", size) + `"}`
		for i := range n {
			send(t, p, topic, fmt.Sprintf("key-%d", i), value)
		}
		cfg := testConfig(brokers, uniqueName(t, "group"))
		cfg.MaxBufferedBytes = fit*(size+64) + size/2 // room for 3 messages, not 4
		gate := make(chan struct{})
		var started, handled atomic.Int64
		r := startConsumer(t, cfg, []string{topic}, func(ctx context.Context, m *Message) error {
			started.Add(1)
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
			handled.Add(1)
			return nil
		})
		eventually(t, 60*time.Second, "reading to pause on the byte bound with 3 messages held", func() bool {
			return r.c.bufWaits.Load() > 0 && started.Load() == fit
		})
		if got := started.Load(); got != fit {
			t.Fatalf("%d messages reached the handler with room for %d in MaxBufferedBytes", got, fit)
		}
		close(gate)
		eventually(t, 60*time.Second, "every message handled and committed", func() bool {
			return handled.Load() == n && sum(committed(t, brokers, cfg.GroupID, topic, 1)) == n
		})
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
	})
}
