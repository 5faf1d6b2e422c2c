package daemon

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/store"
)

// consumedPartitionsNS is the namespace, in the store's state table, of
// the request partitions that have had a committed offset (the Kafka
// consumer's bus.PartitionHistory): one entry per topic and partition,
// "<topic>/<partition>", whose value is the consumer group that last
// recorded it. The consumer writes each entry once per process, and reads
// one only when a partition it claims has no committed offset. No plugin
// can reach the namespace: plugin names have no '.'.
const consumedPartitionsNS = "medgate.bus/consumed-partitions"

// partitionHistory keeps the consumer's bus.PartitionHistory in the
// store, which outlives the group's offsets in Kafka.
type partitionHistory struct{ store store.Store }

func partitionKey(topic string, partition int32) string {
	return topic + "/" + strconv.Itoa(int(partition))
}

// Consumed implements bus.PartitionHistory.
func (h partitionHistory) Consumed(ctx context.Context, topic string, partition int32) (string, bool, error) {
	e, err := h.store.StateGet(ctx, consumedPartitionsNS, partitionKey(topic, partition))
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read the consumed partitions in the store (state %s, key %s): %w", consumedPartitionsNS, partitionKey(topic, partition), err)
	}
	return string(e.Value), true, nil
}

// RecordConsumed implements bus.PartitionHistory.
func (h partitionHistory) RecordConsumed(ctx context.Context, group, topic string, partition int32) error {
	if _, err := h.store.StatePut(ctx, consumedPartitionsNS, partitionKey(topic, partition), []byte(group)); err != nil {
		return fmt.Errorf("record the consumed partition in the store (state %s, key %s): %w", consumedPartitionsNS, partitionKey(topic, partition), err)
	}
	return nil
}

var _ bus.PartitionHistory = partitionHistory{}
