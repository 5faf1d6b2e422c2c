package bus

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLinger: with Linger set, a lone record waits that long to be sent
// with others, records sent meanwhile share its request, and a batch of
// lingerBytes goes out at once; without it a record goes out at once.
func TestLinger(t *testing.T) {
	forEachBackend(t, func(t *testing.T, brokers []string) {
		topic := newTopic(t, brokers, 1)
		const linger = 400 * time.Millisecond
		cfg := testConfig(brokers, "")
		cfg.Linger = linger
		lp, err := NewProducer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = lp.Close() })
		p := newProducer(t, brokers)
		ctx := context.Background()
		// Connections and metadata first, so that what is timed is the send.
		send(t, p, topic, "k", "warm")
		send(t, lp, topic, "k", "warm")

		// A lone record on the lingering producer is held about linger.
		t0 := time.Now()
		send(t, lp, topic, "k", "lone")
		if took := time.Since(t0); took < linger*3/4 {
			t.Errorf("a lone record with Linger %s was acknowledged after %s: it did not linger", linger, took)
		}
		// Records sent together while one lingers go out with it: all are
		// acknowledged within about one linger, not one linger each.
		t0 = time.Now()
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				if err := lp.Send(ctx, topic, []byte("k"), []byte{byte('a' + i)}, nil); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if took := time.Since(t0); took > 4*linger {
			t.Errorf("20 records sent together took %s with Linger %s: they did not share a request", took, linger)
		}
		// A batch of lingerBytes does not wait.
		big := strings.Repeat("x", lingerBytes+1)
		t0 = time.Now()
		send(t, lp, topic, "k", big)
		if took := time.Since(t0); took > linger/2 {
			t.Errorf("a record of %d bytes waited %s: a full batch must go out at once", len(big), took)
		}
		// Without Linger a record does not wait.
		t0 = time.Now()
		send(t, p, topic, "k", "now")
		if took := time.Since(t0); took > linger/2 {
			t.Errorf("a record without Linger was acknowledged after %s", took)
		}
	})
}

// TestLingerOutOfRange: NewProducer refuses a negative or over-long linger.
func TestLingerOutOfRange(t *testing.T) {
	for _, d := range []time.Duration{-time.Millisecond, 2 * time.Second} {
		_, err := NewProducer(Config{Brokers: []string{"127.0.0.1:1"}, Linger: d})
		if err == nil || !strings.Contains(err.Error(), "invalid Linger") {
			t.Errorf("Linger %s: error %v, want invalid Linger", d, err)
		}
	}
}
