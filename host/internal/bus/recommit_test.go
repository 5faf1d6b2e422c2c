package bus

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// offsetSession is a group session whose offset commits behave like
// sarama's: MarkOffset only moves a partition's mark forward, Commit sends
// the marks not committed yet, and a commit that fails (coordinator
// moving, broker restarting) keeps them for the next Commit.
type offsetSession struct {
	sarama.ConsumerGroupSession // only the methods below are used

	mu        sync.Mutex
	marked    map[int32]int64
	committed map[int32]int64
	failures  int // commits that fail from now on
}

func (s *offsetSession) MarkOffset(_ string, partition int32, offset int64, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if offset > s.marked[partition] {
		s.marked[partition] = offset
	}
}

func (s *offsetSession) Commit() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failures > 0 {
		s.failures--
		return
	}
	for p, o := range s.marked {
		s.committed[p] = o
	}
}

func (s *offsetSession) Context() context.Context { return context.Background() }

func (s *offsetSession) committedOffset(partition int32) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed[partition]
}

// TestFailedCommitIsRetried: a commit that fails (the group coordinator
// restarting or moving) is sent again without waiting for another message
// to finish, so the committed offset of a partition that has gone quiet
// still reaches its last finished message, and a restart does not deliver
// again what was finished long ago.
func TestFailedCommitIsRetried(t *testing.T) {
	saved := recommitInterval
	recommitInterval = 10 * time.Millisecond
	t.Cleanup(func() { recommitInterval = saved })

	cases := map[string]int{"one failed commit": 1, "three failed commits": 3}
	for name, failures := range cases {
		t.Run(name, func(t *testing.T) {
			sess := &offsetSession{marked: map[int32]int64{}, committed: map[int32]int64{}, failures: failures}
			m := startCommitter(&Consumer{}, sess, nil)
			defer m.close()
			// The last message of a partition finishes: its offset is
			// marked, and nothing is marked after it.
			sess.MarkOffset("t", 0, 42, "")
			m.marked()
			eventually(t, 5*time.Second, "offset 42 committed after the failed commit", func() bool {
				return sess.committedOffset(0) == 42
			})
		})
	}
}

// TestLastCommitIsRetriedAtCleanup: when the last commit of a partition
// that stops (revoked, the session ending) fails, the session's cleanup
// sends it again: sarama, with auto-commit off, does not flush marks when
// it closes the session, so they would be lost and their messages
// delivered again to the next owner.
func TestLastCommitIsRetriedAtCleanup(t *testing.T) {
	saved := recommitInterval
	recommitInterval = time.Hour // no periodic commit during the test
	t.Cleanup(func() { recommitInterval = saved })

	sess := &offsetSession{marked: map[int32]int64{}, committed: map[int32]int64{}}
	h := &groupHandler{c: &Consumer{}}
	if err := h.Setup(sess); err != nil {
		t.Fatal(err)
	}
	// A partition stops: its last message finished, it commits, and the
	// commit fails (the coordinator is moving).
	sess.MarkOffset("t", 0, 7, "")
	sess.mu.Lock()
	sess.failures = 1
	sess.mu.Unlock()
	sess.Commit()
	if err := h.Cleanup(sess); err != nil {
		t.Fatal(err)
	}
	if got := sess.committedOffset(0); got != 7 {
		t.Fatalf("committed offset after cleanup = %d, want 7", got)
	}
}
