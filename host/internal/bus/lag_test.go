package bus

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// lagOf returns the lag Consumer.Lags reports for topic's partition, and
// whether it reports one.
func lagOf(c *Consumer, topic string, partition int32) (int64, bool) {
	for _, l := range c.Lags() {
		if l.Topic == topic && l.Partition == partition {
			return l.Lag, true
		}
	}
	return 0, false
}

// TestConsumerLag: Lags counts the records of each claimed partition
// that the consumer has not read yet (its high-water mark, as of the
// last fetch, less the next offset to read): while a slow handler holds
// the buffer full, the records waiting in Kafka are the lag; once they
// are read it is 0, and a partition no longer claimed (the consumer
// stopped) has no lag at all.
func TestConsumerLag(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a broker")
	}
	forEachBackend(t, func(t *testing.T, brokers []string) {
		const n, size, fit = 30, 10 << 10, 3
		topic := newTopic(t, brokers, 1)
		p := newProducer(t, brokers)
		value := `{"pad":"` + strings.Repeat("x", size) + `"}`
		for i := range n {
			send(t, p, topic, fmt.Sprintf("key-%d", i), value)
		}
		cfg := testConfig(brokers, uniqueName(t, "group"))
		cfg.MaxBufferedBytes = fit*(size+64) + size/2 // room for 3 messages, not 4
		gate := make(chan struct{})
		var handled atomic.Int64
		r := startConsumer(t, cfg, []string{topic}, func(ctx context.Context, m *Message) error {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
			handled.Add(1)
			return nil
		})
		eventually(t, 60*time.Second, "reading to pause on the byte bound with 3 messages held", func() bool {
			return r.c.bufWaits.Load() > 0
		})
		// 3 messages are queued, the 4th waits for room: 27 unread.
		eventually(t, 30*time.Second, fmt.Sprintf("a lag of %d while the handler holds the buffer", n-fit), func() bool {
			lag, ok := lagOf(r.c, topic, 0)
			return ok && lag == n-fit
		})
		close(gate)
		eventually(t, 60*time.Second, "every message handled and a lag of 0", func() bool {
			lag, ok := lagOf(r.c, topic, 0)
			return handled.Load() == n && ok && lag == 0
		})
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
		if lag, ok := lagOf(r.c, topic, 0); ok {
			t.Fatalf("a stopped consumer still reports a lag of %d for its released partition", lag)
		}
	})
}

// TestConsumerLagGoneAtRelease: a partition being released (here, the
// consumer stopping while its handlers still run within the release
// grace) has no lag any more from the moment its reading stops, so that
// only its next owner reports it.
func TestConsumerLagGoneAtRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a broker")
	}
	forEachBackend(t, func(t *testing.T, brokers []string) {
		const n, size, fit = 30, 10 << 10, 3
		topic := newTopic(t, brokers, 1)
		p := newProducer(t, brokers)
		value := `{"pad":"` + strings.Repeat("x", size) + `"}`
		for i := range n {
			send(t, p, topic, fmt.Sprintf("key-%d", i), value)
		}
		cfg := testConfig(brokers, uniqueName(t, "group"))
		cfg.MaxBufferedBytes = fit*(size+64) + size/2
		cfg.ReleaseGrace = 20 * time.Second
		let := make(chan struct{})
		var running, returned atomic.Int64
		r := startConsumer(t, cfg, []string{topic}, func(ctx context.Context, m *Message) error {
			running.Add(1)
			defer returned.Add(1)
			select {
			case <-let:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		eventually(t, 60*time.Second, fmt.Sprintf("a lag of %d while the handlers hold the buffer", n-fit), func() bool {
			lag, ok := lagOf(r.c, topic, 0)
			return ok && lag == n-fit && running.Load() == fit
		})
		r.cancel() // release the partition; the handlers run on within the grace
		eventually(t, 10*time.Second, "the released partition's lag gone", func() bool {
			_, ok := lagOf(r.c, topic, 0)
			return !ok
		})
		if got := returned.Load(); got != 0 {
			t.Fatalf("%d handlers returned before the lag was checked; the check must happen within the release grace", got)
		}
		close(let)
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
	})
}

// TestConsumerLagWhileNotFetching: while nothing is fetched from a
// partition (the handlers hold medgate's buffer full, so sarama's channel
// fills and it stops fetching), the records produced meanwhile still
// count in the lag: the consumer refreshes the high-water marks of its
// claimed partitions on its own, every Config.lagRefresh here.
func TestConsumerLagWhileNotFetching(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a broker")
	}
	forEachBackend(t, func(t *testing.T, brokers []string) {
		const before, after, size, fit = 10, 20, 1 << 10, 3
		topic := newTopic(t, brokers, 1)
		p := newProducer(t, brokers)
		value := `{"pad":"` + strings.Repeat("x", size) + `"}`
		for i := range before {
			send(t, p, topic, fmt.Sprintf("key-%d", i), value)
		}
		cfg := testConfig(brokers, uniqueName(t, "group"))
		cfg.MaxBufferedBytes = fit*(size+64) + size/2 // room for 3 messages, not 4
		cfg.lagRefresh = 50 * time.Millisecond
		tune := cfg.tune
		cfg.tune = func(sc *sarama.Config) {
			tune(sc)
			// sarama stops fetching once one message waits in its
			// channel, as it does with its default 256 once medgate
			// stops taking them.
			sc.ChannelBufferSize = 1
		}
		gate := make(chan struct{})
		var handled atomic.Int64
		r := startConsumer(t, cfg, []string{topic}, func(ctx context.Context, m *Message) error {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
			handled.Add(1)
			return nil
		})
		eventually(t, 60*time.Second, fmt.Sprintf("a lag of %d while the handler holds the buffer", before-fit), func() bool {
			lag, ok := lagOf(r.c, topic, 0)
			return ok && lag == before-fit && r.c.bufWaits.Load() > 0
		})
		for i := range after {
			send(t, p, topic, fmt.Sprintf("key-%d", before+i), value)
		}
		want := int64(before + after - fit)
		eventually(t, 30*time.Second, fmt.Sprintf("a lag of %d counting the records produced while nothing is fetched", want), func() bool {
			lag, ok := lagOf(r.c, topic, 0)
			return ok && lag == want
		})
		if got := handled.Load(); got != 0 {
			t.Fatalf("%d messages handled while the handler was held; the lag must have risen without reading", got)
		}
		close(gate)
		eventually(t, 60*time.Second, "every message handled and a lag of 0", func() bool {
			lag, ok := lagOf(r.c, topic, 0)
			return handled.Load() == before+after && ok && lag == 0
		})
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
	})
}

// unanswered makes cluster answer every Fetch and ListOffsets that
// reaches its broker node with NOT_LEADER_OR_FOLLOWER for each partition
// asked, while down is set, as a leader that cannot be reached (or
// partitions without a leader) would leave them: no record is read and
// no high-water mark learnt. Other requests (the group's heartbeats and
// commits, produce) go through.
func unanswered(cluster *kfake.Cluster, node int32, down *atomic.Bool) {
	const notLeader = 6 // NOT_LEADER_OR_FOLLOWER
	cluster.ControlKey(kmsg.Fetch.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if !down.Load() || cluster.CurrentNode() != node {
			return nil, nil, false
		}
		r := req.(*kmsg.FetchRequest)
		resp := r.ResponseKind().(*kmsg.FetchResponse)
		resp.Version = r.Version
		for _, rt := range r.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, notLeader
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	cluster.ControlKey(kmsg.ListOffsets.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if !down.Load() || cluster.CurrentNode() != node {
			return nil, nil, false
		}
		r := req.(*kmsg.ListOffsetsRequest)
		resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
		resp.Version = r.Version
		for _, rt := range r.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, notLeader
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}

// TestConsumerLagUnknownWhileTheLeaderDoesNotAnswer: when neither a
// fetch nor the refresh of the high-water marks gets an answer from a
// partition's leader, the records produced meanwhile cannot be counted:
// the lag is then unknown (no series), not the last number frozen, which
// would say the consumer keeps up while records pile up unread. Once the
// leader answers again, the lag is back, counting what was produced
// meanwhile. A partition whose leader answers keeps its lag throughout.
func TestConsumerLagUnknownWhileTheLeaderDoesNotAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a broker")
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()
	const before, after, size, fit = 10, 20, 1 << 10, 3
	topic, healthy := newTopic(t, brokers, 1), newTopic(t, brokers, 1)
	const dead, alive = 1, 0
	for tp, node := range map[string]int32{topic: dead, healthy: alive} {
		if err := cluster.MoveTopicPartition(tp, 0, node); err != nil {
			t.Fatalf("move %s/0 to broker %d: %v", tp, node, err)
		}
	}
	var down atomic.Bool
	unanswered(cluster, dead, &down)
	p := newProducer(t, brokers)
	value := `{"pad":"` + strings.Repeat("x", size) + `"}`
	cfg := testConfig(brokers, uniqueName(t, "group"))
	cfg.MaxBufferedBytes = fit*(size+64) + size/2 // room for 3 messages of topic, not 4
	cfg.lagRefresh = 200 * time.Millisecond       // unknown after 600ms unconfirmed
	tune := cfg.tune
	cfg.tune = func(sc *sarama.Config) {
		tune(sc)
		sc.ChannelBufferSize = 1 // see TestConsumerLagWhileNotFetching
	}
	gate := make(chan struct{})
	var handled, other atomic.Int64
	r := startConsumer(t, cfg, []string{topic, healthy}, func(ctx context.Context, m *Message) error {
		if m.Topic == healthy {
			other.Add(1)
			return nil
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
		handled.Add(1)
		return nil
	})
	// The other topic's record first: the held ones fill the buffer.
	send(t, p, healthy, "key-h", "{}")
	eventually(t, 60*time.Second, "the other topic's record handled", func() bool { return other.Load() == 1 })
	for i := range before {
		send(t, p, topic, fmt.Sprintf("key-%d", i), value)
	}
	eventually(t, 60*time.Second, fmt.Sprintf("a lag of %d while the handler holds the buffer, and none on the other topic", before-fit), func() bool {
		lag, ok := lagOf(r.c, topic, 0)
		hl, hok := lagOf(r.c, healthy, 0)
		return ok && lag == before-fit && hok && hl == 0
	})
	down.Store(true)
	for i := range after {
		send(t, p, topic, fmt.Sprintf("key-%d", before+i), value)
	}
	if got, want := r.c.LagsUnknown(), map[string]int{topic: 0, healthy: 0}; !maps.Equal(got, want) {
		t.Fatalf("LagsUnknown() = %v while every leader answers, want %v", got, want)
	}
	eventually(t, 30*time.Second, "the lag unknown while the partition's leader does not answer", func() bool {
		_, ok := lagOf(r.c, topic, 0)
		return !ok
	})
	// The partition left out of Lags is counted as unknown, so an alert
	// can page on it (MedgateKafkaConsumerLagUnknown); the other topic's
	// count stays 0.
	if got, want := r.c.LagsUnknown(), map[string]int{topic: 1, healthy: 0}; !maps.Equal(got, want) {
		t.Fatalf("LagsUnknown() = %v while the leader of %s/0 does not answer, want %v", got, topic, want)
	}
	if lag, ok := lagOf(r.c, healthy, 0); !ok || lag != 0 {
		t.Fatalf("the lag of a partition whose leader answers is %d (reported: %v), want 0", lag, ok)
	}
	down.Store(false)
	want := int64(before + after - fit)
	eventually(t, 30*time.Second, fmt.Sprintf("a lag of %d once the leader answers again", want), func() bool {
		lag, ok := lagOf(r.c, topic, 0)
		return ok && lag == want
	})
	if got, want := r.c.LagsUnknown(), map[string]int{topic: 0, healthy: 0}; !maps.Equal(got, want) {
		t.Fatalf("LagsUnknown() = %v once the leader answers again, want %v", got, want)
	}
	close(gate)
	eventually(t, 60*time.Second, "every message handled and a lag of 0", func() bool {
		lag, ok := lagOf(r.c, topic, 0)
		return handled.Load() == before+after && ok && lag == 0
	})
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}
