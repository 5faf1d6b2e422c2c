package daemon

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/bus"
)

// StallAfter is how long a partition's oldest unfinished message may hold
// the partition's commit point before /readyz reports the partition as
// stalled. Later messages of other keys keep flowing meanwhile; a message
// retrying against a slow external system holds its partition this long
// only when something needs a look.
const StallAfter = 2 * time.Minute

// registerStallMetrics adds the partition hold and unpublishable-record
// series to the metrics registry.
func (d *Daemon) registerStallMetrics() error {
	cs := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "medgate_partition_held_seconds",
			Help: "How long the longest-held partition of the request topic has waited for its oldest unfinished message (0: none waits). Alert when it exceeds a few minutes: that message holds the partition's committed offset.",
		}, func() float64 {
			if hs := d.holds(); len(hs) > 0 {
				return time.Since(hs[0].Since).Seconds()
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "medgate_records_truncated_total",
			Help: "Replies and DLQ records Kafka could not take as they were, published without their payload or redirected to the replies topic (the full reply is in the store).",
		}, func() float64 { n, _ := d.proc.Unpublishable(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "medgate_records_unpublished_total",
			Help: "Replies and DLQ records Kafka refused even truncated; the outcome is only in the store (GET /admin/messages/{id}).",
		}, func() float64 { _, n := d.proc.Unpublishable(); return float64(n) }),
	}
	for _, c := range cs {
		if err := d.metrics.Registry.Register(c); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}

// partitionsCheck is the /readyz entry for the request partitions: "ok",
// or which partition waits on which message since when.
func partitionsCheck(hs []bus.Hold, now time.Time) string {
	if len(hs) == 0 || now.Sub(hs[0].Since) < StallAfter {
		return "ok"
	}
	h := hs[0]
	stalled := 0
	for _, x := range hs {
		if now.Sub(x.Since) >= StallAfter {
			stalled++
		}
	}
	return fmt.Sprintf("degraded: %d partition(s) stalled; %s partition %d has waited %s for offset %d (key %q, %d message(s) uncommitted): see the log and /admin/messages?status= for pending messages",
		stalled, h.Topic, h.Partition, now.Sub(h.Since).Round(time.Second), h.Offset, h.Key, h.Waiting)
}

// holds lists the consumer's held partitions, longest first.
func (d *Daemon) holds() []bus.Hold {
	if d.consumer == nil {
		return nil
	}
	return d.consumer.Holds()
}
