package bus

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/IBM/sarama"
)

// ErrRecordRefused wraps a Send error that sending the same record again
// cannot fix: the record is larger than the producer or the topic accepts,
// or the broker refuses it as invalid. The caller must change the record
// (truncate it) or send something else, never retry it as it is.
var ErrRecordRefused = errors.New("kafka refused the record")

// ErrTopicUnusable wraps a Send error caused by the topic itself: it does
// not exist (the cluster's metadata does not have it), its name is
// invalid, or this client may not write to it. It persists until an
// administrator creates the topic or grants access. A partition of an
// existing topic that no broker leads for a while is not this: that error
// passes.
var ErrTopicUnusable = errors.New("kafka topic cannot be written")

// SendError is every error of Producer.Send and Producer.SendAsync: the
// record was not written, or whether it was is unknown. It marks the
// error as a write to Kafka's, whatever its cause (a sarama error, a
// network error, a deadline, the producer closed), so that a caller can
// tell it from a failure of its own; Permanent says whether sending again
// can help. errors.Is and errors.As see Err through it.
type SendError struct {
	// Topic is the topic written to; empty when the caller gave none.
	Topic string
	// Err is the cause.
	Err error
}

// Error says what failed: "send to topic T: " and the cause.
func (e *SendError) Error() string {
	if e.Topic == "" {
		return "send to Kafka: " + e.Err.Error()
	}
	return "send to topic " + e.Topic + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *SendError) Unwrap() error { return e.Err }

// permanentSend are the errors of a write to Kafka that last until someone
// acts: the record or the topic refused, credentials or rights refused, or
// a client configuration the brokers do not accept.
var permanentSend = []error{
	ErrRecordRefused, ErrTopicUnusable,
	// The record: too large, invalid, or stamped outside the broker's
	// allowed time window (the host's clock).
	sarama.ErrMessageSizeTooLarge, sarama.ErrMessageSetSizeTooLarge, sarama.ErrInvalidRecord, sarama.ErrInvalidTimestamp,
	sarama.ErrPolicyViolation, sarama.ErrInvalidPartition,
	// The topic.
	sarama.ErrInvalidTopic,
	// Authentication and authorisation.
	sarama.ErrTopicAuthorizationFailed, sarama.ErrClusterAuthorizationFailed, sarama.ErrGroupAuthorizationFailed,
	sarama.ErrTransactionalIDAuthorizationFailed, sarama.ErrDelegationTokenAuthorizationFailed,
	sarama.ErrSASLAuthenticationFailed, sarama.ErrUnsupportedSASLMechanism, sarama.ErrIllegalSASLState,
	sarama.ErrUnknownScramMechanism, errSCRAM,
	// The client's settings against the brokers'.
	sarama.ErrUnsupportedVersion, sarama.ErrInvalidRequiredAcks, sarama.ErrUnsupportedForMessageFormat,
	sarama.ErrUnsupportedCompressionType, sarama.ErrInvalidRequest,
}

// Permanent reports whether err, of a write to Kafka (Producer.Send or
// SendAsync, wrapped or not), is one that sending again does not fix
// until someone acts: the record refused (ErrRecordRefused), the topic
// missing, invalid or forbidden (ErrTopicUnusable), this client's
// credentials, certificate or rights refused, the brokers' certificate
// not trusted, or a client configuration (protocol version, compression,
// acks, sizes) the brokers do not accept. It sees sarama's errors that the
// Producer did not classify too, and the errors an ErrOutOfBrokers
// carries (sarama gives up on every broker with their causes). Every
// other error of a write passes: brokers restarting or unreachable, a
// leader moving, replicas catching up, a timeout, a quota.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	for _, p := range permanentSend {
		if errors.Is(err, p) {
			return true
		}
	}
	if _, ok := errors.AsType[sarama.ConfigurationError](err); ok {
		return true
	}
	if _, ok := errors.AsType[sarama.PacketEncodingError](err); ok {
		return true // the record cannot be encoded (a header too long)
	}
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return true // the brokers' certificate: tls.caFile, or the broker's address
	}
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok {
		return true // TLS spoken to a listener without it, or the reverse
	}
	if _, ok := clientCertRefused(err); ok {
		return true // the broker refused this client's certificate
	}
	return false
}

// classify wraps err with ErrRecordRefused or ErrTopicUnusable when
// retrying cannot help.
func classify(err error) error {
	var cfgErr sarama.ConfigurationError
	switch {
	case errors.Is(err, errPartitionUnknown):
		return err
	case errors.As(err, &cfgErr),
		errors.Is(err, sarama.ErrMessageSizeTooLarge), errors.Is(err, sarama.ErrMessageSetSizeTooLarge),
		errors.Is(err, sarama.ErrInvalidRecord), errors.Is(err, sarama.ErrInvalidMessage):
		return fmt.Errorf("%w: %w", ErrRecordRefused, err)
	case errors.Is(err, sarama.ErrInvalidTopic), errors.Is(err, sarama.ErrUnknownTopicOrPartition),
		errors.Is(err, sarama.ErrTopicAuthorizationFailed):
		return fmt.Errorf("%w: %w", ErrTopicUnusable, err)
	}
	return err
}
