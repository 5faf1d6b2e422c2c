package bus

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"weak"
)

// TestFinishedMessagesBehindAHeldOneAreNotKept: while a partition's
// oldest message does not finish (its handler keeps failing), the
// messages of other keys behind it finish but cannot be committed yet.
// The consumer must then keep only their offsets, not the messages: a
// message's key and value (and the fetch response they are cut from)
// would otherwise stay in memory, uncounted by MaxBufferedBytes, for as
// long as the head is held, however many messages pass it.
func TestFinishedMessagesBehindAHeldOneAreNotKept(t *testing.T) {
	forEachBackend(t, func(t *testing.T, brokers []string) {
		topic := newTopic(t, brokers, 1)
		group := uniqueName(t, "group")
		p := newProducer(t, brokers)
		value := strings.Repeat("v", 4096)
		send(t, p, topic, "held", value)
		const n = 50
		for i := range n {
			send(t, p, topic, "key-"+strconv.Itoa(i), value)
		}

		var mu sync.Mutex
		var finished []weak.Pointer[Message]
		release := false
		r := startConsumer(t, testConfig(brokers, group), []string{topic}, func(_ context.Context, m *Message) error {
			mu.Lock()
			defer mu.Unlock()
			if string(m.Key) == "held" {
				if !release {
					return errors.New("store unavailable")
				}
				return nil
			}
			finished = append(finished, weak.Make(m))
			return nil
		})
		eventually(t, 30*time.Second, "the other keys' messages finished", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(finished) == n
		})
		// Each collection may free what the previous one made
		// unreachable; poll until nothing more is kept.
		alive := func() int {
			runtime.GC()
			mu.Lock()
			defer mu.Unlock()
			k := 0
			for _, w := range finished {
				if w.Value() != nil {
					k++
				}
			}
			return k
		}
		kept := alive()
		tick := time.NewTicker(10 * time.Millisecond)
		for deadline := time.Now().Add(5 * time.Second); kept > 0 && time.Now().Before(deadline); kept = alive() {
			<-tick.C
		}
		tick.Stop()
		if kept > 0 {
			t.Errorf("%d of %d finished messages behind the held one are still in memory", kept, n)
		}
		if got := committed(t, brokers, group, topic, 1)[0]; got > 0 {
			t.Fatalf("committed offset %d moved past the held offset 0", got)
		}

		mu.Lock()
		release = true
		mu.Unlock()
		eventually(t, 30*time.Second, "all committed once the held message finished", func() bool {
			return committed(t, brokers, group, topic, 1)[0] == n+1
		})
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
	})
}
