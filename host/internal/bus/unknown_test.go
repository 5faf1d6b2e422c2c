package bus

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// unknownTopicOrPartition is Kafka's UNKNOWN_TOPIC_OR_PARTITION error code.
const unknownTopicOrPartition = 3

// TestUnknownPartitionOfAnExistingTopicIsNotUnusable: a broker answers a
// produce with UNKNOWN_TOPIC_OR_PARTITION when it does not lead the
// partition (any more, or yet: a broker restarting, a partition moving),
// for as long as that lasts; the topic exists and the record goes through
// once it is over. Such a Send error must not wrap ErrTopicUnusable, which
// tells the pipeline to give up on the topic (a reply to a replyTo topic
// is then sent truncated to the replies topic). A topic missing from the
// cluster's metadata is unusable.
func TestUnknownPartitionOfAnExistingTopicIsNotUnusable(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	topic := newTopic(t, brokers, 1)
	p := newProducer(t, brokers)
	send(t, p, topic, "k", "warm") // metadata and connection first

	// The broker does not know the partition for longer than the
	// producer's own retries.
	var refusing atomic.Bool
	refusing.Store(true)
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		if !refusing.Load() {
			return nil, nil, false
		}
		c.KeepControl()
		req := kreq.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = unknownTopicOrPartition
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err = p.Send(ctx, topic, []byte("k"), []byte("{}"), nil)
	if err == nil {
		t.Fatal("Send succeeded while the broker refused every produce")
	}
	if !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		t.Fatalf("Send = %v, want the broker's UNKNOWN_TOPIC_OR_PARTITION", err)
	}
	if errors.Is(err, ErrTopicUnusable) {
		t.Errorf("Send to the existing topic %s = %v: it wraps ErrTopicUnusable, want a transient error", topic, err)
	}
	refusing.Store(false)
	if err := p.Send(ctx, topic, []byte("k"), []byte("{}"), nil); err != nil {
		t.Fatalf("Send once the partition is known again: %v", err)
	}

	// A topic the cluster does not have is unusable.
	err = p.Send(ctx, uniqueName(t, "missing"), []byte("k"), []byte("{}"), nil)
	if !errors.Is(err, ErrTopicUnusable) {
		t.Errorf("Send to a missing topic = %v, want an error wrapping ErrTopicUnusable", err)
	}
}
