package bus

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestRevokedHandlerStopsBeforeNewOwner: a handler that does not return
// by itself (in medgate, an upload retried while its external system is
// down, for up to 30 minutes) must not keep its partition past the
// group's rebalance timeout. Otherwise the group drops the member, the
// partition's new owner delivers the same message again while the old
// handler still runs, and a key is processed by two instances at once.
// The handler's context is cancelled half a rebalance timeout after its
// partition is revoked, so the member lets go in time.
func TestRevokedHandlerStopsBeforeNewOwner(t *testing.T) {
	forEachBackend(t, func(t *testing.T, brokers []string) {
		topic := newTopic(t, brokers, 1)
		group := uniqueName(t, "group")
		p := newProducer(t, brokers)
		send(t, p, topic, "patient-1", "upload")

		var (
			active   atomic.Int32 // handlers of the message running now
			overlaps atomic.Int32 // deliveries that started while another ran
			first    atomic.Bool  // the first delivery has started
			finished atomic.Int32
		)
		handler := func(ctx context.Context, _ *Message) error {
			if active.Add(1) != 1 {
				overlaps.Add(1)
			}
			defer active.Add(-1)
			if first.CompareAndSwap(false, true) {
				// The external system is down: retry until told to stop.
				<-ctx.Done()
				return ctx.Err()
			}
			finished.Add(1)
			return nil
		}
		cfg := func() Config {
			c := testConfig(brokers, group)
			tune := c.tune
			c.tune = func(sc *sarama.Config) {
				tune(sc)
				sc.Consumer.Group.Rebalance.Timeout = 6 * time.Second
			}
			return c
		}
		startConsumer(t, cfg(), []string{topic}, handler)
		eventually(t, 60*time.Second, "the first delivery to start", first.Load)
		startConsumer(t, cfg(), []string{topic}, handler)

		eventually(t, 60*time.Second, "the message handled and committed", func() bool {
			return finished.Load() > 0 && sum(committed(t, brokers, group, topic, 1)) == 1
		})
		if n := overlaps.Load(); n != 0 {
			t.Errorf("the message was delivered again %d times while the revoked member's handler still ran it", n)
		}
	})
}

// TestRevokedPartitionDoesNotWaitForAStuckAcknowledgement: a revoked
// partition waits for its deferred messages (in medgate, replies waiting
// for their acks=all acknowledgement) only as long as for its handlers,
// half the rebalance timeout. A broker that never acknowledges must not
// hold the member in the rebalance past its timeout (the group would drop
// it): the member lets go of the partition while the acknowledgement is
// still missing, and the message is not committed, so it is delivered
// again (to whichever member owns the partition next). An acknowledgement
// that comes after that finishes nothing.
func TestRevokedPartitionDoesNotWaitForAStuckAcknowledgement(t *testing.T) {
	forEachBackend(t, func(t *testing.T, brokers []string) {
		topic := newTopic(t, brokers, 1)
		group := uniqueName(t, "group")
		p := newProducer(t, brokers)
		send(t, p, topic, "patient-1", "reply-unacknowledged")

		var (
			stuck      atomic.Pointer[Later] // the first delivery's deferred message
			deliveries atomic.Int32
		)
		handler := func(ctx context.Context, _ *Message) error {
			if deliveries.Add(1) == 1 {
				// The reply is handed over; its acknowledgement never comes.
				stuck.Store(Defer(ctx))
			}
			return nil
		}
		cfg := func() Config {
			c := testConfig(brokers, group)
			tune := c.tune
			c.tune = func(sc *sarama.Config) {
				tune(sc)
				sc.Consumer.Group.Rebalance.Timeout = 6 * time.Second
			}
			return c
		}
		first := startConsumer(t, cfg(), []string{topic}, handler)
		eventually(t, 60*time.Second, "the first delivery to defer the message", func() bool { return stuck.Load() != nil })
		startConsumer(t, cfg(), []string{topic}, handler)

		// Without the cut-off, the first owner's partition would wait for
		// the acknowledgement for ever (held in Holds), its member dropped
		// from the group.
		eventually(t, 60*time.Second, "the first owner to let go of the partition, and the message delivered again and committed", func() bool {
			return len(first.c.Holds()) == 0 && deliveries.Load() > 1 && committed(t, brokers, group, topic, 1)[0] == 1
		})
		// The late acknowledgement: logged, nothing marked, no panic.
		stuck.Load().Done(nil)
		if at := committed(t, brokers, group, topic, 1)[0]; at != 1 {
			t.Errorf("committed offset %d after the late acknowledgement, want 1", at)
		}
	})
}
