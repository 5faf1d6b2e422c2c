package bus

import (
	"context"

	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/medgate/medgate/test/testenv"
)

// saslBackend is a broker that requires SASL.
type saslBackend struct {
	name string
	// start returns the brokers and the credentials of a user known
	// to all mechanisms.
	start func(t *testing.T, mech string) (brokers []string, user, pass string)
	// refuses says whether the broker answers a wrong password with an
	// error code (real Kafka), not just by closing the connection (kfake).
	refuses bool
}

var saslBackends = []saslBackend{
	{"kfake", func(t *testing.T, mech string) ([]string, string, string) {
		const user, pass = "medgate", "s3cret-Passw0rd"
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(mech, user, pass))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c.ListenAddrs(), user, pass
	}, false},
	{"kafka", func(t *testing.T, _ string) ([]string, string, string) {
		l := testenv.KafkaSASL(t)
		return l.Addrs, l.Username, l.Password
	}, true},
}

// TestSASL authenticates with each mechanism, and checks that a wrong
// password fails without the password appearing in errors or logs.
func TestSASL(t *testing.T) {
	for _, b := range saslBackends {
		for _, mech := range []string{SASLPlain, SASLScramSHA256, SASLScramSHA512} {
			t.Run(b.name+"/"+mech, func(t *testing.T) {
				brokers, user, pass := b.start(t, mech)
				cfg := testConfig(brokers, uniqueName(t, "group"))
				cfg.SASL = &SASLConfig{Mechanism: mech, Username: user, Password: pass}
				topic := uniqueName(t, "topic")
				if err := EnsureTopics(t.Context(), cfg, []string{topic}, 1, 1); err != nil {
					t.Fatalf("EnsureTopics with %s: %v", mech, err)
				}
				p, err := NewProducer(cfg)
				if err != nil {
					t.Fatalf("NewProducer with %s: %v", mech, err)
				}
				defer p.Close()
				if err := p.Send(t.Context(), topic, []byte("k"), []byte("v"), nil); err != nil {
					t.Fatalf("Send with %s: %v", mech, err)
				}
				got := make(chan string, 1)
				r := startConsumer(t, cfg, []string{topic}, func(_ context.Context, m *Message) error {
					got <- string(m.Value)
					return nil
				})
				select {
				case v := <-got:
					if v != "v" {
						t.Fatalf("consumed %q, want v", v)
					}
				case <-time.After(30 * time.Second):
					t.Fatal("nothing consumed within 30s")
				}
				if err := r.stop(t); err != nil {
					t.Fatalf("Run: %v", err)
				}

				const wrong = "wrong-Passw0rd"
				var logs syncBuffer
				bad := cfg
				bad.SASL = &SASLConfig{Mechanism: mech, Username: user, Password: wrong}
				bad.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				if p, err := NewProducer(bad); err == nil {
					p.Close()
					t.Fatal("NewProducer with a wrong password succeeded")
				} else if strings.Contains(err.Error(), wrong) {
					t.Fatalf("error shows the password: %v", err)
				}
				consumer, err := NewConsumer(bad, []string{topic}, func(context.Context, *Message) error { return nil })
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				defer cancel()
				if b.refuses {
					// A refused password is retried (the user may be
					// fixed on the brokers), but loudly: one ALERT
					// naming the mechanism and user, the reason in
					// Refused, every attempt counted.
					var attempts atomic.Int32
					consumer.cfg.OnRefused = func(reason string) {
						if reason == RefusedSASL {
							attempts.Add(1)
						}
					}
					done := make(chan error, 1)
					go func() { done <- consumer.Run(ctx) }()
					eventually(t, 30*time.Second, "two refused attempts", func() bool { return attempts.Load() >= 2 })
					if consumer.Ready() {
						t.Error("Ready() with a wrong password")
					}
					if r := consumer.Refused(); !strings.Contains(r, "SASL") || !strings.Contains(r, mech) || !strings.Contains(r, fmt.Sprintf("%q", user)) || strings.Contains(r, wrong) {
						t.Errorf("Refused() = %q, want the mechanism %s and the user %q", r, mech, user)
					}
					if n := strings.Count(logs.String(), "ALERT"); n != 1 {
						t.Errorf("%d ALERT lines over %d refused attempts within a minute, want 1; logs:\n%s", n, attempts.Load(), logs.String())
					}
					cancel()
					if err = <-done; err != nil {
						t.Fatalf("Run returned %v after cancel, want nil", err)
					}
				} else {
					// A dropped connection looks like an outage: Run
					// retries, not ready, until stopped.
					done := make(chan error, 1)
					go func() { done <- consumer.Run(ctx) }()
					eventually(t, 30*time.Second, "two retries", func() bool { return strings.Count(logs.String(), "retrying") >= 2 })
					if consumer.Ready() {
						t.Error("Ready() with a wrong password")
					}
					cancel()
					err = <-done
					if err != nil {
						t.Fatalf("Run returned %v after cancel, want nil", err)
					}
				}
				if err != nil && strings.Contains(err.Error(), wrong) || strings.Contains(logs.String(), wrong) {
					t.Fatalf("password shown in error %v or logs %q", err, logs.String())
				}
			})
		}
	}
}

// syncBuffer is a strings.Builder safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSASLConfigHidesPassword(t *testing.T) {
	cfg := Config{Brokers: []string{"b:9092"}, SASL: &SASLConfig{Mechanism: SASLScramSHA512, Username: "u", Password: "hunter2"}}
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "sasl", cfg.SASL, "value", *cfg.SASL)
	for _, s := range []string{fmt.Sprintf("%v %+v %s", cfg, cfg, cfg.SASL), fmt.Sprint(*cfg.SASL), logs.String()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("password shown in %q", s)
		}
	}
	if !strings.Contains(cfg.SASL.String(), "[redacted]") {
		t.Errorf("String() = %q, want the password redacted", cfg.SASL.String())
	}
}
