package outage

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/IBM/sarama"

	"github.com/medgate/medgate/host/internal/bus"
)

// KafkaDependency names Kafka in answers (the dependency field).
const KafkaDependency = "kafka"

// Reasons of a Kafka outage, as answers give them.
const (
	reasonBrokers  = "the brokers cannot be reached or the connection to them was lost"
	reasonLeader   = "a partition of the topic has no leader or too few in-sync replicas for now (a broker restarting, a partition moving)"
	reasonKSlow    = "the brokers did not answer in time"
	reasonStopping = "this medgate instance is shutting down"
	reasonKafka    = "the brokers did not take the record for now"
)

// kafkaReasons name the outage of the passing errors whose cause is
// known: a broker restarting, a leader moving, replicas catching up, a
// quota throttling the client. Any other error of a write to Kafka that
// is not permanent passes too, with reasonKafka.
var kafkaReasons = []struct {
	err    error
	reason string
}{
	{sarama.ErrOutOfBrokers, reasonBrokers},
	{sarama.ErrNotConnected, reasonBrokers},
	{sarama.ErrBrokerNotAvailable, reasonBrokers},
	{sarama.ErrNetworkException, reasonBrokers},
	{sarama.ErrControllerNotAvailable, reasonBrokers},
	{sarama.ErrLeaderNotAvailable, reasonLeader},
	{sarama.ErrNotLeaderForPartition, reasonLeader},
	{sarama.ErrReplicaNotAvailable, reasonLeader},
	{sarama.ErrNotEnoughReplicas, reasonLeader},
	{sarama.ErrNotEnoughReplicasAfterAppend, reasonLeader},
	{sarama.ErrKafkaStorageError, reasonLeader},
	// Without bus.ErrTopicUnusable (Permanent): the topic exists and its
	// partition's leader did not take the record.
	{sarama.ErrUnknownTopicOrPartition, reasonLeader},
	{sarama.ErrRequestTimedOut, reasonKSlow},
	{sarama.ErrThrottlingQuotaExceeded, reasonKSlow},
	{bus.ErrClosed, reasonStopping},
	{sarama.ErrShuttingDown, reasonStopping},
	{sarama.ErrClosedClient, reasonStopping},
}

// kafkaClientErrors are sarama's own errors of a request that failed on
// its way (a response cut short or not decodable, a broker gone from the
// metadata, the retry buffer full): Kafka's, and passing.
var kafkaClientErrors = []error{
	sarama.ErrIncompleteResponse, sarama.ErrInsufficientData, sarama.ErrBrokerNotFound,
	sarama.ErrProducerRetryBufferOverflow, sarama.ErrAlreadyConnected,
}

// Kafka reports whether err, returned by a write to Kafka and by nothing
// else (the caller knows: see ingress.DependencyError), is a passing
// outage of Kafka. The rule is inverted: a write that failed passes unless
// its error is known to last until someone acts (bus.Permanent: a record
// or topic refused, credentials, certificates or rights refused, a client
// configuration the brokers do not accept), since a broker error or a
// client error nobody listed, a new one of sarama's included, is far more
// likely a broker restarting than a fault of medgate.
//
// A write is known to have failed when err comes from the Producer (a
// bus.SendError, whatever its cause), or when it holds an error of the
// Kafka client: a broker's error code (sarama.KError), one of sarama's
// errors, a network error, a connection closed (io.EOF) or a deadline.
// Anything else (an error of the caller's own, such as a record it could
// not encode) is not an outage; nor is a write the caller cancelled.
func Kafka(err error) (Outage, bool) {
	if err == nil || bus.Permanent(err) || errors.Is(err, context.Canceled) {
		return Outage{}, false
	}
	reason, known := kafkaReason(err)
	if _, marked := errors.AsType[*bus.SendError](err); marked || known {
		return Outage{KafkaDependency, reason}, true
	}
	return Outage{}, false
}

// kafkaReason says what kind of outage err is, and whether err holds an
// error of the Kafka client at all (false: the reason is reasonKafka).
func kafkaReason(err error) (string, bool) {
	for _, p := range kafkaReasons {
		if errors.Is(err, p.err) {
			return p.reason, true
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return reasonKSlow, true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return reasonBrokers, true
	}
	if ne, ok := errors.AsType[net.Error](err); ok {
		if ne.Timeout() {
			return reasonKSlow, true
		}
		return reasonBrokers, true
	}
	if _, ok := errors.AsType[sarama.KError](err); ok {
		return reasonKafka, true
	}
	if _, ok := errors.AsType[sarama.PacketDecodingError](err); ok {
		return reasonKafka, true
	}
	for _, e := range kafkaClientErrors {
		if errors.Is(err, e) {
			return reasonKafka, true
		}
	}
	return reasonKafka, false
}
