package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
)

// memHistory is a PartitionHistory in memory.
type memHistory struct {
	mu     sync.Mutex
	groups map[string]Consumption // "topic/partition" -> who consumed it
	err    error                  // returned by every call when set
}

func (h *memHistory) Consumed(_ context.Context, topic string, partition int32) (Consumption, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return Consumption{}, false, h.err
	}
	g, ok := h.groups[fmt.Sprintf("%s/%d", topic, partition)]
	return g, ok, nil
}

func (h *memHistory) RecordConsumed(_ context.Context, by Consumption, topic string, partition int32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return h.err
	}
	if h.groups == nil {
		h.groups = map[string]Consumption{}
	}
	h.groups[fmt.Sprintf("%s/%d", topic, partition)] = by
	return nil
}

func (h *memHistory) group(topic string, partition int32) string {
	return h.consumption(topic, partition).Group
}

func (h *memHistory) consumption(topic string, partition int32) Consumption {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.groups[fmt.Sprintf("%s/%d", topic, partition)]
}

// reset is one OnOffsetReset call.
type reset struct {
	topic     string
	partition int32
	reason    string
}

// consumeAll runs a consumer of topic as group until n records are
// handled, then stops it; it returns the partition and offset of each
// record handled, the resets reported and the log.
func consumeAll(t *testing.T, brokers []string, group, topic string, hist PartitionHistory, n int, until func() bool) (handled []reset, offsets map[int32][]int64, resets []reset, log string) {
	t.Helper()
	var logs syncBuffer
	var mu sync.Mutex
	offsets = map[int32][]int64{}
	cfg := testConfig(brokers, group)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	cfg.History = hist
	cfg.OnOffsetReset = func(topic string, partition int32, reason string) {
		mu.Lock()
		defer mu.Unlock()
		resets = append(resets, reset{topic, partition, reason})
	}
	r := startConsumer(t, cfg, []string{topic}, func(_ context.Context, m *Message) error {
		mu.Lock()
		defer mu.Unlock()
		offsets[m.Partition] = append(offsets[m.Partition], m.Offset)
		handled = append(handled, reset{m.Topic, m.Partition, string(m.Value)})
		return nil
	})
	eventually(t, 30*time.Second, fmt.Sprintf("%d records handled", n), func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) >= n
	})
	if until != nil {
		eventually(t, 30*time.Second, "the partitions recorded", until)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("stop consumer: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return handled, offsets, resets, logs.String()
}

// deleteGroup deletes a consumer group, as an operator (or the broker,
// once its offsets expired) would.
func deleteGroup(t *testing.T, brokers []string, group string) {
	t.Helper()
	sc, err := testConfig(brokers, group).saramaConfig()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sarama.NewClusterAdmin(brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.DeleteConsumerGroup(group); err != nil {
		t.Fatalf("delete group %s: %v", group, err)
	}
}

// TestLostGroupOffsetsAreRaised: a group without committed offsets was
// taken for the group's first start, so when Kafka forgot the group's
// offsets (they expired while medgate was down longer than
// offsets.retention.minutes, the group was deleted, or kafka.groupId was
// changed) the whole retained log was read again from the oldest record
// with nothing in the logs or metrics. Partitions that had committed
// offsets are now recorded in the PartitionHistory, and one found again
// without a committed offset is an ALERT naming the group, topic,
// partition and the group that consumed it before, and calls
// OnOffsetReset with ResetOffsetsLost; reading still starts at the oldest
// record. A true first start (nothing recorded), and a partition the
// group never committed (no records), stay silent.
func TestLostGroupOffsetsAreRaised(t *testing.T) {
	cases := map[string]struct {
		lose      func(t *testing.T, brokers []string, group string) string // returns the group of the second start
		recorded  bool                                                      // the first run is in the history
		wantReset bool
		wantWarn  bool // a WARN, not an ALERT: kafka.groupId was changed
	}{
		"group deleted": {
			lose: func(t *testing.T, brokers []string, group string) string {
				deleteGroup(t, brokers, group)
				return group
			},
			recorded: true, wantReset: true,
		},
		"group renamed": {
			lose: func(_ *testing.T, _ []string, group string) string {
				return group + "-renamed"
			},
			recorded: true, wantWarn: true,
		},
		"restart with the offsets kept": {
			lose:     func(_ *testing.T, _ []string, group string) string { return group },
			recorded: true, wantReset: false,
		},
		"first start with nothing recorded": {
			lose: func(_ *testing.T, _ []string, group string) string {
				return group + "-new"
			},
			recorded: false, wantReset: false,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, brokers []string) {
				topic := newTopic(t, brokers, 2)
				group := uniqueName(t, "group")
				p := newProducer(t, brokers)
				for _, v := range []string{"a", "b", "c"} {
					send(t, p, topic, "k", v)
				}
				hist := &memHistory{}
				// The first run: every record of key k is in one
				// partition; the other one stays empty.
				var first []reset
				if tc.recorded {
					first, _, _, _ = consumeAll(t, brokers, group, topic, hist, 3, func() bool {
						return hist.group(topic, 0) != "" || hist.group(topic, 1) != ""
					})
				} else {
					first, _, _, _ = consumeAll(t, brokers, group, topic, nil, 3, nil)
				}
				used := first[0].partition
				if tc.recorded {
					if got := hist.group(topic, used); got != group {
						t.Fatalf("partition %d recorded as consumed by group %q, want %q", used, got, group)
					}
					if got := hist.group(topic, 1-used); got != "" {
						t.Errorf("partition %d, never committed, recorded as consumed by group %q", 1-used, got)
					}
				}
				group2 := tc.lose(t, brokers, group)
				send(t, p, topic, "k", "d")
				want := 4 // read again from the oldest record
				if group2 == group && !tc.wantReset && !tc.wantWarn {
					want = 1 // the committed offsets kept: only the new one
				}
				_, offsets, resets, log := consumeAll(t, brokers, group2, topic, hist, want, nil)
				if got := offsets[used]; len(got) == 0 || (want == 4) != (got[0] == 0) {
					t.Errorf("second run handled offsets %v of partition %d; want the oldest first: %v", got, used, want == 4)
				}
				var wantResets []reset
				if tc.wantReset {
					wantResets = []reset{{topic, used, ResetOffsetsLost}}
				}
				if fmt.Sprint(resets) != fmt.Sprint(wantResets) {
					t.Errorf("OnOffsetReset calls %v, want %v; log:\n%s", resets, wantResets, log)
				}
				if alert := strings.Contains(log, "ALERT"); alert != tc.wantReset {
					t.Errorf("ALERT logged: %v, want %v; log:\n%s", alert, tc.wantReset, log)
				}
				if tc.wantReset {
					for _, attr := range []string{"group=" + group2, "topic=" + topic, fmt.Sprintf("partition=%d", used), "previousGroup=" + group, "newOffset=0", "logEndOffset=4", "offsets.retention.minutes", "Kafka data loss"} {
						if !strings.Contains(log, attr) {
							t.Errorf("ALERT lacks %s; log:\n%s", attr, log)
						}
					}
					if strings.Count(log, "ALERT") != 1 {
						t.Errorf("want one ALERT (the empty partition never committed stays silent); log:\n%s", log)
					}
				}
				warned := strings.Contains(log, "level=WARN") && strings.Contains(log, "kafka.groupId changed")
				if warned != tc.wantWarn {
					t.Errorf("WARN of a changed kafka.groupId logged: %v, want %v; log:\n%s", warned, tc.wantWarn, log)
				}
				if tc.wantWarn {
					// What happens to the offsets, and where an
					// admin acts: the old group's committed offset,
					// to carry over or to go back to.
					for _, attr := range []string{"group=" + group2, "topic=" + topic, fmt.Sprintf("partition=%d", used), "previousGroup=" + group,
						"previousGroupOffset=3", "newOffset=0", "logEndOffset=4", "read again from its oldest record", "--reset-offsets", "set kafka.groupId back"} {
						if !strings.Contains(log, attr) {
							t.Errorf("the WARN lacks %s; log:\n%s", attr, log)
						}
					}
					if n := strings.Count(log, "kafka.groupId changed"); n != 1 {
						t.Errorf("want one WARN of the changed group (the empty partition never committed stays silent), got %d; log:\n%s", n, log)
					}
				}
			})
		})
	}
}

// TestPartitionHistoryUnreadable: when the history cannot be read, a
// partition without a committed offset is still read from its oldest
// record, and the consumer says it cannot tell whether offsets were lost
// (a WARN, no ALERT, no reset counted); when it cannot be written, it
// says so once.
func TestPartitionHistoryUnreadable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, brokers []string) {
		topic := newTopic(t, brokers, 1)
		group := uniqueName(t, "group")
		p := newProducer(t, brokers)
		send(t, p, topic, "k", "a")
		hist := &memHistory{err: errors.New("store unreachable")}
		_, offsets, resets, log := consumeAll(t, brokers, group, topic, hist, 1, nil)
		if got := offsets[0]; len(got) == 0 || got[0] != 0 {
			t.Errorf("handled offsets %v, want the oldest (0) first", got)
		}
		if len(resets) != 0 || strings.Contains(log, "ALERT") {
			t.Errorf("resets %v, want none and no ALERT; log:\n%s", resets, log)
		}
		for _, want := range []string{"cannot tell whether medgate consumed it before", "cannot record which partitions have committed offsets", "store unreachable"} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
	})
}

// TestNewClusterIsNotLostOffsets: a new installation of Kafka (another
// cluster, the same topic names and group) with the store of the old one
// found the partitions recorded without committed offsets and raised the
// ALERT of lost offsets, though nothing is read again: the new cluster's
// log is new. The history now records the cluster's id with the group,
// and a partition recorded on another cluster is a WARN naming both
// clusters and saying what an admin checks (requests left unread in the
// old cluster), with no ALERT and no OnOffsetReset. The same cluster
// with the same group losing its offsets stays an ALERT (see
// TestLostGroupOffsetsAreRaised).
func TestNewClusterIsNotLostOffsets(t *testing.T) {
	hist := &memHistory{}
	group := uniqueName(t, "group")
	var topic string
	for i, id := range []string{"cluster-a", "cluster-b"} {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ClusterID(id))
		if err != nil {
			t.Fatal(err)
		}
		brokers := c.ListenAddrs()
		if topic == "" {
			topic = newTopic(t, brokers, 1)
		} else if err := EnsureTopics(t.Context(), testConfig(brokers, ""), []string{topic}, 1, 1); err != nil {
			t.Fatal(err)
		}
		p := newProducer(t, brokers)
		send(t, p, topic, "k", fmt.Sprint("on ", id))
		// Stopping records the last commit's partitions (Cleanup).
		_, offsets, resets, log := consumeAll(t, brokers, group, topic, hist, 1, func() bool {
			return hist.group(topic, 0) == group
		})
		if got := offsets[0]; len(got) != 1 || got[0] != 0 {
			t.Errorf("%s: handled offsets %v, want [0]", id, got)
		}
		if want := (Consumption{Group: group, Cluster: id}); hist.consumption(topic, 0) != want {
			t.Errorf("%s: recorded %+v, want %+v", id, hist.consumption(topic, 0), want)
		}
		if len(resets) != 0 || strings.Contains(log, "ALERT") {
			t.Errorf("%s: resets %v, want none and no ALERT; log:\n%s", id, resets, log)
		}
		warned := strings.Contains(log, "another Kafka cluster")
		if warned != (i == 1) {
			t.Errorf("%s: WARN of another cluster: %v, want %v; log:\n%s", id, warned, i == 1, log)
		}
		if i == 1 {
			for _, attr := range []string{"level=WARN", "group=" + group, "topic=" + topic, "partition=0", "cluster=cluster-b", "previousCluster=cluster-a", "previousGroup=" + group, "Kafka data loss"} {
				if !strings.Contains(log, attr) {
					t.Errorf("the WARN lacks %s; log:\n%s", attr, log)
				}
			}
		}
		_ = p.Close()
		c.Close()
	}
}
