package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/IBM/sarama"
)

// Tail reads the records appended to a topic after the Tail was created,
// from every partition, outside any consumer group. `medgate send` uses it
// to wait for the reply to the message it sent.
type Tail struct {
	consumer sarama.Consumer
	pcs      []sarama.PartitionConsumer
	out      chan *Message
	errs     chan error
	wg       sync.WaitGroup
	once     sync.Once
}

var errTailClosed = errors.New("bus: tail closed")

// NewTail starts reading topic from its current end.
func NewTail(ctx context.Context, cfg Config, topic string) (*Tail, error) {
	sc, err := cfg.saramaConfig()
	if err != nil {
		return nil, err
	}
	if err := cfg.finish(sc); err != nil {
		return nil, err
	}
	c, err := sarama.NewConsumer(cfg.Brokers, sc)
	if err != nil {
		return nil, fmt.Errorf("connect to Kafka %v: %w", cfg.Brokers, err)
	}
	parts, err := c.Partitions(topic)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("list partitions of %s: %w", topic, err)
	}
	t := &Tail{consumer: c, out: make(chan *Message, 64), errs: make(chan error, 1)}
	for _, p := range parts {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("read %s/%d: %w", topic, p, err)
		}
		t.pcs = append(t.pcs, pc)
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			for m := range pc.Messages() {
				t.out <- toMessage(m)
			}
		}()
	}
	return t, nil
}

// Next returns the next record, or ctx's error.
func (t *Tail) Next(ctx context.Context) (*Message, error) {
	select {
	case m, ok := <-t.out:
		if !ok {
			return nil, errTailClosed
		}
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops reading.
func (t *Tail) Close() {
	t.once.Do(func() {
		for _, pc := range t.pcs {
			pc.AsyncClose()
		}
		go func() {
			for range t.out {
			}
		}()
		t.wg.Wait()
		t.consumer.Close()
		close(t.out)
	})
}
