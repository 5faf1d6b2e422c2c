package daemon

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/bus"
)

// TestKafkaConsumerLagGauge: medgate_kafka_consumer_lag{topic,partition}
// is read from the consumer at each scrape: one series per partition it
// claims, with the records not read yet, and none left for a partition
// it released, so MedgateKafkaConsumerLag pages on a consumer that falls
// behind and not on a partition another instance reads now.
func TestKafkaConsumerLagGauge(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		scrapes [][]bus.Lag
		want    []map[string]float64 // "topic/partition" → lag, per scrape
	}{
		"none claimed": {[][]bus.Lag{nil}, []map[string]float64{{}}},
		"behind, then caught up": {
			[][]bus.Lag{{{Topic: "req", Partition: 0, Lag: 1500}, {Topic: "req", Partition: 2, Lag: 0}}, {{Topic: "req", Partition: 0, Lag: 0}, {Topic: "req", Partition: 2, Lag: 0}}},
			[]map[string]float64{{"req/0": 1500, "req/2": 0}, {"req/0": 0, "req/2": 0}},
		},
		"a partition released": {
			[][]bus.Lag{{{Topic: "req", Partition: 0, Lag: 7}, {Topic: "req", Partition: 1, Lag: 9}}, {{Topic: "req", Partition: 1, Lag: 3}}},
			[]map[string]float64{{"req/0": 7, "req/1": 9}, {"req/1": 3}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			var mu sync.Mutex
			var now []bus.Lag
			if err := kafkaLagGauge(reg, func() []bus.Lag { mu.Lock(); defer mu.Unlock(); return now }); err != nil {
				t.Fatal(err)
			}
			for i, lags := range tc.scrapes {
				mu.Lock()
				now = lags
				mu.Unlock()
				mfs, err := reg.Gather()
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]float64{}
				for _, mf := range mfs {
					if mf.GetName() != "medgate_kafka_consumer_lag" {
						continue
					}
					for _, m := range mf.GetMetric() {
						l := map[string]string{}
						for _, lp := range m.GetLabel() {
							l[lp.GetName()] = lp.GetValue()
						}
						got[l["topic"]+"/"+l["partition"]] = m.GetGauge().GetValue()
					}
				}
				if d := cmp.Diff(tc.want[i], got); d != "" {
					t.Errorf("scrape %d: medgate_kafka_consumer_lag (-want +got):\n%s", i, d)
				}
			}
		})
	}
}

// TestKafkaConsumerLagUnknownGauge:
// medgate_kafka_consumer_lag_unknown{topic} counts, at each scrape, the
// claimed partitions of each request topic whose lag is unknown (their
// leader silent for 90s: no medgate_kafka_consumer_lag series), 0 for a
// topic with none, so MedgateKafkaConsumerLagUnknown pages for a
// partition MedgateKafkaConsumerLag cannot see.
func TestKafkaConsumerLagUnknownGauge(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		scrapes []map[string]int
		want    []map[string]float64 // topic → count, per scrape
	}{
		"every lag known": {[]map[string]int{{"req": 0}}, []map[string]float64{{"req": 0}}},
		"a leader silent, then back": {
			[]map[string]int{{"req": 2}, {"req": 0}},
			[]map[string]float64{{"req": 2}, {"req": 0}},
		},
		"two topics": {
			[]map[string]int{{"req": 1, "req2": 0}},
			[]map[string]float64{{"req": 1, "req2": 0}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			var mu sync.Mutex
			var now map[string]int
			if err := kafkaLagUnknownGauge(reg, func() map[string]int { mu.Lock(); defer mu.Unlock(); return now }); err != nil {
				t.Fatal(err)
			}
			for i, counts := range tc.scrapes {
				mu.Lock()
				now = counts
				mu.Unlock()
				mfs, err := reg.Gather()
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]float64{}
				for _, mf := range mfs {
					if mf.GetName() != "medgate_kafka_consumer_lag_unknown" {
						continue
					}
					for _, m := range mf.GetMetric() {
						for _, lp := range m.GetLabel() {
							if lp.GetName() == "topic" {
								got[lp.GetValue()] = m.GetGauge().GetValue()
							}
						}
					}
				}
				if d := cmp.Diff(tc.want[i], got); d != "" {
					t.Errorf("scrape %d: medgate_kafka_consumer_lag_unknown (-want +got):\n%s", i, d)
				}
			}
		})
	}
}
