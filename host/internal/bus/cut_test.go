package bus

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"golang.org/x/sync/semaphore"
)

// fakeClaim is a claim of partition 0 of topic "t" whose messages come from
// msgs.
type fakeClaim struct {
	sarama.ConsumerGroupClaim // only the methods below are used
	msgs                      chan *sarama.ConsumerMessage
}

func (c *fakeClaim) Topic() string                            { return "t" }
func (c *fakeClaim) Partition() int32                         { return 0 }
func (c *fakeClaim) Messages() <-chan *sarama.ConsumerMessage { return c.msgs }

// InitialOffset is that of a claim started from a committed offset.
func (c *fakeClaim) InitialOffset() int64 { return 0 }

// TestLaterDoneAfterTheReleaseGraceIsNotCommitted: when a partition is
// released, a deferred message acknowledged within the release grace is
// finished and committed with the partition's last commit; one
// acknowledged after it (Done(nil) once the partition let go) is not
// marked, so no later commit of the session (the committer's, Cleanup's)
// commits it, and the next owner delivers it again.
func TestLaterDoneAfterTheReleaseGraceIsNotCommitted(t *testing.T) {
	saved := recommitInterval
	recommitInterval = time.Hour // only the commits the test makes
	t.Cleanup(func() { recommitInterval = saved })
	cases := []struct {
		name       string
		grace      time.Duration
		doneInTime bool
		want       int64 // committed offset after the session's cleanup
	}{
		{"acknowledged within the grace", time.Hour, true, 1},
		{"acknowledged after the grace", time.Millisecond, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var later atomic.Pointer[Later]
			c := &Consumer{
				handler: func(ctx context.Context, _ *Message) error {
					later.Store(Defer(ctx))
					return nil
				},
				log:          slog.New(slog.NewTextHandler(io.Discard, nil)),
				inFlight:     make(chan struct{}, 1),
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
			claim := &fakeClaim{msgs: make(chan *sarama.ConsumerMessage, 1)}
			claim.msgs <- &sarama.ConsumerMessage{Topic: "t", Partition: 0, Offset: 0, Key: []byte("patient-1"), Value: []byte("reply-pending")}
			released := make(chan struct{})
			go func() {
				defer close(released)
				_ = h.ConsumeClaim(sess, claim)
			}()
			eventually(t, 5*time.Second, "the handler to defer the message", func() bool { return later.Load() != nil })
			close(claim.msgs) // the partition is revoked
			if tc.doneInTime {
				later.Load().Done(nil)
			}
			select {
			case <-released:
			case <-time.After(10 * time.Second):
				t.Fatal("the partition was not released")
			}
			if !tc.doneInTime {
				later.Load().Done(nil) // the acknowledgement comes late
			}
			if err := h.Cleanup(sess); err != nil {
				t.Fatal(err)
			}
			if got := sess.committedOffset(0); got != tc.want {
				t.Errorf("committed offset %d, want %d", got, tc.want)
			}
			sess.mu.Lock()
			marked := sess.marked[0]
			sess.mu.Unlock()
			if marked != tc.want {
				t.Errorf("marked offset %d, want %d", marked, tc.want)
			}
		})
	}
}
