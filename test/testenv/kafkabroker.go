package testenv

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// KafkaBroker is a Kafka broker of one test alone, which the test may stop
// and start again: it keeps its ports and its data directory across
// restarts, so clients reconnect to the same address and find their topics,
// records and committed offsets.
type KafkaBroker struct {
	t    testing.TB
	mu   sync.Mutex
	node *kafkaNode
	proc *kafkaProc // nil while stopped
}

// KafkaOption changes the configuration of a broker of one test.
type KafkaOption func(*kafkaOptions)

type kafkaOptions struct {
	props []string // "key=value", after the template's
}

// KafkaProperty sets a broker property (server.properties) over the
// template's, e.g. KafkaProperty("connections.max.reauth.ms", "3000").
func KafkaProperty(key, value string) KafkaOption {
	return func(o *kafkaOptions) { o.props = append(o.props, key+"="+value) }
}

// NewKafkaBroker formats and starts a broker for t alone; t's cleanup stops
// it and deletes its data. Like Kafka it skips t when Java or the jars are
// missing (fails it when MEDGATE_REQUIRE_SERVICES=1).
func NewKafkaBroker(t testing.TB, opts ...KafkaOption) *KafkaBroker {
	t.Helper()
	tl, skip, err := kafkaFind()
	switch {
	case skip != "":
		msg := "testenv: real Kafka unavailable: " + skip + "; run deploy/kafka/fetch.sh (or make test) to install it"
		if os.Getenv(RequireServicesEnv) == "1" {
			t.Fatal(msg + " (" + RequireServicesEnv + "=1 requires it)")
		}
		t.Skip(msg)
	case err != nil:
		t.Fatalf("testenv: %v", err)
	}
	var o kafkaOptions
	for _, opt := range opts {
		opt(&o)
	}
	b := &KafkaBroker{t: t}
	// Another process may take a free port between our probe and the
	// broker's bind: format again with new ports in that case.
	for attempt := 1; ; attempt++ {
		dir, err := os.MkdirTemp("", "medgate-kafka-own-")
		if err != nil {
			t.Fatalf("testenv: create Kafka directory: %v", err)
		}
		b.node, err = kafkaFormat(tl, dir, o.props...)
		if err == nil {
			err = b.start()
		}
		if err == nil {
			break
		}
		portTaken := strings.Contains(kafkaLogTail(b.node.log, 200), "Address already in use")
		b.halt()
		_ = os.RemoveAll(dir)
		if !portTaken || attempt == 3 {
			t.Fatalf("testenv: start a Kafka broker of its own: %v", err)
		}
	}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.halt()
		_ = os.RemoveAll(b.node.dir)
	})
	return b
}

// Addrs returns the bootstrap addresses, the same after every restart.
func (b *KafkaBroker) Addrs() []string { return []string{b.node.listeners.plain} }

// SASL returns the listener that requires SASL (see KafkaSASL), the same
// after every restart.
func (b *KafkaBroker) SASL() KafkaSASLListener {
	l := b.node.listeners.sasl
	l.Addrs = append([]string(nil), l.Addrs...)
	return l
}

// Stop kills the broker's JVM (SIGKILL: no controlled shutdown, as when the
// broker's host loses the process) and waits until it has exited. Its data
// stays for Start.
func (b *KafkaBroker) Stop() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc == nil {
		b.t.Fatal("testenv: KafkaBroker.Stop: the broker is not running")
	}
	b.halt()
}

// Start starts the stopped broker again on the same ports and data and
// waits until it answers metadata requests; it returns how long that took.
func (b *KafkaBroker) Start() time.Duration {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc != nil {
		b.t.Fatal("testenv: KafkaBroker.Start: the broker is running")
	}
	at := time.Now()
	if err := b.start(); err != nil {
		b.halt()
		b.t.Fatalf("testenv: restart the Kafka broker: %v", err)
	}
	return time.Since(at)
}

// start runs the broker with a scratch directory of its own per run (the
// supervisor deletes it when the broker stops); the caller holds mu.
func (b *KafkaBroker) start() error {
	scratch, err := os.MkdirTemp(b.node.dir, "run-")
	if err != nil {
		return err
	}
	b.proc, err = b.node.run(scratch)
	return err
}

// halt stops the running broker, if any; the caller holds mu.
func (b *KafkaBroker) halt() {
	if b.proc != nil {
		b.proc.stop()
		b.proc = nil
	}
}
