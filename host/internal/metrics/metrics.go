// Package metrics defines medgate's Prometheus metrics. Every metric lives
// in one registry owned by the daemon, served on /metrics.
package metrics

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// JobInterval is each scheduled job's interval (see WatchJobs), for
	// the stalled-job alert to compare the time since its last success
	// with.
	JobInterval *prometheus.GaugeVec
	Reloads     *prometheus.CounterVec
	// WritesRefused counts the plugins' host-service writes their limits
	// refused, by plugin and the limit's configuration key (see
	// WriteRefused).
	WritesRefused *prometheus.CounterVec
	// KafkaOffsetResets counts the request partitions read again from
	// their oldest record because their committed offset was outside the
	// log or lost (see OffsetReset).
	KafkaOffsetResets *prometheus.CounterVec
	// KafkaReleaseCuts counts the messages whose handler (plugin call)
	// or acknowledgement a partition's release grace cut off (see
	// ReleaseCut).
	KafkaReleaseCuts *prometheus.CounterVec
	// PluginAlertLines counts the ALERT lines each plugin logged (see
	// PluginAlerts).
	PluginAlertLines *prometheus.CounterVec

	// types are the declared operation types (see SetTypes).
	types atomic.Pointer[map[string]bool]

	jobsMu sync.Mutex
	// jobsScheduled are the jobs scheduled now, whose interval and
	// last-success gauges exist (see WatchJobs).
	jobsScheduled map[string]bool

	pluginsMu sync.Mutex
	// plugins are the plugins running now (see PluginsRunning), nil
	// until it is first called; pluginsUp those with an up series.
	plugins, pluginsUp map[string]bool
}

// Labels used when a message's type or status is not one medgate knows:
// made-up values never create new series.
const (
	UndeclaredType = "undeclared"
	OtherStatus    = "other"
)

// statuses are the reply statuses, the only values of the status label.
var statuses = map[string]bool{"ok": true, "invalid": true, "rejected": true, "failed": true}

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
			Name: "medgate_plugin_up", Help: "1 when the plugin process is running and healthy at every site it is enabled at; 0 while it is down or runs without an isolated site (its Configure killed it at every relaunch, or its messages kept crashing it).",
		}, []string{"plugin"}),
		JobRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medgate_job_runs_total", Help: "Scheduled job runs, by job and result.",
		}, []string{"job", "result"}),
		JobLastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "medgate_job_last_success_timestamp_seconds", Help: "Unix time of the last successful run of each job.",
		}, []string{"job"}),
		JobInterval: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "medgate_job_interval_seconds", Help: "Interval of each scheduled job, in seconds; only the jobs scheduled now have one.",
		}, []string{"job"}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medgate_config_reloads_total", Help: "Configuration reloads, by result.",
		}, []string{"result"}),
		WritesRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medgate_plugin_writes_refused_total",
			Help: "Plugin writes through the host services (events, journal entries, state values) refused by the plugin's limits, by plugin and limit (pluginLimits / plugins[].limits key).",
		}, []string{"plugin", "limit"}),
		KafkaOffsetResets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medgate_kafka_offset_resets_total",
			Help: "Consumed partitions read again from the oldest record, by topic, partition and reason: out_of_range (the committed offset was outside the log: broker data lost, or records deleted before they were read) or offsets_lost (the group had no committed offset for a partition consumed before: offsets expired or group deleted; a changed kafka.groupId is not counted, only logged as a WARN).",
		}, []string{"topic", "partition", "reason"}),
		KafkaReleaseCuts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medgate_kafka_release_cut_total",
			Help: "Messages still unfinished when their partition's release grace (kafka.releaseGrace) passed, at shutdown or a rebalance, by topic: a plugin call cancelled mid-flight, or a reply not yet acknowledged. Nothing is lost: each is delivered again and reconciled with the external system before any resend.",
		}, []string{"topic"}),
		PluginAlertLines: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medgate_plugin_alerts_total",
			Help: "Log lines a plugin wrote as ALERT (at ERROR, the message starting \"ALERT\"), by plugin: a condition the plugin says an operator must act on (an upload past its 30-minute deadline, download feedback late, a re-download refused, a QR key removed while its codes are valid, …); the medgate log has each line with the plugin, what happened and what to do.",
		}, []string{"plugin"}),
	}
	probe := &pendingProbe{oldest: oldest, now: now}
	oldestGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "medgate_oldest_pending_seconds",
		Help: "Age of the oldest unfinished message (from its occurredAt): alert well before 1800 (the 30-minute upload rule). While the store does not answer, the age of the oldest one last seen, still growing (no message can finish without the store).",
	}, probe.age)
	storeUp := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "medgate_store_up",
		Help: "1 when the store answered this scrape's query of the oldest unfinished message, 0 when it failed or took over 2 seconds: its database down, unreachable or not answering (the medgate log and /readyz say why).",
	}, probe.up)
	r.MustRegister(m.Messages, m.Latency, m.DLQ, m.PluginRestarts, m.PluginUp, m.JobRuns, m.JobLastSuccess, m.JobInterval, m.Reloads, m.WritesRefused, m.KafkaOffsetResets, m.KafkaReleaseCuts, m.PluginAlertLines, oldestGauge, storeUp,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// pendingProbe asks the store for the oldest unfinished message once per
// scrape, for both medgate_oldest_pending_seconds and medgate_store_up
// (gathered concurrently: the second within probeReuse reuses the first's
// answer).
type pendingProbe struct {
	oldest OldestPending
	now    func() time.Time

	mu sync.Mutex
	at time.Time // when the store was last asked
	// err is its last answer's error; t and ok the oldest unfinished
	// message's time and whether there is one, as last answered without
	// error (kept through an outage).
	err   error
	t     time.Time
	ok    bool
	asked bool
}

// probeReuse is how long an answer serves both gauges of one scrape.
const probeReuse = time.Second

// ask queries the store unless it was asked within probeReuse. The
// caller holds p.mu.
func (p *pendingProbe) ask() {
	now := p.now()
	if p.asked && now.Sub(p.at) >= 0 && now.Sub(p.at) < probeReuse {
		return
	}
	p.asked, p.at = true, now
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	t, ok, err := p.oldest(ctx)
	p.err = err
	if err == nil {
		p.t, p.ok = t, ok
	}
}

// age is medgate_oldest_pending_seconds: from the store's answer, or,
// while the store fails, from the oldest unfinished message it last
// named, which cannot have finished since (finishing writes its outcome
// to the store), so the 30-minute alerts are not silenced by the outage.
func (p *pendingProbe) age() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ask()
	if !p.ok {
		return 0
	}
	return p.now().Sub(p.t).Seconds()
}

// up is medgate_store_up.
func (p *pendingProbe) up() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ask()
	if p.err != nil {
		return 0
	}
	return 1
}

// SetTypes declares the operation types the running plugins offer (at
// start and after each reload). Only these become type labels; any other
// type a message names is counted as UndeclaredType, so a client making up
// types cannot grow /metrics.
func (m *Metrics) SetTypes(types []string) {
	set := make(map[string]bool, len(types))
	for _, t := range types {
		set[t] = true
	}
	m.types.Store(&set)
}

// Finished implements the pipeline's Observer.
func (m *Metrics) Finished(typ, status string, d time.Duration) {
	t := m.typeLabel(typ)
	m.Messages.WithLabelValues(t, statusLabel(status)).Inc()
	m.Latency.WithLabelValues(t).Observe(d.Seconds())
}

// DeadLettered implements the pipeline's Observer.
func (m *Metrics) DeadLettered(typ, status string) {
	m.DLQ.WithLabelValues(m.typeLabel(typ), statusLabel(status)).Inc()
}

// typeLabel keeps label cardinality bounded: a type that no plugin
// declared collapses to UndeclaredType.
func (m *Metrics) typeLabel(typ string) string {
	if set := m.types.Load(); set != nil && (*set)[typ] {
		return typ
	}
	return UndeclaredType
}

// statusLabel keeps the status label to the reply statuses.
func statusLabel(status string) string {
	if statuses[status] {
		return status
	}
	return OtherStatus
}

// WriteRefused counts a plugin's write refused by its limits
// (hostsvc.Services.SetRefusals). The plugin is one the configuration
// declares and limit one of the limits' keys, so the series stay few.
func (m *Metrics) WriteRefused(plugin, limit string) {
	m.WritesRefused.WithLabelValues(plugin, limit).Inc()
}

// OffsetReset counts a consumed partition read again from its oldest
// record because its committed offset was outside the log or lost
// (bus.Config.OnOffsetReset); reason is bus.ResetOutOfRange or
// bus.ResetOffsetsLost. Topics are the configured ones, partitions
// theirs and reasons two, so the series stay few.
func (m *Metrics) OffsetReset(topic string, partition int32, reason string) {
	m.KafkaOffsetResets.WithLabelValues(topic, strconv.Itoa(int(partition)), reason).Inc()
}

// ReleaseCut counts n messages of a partition of topic whose handler
// was still running, or whose reply was still unacknowledged, when the
// partition's release grace passed (bus.Config.OnReleaseCut). Topics are
// the configured ones, so the series stay few; the partition is not a
// label (the medgate log names it).
func (m *Metrics) ReleaseCut(topic string, _ int32, n int) {
	m.KafkaReleaseCuts.WithLabelValues(topic).Add(float64(n))
}

// PluginAlerts wraps h, the handler of the plugin's re-logged lines
// (pluginhost.Options.PluginLogs), to count each line the plugin wrote as
// an ALERT (level ERROR or above, the message starting "ALERT") in
// medgate_plugin_alerts_total{plugin}; every line still goes to h. The
// plugin's series exists at 0 from then on. plugin is a name of the
// configuration, so the series stay few; plugins need no metrics of
// their own for their ALERTs to page.
func (m *Metrics) PluginAlerts(h slog.Handler, plugin string) slog.Handler {
	return &alertCounter{Handler: h, c: m.PluginAlertLines.WithLabelValues(plugin)}
}

// alertCounter is the handler PluginAlerts returns.
type alertCounter struct {
	slog.Handler
	c prometheus.Counter
}

func (a *alertCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError && strings.HasPrefix(r.Message, "ALERT") {
		a.c.Inc()
	}
	return a.Handler.Handle(ctx, r)
}

func (a *alertCounter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &alertCounter{Handler: a.Handler.WithAttrs(attrs), c: a.c}
}

func (a *alertCounter) WithGroup(name string) slog.Handler {
	return &alertCounter{Handler: a.Handler.WithGroup(name), c: a.c}
}

// PluginsRunning takes the plugins running now (the daemon's, at each
// refresh of medgate_plugin_up and after each reload). A plugin not among
// them (a reload removed it) loses its medgate_plugin_up series, so the
// MedgatePluginDown alert does not fire, and no dashboard shows it up,
// for a plugin that no longer runs; SetPluginUp for it is ignored from
// then on (its retired process stopping), until it runs again. Its
// counters (medgate_plugin_restarts_total,
// medgate_plugin_writes_refused_total) stay: they no longer grow, so no
// rate or alert reads them as current, and deleting them would lose the
// increments since the last scrape.
func (m *Metrics) PluginsRunning(names []string) {
	m.pluginsMu.Lock()
	defer m.pluginsMu.Unlock()
	m.plugins = make(map[string]bool, len(names))
	for _, n := range names {
		m.plugins[n] = true
	}
	for n := range m.pluginsUp {
		if !m.plugins[n] {
			m.PluginUp.DeleteLabelValues(n)
			delete(m.pluginsUp, n)
		}
	}
}

// SetPluginUp sets medgate_plugin_up of plugin, unless it is not one of
// the plugins running (see PluginsRunning).
func (m *Metrics) SetPluginUp(plugin string, up bool) {
	m.pluginsMu.Lock()
	defer m.pluginsMu.Unlock()
	if m.plugins != nil && !m.plugins[plugin] {
		return
	}
	if m.pluginsUp == nil {
		m.pluginsUp = map[string]bool{}
	}
	m.pluginsUp[plugin] = true
	v := 0.0
	if up {
		v = 1
	}
	m.PluginUp.WithLabelValues(plugin).Set(v)
}

// WatchJobs takes the scheduled jobs (at start and after each reload),
// their intervals by job id. Each job's interval is exported
// (medgate_job_interval_seconds), and a job no longer scheduled loses
// its series (interval and last success), so that the "download stalled"
// alert compares each job's time since its last success with its own
// interval, and neither it nor a dashboard shows a job a reload dropped.
// Every job gets a last-success time, so the alert also fires for a job
// that has never succeeded since this instance started: a new job (at
// start, or scheduled by a reload, again or for the first time) reports
// since (the process start, or the reload). A job that stays scheduled
// keeps its time. The alert rule takes the maximum over instances, so an
// instance that does not hold a job's lease does not raise it while
// another one runs the job.
func (m *Metrics) WatchJobs(intervals map[string]time.Duration, since time.Time) {
	m.jobsMu.Lock()
	defer m.jobsMu.Unlock()
	for id := range m.jobsScheduled {
		if _, ok := intervals[id]; !ok {
			m.JobInterval.DeleteLabelValues(id)
			m.JobLastSuccess.DeleteLabelValues(id)
		}
	}
	was := m.jobsScheduled
	m.jobsScheduled = make(map[string]bool, len(intervals))
	for id, interval := range intervals {
		m.jobsScheduled[id] = true
		m.JobInterval.WithLabelValues(id).Set(interval.Seconds())
		if !was[id] {
			m.JobLastSuccess.WithLabelValues(id).Set(float64(since.UnixNano()) / 1e9)
		}
	}
}

// JobSucceeded records a successful run of job id at t. A job not
// scheduled (see WatchJobs: a run that ended after a reload dropped its
// job) has no last-success time to move.
func (m *Metrics) JobSucceeded(id string, t time.Time) {
	m.jobsMu.Lock()
	defer m.jobsMu.Unlock()
	if !m.jobsScheduled[id] {
		return
	}
	m.JobLastSuccess.WithLabelValues(id).Set(float64(t.UnixNano()) / 1e9)
}
