package bus

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestSendErrorsAreKafkas checks that every way a Send fails gives a
// *SendError, so a caller (the HTTP ingress's outage answer) can tell a
// write to Kafka that failed from a fault of its own, whatever the cause;
// and that Permanent tells the errors that last until someone acts (a
// forbidden or missing topic, a record too large) from those that pass (a
// broker error code sarama does not retry, the producer closing, a
// deadline).
func TestSendErrorsAreKafkas(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	topic := newTopic(t, brokers, 1)
	p := newProducer(t, brokers)
	send(t, p, topic, "k", "warm") // metadata and connection first

	// The broker answers every produce with code, while it is set.
	var code atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if code.Load() == 0 {
			return nil, nil, false
		}
		req := kreq.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = int16(code.Load())
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cancelled, cancelNow := context.WithCancel(t.Context())
	cancelNow()

	cases := []struct {
		name      string
		send      func() error
		permanent bool
	}{
		{"a broker error sarama does not retry (COORDINATOR_LOAD_IN_PROGRESS)", func() error {
			code.Store(int32(sarama.ErrOffsetsLoadInProgress))
			defer code.Store(0)
			return p.Send(ctx, topic, []byte("k"), []byte("{}"), nil)
		}, false},
		{"the topic forbidden (TOPIC_AUTHORIZATION_FAILED)", func() error {
			code.Store(int32(sarama.ErrTopicAuthorizationFailed))
			defer code.Store(0)
			return p.Send(ctx, topic, []byte("k"), []byte("{}"), nil)
		}, true},
		{"the topic missing", func() error {
			return p.Send(ctx, uniqueName(t, "missing"), []byte("k"), []byte("{}"), nil)
		}, true},
		{"no topic", func() error { return p.Send(ctx, "", []byte("k"), []byte("{}"), nil) }, true},
		{"the record too large", func() error {
			return p.Send(ctx, topic, []byte("k"), make([]byte, MaxRecordBytes+1), nil)
		}, true},
		{"the caller gave up", func() error { return p.Send(cancelled, topic, []byte("k"), []byte("{}"), nil) }, false},
		{"the producer closed", func() error {
			_ = p.Close()
			return p.Send(ctx, topic, []byte("k"), []byte("{}"), nil)
		}, false},
	}
	for _, tc := range cases { // in order: the last one closes the producer
		err := tc.send()
		if err == nil {
			t.Errorf("%s: Send succeeded", tc.name)
			continue
		}
		var se *SendError
		if !errors.As(err, &se) {
			t.Errorf("%s: Send = %v (%T), want a *SendError", tc.name, err, err)
		}
		if got := Permanent(err); got != tc.permanent {
			t.Errorf("%s: Permanent(%v) = %v, want %v", tc.name, err, got, tc.permanent)
		}
	}
}
