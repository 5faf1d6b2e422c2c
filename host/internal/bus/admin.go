package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/IBM/sarama"
)

// EnsureTopics creates those of topics that do not exist yet, with the given
// number of partitions and replication factor, and waits until every
// partition of every topic has a leader. Existing topics are left as they
// are, whatever their partition count: adding partitions moves keys to
// other partitions, which breaks the order per key of the messages already
// in the topic. An existing topic with fewer partitions than configured is
// logged (cfg.Logger) as a warning, with more as information, naming the
// topic, both counts and how to make them agree.
func EnsureTopics(ctx context.Context, cfg Config, topics []string, partitions int, replication int16) error {
	if partitions < 1 || replication < 1 {
		return fmt.Errorf("create topics %v: partitions (%d) and replication factor (%d) must be at least 1", topics, partitions, replication)
	}
	// Errors name the user and files in force (connectError).
	var err error
	if cfg.Credentials, err = cfg.credentials(); err != nil {
		return err
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
		return connectError("Kafka admin client", cfg.Brokers, sc, cfg.Credentials, err)
	}
	defer admin.Close()

	existing, err := admin.ListTopics()
	if err != nil {
		return fmt.Errorf("list Kafka topics: %w", err)
	}
	for _, t := range topics {
		if d, ok := existing[t]; ok {
			comparePartitions(cfg.logger(), t, d.NumPartitions, partitions)
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

// comparePartitions logs an existing topic whose partition count differs
// from the configured one. It changes nothing: more partitions would move
// keys (order per key), and Kafka cannot take partitions away.
func comparePartitions(log *slog.Logger, topic string, have int32, want int) {
	switch {
	case have <= 0 || int(have) == want:
	case int(have) < want:
		log.Warn("kafka topic has fewer partitions than configured; it is left as it is, so fewer instances and keys work in parallel than kafka.partitions allows. To add partitions, stop the producers and consumers of the topic and run kafka-topics.sh --alter --topic "+topic+" --partitions N (this moves keys to other partitions: let the topic drain first so the order per key holds), or set kafka.partitions to the topic's count",
			"topic", topic, "partitions", have, "configured", want)
	default:
		log.Info("kafka topic has more partitions than configured; it is used as it is (Kafka cannot remove partitions); set kafka.partitions to the topic's count to silence this",
			"topic", topic, "partitions", have, "configured", want)
	}
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
