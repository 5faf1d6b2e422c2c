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

// TestSendAsync: SendAsync hands a record over and returns; done is
// called once with what Send would return: nil once the record is
// acknowledged (it is then on the topic), an error wrapping
// ErrRecordRefused or ErrTopicUnusable for a record that can never be
// sent, and ErrClosed, at once, after Close.
func TestSendAsync(t *testing.T) {
	forEachBackend(t, func(t *testing.T, brokers []string) {
		topic := newTopic(t, brokers, 1)
		p := newProducer(t, brokers)
		var calls atomic.Int32
		outcome := func(topic string, value []byte) error {
			t.Helper()
			ch := make(chan error, 2)
			p.SendAsync(t.Context(), topic, []byte("k"), value, map[string]string{"h": "v"}, func(err error) {
				calls.Add(1)
				ch <- err
			})
			select {
			case err := <-ch:
				return err
			case <-time.After(30 * time.Second):
				t.Fatal("done not called within 30s")
				return nil
			}
		}
		if err := outcome(topic, []byte(`{"n":1}`)); err != nil {
			t.Fatalf("SendAsync of a valid record: done(%v), want nil", err)
		}
		if err := outcome(topic, []byte(strings.Repeat("v", MaxRecordBytes+1))); !errors.Is(err, ErrRecordRefused) {
			t.Fatalf("SendAsync of an oversized record: done(%v), want ErrRecordRefused", err)
		}
		if err := outcome("", []byte("{}")); !errors.Is(err, ErrTopicUnusable) {
			t.Fatalf("SendAsync to no topic: done(%v), want ErrTopicUnusable", err)
		}
		_ = p.Close() // waits for every outcome of what was handed over
		if n := calls.Load(); n != 3 {
			t.Fatalf("done called %d times for 3 records, want once each", n)
		}
		var got error
		p.SendAsync(t.Context(), topic, nil, []byte("{}"), nil, func(err error) { got = err })
		if !errors.Is(got, ErrClosed) {
			t.Fatalf("SendAsync after Close: done(%v) before returning, want ErrClosed", got)
		}
	})
}
