package testenv

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

func TestKafkaAnswersMetadata(t *testing.T) {
	addrs := Kafka(t)
	if len(addrs) != 1 {
		t.Fatalf("Kafka returned %v, want one address", addrs)
	}
	// A second call returns the same broker.
	if again := Kafka(t); again[0] != addrs[0] {
		t.Fatalf("second Kafka call returned %v, want %v", again, addrs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	md, err := (&kafka.Client{Addr: kafka.TCP(addrs[0])}).Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		t.Fatalf("metadata from %s: %v", addrs[0], err)
	}
	if len(md.Brokers) != 1 || md.Controller.ID != 1 {
		t.Fatalf("metadata brokers %+v controller %+v, want the single node 1", md.Brokers, md.Controller)
	}
}

func TestKafkaClusterID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := kafkaClusterID()
		if len(id) != 22 || seen[id] {
			t.Fatalf("cluster id %q: want 22 unique characters", id)
		}
		seen[id] = true
	}
}

func TestKafkaSASLListener(t *testing.T) {
	l := KafkaSASL(t)
	if len(l.Addrs) != 1 || l.Addrs[0] == Kafka(t)[0] || l.Username == "" || len(l.Password) < 16 {
		t.Fatalf("KafkaSASL() = %+v, want its own address and credentials", l)
	}
}
