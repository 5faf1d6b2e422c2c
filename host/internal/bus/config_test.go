package bus

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/medgate/medgate/test/testenv"
)

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := []string{"127.0.0.1:9092"}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no brokers", Config{}, "no Kafka brokers"},
		{"empty broker", Config{Brokers: []string{" "}}, "empty Kafka broker address"},
		{"bad version", Config{Brokers: ok, Version: "four"}, "parse Kafka version"},
		{"negative in-flight", Config{Brokers: ok, MaxInFlight: -1}, "MaxInFlight"},
		{"unknown mechanism", Config{Brokers: ok, SASL: &SASLConfig{Mechanism: "GSSAPI", Username: "u"}}, "unsupported SASL mechanism"},
		{"no username", Config{Brokers: ok, SASL: &SASLConfig{Mechanism: SASLPlain}}, "without a username"},
		{"cert without key", Config{Brokers: ok, TLS: &TLSConfig{CertFile: "c.pem"}}, "set both CertFile and KeyFile"},
		{"missing CA", Config{Brokers: ok, TLS: &TLSConfig{CAFile: filepath.Join(dir, "none.pem")}}, "read Kafka TLS CA file"},
		{"CA not PEM", Config{Brokers: ok, TLS: &TLSConfig{CAFile: notPEM}}, "no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewProducer(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewProducer: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestNewConsumerErrors(t *testing.T) {
	cfg := Config{Brokers: []string{"127.0.0.1:9092"}, GroupID: "g"}
	h := func(context.Context, *Message) error { return nil }
	for _, tc := range []struct {
		name   string
		cfg    Config
		topics []string
		h      Handler
		want   string
	}{
		{"no group", Config{Brokers: cfg.Brokers}, []string{"t"}, h, "GroupID"},
		{"no topics", cfg, nil, h, "no topics"},
		{"no handler", cfg, []string{"t"}, nil, "nil message handler"},
	} {
		if _, err := NewConsumer(tc.cfg, tc.topics, tc.h); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	c, err := NewConsumer(Config{Brokers: []string{"127.0.0.1:9092"}, GroupID: "g"}, []string{"t"}, func(context.Context, *Message) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if cap(c.inFlight) != DefaultMaxInFlight {
		t.Errorf("MaxInFlight default %d, want %d", cap(c.inFlight), DefaultMaxInFlight)
	}
	want, _ := sarama.ParseKafkaVersion(DefaultVersion)
	if c.sc.Version != want || c.sc.ClientID != "medgate" || c.sc.Consumer.Offsets.Initial != sarama.OffsetOldest ||
		c.sc.Consumer.Offsets.AutoCommit.Enable || c.sc.Consumer.IsolationLevel != sarama.ReadCommitted {
		t.Errorf("consumer defaults: version %v client %q initial %d autocommit %v isolation %v",
			c.sc.Version, c.sc.ClientID, c.sc.Consumer.Offsets.Initial, c.sc.Consumer.Offsets.AutoCommit.Enable, c.sc.Consumer.IsolationLevel)
	}
}

// TestReleaseGrace: a Consumer's release grace is Config.ReleaseGrace,
// DefaultReleaseGrace when unset, and never more than half the group's
// rebalance timeout, so that a member releasing its partitions rejoins
// in time.
func TestReleaseGrace(t *testing.T) {
	for name, tc := range map[string]struct {
		grace, rebalance, want time.Duration
	}{
		"default":                 {0, 60 * time.Second, DefaultReleaseGrace},
		"set":                     {5 * time.Second, 60 * time.Second, 5 * time.Second},
		"half the rebalance":      {30 * time.Second, 60 * time.Second, 30 * time.Second},
		"cut to half a short one": {0, 6 * time.Second, 3 * time.Second},
		"cut to half the default": {45 * time.Second, 60 * time.Second, 30 * time.Second},
		"negative means default":  {-time.Second, 60 * time.Second, DefaultReleaseGrace},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := Config{Brokers: []string{"127.0.0.1:9092"}, GroupID: "g", ReleaseGrace: tc.grace,
				tune: func(sc *sarama.Config) { sc.Consumer.Group.Rebalance.Timeout = tc.rebalance }}
			c, err := NewConsumer(cfg, []string{"t"}, func(context.Context, *Message) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			if c.releaseGrace != tc.want {
				t.Errorf("release grace %s, want %s", c.releaseGrace, tc.want)
			}
		})
	}
}

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{sarama.ErrOutOfBrokers, true},
		{sarama.ErrNotCoordinatorForConsumer, true},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, true},
		{sarama.ErrSASLAuthenticationFailed, true}, // retried loudly: see refusal
		{sarama.ErrUnsupportedSASLMechanism, false},
		{sarama.ErrTopicAuthorizationFailed, false},
		{sarama.ErrGroupAuthorizationFailed, false},
		{sarama.ConfigurationError("bad"), false},
		{errors.Join(sarama.ErrOutOfBrokers, sarama.ErrSASLAuthenticationFailed), true},
		{errors.Join(errors.New("x"), errSCRAM), false},
	} {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestRunWaitsForBroker starts a consumer before its broker exists: Run
// must retry, not fail, and consume once the broker is up.
func TestRunWaitsForBroker(t *testing.T) {
	// Below the ephemeral range: the consumer's own connection attempts
	// cannot take the port (or connect to themselves) while it waits.
	addr := testenv.FreeAddr(t)
	_, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)

	var logs syncBuffer
	cfg := testConfig([]string{addr}, "g")
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	got := make(chan string, 1)
	r := startConsumer(t, cfg, []string{"t"}, func(_ context.Context, m *Message) error {
		got <- string(m.Value)
		return nil
	})
	eventually(t, 30*time.Second, "a retry", func() bool { return strings.Contains(logs.String(), "retrying") })
	if r.c.Ready() {
		t.Fatal("Ready() without a broker")
	}

	c, err := kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatalf("start kfake on port %d: %v", port, err)
	}
	defer c.Close()
	send(t, newProducer(t, c.ListenAddrs()), "t", "k", "hello")
	select {
	case v := <-got:
		if v != "hello" {
			t.Fatalf("got %q", v)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("nothing consumed within 60s of the broker starting; logs:\n%s", logs.String())
	}
	if !r.c.Ready() {
		t.Error("Ready() = false while consuming")
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestRunTwice(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close) // after the consumer's cleanup
	r := startConsumer(t, testConfig(c.ListenAddrs(), "g"), []string{"t"}, func(context.Context, *Message) error { return nil })
	eventually(t, 30*time.Second, "ready", r.c.Ready)
	if err := r.c.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second concurrent Run: %v, want an already-running error", err)
	}
}

func TestProducerCloseAndContext(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close) // after the consumer's cleanup
	p := newProducer(t, c.ListenAddrs())
	if err := p.Send(t.Context(), "", nil, []byte("v"), nil); err == nil {
		t.Error("Send to an empty topic succeeded")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.Send(ctx, "t", nil, []byte("v"), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a canceled context: %v, want context.Canceled", err)
	}
	if err := p.Send(t.Context(), "t", nil, []byte("v"), nil); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := p.Send(t.Context(), "t", nil, []byte("v"), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
}
