// Package daemon wires medgate together: configuration, store, Kafka (or
// the embedded broker), plugins, the pipeline, the scheduler and the HTTP
// server. It owns start-up order, configuration reload (SIGHUP or the admin
// API) and graceful shutdown.
package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medgate/medgate/host/internal/artifact"
	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/console"
	"github.com/medgate/medgate/host/internal/hostsvc"
	"github.com/medgate/medgate/host/internal/ingress"
	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/mapping"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/metrics"
	"github.com/medgate/medgate/host/internal/mllp"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/sites"
	"github.com/medgate/medgate/host/internal/stall"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/prometheus/client_golang/prometheus"
)

// Version is set at build time (-ldflags "-X .../daemon.Version=…").
var Version = "dev"

// Daemon is a running medgate.
type Daemon struct {
	cfgPath string
	log     *slog.Logger
	out     io.Writer

	mu  sync.Mutex // guards cfg, plugins, sites during reload
	cfg *config.Config
	// started is the configuration Start read: what is in force of the
	// settings a reload does not apply (notApplied).
	started *config.Config
	// kafkaRead fingerprints the Kafka credentials in force behind a
	// reference whose text a rotation leaves as it is (kafkaRotated).
	kafkaRead map[string][sha256.Size]byte
	// kafkaCreds are the SASL credentials and TLS material every Kafka
	// client reads at each new connection and authentication; a reload
	// rotates them (ReloadReport).
	kafkaCreds *bus.Credentials
	// kafkaNext fingerprints the credentials of the configuration being
	// reloaded, in force once rotateKafka puts them in (guarded by mu).
	kafkaNext map[string][sha256.Size]byte
	plugins   map[string]*pluginhost.Instance
	// retiring holds the plugins a reload removed that are not stopped
	// yet (they finish the calls they have in flight; see Reload), and
	// retired counts their Retire calls (guarded by mu).
	retiring map[*pluginhost.Instance]bool
	retired  sync.WaitGroup
	// httpRead fingerprints the HTTP tokens the server started with
	// (httpFingerprint), which a reload does not put in force.
	httpRead map[string][sha256.Size]byte
	// storeLock is the hold on the SQLite database (nil on PostgreSQL):
	// one instance per file (lockSQLite).
	storeLock *storeLock

	store    store.Store
	refusals *storeRefusals  // the writes the store refuses, made loud
	arts     *artifact.Store // files plugins hand over (artifacts.dir)
	maps     mapping.Mappings
	embedded *bus.Embedded
	busCfg   bus.Config
	producer *bus.Producer // requests of the HTTP ingress, plugin events: sent at once
	replies  *bus.Producer // replies and DLQ records: kafka.replyLinger
	consumer *bus.Consumer
	proc     *pipeline.Processor
	sched    *scheduler.Scheduler
	metrics  *metrics.Metrics
	http     *http.Server
	// endRequests ends the contexts of the HTTP server's requests
	// (serveHTTP, stopHTTP).
	endRequests context.CancelFunc
	// grace bounds each of the shutdown's waits (0: shutdownGrace).
	grace time.Duration
	// drainDelay is http.shutdownDelay: how long Close has /readyz
	// answer 503 (draining) before it stops taking anything.
	drainDelay time.Duration
	draining   atomic.Bool
	mllp       []*mllp.Server
	httpAddr   string

	ingress  *ingress.Ingress
	services *hostsvc.Services // what plugins call back into

	stopRun context.CancelFunc
	wg      sync.WaitGroup
}

// Options for Start.
type Options struct {
	// Out receives logs (default os.Stderr).
	Out io.Writer
	// Ready is called with the daemon once everything runs (the CLI prints
	// where medgate listens).
	Ready func(d *Daemon)
}

// Run starts medgate with the configuration file and blocks until ctx ends,
// then shuts down gracefully. reload receives a value for each SIGHUP.
func Run(ctx context.Context, cfgPath string, reload <-chan struct{}, o Options) error {
	d, err := Start(ctx, cfgPath, o)
	if err != nil {
		return err
	}
	if o.Ready != nil {
		o.Ready(d)
	}
	for {
		select {
		case <-ctx.Done():
			return d.Close()
		case <-reload:
			if err := d.Reload(ctx); err != nil {
				d.log.Error("configuration reload failed; the previous configuration stays in force", "err", err)
			}
		}
	}
}

// Start brings every component up in order and returns the running daemon.
func Start(ctx context.Context, cfgPath string, o Options) (_ *Daemon, err error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	if o.Out == nil {
		o.Out = os.Stderr
	}
	log, err := logging.New(o.Out, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return nil, err
	}
	// Code that logs through slog's default (the outbound and ACK mapping
	// warnings, the audit fallback, libraries) goes through the same
	// masking handler and format as the rest; before, it went out in
	// slog's plain text, unmasked.
	slog.SetDefault(log)
	d := &Daemon{cfgPath: cfgPath, cfg: cfg, started: cfg, log: log, out: o.Out, plugins: map[string]*pluginhost.Instance{}}
	defer func() {
		if err != nil {
			_ = d.Close()
		}
	}()

	// A write the store refuses (disk full, read-only) is an ALERT once a
	// minute and counted, not a warning per message.
	d.refusals = newStoreRefusals(log, time.Now)
	if d.store, err = openStore(ctx, cfg, store.WithRefusals(d.refusals.heard)); err != nil {
		return nil, err
	}
	if cfg.Store.Driver == store.DriverSQLite {
		if d.storeLock, err = lockSQLite(cfg.Store.Path, cfg.Node); err != nil {
			return nil, err
		}
	}
	d.metrics = metrics.New(d.store.OldestPending, time.Now)
	if err := d.refusals.register(d.metrics.Registry); err != nil {
		return nil, err
	}
	d.services = hostsvc.New(d.store, cfg.Kafka.Topics.Events)
	d.services.SetLimits(pluginLimits(cfg))
	d.services.SetRefusals(log, d.metrics.WriteRefused)
	if d.arts, err = artifact.New(cfg.Artifacts.Dir, 0); err != nil {
		return nil, cfg.Problems("artifacts.dir", "%v", err)
	}

	// Plugins first: a wrong checksum or site setting is reported before
	// anything connects to Kafka.
	if err := d.startPlugins(ctx, cfg, d.plugins); err != nil {
		return nil, err
	}
	routes, jobs, err := sites.Apply(ctx, cfg, d.plugins, d.log)
	if err != nil {
		return nil, err
	}
	// Mappings after the plugins: they compile against what plugins declare.
	set, err := mapping.Compile(cfg, d.plugins)
	if err != nil {
		return nil, err
	}
	d.maps.Set(set)

	// The replyTo topics too: replies a request asks for there must not
	// depend on the broker's auto-creation.
	topics := cfg.Kafka.Topics.All()
	brokers := cfg.Kafka.Brokers
	if e := cfg.Kafka.Embedded; e != nil {
		// The broker keeps requests and replies (personal data) in clear:
		// only medgate's user may enter its directory.
		if err := os.MkdirAll(e.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("embedded kafka: create data directory: %w", err)
		}
		if err := os.Chmod(e.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("embedded kafka: data directory %s: %w; run chmod 700 %s as its owner", e.DataDir, err, e.DataDir)
		}
		if d.embedded, err = bus.StartEmbedded(e.DataDir, e.Listen, topics, cfg.Kafka.Partitions); err != nil {
			return nil, fmt.Errorf("embedded kafka: %w", err)
		}
		brokers = d.embedded.Addrs()
		log.Info("embedded Kafka-protocol broker started (for one machine and demos; use a real Kafka cluster in production)", "addrs", brokers, "dataDir", e.DataDir)
	}
	if d.busCfg, err = BusConfig(cfg, brokers, log); err != nil {
		return nil, err
	}
	if d.kafkaRead, err = kafkaFingerprint(d.busCfg); err != nil {
		return nil, err
	}
	if d.kafkaCreds, err = bus.NewCredentials(d.busCfg.SASL, d.busCfg.TLS); err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	d.busCfg.Credentials = d.kafkaCreds
	if cfg.Kafka.CreateTopics {
		if err := bus.EnsureTopics(ctx, d.busCfg, topics, cfg.Kafka.Partitions, cfg.Kafka.ReplicationFactor); err != nil {
			return nil, fmt.Errorf("kafka: create topics: %w", err)
		}
	}
	// A requests topic keeping records longer than the store keeps their
	// outcomes would have them processed again after broker data loss
	// (README, "Kafka data loss"): a WARN says so, with both values.
	bus.CheckRetention(ctx, d.busCfg, cfg.Kafka.Topics.Requests, cfg.Retention.Messages.D())
	if d.producer, err = bus.NewProducer(d.busCfg); err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	d.services.SetPublisher(d.producer)
	// Replies and DLQ records go out with the linger of kafka.replyLinger,
	// several to a request: a reply's platform reads it up to that much
	// later, for much less CPU per reply in the broker and in medgate.
	// Requests the HTTP ingress queues and the events plugins publish while
	// they handle a message are on the path of a waiting caller, and go
	// out at once on the other producer. Either way an offset is
	// committed only after the reply is acknowledged.
	rc := d.busCfg
	rc.Linger = cfg.Kafka.ReplyLinger.D()
	if d.replies, err = bus.NewProducer(rc); err != nil {
		return nil, fmt.Errorf("kafka producer of replies: %w", err)
	}

	p := cfg.Processing
	if d.proc, err = pipeline.New(pipeline.Options{
		Store: d.store, Publisher: d.replies, Topics: pipeline.Topics{Replies: cfg.Kafka.Topics.Replies, DLQ: cfg.Kafka.Topics.DLQ}, Logger: log, Observer: d.metrics,
		MaxPayloadBytes: p.MaxPayloadBytes, ReplyTopics: cfg.Kafka.Topics.ReplyTo, MaxAttempts: p.MaxAttempts, InitialBackoff: p.InitialBackoff.D(), MaxBackoff: p.MaxBackoff.D(),
		CallTimeout: p.CallTimeout.D(), UploadDeadline: p.UploadDeadline.D(), RetryBudget: p.RetryBudget.D(),
		BreakerThreshold: p.BreakerThreshold, BreakerCooldown: p.BreakerCooldown.D(), CrashLimit: p.PluginCrashLimit,
		// A waiting HTTP request has its reply once the outcome is stored,
		// without waiting for the reply's own trip to Kafka.
		Stored: d.handOver,
		// Journal entries made while a plugin handles a message are stored
		// with its outcome, not one fsync each during the call.
		Journal: d.services,
	}); err != nil {
		return nil, err
	}
	d.ingress = ingress.New(ingress.Options{Store: d.store, Publisher: d.producer, Processor: d.proc,
		Topic: cfg.Kafka.Topics.Requests, MaxPayloadBytes: p.MaxPayloadBytes, Logger: log})
	d.sched = scheduler.New(d.store, cfg.Node, scheduler.RealClock, log)
	d.sched.OnRun = func(j scheduler.Job, err error, _ time.Duration) {
		result := "ok"
		if err != nil {
			result = "error"
		}
		d.metrics.JobRuns.WithLabelValues(j.ID(), result).Inc()
		if err == nil {
			d.metrics.JobSucceeded(j.ID(), time.Now())
		}
	}

	d.proc.SetRoutes(routes)
	d.metrics.SetTypes(sites.Types(routes))
	d.proc.SetTransformer(&d.maps)
	d.services.SetOutbound(&d.maps)
	d.setJobs(append(jobs, d.pruneJob(cfg), d.requeueJob()))

	bc := d.busCfg
	bc.GroupID = cfg.Kafka.GroupID
	bc.MaxInFlight = cfg.Kafka.MaxInFlight
	bc.MaxBufferedBytes = int64(cfg.Kafka.MaxBufferedMB) << 20
	bc.ReleaseGrace = cfg.Kafka.ReleaseGrace.D()
	bc.OnOffsetReset = d.metrics.OffsetReset
	// Calls the release grace cut off at a shutdown or rebalance are
	// counted for MedgateReleaseGraceCut.
	bc.OnReleaseCut = d.metrics.ReleaseCut
	// A broker certificate the consumer does not trust, or SASL
	// credentials the brokers refuse, are retried, with an ALERT, the
	// reason in /readyz and this count.
	if bc.OnRefused, err = kafkaRefusedCounter(d.metrics.Registry); err != nil {
		return nil, err
	}
	// The store remembers which request partitions had committed
	// offsets, so a group that lost them (expired while every instance
	// was down, deleted) is raised as an ALERT rather than taken for a
	// first start, and a changed kafka.groupId is a WARN of its own.
	bc.History = partitionHistory{store: d.store}
	if d.embedded == nil {
		// A restarted instance takes its partitions back at once.
		bc.InstanceID = instanceID(cfg.Node)
	}
	if d.consumer, err = bus.NewConsumer(bc, []string{cfg.Kafka.Topics.Requests}, d.handleKafka); err != nil {
		return nil, fmt.Errorf("kafka consumer: %w", err)
	}
	if err := kafkaConsumerUpGauge(d.metrics.Registry, d.consumer.Ready); err != nil {
		return nil, err
	}
	if err := kafkaLagGauge(d.metrics.Registry, d.consumer.Lags); err != nil {
		return nil, err
	}
	if err := kafkaLagUnknownGauge(d.metrics.Registry, d.consumer.LagsUnknown); err != nil {
		return nil, err
	}
	if err := stall.Register(d.metrics.Registry, stall.Sources{Holds: d.holds, Unpublishable: d.proc.Unpublishable}); err != nil {
		return nil, err
	}
	if err := d.maps.Register(d.metrics.Registry); err != nil {
		return nil, err
	}
	if err := d.startHTTP(cfg); err != nil {
		return nil, err
	}
	d.httpRead = httpFingerprint(cfg)
	if err := d.startMLLP(ctx, cfg, log); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.stopRun = cancel
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := d.consumer.Run(runCtx); err != nil && runCtx.Err() == nil {
			log.Error("kafka consumer stopped", "err", err)
		}
	}()
	d.runJobs(runCtx)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.requeueAtStart(runCtx, d.consumer.Ready)
	}()
	d.watchPluginUp(runCtx)
	// Set last: a start that failed stops at once.
	d.drainDelay = cfg.HTTP.ShutdownDelay.D()
	log.Info("medgate started", "version", Version, "node", cfg.Node, "http", d.httpAddr, "brokers", brokers, "store", cfg.Store.Driver, "plugins", len(d.plugins), "sites", len(cfg.Sites))
	return d, nil
}

// runJobs runs the scheduler until ctx ends (Close ends it).
func (d *Daemon) runJobs(ctx context.Context) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.sched.Run(ctx)
	}()
}

// BusConfig turns the configuration into the Kafka client settings.
func BusConfig(cfg *config.Config, brokers []string, log *slog.Logger) (bus.Config, error) {
	bc := bus.Config{Brokers: brokers, ClientID: cfg.Kafka.ClientID, Version: cfg.Kafka.Version, Logger: log, RetryCause: storeRetryCause}
	if t := cfg.Kafka.TLS; t != nil {
		bc.TLS = &bus.TLSConfig{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile, InsecureSkipVerify: t.InsecureSkipVerify}
	}
	if s := cfg.Kafka.SASL; s != nil {
		pw, err := cfg.Secret(s.Password)
		if err != nil {
			return bc, fmt.Errorf("kafka.sasl.password: %w", err)
		}
		bc.SASL = &bus.SASLConfig{Mechanism: s.Mechanism, Username: s.Username, Password: pw}
	}
	return bc, nil
}

// handleKafka is the consumer's handler. It returns nil once the outcome
// is stored and the reply handed to the producer; the pipeline defers the
// message (bus.Defer), so its offset is committed only once the reply (and
// DLQ record) is acknowledged. On an error the offset is not committed and
// the consumer calls it again with backoff.
func (d *Daemon) handleKafka(ctx context.Context, m *bus.Message) error {
	if id := m.Headers[message.HeaderRequestID]; id != "" {
		// An HTTP request of this instance may be waiting: its reply
		// comes from here, no need to poll the store for it.
		d.ingress.Taken(id)
	}
	r, err := d.proc.Process(ctx, pipeline.Input{Value: m.Value, Key: string(m.Key), TraceID: m.Headers[message.HeaderTraceID], ReplyFormat: m.Headers[message.HeaderReplyFormat]})
	if err != nil {
		return fmt.Errorf("message at %s/%d offset %d: %w", m.Topic, m.Partition, m.Offset, err)
	}
	if m.Headers[pipeline.HeaderStoredRequest] == "" {
		// The reply answers m.Value: the HTTP requests waiting for its id
		// get it if they are that message (a refusal of id-reused, a
		// stored reply given back, ...). A reference's record is not the
		// request: its outcome was handed over by the pipeline with the
		// request recorded (handOver), and the requests waiting for a
		// reply it gives back read the store.
		d.ingress.Done(r, m.Value)
	}
	return nil
}

// handOver is the pipeline's hand-over of a stored outcome
// (pipeline.Options.Stored): the HTTP requests of this instance waiting
// for it get r, if they are the message of request (ingress.Ingress.Done).
func (d *Daemon) handOver(r *message.Reply, request []byte) { d.ingress.Done(r, request) }

// Process implements api.Backend and console.Backend: the HTTP ingress
// queues the request on the request topic and waits for its outcome.
func (d *Daemon) Process(ctx context.Context, in pipeline.Input) (*message.Reply, error) {
	return d.ingress.Process(ctx, in)
}

// startPlugins launches the declared plugins not in running yet and adds
// them there.
func (d *Daemon) startPlugins(ctx context.Context, cfg *config.Config, running map[string]*pluginhost.Instance) error {
	return sites.StartPlugins(ctx, cfg, running, d.launch())
}

// launch starts one plugin, supervised. Its journal grace follows the
// call timeout in force (d.started): a reload does not change the
// pipeline's processing settings, so a plugin it starts must not take a
// new processing.callTimeout from the file either (a lower one would
// refuse late journal entries of calls the pipeline still waits for).
func (d *Daemon) launch() sites.Launch {
	return func(ctx context.Context, p config.Plugin, sum string) (*pluginhost.Instance, error) {
		return pluginhost.Start(ctx, pluginhost.Spec{Name: p.Name, Path: p.Path, SHA256: sum}, d.services.For(p.Name), pluginhost.Options{
			Logger: d.log,
			// The plugin's ALERT lines are counted for MedgatePluginAlert.
			PluginLogs:   slog.New(d.metrics.PluginAlerts(d.log.Handler(), p.Name)),
			OnRestart:    func(name string) { d.metrics.PluginRestarts.WithLabelValues(name).Inc() },
			OnHealth:     d.metrics.SetPluginUp,
			Artifacts:    d.arts,
			JournalGrace: journalGrace(d.started),

			ConfigureCrashLimit: p.Isolation.ConfigureCrashes,
			SiteCrashLimit:      p.Isolation.SiteCrashes,
			SiteCrashWindow:     p.Isolation.SiteCrashWindow.D(),
		})
	}
}

// isolation is when plugin p isolates a site (plugins[].isolation).
func isolation(p config.Plugin) pluginhost.Isolation {
	return pluginhost.Isolation{ConfigureCrashes: p.Isolation.ConfigureCrashes, SiteCrashes: p.Isolation.SiteCrashes, SiteCrashWindow: p.Isolation.SiteCrashWindow.D()}
}

// pluginLimits are the limits of each plugin's host-service writes
// (pluginLimits and plugins[].limits).
func pluginLimits(cfg *config.Config) map[string]hostsvc.Limits {
	out := make(map[string]hostsvc.Limits, len(cfg.Plugins))
	for _, p := range cfg.Plugins {
		out[p.Name] = hostsvc.Limits(p.Limits)
	}
	return out
}

// journalGrace is how long a plugin's journal entries for a site are
// still taken after the host stopped waiting for its call there
// (pluginhost.Options.JournalGrace): the pipeline's call timeout plus the
// 10 seconds the shared HTTP client gives its journal write, and never
// less than the plugin host's default.
func journalGrace(cfg *config.Config) time.Duration {
	return max(pluginhost.DefaultJournalGrace, cfg.Processing.CallTimeout.D()+10*time.Second)
}

// pruneJob deletes old finished messages and journal entries (see
// config.Retention). It runs as a scheduled job, so with several instances
// only the lease holder prunes.
func (d *Daemon) pruneJob(cfg *config.Config) scheduler.Job {
	r := cfg.Retention
	return scheduler.Job{Plugin: "medgate", Site: "all", Name: "prune", Interval: r.Interval.D(), Run: func(ctx context.Context, now time.Time) error {
		nm, nx, err := d.store.Prune(ctx, now.Add(-r.Messages.D()), now.Add(-r.Exchanges.D()))
		if err != nil {
			return err
		}
		if nm+nx > 0 {
			d.log.Info("pruned the store", "messages", nm, "exchanges", nx, "keptMessagesFor", r.Messages.D().String(), "keptExchangesFor", r.Exchanges.D().String())
		}
		return nil
	}}
}

// requeueJob queues again the HTTP requests too large for a Kafka record
// that the ingress recorded in the store but whose reference to them never
// reached the request topic (Kafka unavailable then, or the receiving
// instance died in between: see ingress.Ingress.Requeue). It runs as a
// scheduled job, so with several instances one at a time sweeps: every
// interval, and once at start (requeueAtStart).
//
// While Kafka cannot be reached, a sweep waits on the broker for the
// reference it sends, and is cancelled at its bound like any overrun; it
// is then logged as a warning (see kafkaOutage), not an ALERT: the outage
// is reported by /readyz already, and cancelling the sweep cannot end it.
func (d *Daemon) requeueJob() scheduler.Job {
	return scheduler.Job{Plugin: "medgate", Site: "all", Name: "requeue", Interval: ingress.RequeueInterval, Outage: d.kafkaOutage, Run: func(ctx context.Context, now time.Time) error {
		_, err := d.ingress.Requeue(ctx, now.Add(-ingress.RequeueAfter))
		return err
	}}
}

// kafkaOutage names the Kafka outage /readyz reports (the consumer out of
// its group: the brokers cannot be reached, or it retries after an error),
// or is "" while the consumer consumes.
func (d *Daemon) kafkaOutage() string {
	if d.consumer != nil && !d.consumer.Ready() {
		if r := d.consumer.Refused(); r != "" {
			return "Kafka refuses medgate: " + r + " (/readyz reports kafka not ready; see the ALERT in the medgate log)"
		}
	}
	if d.consumer == nil || !d.consumer.Ready() {
		return "Kafka cannot be reached: the consumer is not in its group (/readyz reports kafka not ready; see the kafka consumer's log)"
	}
	return ""
}

// kafkaReadiness is the "kafka" entry of /readyz: "ok" while the consumer
// consumes, why it cannot join its group when the brokers refuse it (their
// certificate not trusted: which one, the CA file, the fix; or the SASL
// credentials refused: the mechanism and user), or that it has not joined
// yet.
func (d *Daemon) kafkaReadiness() string {
	switch {
	case d.consumer != nil && d.consumer.Ready():
		return "ok"
	case d.consumer != nil && d.consumer.Refused() != "":
		return d.consumer.Refused()
	}
	return "the consumer has not joined its group yet"
}

// kafkaRefusedCounter registers medgate_kafka_refused_total{reason} in reg
// and returns the consumer's bus.Config.OnRefused, which counts each
// attempt to join the group that the brokers refused.
func kafkaRefusedCounter(reg prometheus.Registerer) (func(reason string), error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "medgate_kafka_refused_total",
		Help: "Attempts of the Kafka consumer to join its group that failed because the brokers were refused, by reason: tls_certificate (the brokers' certificate is not trusted: untrusted or expired, a wrong kafka.tls.caFile, a hostname mismatch; or medgate's client certificate refused by the brokers: missing, expired or from a CA they do not trust, see kafka.tls.certFile and keyFile) or sasl (the brokers refused kafka.sasl's user or password). The consumer keeps retrying; the medgate log has an ALERT saying what to fix.",
	}, []string{"reason"})
	if err := reg.Register(c); err != nil {
		return nil, fmt.Errorf("register medgate_kafka_refused_total: %w", err)
	}
	return func(reason string) { c.WithLabelValues(reason).Inc() }, nil
}

// kafkaConsumerUpGauge registers medgate_kafka_consumer_up in reg: 1
// while the consumer is in its group and consuming (ready), 0 while it
// is not (the brokers cannot be reached or refuse it, it retries after
// an error, or it has not joined yet), read at each scrape.
func kafkaConsumerUpGauge(reg prometheus.Registerer, ready func() bool) error {
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "medgate_kafka_consumer_up",
		Help: "1 while the Kafka consumer is in its group and consuming, 0 while it is not: the brokers cannot be reached or refuse it, it retries after an error, or it has not joined yet (/readyz and the medgate log say why). Nothing is consumed meanwhile.",
	}, func() float64 {
		if ready() {
			return 1
		}
		return 0
	})
	if err := reg.Register(g); err != nil {
		return fmt.Errorf("register medgate_kafka_consumer_up: %w", err)
	}
	return nil
}

// kafkaLagGauge registers medgate_kafka_consumer_lag{topic,partition} in
// reg: for each request partition the consumer claims now (lags, read at
// each scrape), the records not read yet, so that a consumer falling
// behind (a slow plugin, a partition not read) pages before its messages
// reach the store and age there. A partition the consumer released has
// no series here: the instance that claims it now reports it.
func kafkaLagGauge(reg prometheus.Registerer, lags func() []bus.Lag) error {
	g := &lagGauge{lags: lags, vec: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "medgate_kafka_consumer_lag",
		Help: "Records of each request partition this instance consumes that it has not read yet: the partition's high-water mark as of the consumer's last fetch from it or its last refresh (every 30s), whichever is later, less the next offset to read (records read and not finished are in medgate_partition_held_seconds instead). Only partitions claimed now have a series. It can read low: while nothing is fetched from a partition (medgate's buffer full), records arriving since the last refresh are not counted. A partition whose leader has answered neither a fetch with records nor the refresh for 90s has no series (its lag is unknown; the medgate log has a WARN naming it).",
	}, []string{"topic", "partition"})}
	if err := reg.Register(g); err != nil {
		return fmt.Errorf("register medgate_kafka_consumer_lag: %w", err)
	}
	return nil
}

// lagGauge is the collector of medgate_kafka_consumer_lag: its series are
// set afresh from the consumer at each scrape.
type lagGauge struct {
	lags func() []bus.Lag
	mu   sync.Mutex // one scrape at a time sets vec
	vec  *prometheus.GaugeVec
}

func (g *lagGauge) Describe(ch chan<- *prometheus.Desc) { g.vec.Describe(ch) }

func (g *lagGauge) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.vec.Reset()
	for _, l := range g.lags() {
		g.vec.WithLabelValues(l.Topic, strconv.Itoa(int(l.Partition))).Set(float64(l.Lag))
	}
	g.vec.Collect(ch)
}

// kafkaLagUnknownGauge registers medgate_kafka_consumer_lag_unknown{topic}
// in reg: for each request topic, the partitions the consumer claims now
// whose lag is unknown (counts, read at each scrape), their leader having
// answered neither a fetch with records nor the 30s refresh for 90s. Those
// have no medgate_kafka_consumer_lag series, so MedgateKafkaConsumerLag
// cannot fire for them however many records wait; this count is what
// MedgateKafkaConsumerLagUnknown pages on. Every request topic has a
// series, 0 when no lag is unknown.
func kafkaLagUnknownGauge(reg prometheus.Registerer, counts func() map[string]int) error {
	g := &lagUnknownGauge{counts: counts, vec: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "medgate_kafka_consumer_lag_unknown",
		Help: "Request partitions this instance claims whose lag is unknown, by topic: their leader has answered neither a fetch with records nor the 30s refresh of the high-water mark for 90s, so they have no medgate_kafka_consumer_lag series and records may wait unread there uncounted (the medgate log has a WARN naming each partition). 0 when every claimed partition's lag is known.",
	}, []string{"topic"})}
	if err := reg.Register(g); err != nil {
		return fmt.Errorf("register medgate_kafka_consumer_lag_unknown: %w", err)
	}
	return nil
}

// lagUnknownGauge is the collector of medgate_kafka_consumer_lag_unknown:
// its series are set afresh from the consumer at each scrape.
type lagUnknownGauge struct {
	counts func() map[string]int
	mu     sync.Mutex // one scrape at a time sets vec
	vec    *prometheus.GaugeVec
}

func (g *lagUnknownGauge) Describe(ch chan<- *prometheus.Desc) { g.vec.Describe(ch) }

func (g *lagUnknownGauge) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.vec.Reset()
	for topic, n := range g.counts() {
		g.vec.WithLabelValues(topic).Set(float64(n))
	}
	g.vec.Collect(ch)
}

// requeueAtStart runs the requeue job (requeueJob) once as soon as this
// instance's consumer consumes (ready), through the scheduler and its
// lease like a triggered run, so it never runs beside another instance's
// sweep: a request recorded by an instance that died before queueing its
// reference is queued again at the restart, not one interval later. When
// another instance holds the job's lease, that instance sweeps at its
// interval and nothing is run here. It returns when ctx ends.
func (d *Daemon) requeueAtStart(ctx context.Context, ready func() bool) {
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for !ready() {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
	id := d.requeueJob().ID()
	switch err := d.sched.Trigger(ctx, id); {
	case err == nil, errors.Is(err, scheduler.ErrNotOwner), errors.Is(err, scheduler.ErrStopped), ctx.Err() != nil:
	default:
		d.log.Warn("the requeue sweep at start did not run; the job sweeps again at its next interval", "job", id, "interval", ingress.RequeueInterval.String(), "err", err)
	}
}

// readyPoll is how often requeueAtStart asks whether the consumer
// consumes yet.
const readyPoll = 100 * time.Millisecond

// Reload re-reads the configuration file and applies sites, plugin
// settings, newly declared plugins and new plugin binaries without a
// restart, and the retention and transforms that come with them, and the
// Kafka credentials (kafka.sasl.username, the password, the kafka.tls
// files' contents), which every Kafka client uses from its next
// connection or authentication on (rotateKafka; a password behind an
// env: reference keeps the value of the start, noteEnvPassword). Every
// other setting (node, kafka, store, http, console, log, processing,
// artifacts, mllp) is read at start only: a reload that changes one logs
// a warning naming the keys changed, never their values, and returns them
// (see ReloadReport and notApplied); they take effect when medgate
// restarts. So do the Kafka credentials when the SASL mechanism changed,
// or SASL or TLS was turned on or off. On any problem the previous configuration stays in force
// and every plugin as it was. A plugin no longer declared gets no new
// message, and is stopped once the calls it has in flight have ended (see
// retire). A running plugin whose binary path or checksum changed is
// launched again from the new binary and configured for every enabled
// site beside the running one, which keeps serving meanwhile; once all is
// accepted the routes and jobs move to the new one at once, and the old
// one is stopped once its calls in flight have ended (see replace): a
// retry of a message that began on the old one goes to the new one, and a
// job's run on the old one ends before the job runs on the new one (the
// scheduler knows a job by plugin, site and name, which do not change).
// If the new binary cannot be started or configured, the reload is
// refused with the reason and the new process stopped.
func (d *Daemon) Reload(ctx context.Context) error {
	_, err := d.ReloadReport(ctx)
	return err
}

// ReloadReport reloads like Reload and, when the reload is accepted,
// returns the keys of the settings that changed in the configuration file
// but that a reload does not apply (as written in the file, e.g.
// "store.path"; see notApplied): the running values stay in force until
// medgate restarts. It implements api.ReloadReporter.
func (d *Daemon) ReloadReport(ctx context.Context) ([]string, error) {
	keys, _, err := d.ReloadNotes(ctx)
	return keys, err
}

// ReloadNotes reloads like ReloadReport and also returns the warnings of
// an accepted reload, as logged (noteEnvPassword), so that the admin
// API's reply says them. It implements api.ReloadWarner.
func (d *Daemon) ReloadNotes(ctx context.Context) (keys, warnings []string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cfg, err := config.Load(d.cfgPath)
	if err != nil {
		d.metrics.Reloads.WithLabelValues("error").Inc()
		return nil, nil, err
	}
	rotated, creds, err := d.kafkaRotated(cfg)
	if err != nil {
		d.metrics.Reloads.WithLabelValues("error").Inc()
		return nil, nil, err
	}
	// The plugins of the new configuration, in next until it is accepted:
	// the running ones, the new binaries of running ones (fresh), and the
	// newly declared ones.
	// A new binary that does not launch (nil in fresh) refuses the
	// reload, and so does a newly declared plugin that does not start;
	// the sites are checked all the same, without those plugins, so that
	// the report lists every problem at once.
	fresh, err := sites.StartReplacements(ctx, cfg, d.plugins, d.launch())
	var notStarted config.Problems
	if err != nil && !errors.As(err, &notStarted) {
		d.metrics.Reloads.WithLabelValues("error").Inc()
		return nil, nil, err
	}
	next := make(map[string]*pluginhost.Instance, len(d.plugins)+len(fresh))
	maps.Copy(next, d.plugins)
	maps.Copy(next, fresh)
	// refuse stops what this reload started: a refused reload leaves
	// every plugin as it was.
	refuse := func(err error) error {
		for name, in := range next {
			if in != nil && d.plugins[name] != in {
				in.Close()
			}
		}
		d.metrics.Reloads.WithLabelValues("error").Inc()
		return err
	}
	if err := d.startPlugins(ctx, cfg, next); err != nil {
		var ps config.Problems
		if !errors.As(err, &ps) {
			return nil, nil, refuse(err)
		}
		notStarted = append(notStarted, ps...)
	}
	// The mappings are compiled with the schema documents the plugins
	// return from Configure, before Apply commits: mappings that do not
	// compile leave the plugins as they were. Without a plugin that did
	// not start they would report its mapped types, wrongly.
	var set *mapping.Sets
	routes, jobs, err := sites.ApplyThen(ctx, cfg, next, d.log, func() (err error) {
		if len(notStarted) > 0 {
			return notStarted
		}
		set, err = mapping.Compile(cfg, next)
		return err
	})
	if err != nil {
		return nil, nil, refuse(err)
	}
	// Plugins no longer declared, and the old binaries of replaced ones,
	// are stopped after traffic moved away, once their calls in flight
	// have ended (retireWait at most).
	d.maps.Set(set)
	d.proc.SetRoutes(routes)
	d.metrics.SetTypes(sites.Types(routes))
	d.setJobs(append(jobs, d.pruneJob(cfg), d.requeueJob()))
	declared := map[string]bool{}
	for _, p := range cfg.Plugins {
		declared[p.Name] = true
	}
	for name, in := range d.plugins {
		switch {
		case !declared[name]:
			d.retire(in, nil, retireWait(d.started))
			delete(next, name)
		case fresh[name] != nil:
			d.retire(in, fresh[name], retireWait(d.started))
			d.log.Info("plugin binary replaced; the previous process finishes its calls in flight, then stops",
				"plugin", name, "path", fresh[name].Spec().Path, "sha256", fresh[name].Spec().SHA256, "version", fresh[name].Description().Version)
		}
	}
	d.plugins = next
	// A removed plugin's medgate_plugin_up goes (its retiring process
	// sets it no more), a newly declared one's is set.
	d.setPluginUp()
	d.services.SetLimits(pluginLimits(cfg))
	for _, p := range cfg.Plugins {
		if in := d.plugins[p.Name]; in != nil {
			in.SetIsolation(isolation(p))
		}
	}
	// Compared with what runs, not with the last reload: the warning
	// comes again at each reload until a restart, and not for a change
	// written back to what runs.
	keys = notApplied(d.started, cfg)
	// An HTTP token rotated in its file (the reference unchanged) is
	// read only at a restart too: listed, or the reload would answer
	// that nothing is pending while the old token still works.
	httpKeys, httpWarning := d.httpRotated(cfg)
	for _, k := range httpKeys {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if httpWarning != "" {
		warnings = append(warnings, httpWarning)
	}
	for _, k := range rotated {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	keys = d.rotateKafka(keys, creds)
	if note := d.noteEnvPassword(cfg); note != "" {
		warnings = append(warnings, note)
	}
	if len(keys) > 0 {
		d.log.Warn("settings changed in the configuration take effect only when medgate restarts; the running ones stay in force until then",
			"keys", keys)
	}
	d.cfg = cfg
	d.metrics.Reloads.WithLabelValues("ok").Inc()
	d.log.Info("configuration reloaded", "sites", len(cfg.Sites), "plugins", len(d.plugins))
	return keys, warnings, nil
}

// reloaded are the top-level keys of the configuration whose changes a
// reload applies (Reload): the plugins and their limits and checksums,
// the sites, the transforms compiled with them, and the retention of the
// prune job. Every other key is read at start only, so a section added
// to config.Config later is reported as not applied until Reload applies
// it and it is listed here.
var reloaded = map[string]bool{
	"plugins": true, "pluginLimits": true, "pluginChecksums": true,
	"sites": true, "transforms": true, "retention": true,
}

// notApplied lists the keys (as written in the configuration file,
// "kafka.topics.replies", "mllp.listeners[0].address") whose values differ
// between was (the configuration in force: Start's) and now and that a
// reload does not apply (see reloaded).
// Only names are listed, never values (a password, a token, a store key
// among them); a map is named as a whole, never by its keys.
func notApplied(was, now *config.Config) []string {
	var keys []string
	var walk func(prefix string, a, b reflect.Value)
	walk = func(prefix string, a, b reflect.Value) {
		if a.Kind() == reflect.Pointer {
			if a.IsNil() || b.IsNil() {
				if a.IsNil() != b.IsNil() {
					keys = append(keys, prefix)
				}
				return
			}
			a, b = a.Elem(), b.Elem()
		}
		switch {
		case a.Kind() == reflect.Slice && a.Type().Elem().Kind() == reflect.Struct && a.Len() == b.Len():
			for i := range a.Len() {
				walk(fmt.Sprintf("%s[%d]", prefix, i), a.Index(i), b.Index(i))
			}
		case a.Kind() != reflect.Struct || a.Type() == reflect.TypeFor[config.Duration]():
			if !reflect.DeepEqual(a.Interface(), b.Interface()) {
				keys = append(keys, prefix)
			}
		default:
			for i := range a.NumField() {
				f := a.Type().Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				if !f.IsExported() || name == "-" || prefix == "" && reloaded[name] {
					continue
				}
				if name == "" {
					name = f.Name
				}
				if prefix != "" {
					name = prefix + "." + name
				}
				walk(name, a.Field(i), b.Field(i))
			}
		}
	}
	walk("", reflect.ValueOf(*was), reflect.ValueOf(*now))
	return keys
}

// kafkaFingerprint returns a SHA-256 digest of each secret and file the
// Kafka clients of bc read once, when they are made: the SASL password
// (kafka.sasl.password, resolved from its reference) and the contents of
// the TLS files (kafka.tls.caFile, certFile, keyFile), by the key that
// names them in the configuration. Only digests are kept, so a reload can
// tell a rotation behind an unchanged reference without keeping a copy
// of a secret.
func kafkaFingerprint(bc bus.Config) (map[string][sha256.Size]byte, error) {
	out := map[string][sha256.Size]byte{}
	if bc.SASL != nil {
		out["kafka.sasl.password"] = sha256.Sum256([]byte(bc.SASL.Password))
	}
	if t := bc.TLS; t != nil {
		for _, f := range []struct{ key, path string }{{"kafka.tls.caFile", t.CAFile}, {"kafka.tls.certFile", t.CertFile}, {"kafka.tls.keyFile", t.KeyFile}} {
			if f.path == "" {
				continue
			}
			b, err := os.ReadFile(f.path)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.key, err)
			}
			out[f.key] = sha256.Sum256(b)
		}
	}
	return out, nil
}

// kafkaRotated lists the keys of the Kafka secrets and files that cfg
// resolves to other contents than the running clients use (a password
// rotated in its file, a renewed certificate
// written over the same path; notApplied lists the keys whose text
// changed), and returns cfg's credentials, read. When they cannot be
// read, the reload is refused: medgate could not start with them. The
// caller holds d.mu.
func (d *Daemon) kafkaRotated(cfg *config.Config) ([]string, *bus.Credentials, error) {
	bc, err := BusConfig(cfg, d.busCfg.Brokers, d.log)
	var now map[string][sha256.Size]byte
	if err == nil {
		now, err = kafkaFingerprint(bc)
	}
	var creds *bus.Credentials
	if err == nil {
		creds, err = bus.NewCredentials(bc.SASL, bc.TLS)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read the Kafka credentials of the new configuration (medgate could not start with them; the running Kafka clients keep the ones in force): %w", err)
	}
	var keys []string
	for _, k := range kafkaCredentialKeys {
		was, ok1 := d.kafkaRead[k]
		is, ok2 := now[k]
		if ok1 && ok2 && was != is {
			keys = append(keys, k)
		}
	}
	d.kafkaNext = now
	return keys, creds, nil
}

// kafkaCredentialKeys are the keys whose values (the files or secrets
// they name, and those contents) a reload puts in force for the Kafka
// clients' next connections and authentications (rotateKafka).
var kafkaCredentialKeys = []string{"kafka.tls.caFile", "kafka.tls.certFile", "kafka.tls.keyFile", "kafka.sasl.username", "kafka.sasl.password"}

// rotateKafka puts creds, the Kafka credentials of the configuration a
// reload accepted, in force for every new connection and SASL
// authentication (and re-authentication) of the running Kafka clients,
// whose connections already authenticated go on, and returns keys, the
// settings changed but not applied, without the credentials' keys. When
// the SASL mechanism changed, or SASL or TLS was turned on or off, or
// kafka.tls.insecureSkipVerify changed, the clients keep what they use
// until medgate restarts, and keys is returned as it is: the reload
// reports the credentials' keys that changed too. The caller holds d.mu.
func (d *Daemon) rotateKafka(keys []string, creds *bus.Credentials) []string {
	if err := d.kafkaCreds.Rotate(creds); err != nil {
		d.log.Warn("the Kafka credentials were not rotated: the running clients keep theirs until medgate restarts", "reason", err.Error())
		return keys
	}
	var rotated []string
	keys = slices.DeleteFunc(keys, func(k string) bool {
		if slices.Contains(kafkaCredentialKeys, k) {
			rotated = append(rotated, k)
			return true
		}
		return false
	})
	d.kafkaRead = d.kafkaNext
	if len(rotated) > 0 {
		d.log.Info("Kafka credentials rotated: new connections and authentications of every Kafka client use them; the connections already authenticated go on", "keys", rotated)
	}
	if len(keys) == 0 {
		return nil
	}
	return keys
}

// noteEnvPassword says, at each accepted reload, that a Kafka password
// behind an env: reference cannot be rotated by a reload: a running
// process keeps the environment it started with, so a new value written
// where the variable comes from (the systemd unit's EnvironmentFile, the
// pod's Secret) reaches medgate only when it restarts, and the reload
// keeps the password in force. It names the variable, never its value,
// and returns what it logged ("" when the password is no env: reference)
// for the reload's reply.
func (d *Daemon) noteEnvPassword(cfg *config.Config) string {
	s := cfg.Kafka.SASL
	if s == nil {
		return ""
	}
	name, ok := strings.CutPrefix(s.Password, "env:")
	if !ok {
		return ""
	}
	note := "a reload cannot rotate kafka.sasl.password: it names the environment variable " + name +
		", which keeps the value medgate started with (a running process does not see its environment change); " +
		"to rotate the Kafka password without a restart, write it to a file (chmod 600) and set kafka.sasl.password to file:/path/to/it, then reload; " +
		"or change the variable and restart medgate"
	d.log.Info(note, "key", "kafka.sasl.password", "variable", name)
	return note
}

// retireGrace is what a removed plugin's calls in flight get beyond the
// call timeout before they are cut (retireWait).
const retireGrace = 10 * time.Second

// retireWait bounds how long a plugin a reload removed keeps running for
// the calls it has in flight: the pipeline's call timeout
// (processing.callTimeout of the configuration in force, cfg = d.started:
// a reload does not change it) and retireGrace.
func retireWait(cfg *config.Config) time.Duration {
	return cfg.Processing.CallTimeout.D() + retireGrace
}

// retire stops in, a plugin the reload removed (successor nil) or
// replaced by successor, in the background once its calls in flight have
// ended (wait at most; pluginhost.Instance.Retire and Replace): messages
// already inside it get their answer instead of an unknown outcome, and
// their retries are refused with a clear outcome, or go to successor.
// Close stops the plugins still retiring. The caller holds d.mu.
func (d *Daemon) retire(in, successor *pluginhost.Instance, wait time.Duration) {
	if d.retiring == nil {
		d.retiring = map[*pluginhost.Instance]bool{}
	}
	d.retiring[in] = true
	d.retired.Add(1)
	go func() {
		defer d.retired.Done()
		if successor != nil {
			in.Replace(successor, wait)
		} else {
			in.Retire(wait)
		}
		d.mu.Lock()
		delete(d.retiring, in)
		d.mu.Unlock()
	}()
}

// HTTPAddr is the address the HTTP server listens on.
func (d *Daemon) HTTPAddr() string { return d.httpAddr }

// Brokers are the Kafka bootstrap addresses in use.
func (d *Daemon) Brokers() []string { return d.busCfg.Brokers }

// Config returns the configuration in force.
func (d *Daemon) Config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// Plugin returns a running plugin instance (tests kill it to simulate crashes).
func (d *Daemon) Plugin(name string) *pluginhost.Instance {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.plugins[name]
}

// Store implements api.Backend.
func (d *Daemon) Store() store.Store { return d.store }

// Ready implements api.Backend.
func (d *Daemon) Ready(ctx context.Context) map[string]string {
	out := map[string]string{"store": "ok", "kafka": "ok"}
	if err := d.store.Ping(ctx); err != nil {
		out["store"] = err.Error()
	}
	out["kafka"] = d.kafkaReadiness()
	out["kafka.partitions"] = stall.Check(d.holds(), time.Now())
	if d.draining.Load() {
		out["shutdown"] = fmt.Sprintf("shutting down: this instance stops taking requests within http.shutdownDelay (%s) and finishes those it took; send new ones to another instance", d.drainDelay)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, in := range d.plugins {
		running, restarts, lastErr := in.Status()
		check, up := pluginReadiness(running, restarts, lastErr, len(in.Isolated()))
		out["plugin."+name] = check
		d.metrics.SetPluginUp(name, up)
	}
	return out
}

// pluginReadiness is a plugin's /readyz check and medgate_plugin_up: ok
// and up while it runs at every site it is enabled at; "degraded: …"
// (still ready: it serves its other sites) and not up while it runs with
// isolated sites (pluginhost.Instance.Isolated: their Configure or their
// messages kept killing it, lastErr says which and why); down otherwise.
func pluginReadiness(running bool, restarts int, lastErr error, isolated int) (check string, up bool) {
	switch {
	case running && isolated > 0:
		return fmt.Sprintf("degraded: runs without %d of its sites: %v", isolated, lastErr), false
	case running:
		return "ok", true
	case lastErr != nil:
		return fmt.Sprintf("down after %d restart(s): %v", restarts, lastErr), false
	default:
		return "down", false
	}
}

// Plugins implements api.Backend.
func (d *Daemon) Plugins() any { return d.pluginInfos() }

// consoleBackend is the daemon as the console sees it.
type consoleBackend struct{ *Daemon }

// Plugins implements console.Backend.
func (b consoleBackend) Plugins() []console.Plugin {
	var out []console.Plugin
	for _, p := range b.pluginInfos() {
		cp := console.Plugin{Name: p.Name, Version: p.Version, Description: p.Description, Running: p.Running, Restarts: p.Restarts,
			LastError: p.LastError, Jobs: p.Jobs, WorkLists: p.WorkLists, Views: p.Views, Sites: p.Sites}
		for _, op := range p.Operations {
			cp.Operations = append(cp.Operations, op.Type)
		}
		out = append(out, cp)
	}
	return out
}

func (d *Daemon) pluginInfos() []sites.Info {
	d.mu.Lock()
	defer d.mu.Unlock()
	return sites.Infos(d.cfg, d.plugins)
}

// Replay implements api.Backend: the HTTP ingress puts the failed
// message back on the request topic.
func (d *Daemon) Replay(ctx context.Context, id string) error { return d.ingress.Replay(ctx, id) }

// Jobs implements api.Backend.
func (d *Daemon) Jobs() []scheduler.Status { return d.sched.Jobs() }

// TriggerJob implements api.Backend.
func (d *Daemon) TriggerJob(ctx context.Context, id string) (scheduler.Run, error) {
	return d.sched.RunNow(ctx, id)
}

// shutdownGrace bounds each of the shutdown's waits: for the HTTP
// server's requests to end while the consumer still runs, and, once the
// consumer has stopped, for the scheduled jobs' cancelled runs to return.
const shutdownGrace = 10 * time.Second

// shutdownGrace is d.grace, or the constant shutdownGrace when unset.
func (d *Daemon) shutdownGrace() time.Duration {
	if d.grace > 0 {
		return d.grace
	}
	return shutdownGrace
}

// Close shuts down in reverse order, after the drain (http.shutdownDelay:
// /readyz answers 503 while everything is still taken, see drain): stop
// starting jobs; shut the MLLP
// listeners down (they take no new connection; a message being processed
// gets its ACK if its outcome comes within the grace, while the consumer
// still runs; a sender cut after the grace, which gets an ACK only once
// the outcome is stored, resends and gets the stored outcome); stop taking HTTP requests and let those taken finish while
// the consumer still runs (shutdownGrace at most; those still waiting
// then are told their message is queued and will be completed, see
// stopHTTP); only then stop taking messages from Kafka and let the
// in-flight ones finish for kafka.releaseGrace (a plugin call that ends
// within it has its outcome stored, its reply published and its offset
// committed; one still running then is cancelled, stays uncommitted and
// is delivered again, its outcome reconciled before any resend); cancel
// the job runs in progress (a
// download stops at its next step and resumes from its stored step at the
// next start), then wait for them to return (shutdownGrace at most); then
// the leases of the jobs that ended, plugins, Kafka, store. So no run
// goes on with a closed store or plugin, and no accepted HTTP request
// waits for a consumer that has stopped.
func (d *Daemon) Close() error {
	d.drain()
	if d.sched != nil {
		d.sched.Stop()
	}
	d.stopMLLP()
	d.stopHTTP()
	if d.stopRun != nil {
		d.stopRun()
	}
	d.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), d.shutdownGrace())
	defer cancel()
	if d.sched != nil {
		if err := d.sched.Wait(ctx); err != nil {
			d.log.Error("scheduled jobs still running at shutdown; closing the store and plugins under them", "err", err)
		}
	}
	if d.sched != nil && d.store != nil {
		d.sched.Release(ctx)
	}
	d.mu.Lock()
	for _, in := range d.plugins {
		in.Close()
	}
	d.plugins = map[string]*pluginhost.Instance{}
	for in := range d.retiring {
		in.Close() // its Retire returns at once
	}
	d.mu.Unlock()
	d.retired.Wait()
	var errs []error
	if d.replies != nil {
		errs = append(errs, d.replies.Close())
	}
	if d.producer != nil {
		errs = append(errs, d.producer.Close())
	}
	if d.embedded != nil {
		d.embedded.Close()
	}
	if d.store != nil {
		errs = append(errs, d.store.Close())
	}
	errs = append(errs, d.storeLock.release())
	return errors.Join(errs...)
}

// drain starts the shutdown: /readyz answers 503 from now on, and for
// http.shutdownDelay medgate goes on taking HTTP requests (answering each
// with Connection: close), MLLP
// connections and Kafka messages as before, so that a load balancer (a
// Kubernetes Service, which follows the readiness probe and the pod's
// termination with some delay) sends no new connection to a listener
// about to close.
func (d *Daemon) drain() {
	if d.draining.Swap(true) || d.drainDelay <= 0 {
		return
	}
	if d.http != nil {
		// Each answer closes its connection: the client's next request
		// opens a new one, which the load balancer sends elsewhere,
		// instead of finding its kept-alive connection cut when the
		// listener closes.
		d.http.SetKeepAlivesEnabled(false)
	}
	d.log.Info("shutting down: /readyz answers 503 and requests are still taken for http.shutdownDelay, so load balancers stop sending new ones before the listeners close", "shutdownDelay", d.drainDelay.String())
	t := time.NewTimer(d.drainDelay)
	defer t.Stop()
	<-t.C
}

// instanceID turns a node name into a Kafka group instance id: characters
// Kafka does not allow become '-'.
func instanceID(node string) string {
	b := []byte(node)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	if len(b) > 240 {
		b = b[:240] // with the prefix, within Kafka's 249
	}
	return "medgate-" + string(b)
}

// holds lists the consumer's held partitions, longest first.
func (d *Daemon) holds() []bus.Hold {
	if d.consumer == nil {
		return nil
	}
	return d.consumer.Holds()
}

// setJobs exports the jobs' intervals, gives each new job a last-success
// time of now (start, or the reload that added it), so a job that never
// succeeds is seen as stalled, deletes the series of the jobs dropped
// (metrics.Metrics.WatchJobs), and then hands the jobs to the scheduler:
// a new job's first success comes after its series exist.
func (d *Daemon) setJobs(jobs []scheduler.Job) {
	intervals := make(map[string]time.Duration, len(jobs))
	for _, j := range jobs {
		intervals[j.ID()] = j.Interval
	}
	d.metrics.WatchJobs(intervals, time.Now())
	d.sched.SetJobs(jobs)
}
