package bus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestRoundTripWithHeaders(t *testing.T) {
	forEachBackend(t, func(t *testing.T, brokers []string) {
		topic := newTopic(t, brokers, 3)
		p := newProducer(t, brokers)
		want := []*Message{
			{Topic: topic, Key: []byte("visit-1"), Value: []byte(`{"id":"1"}`), Headers: map[string]string{"type": "workinjury.GYU101", "site": "xm01"}},
			{Topic: topic, Key: []byte("visit-2"), Value: []byte(`{"id":"2"}`), Headers: map[string]string{"type": "selfpay.4201A"}},
			{Topic: topic, Value: []byte(`{"id":"3"}`)},
		}
		before := time.Now().Add(-time.Minute)
		for _, m := range want {
			if err := p.Send(t.Context(), m.Topic, m.Key, m.Value, m.Headers); err != nil {
				t.Fatalf("Send: %v", err)
			}
		}

		var mu sync.Mutex
		var got []*Message
		r := startConsumer(t, testConfig(brokers, uniqueName(t, "group")), []string{topic}, func(_ context.Context, m *Message) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, m)
			return nil
		})
		eventually(t, 30*time.Second, "3 messages", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) == 3
		})
		if !r.c.Ready() {
			t.Error("Ready() = false while consuming")
		}
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if r.c.Ready() {
			t.Error("Ready() = true after Run returned")
		}

		byValue := func(a, b *Message) int { return strings.Compare(string(a.Value), string(b.Value)) }
		slices.SortFunc(got, byValue)
		for _, m := range got {
			if m.Timestamp.Before(before) {
				t.Errorf("message %s has timestamp %v, want about now", m.Value, m.Timestamp)
			}
		}
		// Keys pick partitions the way the Java client does (murmur2).
		for i, pm := range map[string]int32{"visit-1": got[0].Partition, "visit-2": got[1].Partition} {
			if want := murmur2Partition([]byte(i), 3); pm != want {
				t.Errorf("key %s in partition %d, want %d (murmur2)", i, pm, want)
			}
		}
		opts := cmp.Options{
			cmpopts.IgnoreFields(Message{}, "Partition", "Offset", "Timestamp"),
			cmpopts.EquateEmpty(),
		}
		if diff := cmp.Diff(want, got, opts); diff != "" {
			t.Errorf("consumed messages differ (-sent +got):\n%s", diff)
		}
	})
}

// TestPerKeyOrder sends 1,000 messages over 50 keys and checks that each
// key's messages are handled in order and never two at once, while different
// keys run in parallel up to MaxInFlight.
func TestPerKeyOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, brokers []string) {
		const n, keys, maxInFlight = 1000, 50, 8
		topic := newTopic(t, brokers, 4)
		p := newProducer(t, brokers)

		// Deterministic work time per message: 0-1999µs.
		rng := rand.New(rand.NewPCG(1, 2))
		work := make([]time.Duration, n)
		for i := range work {
			work[i] = time.Duration(rng.IntN(2000)) * time.Microsecond
		}
		// One sender per key keeps each key's messages in order.
		var wg sync.WaitGroup
		for k := range keys {
			wg.Go(func() {
				for seq := 0; seq*keys+k < n; seq++ {
					i := seq*keys + k
					if err := p.Send(t.Context(), topic, []byte("key-"+strconv.Itoa(k)), []byte(fmt.Sprintf("%d %d", i, seq)), nil); err != nil {
						t.Errorf("Send: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()

		var (
			mu         sync.Mutex
			seqs       = make(map[string][]int)
			active     = make(map[string]*atomic.Int32)
			overlaps   atomic.Int32
			running    atomic.Int32
			maxRunning atomic.Int32
			handled    atomic.Int32
		)
		for k := range keys {
			active["key-"+strconv.Itoa(k)] = new(atomic.Int32)
		}
		cfg := testConfig(brokers, uniqueName(t, "group"))
		cfg.MaxInFlight = maxInFlight
		r := startConsumer(t, cfg, []string{topic}, func(_ context.Context, m *Message) error {
			key := string(m.Key)
			if active[key].Add(1) != 1 {
				overlaps.Add(1)
			}
			now := running.Add(1)
			for cur := maxRunning.Load(); now > cur && !maxRunning.CompareAndSwap(cur, now); cur = maxRunning.Load() {
			}
			var i, seq int
			fmt.Sscan(string(m.Value), &i, &seq)
			mu.Lock()
			seqs[key] = append(seqs[key], seq)
			mu.Unlock()
			time.Sleep(work[i]) // simulated work, not synchronisation
			running.Add(-1)
			active[key].Add(-1)
			handled.Add(1)
			return nil
		})
		eventually(t, 60*time.Second, "1,000 messages handled", func() bool { return handled.Load() >= n })
		eventually(t, 30*time.Second, "all offsets committed", func() bool {
			return sum(committed(t, brokers, cfg.GroupID, topic, 4)) == n
		})
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}

		if got := handled.Load(); got != n {
			t.Errorf("handled %d messages, want %d", got, n)
		}
		if o := overlaps.Load(); o != 0 {
			t.Errorf("%d times a key's handler started while another of the same key ran", o)
		}
		for key, s := range seqs {
			want := make([]int, len(s))
			for i := range want {
				want[i] = i
			}
			if !slices.Equal(s, want) {
				t.Errorf("key %s handled in order %v, want %v", key, s, want)
			}
		}
		if m := maxRunning.Load(); m > maxInFlight || m < 2 {
			t.Errorf("at most %d handlers ran at once, want between 2 and MaxInFlight=%d", m, maxInFlight)
		}
	})
}

// TestCommitWaitsForEarlierMessages blocks the handler of offset 3 while
// later messages finish: the committed offset must stop at 3, a later
// message of the same key must wait, other keys must not, and after a
// restart everything from offset 3 on is delivered again.
func TestCommitWaitsForEarlierMessages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, brokers []string) {
		const blocked, sameKey = 3, 7
		topic := newTopic(t, brokers, 1)
		group := uniqueName(t, "group")
		p := newProducer(t, brokers)
		for i := range 10 {
			key := "k" + strconv.Itoa(i)
			if i == sameKey {
				key = "k" + strconv.Itoa(blocked)
			}
			send(t, p, topic, key, strconv.Itoa(i))
		}

		var (
			mu       sync.Mutex
			started  = map[int64]bool{}
			finished = map[int64]bool{}
		)
		first := startConsumer(t, testConfig(brokers, group), []string{topic}, func(ctx context.Context, m *Message) error {
			mu.Lock()
			started[m.Offset] = true
			mu.Unlock()
			if m.Offset == blocked {
				<-ctx.Done() // returns only when the consumer stops: unfinished
				return ctx.Err()
			}
			mu.Lock()
			finished[m.Offset] = true
			mu.Unlock()
			return nil
		})
		eventually(t, 30*time.Second, "the 8 messages of other keys to finish", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(finished) == 8 && started[blocked]
		})
		var at int64
		eventually(t, 30*time.Second, "offset 3 committed", func() bool {
			at = committed(t, brokers, group, topic, 1)[0]
			return at >= blocked
		})
		if at != blocked {
			t.Fatalf("committed offset %d passed the unfinished offset %d", at, blocked)
		}
		mu.Lock()
		if started[sameKey] {
			t.Errorf("offset %d (same key as the blocked offset %d) started before it finished", sameKey, blocked)
		}
		mu.Unlock()

		if err := first.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if got := committed(t, brokers, group, topic, 1)[0]; got != blocked {
			t.Fatalf("after stop, committed offset is %d, want %d: the unfinished message would be lost", got, blocked)
		}

		// A new member of the group gets every message from offset 3 on,
		// offset 3 before offset 7.
		var order []int64
		second := startConsumer(t, testConfig(brokers, group), []string{topic}, func(_ context.Context, m *Message) error {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, m.Offset)
			return nil
		})
		eventually(t, 30*time.Second, "offset 10 committed", func() bool {
			return committed(t, brokers, group, topic, 1)[0] == 10
		})
		if err := second.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		got := slices.Sorted(slices.Values(order))
		if want := []int64{3, 4, 5, 6, 7, 8, 9}; !slices.Equal(got, want) {
			t.Errorf("after restart, offsets %v were delivered, want %v", got, want)
		}
		if slices.Index(order, blocked) > slices.Index(order, sameKey) {
			t.Errorf("after restart, offset %d was handled before offset %d of the same key: %v", sameKey, blocked, order)
		}
	})
}

// TestRebalanceKeepsKeyOrder starts a second member while the first is busy:
// the revoked partitions' running handlers finish before the new owner
// starts, so a key never runs twice at once and never skips ahead.
func TestRebalanceKeepsKeyOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, brokers []string) {
		const n, keys, partitions = 400, 20, 4
		topic := newTopic(t, brokers, partitions)
		group := uniqueName(t, "group")
		p := newProducer(t, brokers)
		var wg sync.WaitGroup
		for k := range keys {
			wg.Go(func() {
				for seq := 0; seq < n/keys; seq++ {
					if err := p.Send(t.Context(), topic, []byte("key-"+strconv.Itoa(k)), []byte(strconv.Itoa(seq)), nil); err != nil {
						t.Errorf("Send: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()

		var (
			mu       sync.Mutex
			log      = map[string][]int{} // per key, seqs in handler start order
			distinct = map[string]bool{}
			active   = map[string]*atomic.Int32{}
			overlaps atomic.Int32
			byMember [2]atomic.Int32
		)
		for k := range keys {
			active["key-"+strconv.Itoa(k)] = new(atomic.Int32)
		}
		var second atomic.Pointer[running]
		handler := func(member int) Handler {
			return func(_ context.Context, m *Message) error {
				key := string(m.Key)
				if active[key].Add(1) != 1 {
					overlaps.Add(1)
				}
				defer active[key].Add(-1)
				seq, _ := strconv.Atoi(string(m.Value))
				mu.Lock()
				log[key] = append(log[key], seq)
				distinct[key+"/"+string(m.Value)] = true
				mu.Unlock()
				byMember[member].Add(1)
				// The first member works slowly, and very slowly while
				// the second joins, so that the rebalance happens with
				// handlers running: the new owner of a partition must
				// not start before they return.
				if member == 0 {
					switch r := second.Load(); {
					case r == nil:
						time.Sleep(10 * time.Millisecond)
					case !r.c.Ready():
						time.Sleep(1500 * time.Millisecond)
					}
				}
				return nil
			}
		}
		cfg := testConfig(brokers, group)
		cfg.MaxInFlight = 8 // handlers running on every partition
		startConsumer(t, cfg, []string{topic}, handler(0))
		eventually(t, 30*time.Second, "the first member to start", func() bool { return byMember[0].Load() >= 20 })
		second.Store(startConsumer(t, testConfig(brokers, group), []string{topic}, handler(1)))

		eventually(t, 60*time.Second, "every message handled and committed", func() bool {
			mu.Lock()
			all := len(distinct) == n
			mu.Unlock()
			return all && sum(committed(t, brokers, group, topic, partitions)) == n
		})
		if o := overlaps.Load(); o != 0 {
			t.Errorf("%d times a key's handler started while another of the same key ran", o)
		}
		if byMember[1].Load() == 0 {
			t.Errorf("the second member handled nothing: no rebalance happened")
		}
		mu.Lock()
		defer mu.Unlock()
		for key, seqs := range log {
			highest := -1
			for i, s := range seqs {
				if s > highest+1 {
					t.Errorf("key %s: seq %d handled before seq %d (handling order %v)", key, s, highest+1, seqs[:i+1])
					break
				}
				highest = max(highest, s)
			}
		}
	})
}
