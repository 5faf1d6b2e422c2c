package bus

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestHandlerErrorIsRetried: a handler that returns an error leaves its
// message unfinished: the offset is not committed past it, the handler is
// called again for the same message until it returns nil, and messages of
// other keys go on meanwhile.
func TestHandlerErrorIsRetried(t *testing.T) {
	forEachBackend(t, func(t *testing.T, brokers []string) {
		topic := newTopic(t, brokers, 1)
		group := uniqueName(t, "group")
		p := newProducer(t, brokers)
		send(t, p, topic, "failing", "0")
		send(t, p, topic, "other", "1")
		send(t, p, topic, "failing", "2")

		var mu sync.Mutex
		calls := map[int64]int{}
		var order []int64
		fail := true
		r := startConsumer(t, testConfig(brokers, group), []string{topic}, func(_ context.Context, m *Message) error {
			mu.Lock()
			defer mu.Unlock()
			calls[m.Offset]++
			if m.Offset == 0 && fail {
				return errors.New("store unavailable")
			}
			order = append(order, m.Offset)
			return nil
		})
		eventually(t, 30*time.Second, "offset 0 called again and offset 1 done", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return calls[0] >= 3 && calls[1] == 1
		})
		mu.Lock()
		if calls[2] != 0 {
			t.Errorf("offset 2 (same key as the failing offset 0) was called %d times before offset 0 succeeded", calls[2])
		}
		mu.Unlock()
		if got := committed(t, brokers, group, topic, 1)[0]; got > 0 {
			t.Fatalf("committed offset %d moved past the unfinished offset 0", got)
		}
		mu.Lock()
		fail = false
		mu.Unlock()
		eventually(t, 30*time.Second, "all 3 committed", func() bool { return committed(t, brokers, group, topic, 1)[0] == 3 })
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(order) != 3 || order[0] != 1 || order[1] != 0 || order[2] != 2 {
			t.Errorf("finished in order %v, want [1 0 2]", order)
		}
	})
}
