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
)

// passingKafka are the errors of a write to Kafka that pass by
// themselves: a broker restarting, a leader moving, replicas catching up,
// a quota throttling the client.
var passingKafka = []struct {
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
	// Without bus.ErrTopicUnusable (checked first): the topic exists and
	// its partition's leader did not take the record.
	{sarama.ErrUnknownTopicOrPartition, reasonLeader},
	{sarama.ErrRequestTimedOut, reasonKSlow},
	{sarama.ErrThrottlingQuotaExceeded, reasonKSlow},
	{bus.ErrClosed, reasonStopping},
	{sarama.ErrShuttingDown, reasonStopping},
	{sarama.ErrClosedClient, reasonStopping},
}

// Kafka reports whether err, returned by a write to Kafka and by nothing
// else (the caller knows: see ingress.DependencyError), is a passing
// outage of Kafka: the brokers unreachable or the connection lost, a
// partition without a leader or enough in-sync replicas for now, a
// request timed out, or the producer closed because this instance shuts
// down. A topic that is missing or not writable (bus.ErrTopicUnusable), a
// record Kafka refuses (bus.ErrRecordRefused), a producer misconfigured
// or refused its credentials, and any error not known to pass are not
// outages: waiting does not fix them, an administrator does.
func Kafka(err error) (Outage, bool) {
	if err == nil || errors.Is(err, bus.ErrTopicUnusable) || errors.Is(err, bus.ErrRecordRefused) {
		return Outage{}, false
	}
	for _, p := range passingKafka {
		if errors.Is(err, p.err) {
			return Outage{KafkaDependency, p.reason}, true
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Outage{KafkaDependency, reasonKSlow}, true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return Outage{KafkaDependency, reasonBrokers}, true
	}
	if ne, ok := errors.AsType[net.Error](err); ok {
		if ne.Timeout() {
			return Outage{KafkaDependency, reasonKSlow}, true
		}
		return Outage{KafkaDependency, reasonBrokers}, true
	}
	return Outage{}, false
}
