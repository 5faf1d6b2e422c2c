package bus

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// commitOffset commits offset for partition 0 of topic as a member of
// group, as an earlier member would have, then leaves the group.
func commitOffset(t *testing.T, brokers []string, group, topic string, offset int64) {
	t.Helper()
	sc, err := testConfig(brokers, group).saramaConfig()
	if err != nil {
		t.Fatal(err)
	}
	testConfig(brokers, group).tune(sc)
	sc.Consumer.Offsets.AutoCommit.Enable = false
	g, err := sarama.NewConsumerGroup(brokers, group, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := g.Consume(ctx, []string{topic}, commitAt{topic: topic, offset: offset, done: cancel}); err != nil {
		t.Fatalf("commit offset %d: %v", offset, err)
	}
	eventually(t, 30*time.Second, "the offset committed", func() bool {
		return committed(t, brokers, group, topic, 1)[0] == offset
	})
}

// commitAt is a sarama group handler that commits one offset at once.
type commitAt struct {
	topic  string
	offset int64
	done   context.CancelFunc
}

func (h commitAt) Setup(sess sarama.ConsumerGroupSession) error {
	sess.MarkOffset(h.topic, 0, h.offset, "")
	sess.Commit()
	h.done()
	return nil
}
func (commitAt) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (commitAt) ConsumeClaim(sarama.ConsumerGroupSession, sarama.ConsumerGroupClaim) error {
	return nil
}

// TestOffsetOutOfRangeResetIsRaised: after broker data loss the group's
// committed offset lies beyond the partition's log end, and sarama
// silently resets it to the oldest record, so the whole retained log was
// delivered again with nothing in the logs or metrics. The reset is now
// an ALERT naming the topic, partition, committed and new offsets, and
// calls OnOffsetReset (the metric); the consumer still reads from the
// oldest record (nothing is skipped). A group's first start, with
// nothing committed, is no reset.
func TestOffsetOutOfRangeResetIsRaised(t *testing.T) {
	cases := map[string]struct {
		commit     int64 // -1: nothing committed
		wantResets int64
	}{
		"committed beyond the log end": {commit: 100, wantResets: 1},
		"nothing committed":            {commit: -1, wantResets: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, brokers []string) {
				topic := newTopic(t, brokers, 1)
				group := uniqueName(t, "group")
				if tc.commit >= 0 {
					commitOffset(t, brokers, group, topic, tc.commit)
				}
				p := newProducer(t, brokers)
				for _, v := range []string{"a", "b", "c"} {
					send(t, p, topic, "k", v)
				}
				var logs syncBuffer
				var resets atomic.Int64
				cfg := testConfig(brokers, group)
				cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				cfg.OnOffsetReset = func(gotTopic string, partition int32, reason string) {
					if gotTopic != topic || partition != 0 || reason != ResetOutOfRange {
						t.Errorf("OnOffsetReset(%s, %d, %s), want (%s, 0, %s)", gotTopic, partition, reason, topic, ResetOutOfRange)
					}
					resets.Add(1)
				}
				var mu sync.Mutex
				var offsets []int64
				startConsumer(t, cfg, []string{topic}, func(_ context.Context, m *Message) error {
					mu.Lock()
					defer mu.Unlock()
					offsets = append(offsets, m.Offset)
					return nil
				})
				eventually(t, 30*time.Second, "the three records handled", func() bool {
					mu.Lock()
					defer mu.Unlock()
					return len(offsets) >= 3
				})
				mu.Lock()
				first := offsets[0]
				mu.Unlock()
				if first != 0 {
					t.Errorf("first offset handled %d, want 0 (the oldest record)", first)
				}
				if got := resets.Load(); got != tc.wantResets {
					t.Errorf("OnOffsetReset called %d times, want %d; logs:\n%s", got, tc.wantResets, logs.String())
				}
				alert := strings.Contains(logs.String(), "ALERT")
				if want := tc.wantResets > 0; alert != want {
					t.Errorf("ALERT logged: %v, want %v; logs:\n%s", alert, want, logs.String())
				}
				if tc.wantResets > 0 {
					for _, attr := range []string{"topic=" + topic, "partition=0", "committedOffset=100", "newOffset=0", "logEndOffset=3"} {
						if !strings.Contains(logs.String(), attr) {
							t.Errorf("ALERT lacks %s; logs:\n%s", attr, logs.String())
						}
					}
				}
			})
		})
	}
}

// offsetOutOfRange is Kafka's OFFSET_OUT_OF_RANGE error code.
const offsetOutOfRange = 1

// TestOffsetOutOfRangeWhileReadingResumes: a fetch answered
// OFFSET_OUT_OF_RANGE while the partition is being read (the leader lost
// records past the consumer's position, or retention deleted records it
// had not read) makes sarama stop reading the partition and end the
// session; the consumer rejoins and reads on from the committed offset.
// That was logged as an ordinary consumer warning only; it is now an
// ALERT naming the topic and partition, and reading still resumes.
func TestOffsetOutOfRangeWhileReadingResumes(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	topic := newTopic(t, brokers, 1)
	group := uniqueName(t, "group")
	p := newProducer(t, brokers)
	send(t, p, topic, "k", "before")

	var logs syncBuffer
	cfg := testConfig(brokers, group)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	var mu sync.Mutex
	var got []string
	startConsumer(t, cfg, []string{topic}, func(_ context.Context, m *Message) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, string(m.Value))
		return nil
	})
	handled := func(v string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return slices.Contains(got, v)
		}
	}
	eventually(t, 30*time.Second, "the first record handled", handled("before"))

	// The next fetch of the partition is answered OFFSET_OUT_OF_RANGE.
	var refused atomic.Bool
	c.ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.FetchRequest)
		if len(req.Topics) == 0 || refused.Swap(true) {
			if !refused.Load() {
				c.KeepControl()
			}
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = offsetOutOfRange
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	eventually(t, 30*time.Second, "a fetch refused", refused.Load)
	send(t, p, topic, "k", "after")
	eventually(t, 30*time.Second, "the record sent after the refused fetch handled", handled("after"))
	for _, want := range []string{"ALERT", "topic=" + topic, "partition=0"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}
