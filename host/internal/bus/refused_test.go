package bus

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPermanentSendErrors: a record the producer can never send fails at
// once with ErrRecordRefused or ErrTopicUnusable, so callers can tell it
// from a broker that is merely unreachable.
func TestPermanentSendErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, brokers []string) {
		topic := newTopic(t, brokers, 1)
		p := newProducer(t, brokers)
		cases := map[string]struct {
			topic string
			key   []byte
			value []byte
			want  error
		}{
			"value over the record limit": {topic: topic, value: []byte(strings.Repeat("v", MaxRecordBytes+1)), want: ErrRecordRefused},
			"key over the record limit":   {topic: topic, key: []byte(strings.Repeat("k", MaxRecordBytes)), value: []byte("{}"), want: ErrRecordRefused},
			"invalid topic name":          {topic: "bad topic/name", value: []byte("{}"), want: ErrTopicUnusable},
			"empty topic name":            {topic: "", value: []byte("{}"), want: ErrTopicUnusable},
		}
		for name, tc := range cases {
			t.Run(name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				defer cancel()
				err := p.Send(ctx, tc.topic, tc.key, tc.value, nil)
				if !errors.Is(err, tc.want) {
					t.Fatalf("Send = %v, want an error wrapping %v", err, tc.want)
				}
			})
		}
		// The producer still works after refusing records.
		if err := p.Send(t.Context(), topic, []byte("k"), []byte("{}"), nil); err != nil {
			t.Fatalf("Send after refusals: %v", err)
		}
	})
}

// TestHoldsShowTheHeldMessage: while a handler does not return, Holds
// names its partition and offset, and the hold ends when it returns.
func TestHoldsShowTheHeldMessage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, brokers []string) {
		topic := newTopic(t, brokers, 1)
		p := newProducer(t, brokers)
		send(t, p, topic, "stuck", "first")
		send(t, p, topic, "other", "second")
		release := make(chan struct{})
		var done atomic.Int32
		r := startConsumer(t, testConfig(brokers, uniqueName(t, "group")), []string{topic}, func(ctx context.Context, m *Message) error {
			if string(m.Key) == "stuck" {
				select {
				case <-release:
				case <-ctx.Done():
				}
			}
			done.Add(1)
			return nil
		})
		eventually(t, 30*time.Second, "the other key to finish while the first is held", func() bool { return done.Load() == 1 })
		hs := r.c.Holds()
		if len(hs) != 1 || hs[0].Topic != topic || hs[0].Offset != 0 || hs[0].Key != "stuck" || hs[0].Waiting != 2 || hs[0].Since.IsZero() {
			t.Fatalf("Holds = %+v, want partition 0 held at offset 0 (key stuck) with 2 waiting", hs)
		}
		close(release)
		eventually(t, 30*time.Second, "the hold to end", func() bool { return len(r.c.Holds()) == 0 })
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
	})
}
