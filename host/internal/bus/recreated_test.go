package bus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// deleteTopic deletes topic, as an administrator would while medgate runs.
func deleteTopic(t *testing.T, brokers []string, topic string) {
	t.Helper()
	sc, err := testConfig(brokers, "").saramaConfig()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sarama.NewClusterAdmin(brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.DeleteTopic(topic); err != nil {
		t.Fatalf("delete topic %s: %v", topic, err)
	}
}

// readAll returns the values of every record of topic's partitions.
func readAll(t *testing.T, brokers []string, topic string) []string {
	t.Helper()
	sc, err := testConfig(brokers, "").saramaConfig()
	if err != nil {
		t.Fatal(err)
	}
	c, err := sarama.NewConsumer(brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	parts, err := c.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	client, err := sarama.NewClient(brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for _, p := range parts {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		if end == 0 {
			continue
		}
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		timeout := time.After(30 * time.Second)
		for read := int64(0); read < end; {
			select {
			case m := <-pc.Messages():
				out = append(out, string(m.Value))
				read = m.Offset + 1
			case <-timeout:
				t.Fatalf("read %s/%d: not every record up to %d within 30s", topic, p, end)
			}
		}
		_ = pc.Close()
	}
	return out
}

// TestSendToARecreatedTopic: the replies topic deleted and created again
// while medgate runs. The idempotent producer's sequence numbers of the
// old partitions mean nothing to the new ones. Sends to the deleted topic
// fail (the pipeline holds the message and tries again); once the topic
// exists again, a Send tried again as the pipeline does gets through, and
// the record is in the new topic once.
func TestSendToARecreatedTopic(t *testing.T) {
	forEachBackend(t, func(t *testing.T, brokers []string) {
		topic := newTopic(t, brokers, 2)
		p := newProducer(t, brokers)
		for i := range 4 {
			send(t, p, topic, fmt.Sprint("k", i), "before")
		}
		deleteTopic(t, brokers, topic)
		eventually(t, 30*time.Second, "the topic created again", func() bool {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			return EnsureTopics(ctx, testConfig(brokers, ""), []string{topic}, 2, 1) == nil
		})
		for i := range 4 {
			var last error
			t.Cleanup(func() {
				if last != nil && t.Failed() {
					t.Logf("record %d: last Send error: %v", i, last)
				}
			})
			eventually(t, 30*time.Second, fmt.Sprintf("record %d sent to the topic created again", i), func() bool {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				last = p.Send(ctx, topic, []byte(fmt.Sprint("k", i)), []byte(fmt.Sprint("after-", i)), nil)
				return last == nil
			})
		}
		got := map[string]int{}
		for _, v := range readAll(t, brokers, topic) {
			got[v]++
		}
		for i := range 4 {
			if n := got[fmt.Sprint("after-", i)]; n != 1 {
				t.Errorf("record after-%d is %d times in the topic created again, want once; topic holds %v", i, n, got)
			}
		}
	})
}
