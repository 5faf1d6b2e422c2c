package bus

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestEnsureTopicsReportsPartitionMismatch: EnsureTopics kept an existing
// topic whose partition count differs from the configured one without a
// word. It still changes nothing (more partitions would move keys), but
// fewer partitions than configured is a warning and more an information,
// each naming the topic, both counts and the fix.
func TestEnsureTopicsReportsPartitionMismatch(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		have, configured int
		level            string // "" for no line
		fix              string
	}{
		"fewer":    {have: 1, configured: 3, level: "level=WARN", fix: "kafka-topics.sh --alter"},
		"more":     {have: 3, configured: 1, level: "level=INFO", fix: "set kafka.partitions"},
		"the same": {have: 2, configured: 2},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := kfake.NewCluster(kfake.NumBrokers(1))
			if err != nil {
				t.Fatalf("start kfake: %v", err)
			}
			t.Cleanup(c.Close)
			brokers := c.ListenAddrs()
			topic := newTopic(t, brokers, tc.have)
			var logs syncBuffer
			cfg := testConfig(brokers, "")
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			if err := EnsureTopics(ctx, cfg, []string{topic}, tc.configured, 1); err != nil {
				t.Fatal(err)
			}
			got := logs.String()
			if tc.level == "" {
				if strings.Contains(got, topic) {
					t.Fatalf("logged about a topic with the configured partitions:\n%s", got)
				}
				return
			}
			for _, want := range []string{tc.level, "topic=" + topic, "partitions=" + strconv.Itoa(tc.have), "configured=" + strconv.Itoa(tc.configured), tc.fix} {
				if !strings.Contains(got, want) {
					t.Errorf("log lacks %q:\n%s", want, got)
				}
			}
			if n := partitionsOf(t, brokers, topic); n != tc.have {
				t.Errorf("topic has %d partitions after EnsureTopics, want %d (left as it was)", n, tc.have)
			}
		})
	}
}

// partitionsOf returns the number of partitions of topic.
func partitionsOf(t *testing.T, brokers []string, topic string) int {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	metas, err := admin.DescribeTopics([]string{topic})
	if err != nil || len(metas) != 1 {
		t.Fatalf("describe %s: %v, %v", topic, metas, err)
	}
	return len(metas[0].Partitions)
}
