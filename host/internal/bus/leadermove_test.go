package bus

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestPartitionLeadersMoveWhileRunning: the leaders of the consumed
// partitions move to other brokers, and the group's coordinator too,
// while records are produced and consumed. Every record is produced
// (Send gets through once the client learns the new leader), handled at
// least once, in order per key (a record's first delivery never
// follows a later record of its key), and the committed offsets reach the end
// of every partition: the partitions do not stall.
func TestPartitionLeadersMoveWhileRunning(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	const partitions, n = 2, 300
	topic := newTopic(t, brokers, partitions)
	group := uniqueName(t, "group")
	var mu sync.Mutex
	last := map[string]int{} // key -> last value handled
	seen := map[int]bool{}   // values handled
	var outOfOrder []string
	r := startConsumer(t, testConfig(brokers, group), []string{topic}, func(_ context.Context, m *Message) error {
		v, err := strconv.Atoi(string(m.Value))
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		k := string(m.Key)
		// A record delivered again (at least once) may come after
		// later ones; a record handled for the first time may not.
		if prev, ok := last[k]; ok && v < prev && !seen[v] {
			outOfOrder = append(outOfOrder, fmt.Sprintf("key %s: %d after %d", k, v, prev))
		}
		last[k] = max(last[k], v)
		seen[v] = true
		return nil
	})
	defer func() { _ = r.stop(t) }()
	p := newProducer(t, brokers)
	for i := range n {
		switch i {
		case 75, 225:
			for part := range int32(partitions) {
				to := (c.LeaderFor(topic, part) + 1) % 3
				if err := c.MoveTopicPartition(topic, part, to); err != nil {
					t.Fatalf("move %s/%d to broker %d: %v", topic, part, to, err)
				}
			}
		case 150:
			c.RehashCoordinators()
		}
		send(t, p, topic, fmt.Sprint("k", i%7), strconv.Itoa(i))
	}
	eventually(t, 60*time.Second, fmt.Sprintf("all %d records handled", n), func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == n
	})
	eventually(t, 60*time.Second, fmt.Sprintf("the committed offsets at the end (%d records)", n), func() bool {
		return sum(committed(t, brokers, group, topic, partitions)) == n
	})
	mu.Lock()
	defer mu.Unlock()
	if len(outOfOrder) > 0 {
		t.Errorf("records handled out of order per key: %v", outOfOrder)
	}
}
