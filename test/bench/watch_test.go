package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/testenv"
)

// TestWatcherIdle: the replies watcher (and every reader of newReader)
// keeps one connection per partition
// and asks an idle partition about once per readerWait, not a hundred
// times a second with reconnections (the benchmark process's CPU and the
// broker's are in the rows), and still reads a reply as soon as it is
// written.
func TestWatcherIdle(t *testing.T) {
	brokers := testenv.Kafka(t)
	topic := "watch-idle-" + time.Now().Format("150405.000000")
	createTopic(t, brokers, topic, 3)
	w := watch(t, brokers, topic)
	// reply writes a reply to partition. A partition of a topic just
	// created may have its leader in the metadata before that broker
	// takes writes for it ("Not Leader For Partition"): the first write
	// is tried again until the partition takes it.
	reply := func(id string, partition int) {
		t.Helper()
		v, _ := json.Marshal(map[string]any{"requestId": id, "status": "ok", "payload": map[string]any{"n": 1}})
		harness.Eventually(t, 30*time.Second, fmt.Sprintf("reply %s written to partition %d", id, partition), func() bool {
			conn, err := kafka.DialLeader(context.Background(), "tcp", brokers[0], topic, partition)
			if err == nil {
				defer conn.Close()
				_, err = conn.WriteMessages(kafka.Message{Value: v})
			}
			if err != nil {
				t.Logf("partition %d does not take the reply yet: %v", partition, err)
			}
			return err == nil
		})
	}
	// Every reader connects and reads once; what it did until then (a
	// topic just created may have no leader yet) is not counted.
	warm := w.expect([]string{"w0", "w1", "w2"})
	for p := range 3 {
		reply(fmt.Sprintf("w%d", p), p)
	}
	warm.wait(t, 30*time.Second)
	for _, r := range w.readers {
		r.Stats() // counters restart from here
	}
	time.Sleep(2 * time.Second) // the idle period whose fetches are counted, not synchronisation
	set := w.expect([]string{"r1"})
	t0 := time.Now()
	reply("r1", 1)
	set.wait(t, 30*time.Second)
	if took := time.Since(t0); took > readerWait/2 {
		t.Errorf("the reply was read %s after it was written; want it at once", took)
	}
	for i, r := range w.readers {
		st := r.Stats()
		if st.Dials > 1 || st.Errors > 0 || st.Fetches > 8 {
			t.Errorf("partition %d: %d dials, %d errors, %d fetches in about 2 s; want 1 connection, no errors and a fetch about every %s", i, st.Dials, st.Errors, st.Fetches, readerWait)
		}
	}
}
