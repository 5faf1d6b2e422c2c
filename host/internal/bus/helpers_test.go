package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/medgate/medgate/test/testenv"
)

// backend is a Kafka-protocol broker the core tests run against.
type backend struct {
	name    string
	brokers func(t *testing.T) []string
}

var backends = []backend{
	{"kfake", func(t *testing.T) []string {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			t.Fatalf("start kfake: %v", err)
		}
		t.Cleanup(c.Close)
		return c.ListenAddrs()
	}},
	{"kafka", func(t *testing.T) []string { return testenv.Kafka(t) }},
}

// forEachBackend runs test once per backend, as subtests.
func forEachBackend(t *testing.T, test func(t *testing.T, brokers []string)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.brokers(t)) })
	}
}

// testConfig is a client configuration with fast group heartbeats.
func testConfig(brokers []string, group string) Config {
	return Config{
		Brokers:  brokers,
		ClientID: "medgate-test",
		GroupID:  group,
		tune: func(sc *sarama.Config) {
			sc.Consumer.Group.Heartbeat.Interval = 100 * time.Millisecond
			sc.Consumer.Group.Session.Timeout = 6 * time.Second
			sc.Consumer.Group.Rebalance.Retry.Backoff = 100 * time.Millisecond
			sc.Metadata.Retry.Backoff = 100 * time.Millisecond
			sc.Consumer.Offsets.Retry.Max = 10
			sc.Consumer.MaxWaitTime = 100 * time.Millisecond
		},
	}
}

// uniqueName returns a topic or group name unique to this test run.
func uniqueName(t *testing.T, kind string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := strings.NewReplacer("/", ".", " ", "_", "#", "_").Replace(t.Name())
	return fmt.Sprintf("%s.%s.%s", kind, name, hex.EncodeToString(b))
}

func newTopic(t *testing.T, brokers []string, partitions int) string {
	t.Helper()
	topic := uniqueName(t, "topic")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := EnsureTopics(ctx, testConfig(brokers, ""), []string{topic}, partitions, 1); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	return topic
}

func newProducer(t *testing.T, brokers []string) *Producer {
	t.Helper()
	p, err := NewProducer(testConfig(brokers, ""))
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func send(t *testing.T, p *Producer, topic, key, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var k []byte
	if key != "" {
		k = []byte(key)
	}
	if err := p.Send(ctx, topic, k, []byte(value), nil); err != nil {
		t.Fatalf("Send(%s, %q): %v", topic, key, err)
	}
}

// running is a Consumer whose Run executes in the background.
type running struct {
	c      *Consumer
	cancel context.CancelFunc
	done   chan error
}

func startConsumer(t *testing.T, cfg Config, topics []string, h Handler) *running {
	t.Helper()
	c, err := NewConsumer(cfg, topics, h)
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(func() { _ = r.stop(t) })
	return r
}

// stop cancels Run and waits for it to return its error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if !ok {
			return nil
		}
		close(r.done)
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("Consumer.Run did not return within 60s of cancel")
		return nil
	}
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// committed returns the group's committed offset per partition (-1: none).
func committed(t *testing.T, brokers []string, group, topic string, partitions int) []int64 {
	t.Helper()
	sc, err := testConfig(brokers, "").saramaConfig()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sarama.NewClusterAdmin(brokers, sc)
	if err != nil {
		t.Fatalf("NewClusterAdmin: %v", err)
	}
	defer admin.Close()
	ps := make([]int32, partitions)
	for i := range ps {
		ps[i] = int32(i)
	}
	out := make([]int64, partitions)
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: ps})
	if errors.Is(err, sarama.ErrGroupIDNotFound) { // kfake, before the first join
		for i := range out {
			out[i] = -1
		}
		return out
	}
	if err != nil {
		t.Fatalf("ListConsumerGroupOffsets: %v", err)
	}
	for i := range ps {
		out[i] = -1
		if b := resp.GetBlock(topic, int32(i)); b != nil && errors.Is(b.Err, sarama.ErrNoError) {
			out[i] = b.Offset
		}
	}
	return out
}

func sum(xs []int64) int64 {
	var s int64
	for _, x := range xs {
		s += x
	}
	return s
}
