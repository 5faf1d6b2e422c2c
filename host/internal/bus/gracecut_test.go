package bus

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"golang.org/x/sync/semaphore"
)

// TestReleaseGraceCutIsReported: when a released partition's release
// grace passes while a handler still runs (its context is then
// cancelled) or a deferred message still waits for its acknowledgement,
// Config.OnReleaseCut is told the topic, the partition and how many were
// cut off, so the operator sees calls cut off mid-flight (each to be
// reconciled at its next delivery); a partition whose work ends within
// the grace reports nothing.
func TestReleaseGraceCutIsReported(t *testing.T) {
	saved := recommitInterval
	recommitInterval = time.Hour
	t.Cleanup(func() { recommitInterval = saved })
	cases := map[string]struct {
		grace time.Duration
		// handler is the plugin call: it blocks until released is
		// closed (the partition was let go) or its context ends.
		handler  func(ctx context.Context, released <-chan struct{}) error
		messages int
		want     []string // "topic/partition/n" reported
	}{
		"a call that ends within the grace": {
			grace:    time.Hour,
			handler:  func(ctx context.Context, released <-chan struct{}) error { <-released; return nil },
			messages: 1,
		},
		"a call still running when the grace passes": {
			grace:    time.Millisecond,
			handler:  func(ctx context.Context, _ <-chan struct{}) error { <-ctx.Done(); return ctx.Err() },
			messages: 1,
			want:     []string{"t/0/1"},
		},
		"two keys' calls still running": {
			grace:    time.Millisecond,
			handler:  func(ctx context.Context, _ <-chan struct{}) error { <-ctx.Done(); return ctx.Err() },
			messages: 2,
			want:     []string{"t/0/2"},
		},
		"a deferred message not acknowledged in time": {
			grace:    time.Millisecond,
			handler:  func(ctx context.Context, _ <-chan struct{}) error { Defer(ctx); return nil },
			messages: 1,
			want:     []string{"t/0/1"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			revoked := make(chan struct{})
			var started atomic.Int32
			c := &Consumer{
				cfg: Config{OnReleaseCut: func(topic string, partition int32, n int) {
					mu.Lock()
					defer mu.Unlock()
					got = append(got, topic+"/"+strconv.Itoa(int(partition))+"/"+strconv.Itoa(n))
				}},
				handler: func(ctx context.Context, _ *Message) error {
					started.Add(1)
					return tc.handler(ctx, revoked)
				},
				log:          slog.New(slog.NewTextHandler(io.Discard, nil)),
				inFlight:     make(chan struct{}, 4),
				buffered:     make(chan struct{}, 16),
				bufBytes:     semaphore.NewWeighted(1 << 20),
				bufLimit:     1 << 20,
				releaseGrace: tc.grace,
			}
			sess := &offsetSession{marked: map[int32]int64{}, committed: map[int32]int64{}}
			h := &groupHandler{c: c, runCtx: t.Context()}
			if err := h.Setup(sess); err != nil {
				t.Fatal(err)
			}
			claim := &fakeClaim{msgs: make(chan *sarama.ConsumerMessage, tc.messages)}
			for i := range tc.messages {
				claim.msgs <- &sarama.ConsumerMessage{Topic: "t", Partition: 0, Offset: int64(i), Key: []byte("patient-" + strconv.Itoa(i))}
			}
			released := make(chan struct{})
			go func() {
				defer close(released)
				_ = h.ConsumeClaim(sess, claim)
			}()
			eventually(t, 5*time.Second, "every call to start", func() bool { return int(started.Load()) == tc.messages })
			close(claim.msgs) // the partition is revoked
			close(revoked)
			select {
			case <-released:
			case <-time.After(10 * time.Second):
				t.Fatal("the partition was not released")
			}
			if err := h.Cleanup(sess); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("OnReleaseCut reported %q, want %q", got, tc.want)
			}
		})
	}
}
