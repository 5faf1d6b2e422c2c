package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/store"
)

// consumedPartitionsNS is the namespace, in the store's state table, of
// the request partitions that have had a committed offset (the Kafka
// consumer's bus.PartitionHistory): one entry per topic and partition,
// "<topic>/<partition>", whose value says who last recorded it: JSON
// {"group": …, "cluster": …} (the consumer group and the Kafka cluster's
// id), or, as written before medgate kept the cluster, the group alone.
// The consumer writes each entry once per process, and reads one only
// when a partition it claims has no committed offset. No plugin can reach
// the namespace: plugin names have no '.'.
const consumedPartitionsNS = "medgate.bus/consumed-partitions"

// partitionHistory keeps the consumer's bus.PartitionHistory in the
// store, which outlives the group's offsets in Kafka.
type partitionHistory struct{ store store.Store }

func partitionKey(topic string, partition int32) string {
	return topic + "/" + strconv.Itoa(int(partition))
}

// consumption is an entry's value in JSON.
type consumption struct {
	Group   string `json:"group"`
	Cluster string `json:"cluster,omitempty"`
}

// Consumed implements bus.PartitionHistory.
func (h partitionHistory) Consumed(ctx context.Context, topic string, partition int32) (bus.Consumption, bool, error) {
	e, err := h.store.StateGet(ctx, consumedPartitionsNS, partitionKey(topic, partition))
	if errors.Is(err, store.ErrNotFound) {
		return bus.Consumption{}, false, nil
	}
	if err != nil {
		return bus.Consumption{}, false, fmt.Errorf("read the consumed partitions in the store (state %s, key %s): %w", consumedPartitionsNS, partitionKey(topic, partition), err)
	}
	var c consumption
	if json.Unmarshal(e.Value, &c) == nil && c.Group != "" {
		return bus.Consumption{Group: c.Group, Cluster: c.Cluster}, true, nil
	}
	return bus.Consumption{Group: string(e.Value)}, true, nil // the group alone
}

// RecordConsumed implements bus.PartitionHistory.
func (h partitionHistory) RecordConsumed(ctx context.Context, by bus.Consumption, topic string, partition int32) error {
	v, err := json.Marshal(consumption{Group: by.Group, Cluster: by.Cluster})
	if err != nil {
		return fmt.Errorf("encode the consumed partition %s: %w", partitionKey(topic, partition), err)
	}
	if _, err := h.store.StatePut(ctx, consumedPartitionsNS, partitionKey(topic, partition), v); err != nil {
		return fmt.Errorf("record the consumed partition in the store (state %s, key %s): %w", consumedPartitionsNS, partitionKey(topic, partition), err)
	}
	return nil
}

var _ bus.PartitionHistory = partitionHistory{}
