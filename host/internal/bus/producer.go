package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// ErrClosed is returned by Producer.Send after Close.
var ErrClosed = errors.New("kafka producer is closed")

// MaxRecordBytes is the largest record a Producer sends, key, value,
// headers and record overhead together (the Java client's default
// max.request.size, below the broker's default message.max.bytes).
const MaxRecordBytes = 1000000

// lingerBytes sends a lingering batch early once it holds this many bytes
// (the Java client's batch.size is 16 KiB per partition; this is per
// broker).
const lingerBytes = 64 << 10

// Producer writes messages to Kafka with an idempotent producer: each Send
// returns only once all in-sync replicas have the message, and broker-side
// de-duplication keeps retries from writing it twice or out of order.
//
// Keyed messages are partitioned like the Java client's default partitioner
// (murmur2), so a key lands in the same partition whichever client wrote it.
// A Producer is safe for concurrent use.
//
// A broker refuses a produce batch as a whole when one record in it is
// over the topic's max.message.bytes or invalid. Records share a batch by
// chance (Linger gathers them), so each record of a refused batch is sent
// again alone, on a second client that puts one record in each request:
// only the offending record fails, with ErrRecordRefused. A record sent
// again may be written after records of its key sent after it.
type Producer struct {
	client  sarama.Client // ap's, for topic metadata
	ap      sarama.AsyncProducer
	closing chan struct{}
	mu      sync.RWMutex // held for reading while a Send enqueues
	closed  bool

	closeOnce sync.Once
	drained   sync.WaitGroup

	// brokers and aloneCfg make alone, the client that sends the records
	// of refused batches again one per request, on first need. alone is
	// used only from the goroutine draining ap.Errors (so Close closes it
	// once that goroutine ended).
	brokers  []string
	aloneCfg *sarama.Config
	// creds are the credentials in force, named by the errors of
	// refusals (explain).
	creds        *Credentials
	alone        sarama.AsyncProducer
	aloneDrained sync.WaitGroup
}

// explain puts before err, of a write, what failed, where and how to
// fix it when the brokers refuse this client (describe): a send refused
// after a rotation reads as the consumer's ALERT does.
func (p *Producer) explain(err error) error {
	if d := describe(p.creds, err); d != "" {
		return fmt.Errorf("%s: %w", d, err)
	}
	return err
}

// NewProducer connects to the brokers in cfg.
func NewProducer(cfg Config) (*Producer, error) {
	// Errors name the user and files in force (connectError).
	var err error
	if cfg.Credentials, err = cfg.credentials(); err != nil {
		return nil, err
	}
	sc, err := cfg.saramaConfig()
	if err != nil {
		return nil, err
	}
	sc.Producer.Idempotent = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Net.MaxOpenRequests = 1
	sc.Producer.Retry.Max = 10
	sc.Producer.Retry.Backoff = 250 * time.Millisecond
	sc.Producer.Return.Successes = true
	sc.Producer.Return.Errors = true
	sc.Producer.Partitioner = sarama.NewMurmur2Partitioner
	sc.Producer.MaxMessageBytes = MaxRecordBytes
	if cfg.Linger > 0 {
		// A batch goes out when it is Linger old or holds lingerBytes,
		// whichever comes first (sarama flushes at once when neither is
		// set).
		sc.Producer.Flush.Frequency = cfg.Linger
		sc.Producer.Flush.Bytes = lingerBytes
	}
	if err := cfg.finish(sc); err != nil {
		return nil, err
	}
	client, err := sarama.NewClient(cfg.Brokers, sc)
	if err != nil {
		return nil, connectError("Kafka producer", cfg.Brokers, sc, cfg.Credentials, err)
	}
	ap, err := sarama.NewAsyncProducerFromClient(client)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("start Kafka producer on %v: %w", cfg.Brokers, err)
	}
	// The client for records of refused batches: the same settings, no
	// linger, one record per request.
	alone := *sc
	alone.Producer.Flush.Frequency = 0
	alone.Producer.Flush.Bytes = 0
	alone.Producer.Flush.MaxMessages = 1
	p := &Producer{client: client, ap: ap, closing: make(chan struct{}), brokers: append([]string(nil), cfg.Brokers...), aloneCfg: &alone, creds: cfg.Credentials}
	p.drained.Add(2)
	go func() {
		defer p.drained.Done()
		drainSuccesses(ap)
	}()
	go func() {
		defer p.drained.Done()
		for e := range ap.Errors() {
			if batchRefused(e.Err) {
				p.sendAlone(e.Msg)
				continue
			}
			p.failed(e)
		}
	}()
	return p, nil
}

// errPartitionUnknown marks an UNKNOWN_TOPIC_OR_PARTITION answer to a
// produce for a topic the cluster has: the broker asked did not lead the
// partition (a broker restarting, a partition moving) for longer than the
// client's retries. It passes, unlike a missing topic.
var errPartitionUnknown = errors.New("the topic exists, but its partition's leader did not take the record (a broker restarting or a partition moving); send it again")

// failed hands e's error to its message's outcome. An unknown topic or
// partition is checked against the cluster's metadata: only a topic the
// cluster does not have is unusable (see classify). The check is made
// only for that error, on the goroutine draining the errors.
func (p *Producer) failed(e *sarama.ProducerError) {
	err := e.Err
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) && p.topicExists(e.Msg.Topic) {
		err = fmt.Errorf("%w: %w", errPartitionUnknown, err)
	}
	e.Msg.Metadata.(func(error))(err)
}

// topicExists reports whether the cluster has topic: false only when a
// fresh look at its metadata says it does not (or that the name is
// invalid); true when the brokers cannot be asked, since that passes.
func (p *Producer) topicExists(topic string) bool {
	err := p.client.RefreshMetadata(topic)
	return !errors.Is(err, sarama.ErrUnknownTopicOrPartition) && !errors.Is(err, sarama.ErrInvalidTopic)
}

func drainSuccesses(ap sarama.AsyncProducer) {
	for m := range ap.Successes() {
		m.Metadata.(func(error))(nil)
	}
}

// batchRefused reports whether err is a broker's refusal of a whole
// produce batch for what one of its records is: over the topic's
// max.message.bytes, or invalid (Kafka refuses the batch atomically). A
// record over the producer's own limit fails before it is batched, with
// a sarama.ConfigurationError instead.
func batchRefused(err error) bool {
	return errors.Is(err, sarama.ErrMessageSizeTooLarge) || errors.Is(err, sarama.ErrInvalidRecord)
}

// sendAlone sends m again on the client that puts one record in each
// request, so that its outcome is its own, not that of the batch it was
// refused with; m's Metadata gets that outcome. It runs on the goroutine
// draining the main client's errors.
func (p *Producer) sendAlone(m *sarama.ProducerMessage) {
	done := m.Metadata.(func(error))
	if p.alone == nil {
		ap, err := sarama.NewAsyncProducer(p.brokers, p.aloneCfg)
		if err != nil {
			done(fmt.Errorf("the broker refused the batch of this record, and the client that sends such records again one by one did not connect to %v: %w", p.brokers, err))
			return
		}
		p.alone = ap
		p.aloneDrained.Add(2)
		go func() {
			defer p.aloneDrained.Done()
			drainSuccesses(ap)
		}()
		go func() {
			defer p.aloneDrained.Done()
			for e := range ap.Errors() {
				p.failed(e)
			}
		}()
	}
	p.alone.Input() <- &sarama.ProducerMessage{Topic: m.Topic, Key: m.Key, Value: m.Value, Headers: m.Headers, Metadata: done}
}

// Send writes one message and waits until the brokers acknowledged it. key
// chooses the partition (nil: any partition); headers may be nil.
//
// Every error is a *SendError (a write to Kafka failed), and Permanent
// tells one that sending again cannot fix. Of those, an error of the
// record wraps ErrRecordRefused (the record is too large or invalid: at
// most MaxRecordBytes fit, key, value and headers together, fewer if the
// topic's max.message.bytes is lower), one of the topic ErrTopicUnusable
// (the topic is missing or not writable). A valid record
// that shared a batch with a refused one is written all the same (see
// Producer).
//
// If ctx ends after the message was handed to the client, Send returns the
// context's error while the write may still succeed later: the outcome is
// unknown and the caller must treat the message as possibly written.
func (p *Producer) Send(ctx context.Context, topic string, key, value []byte, headers map[string]string) error {
	done := make(chan error, 1)
	p.SendAsync(ctx, topic, key, value, headers, func(err error) { done <- err })
	select {
	case err := <-done: // not handed over, or already acknowledged
		return err
	default:
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return &SendError{Topic: topic, Err: fmt.Errorf("outcome unknown, the message may still be written: %w", ctx.Err())}
	}
}

// SendAsync is Send without the wait: it hands the message to the client
// and returns, and done is called exactly once with what Send would have
// returned once the brokers acknowledged the message or it failed: from
// the producer's own goroutine, so done must not block (it delays every
// later acknowledgement), or at once, from the caller's goroutine, when
// the message is not handed over (ctx ended first, the producer is closed,
// the topic is empty). ctx bounds only the handing over: once the message
// is handed over, done waits for its outcome whatever ctx does, as Close
// does.
func (p *Producer) SendAsync(ctx context.Context, topic string, key, value []byte, headers map[string]string, done func(error)) {
	if topic == "" {
		done(&SendError{Err: fmt.Errorf("empty topic name: %w", ErrTopicUnusable)})
		return
	}
	msg := &sarama.ProducerMessage{
		Topic: topic,
		Value: sarama.ByteEncoder(value),
		Metadata: func(err error) {
			if err != nil {
				err = &SendError{Topic: topic, Err: p.explain(classify(err))}
			}
			done(err)
		},
	}
	if key != nil {
		msg.Key = sarama.ByteEncoder(key)
	}
	if len(headers) > 0 {
		msg.Headers = make([]sarama.RecordHeader, 0, len(headers))
		for k, v := range headers {
			msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(k), Value: []byte(v)})
		}
	}

	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		done(&SendError{Topic: topic, Err: ErrClosed})
		return
	}
	select {
	case p.ap.Input() <- msg:
		p.mu.RUnlock()
	case <-ctx.Done():
		p.mu.RUnlock()
		done(&SendError{Topic: topic, Err: fmt.Errorf("not sent: %w", ctx.Err())})
	case <-p.closing:
		p.mu.RUnlock()
		done(&SendError{Topic: topic, Err: ErrClosed})
	}
}

// Close waits for messages already handed over to be acknowledged or to
// fail (their Send calls return the outcome), then disconnects. Send fails
// with ErrClosed afterwards.
func (p *Producer) Close() error {
	p.closeOnce.Do(func() {
		close(p.closing) // releases Sends waiting to enqueue
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		// AsyncClose, not Close: Close would consume the Successes and
		// Errors channels that deliver outcomes to waiting Sends.
		p.ap.AsyncClose()
		p.drained.Wait()
		// Nothing is sent alone any more: the main client's errors are
		// drained.
		if p.alone != nil {
			p.alone.AsyncClose()
			p.aloneDrained.Wait()
		}
		_ = p.client.Close()
	})
	return nil
}
