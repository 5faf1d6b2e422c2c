package bus

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestDeferredMessageFinishesWhenDone: a handler that defers its message
// lets the key's next message start at once, but the partition's commit
// point stays before the deferred message until its Later is done, even
// when every later message finished.
func TestDeferredMessageFinishesWhenDone(t *testing.T) {
	if Defer(context.Background()) != nil || Released(context.Background()) != nil {
		t.Fatal("Defer or Released outside a consumer's handler is not nil")
	}
	forEachBackend(t, func(t *testing.T, brokers []string) {
		topic := newTopic(t, brokers, 1)
		group := uniqueName(t, "group")
		p := newProducer(t, brokers)
		for _, kv := range [][2]string{{"a", "a0"}, {"a", "a1"}, {"b", "b0"}} {
			send(t, p, topic, kv[0], kv[1])
		}
		var (
			mu      sync.Mutex
			later   *Later
			handled []string
			b0ctx   context.Context
		)
		startConsumer(t, testConfig(brokers, group), []string{topic}, func(ctx context.Context, m *Message) error {
			mu.Lock()
			defer mu.Unlock()
			switch string(m.Value) {
			case "a0":
				later = Defer(ctx)
				if later == nil || Defer(ctx) != later {
					t.Error("Defer in a handler: nil, or another Later the second time")
				}
			case "b0":
				b0ctx = ctx
			}
			handled = append(handled, string(m.Value))
			return nil
		})
		eventually(t, 30*time.Second, "a1 and b0 handled while a0 is deferred", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(handled) == 3
		})
		mu.Lock()
		if got := slices.DeleteFunc(slices.Clone(handled), func(v string) bool { return v[0] != 'a' }); !slices.Equal(got, []string{"a0", "a1"}) {
			t.Errorf("key a handled in the order %v, want a0 a1", got)
		}
		if Defer(b0ctx) != nil {
			t.Error("Defer after the handler returned is not nil")
		}
		l := later
		mu.Unlock()
		// Offsets 1 and 2 are finished, offset 0 is not: nothing may be
		// committed. A commit follows a mark at once, so a second is
		// ample for a wrong one to show.
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			if at := committed(t, brokers, group, topic, 1)[0]; at > 0 {
				t.Fatalf("committed offset %d passed the deferred offset 0 before its Later was done", at)
			}
			time.Sleep(50 * time.Millisecond)
		}
		l.Done(nil)
		l.Done(errors.New("ignored: the second call")) // does nothing
		eventually(t, 30*time.Second, "offset 3 committed once a0 is done", func() bool {
			return committed(t, brokers, group, topic, 1)[0] == 3
		})
	})
}

// TestDeferredMessageWhenTheConsumerStops: stopping waits for the deferred
// messages. One acknowledged meanwhile (Done(nil) after Stopping) is
// committed with the key's later message; one that gives up (Done with an
// error) is not, and the next owner gets it again, before the key's later
// message, which had finished.
func TestDeferredMessageWhenTheConsumerStops(t *testing.T) {
	for name, outcome := range map[string]error{"acknowledged while stopping": nil, "given up": errors.New("reply not acknowledged")} {
		t.Run(name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, brokers []string) {
				topic := newTopic(t, brokers, 1)
				group := uniqueName(t, "group")
				p := newProducer(t, brokers)
				send(t, p, topic, "a", "a0")
				send(t, p, topic, "a", "a1")
				var (
					mu      sync.Mutex
					handled []string
					ended   = make(chan struct{})
				)
				first := startConsumer(t, testConfig(brokers, group), []string{topic}, func(ctx context.Context, m *Message) error {
					mu.Lock()
					handled = append(handled, string(m.Value))
					mu.Unlock()
					if string(m.Value) == "a0" {
						l := Defer(ctx)
						go func() {
							<-l.Stopping()
							l.Done(outcome)
							close(ended)
						}()
					}
					return nil
				})
				eventually(t, 30*time.Second, "a1 handled while a0 is deferred", func() bool {
					mu.Lock()
					defer mu.Unlock()
					return len(handled) == 2
				})
				if err := first.stop(t); err != nil {
					t.Fatalf("Run: %v", err)
				}
				select {
				case <-ended:
				default:
					t.Fatal("Run returned before the deferred message was done")
				}
				at := committed(t, brokers, group, topic, 1)[0]
				if outcome == nil {
					if at != 2 {
						t.Fatalf("after stop, committed offset %d, want 2 (a0 acknowledged while stopping, a1 finished)", at)
					}
					return
				}
				if at > 0 {
					t.Fatalf("after stop, committed offset %d: the deferred offset 0 that gave up would be lost", at)
				}
				var again []string
				second := startConsumer(t, testConfig(brokers, group), []string{topic}, func(_ context.Context, m *Message) error {
					mu.Lock()
					defer mu.Unlock()
					again = append(again, string(m.Value))
					return nil
				})
				eventually(t, 30*time.Second, "offset 2 committed", func() bool {
					return committed(t, brokers, group, topic, 1)[0] == 2
				})
				if err := second.stop(t); err != nil {
					t.Fatalf("Run: %v", err)
				}
				mu.Lock()
				defer mu.Unlock()
				if !slices.Equal(again, []string{"a0", "a1"}) {
					t.Errorf("the next owner got %v, want a0 a1 in order", again)
				}
			})
		})
	}
}
