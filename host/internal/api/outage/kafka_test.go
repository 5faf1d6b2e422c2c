package outage

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/IBM/sarama"

	"github.com/medgate/medgate/host/internal/bus"
)

// TestKafka checks which errors of a write to Kafka are passing outages
// (answered 503 with Retry-After) and which are not (500: an
// administrator must act, or medgate is at fault).
func TestKafka(t *testing.T) {
	t.Parallel()
	send := func(err error) error { return fmt.Errorf("send to topic medgate.requests: %w", err) }
	dial := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 9092}, Err: syscall.ECONNREFUSED}
	cases := map[string]struct {
		err    error
		reason string // "" for not an outage
	}{
		"out of brokers":          {send(sarama.ErrOutOfBrokers), reasonBrokers},
		"connection refused":      {send(dial), reasonBrokers},
		"connection lost":         {send(errors.Join(errors.New("read"), syscall.ECONNRESET)), reasonBrokers},
		"no leader":               {send(sarama.ErrLeaderNotAvailable), reasonLeader},
		"not enough replicas":     {send(sarama.ErrNotEnoughReplicasAfterAppend), reasonLeader},
		"partition's leader away": {send(fmt.Errorf("the topic exists: %w", sarama.ErrUnknownTopicOrPartition)), reasonLeader},
		"request timed out":       {send(sarama.ErrRequestTimedOut), reasonKSlow},
		"deadline":                {send(context.DeadlineExceeded), reasonKSlow},
		"producer closed":         {send(bus.ErrClosed), reasonStopping},

		"topic missing":     {send(fmt.Errorf("%w: %w", bus.ErrTopicUnusable, sarama.ErrUnknownTopicOrPartition)), ""},
		"topic forbidden":   {send(fmt.Errorf("%w: %w", bus.ErrTopicUnusable, sarama.ErrTopicAuthorizationFailed)), ""},
		"record refused":    {send(fmt.Errorf("%w: %w", bus.ErrRecordRefused, sarama.ErrMessageSizeTooLarge)), ""},
		"credentials wrong": {send(sarama.ErrSASLAuthenticationFailed), ""},
		"misconfigured":     {send(sarama.ConfigurationError("Producer.MaxMessageBytes")), ""},
		"unknown":           {errors.New("encode the reference to message \"m1\": boom"), ""},
		"nil":               {nil, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o, ok := Kafka(tc.err)
			if tc.reason == "" {
				if ok {
					t.Fatalf("Kafka(%v) = %v, an outage; want none", tc.err, o)
				}
				return
			}
			if !ok || o.Dependency != KafkaDependency || o.Reason != tc.reason {
				t.Fatalf("Kafka(%v) = %+v, %v; want dependency %q, reason %q", tc.err, o, ok, KafkaDependency, tc.reason)
			}
		})
	}
}
