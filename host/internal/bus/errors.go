package bus

import (
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
