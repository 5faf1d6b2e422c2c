// Package metrics defines medgate's Prometheus metrics. Every metric lives
// in one registry owned by the daemon, served on /metrics.
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds the collectors.
type Metrics struct {
	Registry       *prometheus.Registry
	Messages       *prometheus.CounterVec
	Latency        *prometheus.HistogramVec
	DLQ            *prometheus.CounterVec
	PluginRestarts *prometheus.CounterVec
	PluginUp       *prometheus.GaugeVec
	JobRuns        *prometheus.CounterVec
	JobLastSuccess *prometheus.GaugeVec
	Reloads        *prometheus.CounterVec
}

// OldestPending reports the oldest pending message's business time.
type OldestPending func(ctx context.Context) (time.Time, bool, error)

// New registers every metric. oldest feeds medgate_oldest_pending_seconds,
// computed at each scrape.
func New(oldest OldestPending, now func() time.Time) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medgate_messages_total", Help: "Messages finished, by type and status (ok, invalid, rejected, failed).",
		}, []string{"type", "status"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "medgate_message_duration_seconds", Help: "Time from receipt to stored outcome, by type.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800},
		}, []string{"type"}),
		DLQ: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medgate_dlq_total", Help: "Records written to the dead-letter topic, by type and status.",
		}, []string{"type", "status"}),
		PluginRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medgate_plugin_restarts_total", Help: "Plugin relaunches after a crash or failed health check.",
		}, []string{"plugin"}),
		PluginUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "medgate_plugin_up", Help: "1 when the plugin process is running and healthy.",
		}, []string{"plugin"}),
		JobRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medgate_job_runs_total", Help: "Scheduled job runs, by job and result.",
		}, []string{"job", "result"}),
		JobLastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "medgate_job_last_success_timestamp_seconds", Help: "Unix time of the last successful run of each job.",
		}, []string{"job"}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medgate_config_reloads_total", Help: "Configuration reloads, by result.",
		}, []string{"result"}),
	}
	oldestGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "medgate_oldest_pending_seconds",
		Help: "Age of the oldest unfinished message (from its occurredAt): alert well before 1800 (the 30-minute upload rule).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		t, ok, err := oldest(ctx)
		if err != nil || !ok {
			return 0
		}
		return now().Sub(t).Seconds()
	})
	r.MustRegister(m.Messages, m.Latency, m.DLQ, m.PluginRestarts, m.PluginUp, m.JobRuns, m.JobLastSuccess, m.Reloads, oldestGauge,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Finished implements the pipeline's Observer.
func (m *Metrics) Finished(typ, status string, d time.Duration) {
	m.Messages.WithLabelValues(label(typ), status).Inc()
	m.Latency.WithLabelValues(label(typ)).Observe(d.Seconds())
}

// DeadLettered implements the pipeline's Observer.
func (m *Metrics) DeadLettered(typ, status string) {
	m.DLQ.WithLabelValues(label(typ), status).Inc()
}

// label keeps label cardinality bounded: unknown or empty types collapse.
func label(typ string) string {
	if typ == "" || len(typ) > 64 {
		return "unknown"
	}
	return typ
}
