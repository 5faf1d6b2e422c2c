package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/IBM/sarama"
)

// EnsureTopics creates those of topics that do not exist yet, with the given
// number of partitions and replication factor, and waits until every
// partition of every topic has a leader. Existing topics are left as they
// are, whatever their partition count.
func EnsureTopics(ctx context.Context, cfg Config, topics []string, partitions int, replication int16) error {
	if partitions < 1 || replication < 1 {
		return fmt.Errorf("create topics %v: partitions (%d) and replication factor (%d) must be at least 1", topics, partitions, replication)
	}
	sc, err := cfg.saramaConfig()
	if err != nil {
		return err
	}
	if err := cfg.finish(sc); err != nil {
		return err
	}
	admin, err := sarama.NewClusterAdmin(cfg.Brokers, sc)
	if err != nil {
		return fmt.Errorf("connect Kafka admin client to %v: %w (check the broker addresses and that Kafka is running)", cfg.Brokers, err)
	}
	defer admin.Close()

	existing, err := admin.ListTopics()
	if err != nil {
		return fmt.Errorf("list Kafka topics: %w", err)
	}
	for _, t := range topics {
		if _, ok := existing[t]; ok {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
		detail := &sarama.TopicDetail{NumPartitions: int32(partitions), ReplicationFactor: replication}
		err := admin.CreateTopic(t, detail, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("create topic %s with %d partitions and replication factor %d: %w", t, partitions, replication, err)
		}
	}
	return waitForLeaders(ctx, admin, topics)
}

// waitForLeaders polls topic metadata until every partition has a leader:
// Kafka creates topics asynchronously.
func waitForLeaders(ctx context.Context, admin sarama.ClusterAdmin, topics []string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		missing, err := topicsWithoutLeaders(admin, topics)
		if err == nil && len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("wait for topics %v: %w (last error: %w)", topics, ctx.Err(), err)
			}
			return fmt.Errorf("wait for partition leaders of topics %v: %w", missing, ctx.Err())
		case <-tick.C:
		}
	}
}

func topicsWithoutLeaders(admin sarama.ClusterAdmin, topics []string) ([]string, error) {
	metas, err := admin.DescribeTopics(topics)
	if err != nil {
		return nil, fmt.Errorf("describe topics: %w", err)
	}
	var missing []string
	for _, t := range topics {
		i := slices.IndexFunc(metas, func(m *sarama.TopicMetadata) bool { return m.Name == t })
		if i < 0 || !errors.Is(metas[i].Err, sarama.ErrNoError) || len(metas[i].Partitions) == 0 {
			missing = append(missing, t)
			continue
		}
		for _, p := range metas[i].Partitions {
			if p.Leader < 0 || !errors.Is(p.Err, sarama.ErrNoError) {
				missing = append(missing, t)
				break
			}
		}
	}
	return missing, nil
}
