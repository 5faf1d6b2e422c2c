// Package stall watches the request partitions' commit points: how long
// each partition's oldest unfinished message has held it, reported on
// /readyz once a partition counts as stalled and as metrics together with
// the replies and DLQ records Kafka could not take.
package stall

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/logging"
)

// After is how long a partition's oldest unfinished message may hold the
// partition's commit point before /readyz reports the partition as
// stalled. Later messages of other keys keep flowing meanwhile; a message
// retrying against a slow external system holds its partition this long
// only when something needs a look.
const After = 2 * time.Minute

// Sources are where the metrics read their values.
type Sources struct {
	// Holds lists the consumer's held partitions, longest first.
	Holds func() []bus.Hold
	// Unpublishable counts the replies and DLQ records published truncated
	// and those not published at all (pipeline.Processor.Unpublishable).
	Unpublishable func() (truncated, lost int64)
}

// Register adds the partition hold and unpublishable-record series to reg.
func Register(reg prometheus.Registerer, src Sources) error {
	cs := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "medgate_partition_held_seconds",
			Help: "How long the longest-held partition of the request topic has waited for its oldest unfinished message (0: none waits). Alert when it exceeds a few minutes: that message holds the partition's committed offset.",
		}, func() float64 {
			if hs := src.Holds(); len(hs) > 0 {
				return time.Since(hs[0].Since).Seconds()
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "medgate_records_truncated_total",
			Help: "Replies and DLQ records Kafka could not take as they were, published without their payload or redirected to the replies topic (the full reply is in the store).",
		}, func() float64 { n, _ := src.Unpublishable(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "medgate_records_unpublished_total",
			Help: "Replies and DLQ records Kafka refused even truncated; the outcome is only in the store (GET /admin/messages/{id}).",
		}, func() float64 { _, n := src.Unpublishable(); return float64(n) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}

// Check is the /readyz entry for the request partitions: "ok", or which
// partition waits on which message since when. The message's key is
// masked (logging.Mask) as in the admin API's message views: platforms
// key messages by resident ID or mobile number.
func Check(hs []bus.Hold, now time.Time) string {
	if len(hs) == 0 || now.Sub(hs[0].Since) < After {
		return "ok"
	}
	h := hs[0]
	stalled := 0
	for _, x := range hs {
		if now.Sub(x.Since) >= After {
			stalled++
		}
	}
	return fmt.Sprintf("degraded: %d partition(s) stalled; %s partition %d has waited %s for offset %d (key %q, %d message(s) uncommitted): see the log and /admin/messages?status= for pending messages",
		stalled, h.Topic, h.Partition, now.Sub(h.Since).Round(time.Second), h.Offset, logging.Mask(h.Key), h.Waiting)
}
