package testenv

import (
	"context"
	"net"
	"os"
	"slices"
	"strings"
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

// TestKafkaBrokerRestart stops a broker of its own and starts it again: the
// same address answers and the records written before the stop are there.
func TestKafkaBrokerRestart(t *testing.T) {
	b := NewKafkaBroker(t)
	addr := b.Addrs()[0]
	if addr == Kafka(t)[0] {
		t.Fatalf("NewKafkaBroker returned the shared broker's address %s", addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := &kafka.Client{Addr: kafka.TCP(addr)}
	if _, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: "restart", NumPartitions: 1, ReplicationFactor: 1}}}); err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "restart", RequiredAcks: kafka.RequireAll}
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("before")}); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	b.Stop()
	if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
		_ = c.Close()
		t.Fatalf("the stopped broker still accepts connections at %s", addr)
	}
	took := b.Start()
	t.Logf("restarted in %s", took.Round(time.Millisecond))
	if b.Addrs()[0] != addr {
		t.Fatalf("address after restart %s, want %s", b.Addrs()[0], addr)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: "restart", Partition: 0})
	defer r.Close()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatalf("read after restart: %v", err)
	}
	if string(m.Value) != "before" {
		t.Fatalf("record after restart %q, want %q", m.Value, "before")
	}
}

// TestKafkaJVMFlags: the JVM settings of the broker follow KafkaJVMEnv, and
// an unknown value is an error naming the accepted ones.
func TestKafkaJVMFlags(t *testing.T) {
	for _, tc := range []struct {
		value, want, err string
	}{
		{"", "-XX:TieredStopAtLevel=1", ""},
		{"test", "-XX:+UseSerialGC", ""},
		{"server", "-XX:+UseG1GC", ""},
		{"fast", "", "use test (fast start, the default) or server"},
	} {
		t.Setenv(KafkaJVMEnv, tc.value)
		flags, err := kafkaJVMFlags()
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one containing %q", tc.value, err, tc.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.value, err)
		case !slices.Contains(flags, tc.want):
			t.Errorf("%q: flags %v lack %s", tc.value, flags, tc.want)
		}
		if tc.value == "server" && slices.Contains(flags, "-XX:TieredStopAtLevel=1") {
			t.Errorf("server flags %v stop the JIT at the client compiler", flags)
		}
	}
}
