package daemon

import (
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestKafkaConsumerUpGauge: medgate_kafka_consumer_up follows the
// consumer at each scrape: 1 while it is in its group and consuming, 0
// while it is out of it (the brokers unreachable, or refusing it), so
// MedgateKafkaUnavailable pages on an outage that /readyz alone reports.
func TestKafkaConsumerUpGauge(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		ready []bool
		want  []float64
	}{
		"consuming":         {[]bool{true}, []float64{1}},
		"never joined":      {[]bool{false}, []float64{0}},
		"outage, then back": {[]bool{true, false, true}, []float64{1, 0, 1}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			var ready atomic.Bool
			if err := kafkaConsumerUpGauge(reg, ready.Load); err != nil {
				t.Fatal(err)
			}
			for i, r := range tc.ready {
				ready.Store(r)
				mfs, err := reg.Gather()
				if err != nil {
					t.Fatal(err)
				}
				got := -1.0
				for _, mf := range mfs {
					if mf.GetName() == "medgate_kafka_consumer_up" {
						got = mf.GetMetric()[0].GetGauge().GetValue()
					}
				}
				if got != tc.want[i] {
					t.Errorf("scrape %d (consumer ready %v): medgate_kafka_consumer_up = %v, want %v", i, r, got, tc.want[i])
				}
			}
		})
	}
}
