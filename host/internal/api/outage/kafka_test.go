package outage

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
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

// permanentKErrors are the broker's error codes that a write to Kafka
// keeps getting until someone acts: the record or topic refused,
// credentials or rights refused, a client setting the brokers do not
// accept. Written out here, apart from the code under test.
var permanentKErrors = map[sarama.KError]bool{
	sarama.ErrMessageSizeTooLarge:                true,
	sarama.ErrMessageSetSizeTooLarge:             true,
	sarama.ErrInvalidRecord:                      true,
	sarama.ErrInvalidTimestamp:                   true,
	sarama.ErrPolicyViolation:                    true,
	sarama.ErrInvalidTopic:                       true,
	sarama.ErrTopicAuthorizationFailed:           true,
	sarama.ErrClusterAuthorizationFailed:         true,
	sarama.ErrGroupAuthorizationFailed:           true,
	sarama.ErrTransactionalIDAuthorizationFailed: true,
	sarama.ErrDelegationTokenAuthorizationFailed: true,
	sarama.ErrSASLAuthenticationFailed:           true,
	sarama.ErrUnsupportedSASLMechanism:           true,
	sarama.ErrIllegalSASLState:                   true,
	sarama.ErrUnsupportedVersion:                 true,
	sarama.ErrInvalidRequiredAcks:                true,
	sarama.ErrUnsupportedForMessageFormat:        true,
	sarama.ErrUnsupportedCompressionType:         true,
	sarama.ErrInvalidRequest:                     true,
}

// TestKafkaPassesUnlessPermanent checks the rule over every error code a
// broker returns (sarama.KError) and sarama's own errors, as the Producer
// returns them (bus.SendError) and as a caller may wrap them: a write to
// Kafka that failed is a passing outage (503) unless its error is known to
// last until someone acts (500), so a new or unlisted passing error, such
// as a coordinator loading or an incomplete response, is not answered as
// a fault of medgate. An error that is not Kafka's (not from the Producer,
// holding no Kafka client or network error) stays a fault.
func TestKafkaPassesUnlessPermanent(t *testing.T) {
	t.Parallel()
	marked := func(err error) error {
		return fmt.Errorf("queue message \"m1\" on medgate.requests: %w", &bus.SendError{Topic: "medgate.requests", Err: err})
	}
	wrapped := func(err error) error { return fmt.Errorf("send to topic medgate.requests: %w", err) }
	type tcase struct {
		err     error
		passing bool
	}
	cases := map[string]tcase{}
	for code := sarama.ErrUnknown; code <= sarama.ErrInvalidUpdateVersion; code++ {
		if code == sarama.ErrNoError {
			continue
		}
		passing := !permanentKErrors[code]
		cases[fmt.Sprintf("KError %d, from the Producer", code)] = tcase{marked(code), passing}
		cases[fmt.Sprintf("KError %d, wrapped", code)] = tcase{wrapped(code), passing}
	}
	certErr := &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}}
	others := map[string]tcase{
		"out of brokers, every broker's connection lost": {sarama.Wrap(sarama.ErrOutOfBrokers, io.EOF, reset), true},
		"out of brokers, credentials refused":            {sarama.Wrap(sarama.ErrOutOfBrokers, sarama.ErrSASLAuthenticationFailed), false},
		"out of brokers, certificate not trusted":        {sarama.Wrap(sarama.ErrOutOfBrokers, certErr), false},
		"not connected":                   {sarama.ErrNotConnected, true},
		"incomplete response":             {sarama.ErrIncompleteResponse, true},
		"insufficient data":               {sarama.ErrInsufficientData, true},
		"response not decodable":          {sarama.PacketDecodingError{Info: "bad CRC"}, true},
		"broker not found":                {sarama.ErrBrokerNotFound, true},
		"retry buffer overflow":           {sarama.ErrProducerRetryBufferOverflow, true},
		"client closed":                   {sarama.ErrClosedClient, true},
		"shutting down":                   {sarama.ErrShuttingDown, true},
		"producer closed":                 {bus.ErrClosed, true},
		"network timeout":                 {timeout, true},
		"connection reset":                {reset, true},
		"broker name not resolved":        {&net.DNSError{Err: "no such host", Name: "kafka-1.hospital.local", IsTemporary: true}, true},
		"connection closed by the broker": {io.EOF, true},
		"send deadline":                   {fmt.Errorf("outcome unknown, the message may still be written: %w", context.DeadlineExceeded), true},
		"record refused":                  {fmt.Errorf("%w: %w", bus.ErrRecordRefused, sarama.ErrInvalidMessage), false},
		"topic missing":                   {fmt.Errorf("%w: %w", bus.ErrTopicUnusable, sarama.ErrUnknownTopicOrPartition), false},
		"misconfigured":                   {sarama.ConfigurationError("Producer.MaxMessageBytes"), false},
		"record not encodable":            {sarama.PacketEncodingError{Info: "header key too long"}, false},
		"certificate not trusted":         {certErr, false},
		"TLS to a plain listener":         {tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, false},
		"client certificate refused":      {&net.OpError{Op: "remote error", Err: tls.AlertError(42)}, false},
		"SCRAM refused":                   {sarama.ErrUnknownScramMechanism, false},
	}
	for name, tc := range others {
		cases[name+", from the Producer"] = tcase{marked(tc.err), tc.passing}
		cases[name+", wrapped"] = tcase{wrapped(tc.err), tc.passing}
	}
	// From the Producer, an error nothing here knows is Kafka's all the
	// same: it passes. Not from it, it is a fault of medgate.
	cases["an error sarama may add, from the Producer"] = tcase{marked(errors.New("kafka: something new went wrong")), true}
	cases["a fault of medgate"] = tcase{errors.New("encode the reference to message \"m1\": json: unsupported value: NaN"), false}
	cases["the client gave up"] = tcase{marked(fmt.Errorf("not sent: %w", context.Canceled)), false}

	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o, ok := Kafka(tc.err)
			if ok != tc.passing {
				t.Fatalf("Kafka(%v) = %+v, %v; want passing %v", tc.err, o, ok, tc.passing)
			}
			if ok && (o.Dependency != KafkaDependency || o.Reason == "") {
				t.Fatalf("Kafka(%v) = %+v; want dependency %q and a reason", tc.err, o, KafkaDependency)
			}
		})
	}
}
