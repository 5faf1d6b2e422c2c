package bus

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"golang.org/x/sync/semaphore"
)

// causeSession is an offsetSession whose context ends with a cause, as
// sarama's session context does.
type causeSession struct {
	*offsetSession
	ctx context.Context
}

func (s *causeSession) Context() context.Context { return s.ctx }

// TestHandlersStopAtOnceWhenMembershipIsLost: a rebalance lets the
// handlers of a released partition finish (for half the rebalance
// timeout), since the group waits for this member before the partition
// has another owner. A member that learns it is out of the group (its
// heartbeat answered with an unknown member id or an old generation,
// after a pause or a network cut longer than the session timeout) has no
// such time: another member owns its partitions already and delivers
// their messages again, so handlers still running here would process a
// key on two instances at once. Their context is cancelled at once, and
// nothing they finish is committed.
func TestHandlersStopAtOnceWhenMembershipIsLost(t *testing.T) {
	saved := recommitInterval
	recommitInterval = time.Hour // only the commits the test makes
	t.Cleanup(func() { recommitInterval = saved })
	cases := []struct {
		name  string
		cause error // nil: an ordinary rebalance (sarama cancels without a cause)
	}{
		{"rebalance", nil},
		{"unknown member id", sarama.ErrUnknownMemberId},
		{"old generation", sarama.ErrIllegalGeneration},
		{"fenced instance id", sarama.ErrFencedInstancedId},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			started := make(chan struct{})
			var stopping <-chan struct{}
			finish := make(chan struct{})
			cancelled := make(chan struct{})
			c := &Consumer{
				handler: func(ctx context.Context, _ *Message) error {
					stopping = Released(ctx)
					close(started)
					select {
					case <-ctx.Done():
						close(cancelled)
						return ctx.Err()
					case <-finish:
						return nil
					}
				},
				log:          slog.New(slog.NewTextHandler(io.Discard, nil)),
				inFlight:     make(chan struct{}, 1),
				buffered:     make(chan struct{}, 16),
				bufBytes:     semaphore.NewWeighted(1 << 20),
				bufLimit:     1 << 20,
				releaseGrace: time.Hour,
			}
			sessCtx, endSession := context.WithCancelCause(context.Background())
			sess := &causeSession{offsetSession: &offsetSession{marked: map[int32]int64{}, committed: map[int32]int64{}}, ctx: sessCtx}
			h := &groupHandler{c: c, runCtx: t.Context()}
			if err := h.Setup(sess); err != nil {
				t.Fatal(err)
			}
			claim := &fakeClaim{msgs: make(chan *sarama.ConsumerMessage, 1)}
			claim.msgs <- &sarama.ConsumerMessage{Topic: "t", Partition: 0, Offset: 0, Key: []byte("patient-1"), Value: []byte("upload")}
			released := make(chan struct{})
			go func() {
				defer close(released)
				_ = h.ConsumeClaim(sess, claim)
			}()
			<-started
			endSession(tc.cause)

			if tc.cause == nil {
				// The handler may finish: the group waits for it. Once
				// the partition stops, a cancellation would follow at
				// once; none may come.
				<-stopping
				select {
				case <-cancelled:
					t.Fatal("a rebalance cancelled the running handler at once; it has half the rebalance timeout")
				case <-released:
					t.Fatal("the partition was released while its handler still ran")
				case <-time.After(200 * time.Millisecond):
				}
				close(finish)
			} else {
				select {
				case <-cancelled:
				case <-time.After(10 * time.Second):
					close(finish)
					t.Fatalf("the session ended with %v, and the handler still ran 10s later: the partition's next owner may deliver its message meanwhile", tc.cause)
				}
			}
			select {
			case <-released:
			case <-time.After(10 * time.Second):
				t.Fatal("the partition was not released")
			}
			if err := h.Cleanup(sess); err != nil {
				t.Fatal(err)
			}
			want := int64(1)
			if tc.cause != nil {
				want = 0
			}
			if got := sess.committedOffset(0); got != want {
				t.Errorf("committed offset %d, want %d", got, want)
			}
		})
	}
}
