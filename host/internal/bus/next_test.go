package bus

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestNextIsTheKeysNextMessage: a handler sees, through Current, the very
// message it was called for, and through Next the message of the same key
// the consumer hands it next (the same *Message); none for the last
// message of a key, for messages without a key, or outside a consumer.
func TestNextIsTheKeysNextMessage(t *testing.T) {
	if Current(context.Background()) != nil || Next(context.Background()) != nil {
		t.Fatal("Current or Next outside a consumer's handler is not nil")
	}
	forEachBackend(t, func(t *testing.T, brokers []string) {
		topic := newTopic(t, brokers, 1)
		p := newProducer(t, brokers)
		for _, kv := range [][2]string{{"a", "a0"}, {"a", "a1"}, {"b", "b0"}, {"a", "a2"}, {"", "u0"}} {
			send(t, p, topic, kv[0], kv[1])
		}
		var (
			mu      sync.Mutex
			next    = map[string]*Message{} // by value: what Next gave
			handled = map[string]*Message{}
			bad     []string
		)
		done := make(chan struct{})
		startConsumer(t, testConfig(brokers, uniqueName(t, "group")), []string{topic}, func(ctx context.Context, m *Message) error {
			v := string(m.Value)
			if Current(ctx) != m {
				mu.Lock()
				bad = append(bad, v+": Current is not the message handled")
				mu.Unlock()
			}
			var n *Message
			if v == "a0" || v == "a1" {
				// Its successor is read soon after it: poll for it.
				deadline := time.Now().Add(30 * time.Second)
				for n = Next(ctx); n == nil && time.Now().Before(deadline); n = Next(ctx) {
					time.Sleep(time.Millisecond)
				}
			} else {
				n = Next(ctx)
			}
			mu.Lock()
			next[v], handled[v] = n, m
			if len(handled) == 5 {
				close(done)
			}
			mu.Unlock()
			return nil
		})
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("not every message was handled within 60s")
		}
		mu.Lock()
		defer mu.Unlock()
		for _, b := range bad {
			t.Error(b)
		}
		for v, want := range map[string]string{"a0": "a1", "a1": "a2"} {
			if next[v] != handled[want] {
				t.Errorf("Next while handling %s = %v, want the message handled next, %s", v, next[v], want)
			}
		}
		for _, v := range []string{"a2", "b0", "u0"} {
			if next[v] != nil {
				t.Errorf("Next while handling %s = %q, want nil", v, next[v].Value)
			}
		}
	})
}
