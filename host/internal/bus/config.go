package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/IBM/sarama"
	gometrics "github.com/rcrowley/go-metrics"
)

// DefaultVersion is the Kafka protocol version assumed when Config.Version is
// empty. Kafka 4.x brokers and kfake both accept the requests sarama sends
// for it.
const DefaultVersion = "3.6.0"

// DefaultMaxInFlight is the number of messages a Consumer processes at once
// when Config.MaxInFlight is zero.
const DefaultMaxInFlight = 64

// sarama counts every request, record and batch in go-metrics meters and
// histograms that nothing in medgate reads (its metrics are Prometheus, in
// package metrics): 2 % of the host's CPU per message in the 2026-12-03
// profiles. sarama's documented switch turns them off for the process.
func init() { gometrics.UseNilMetrics = true }

// DefaultMaxBufferedBytes is Config.MaxBufferedBytes when it is zero.
const DefaultMaxBufferedBytes = 64 << 20

// DefaultReleaseGrace is Config.ReleaseGrace when it is zero.
const DefaultReleaseGrace = 15 * time.Second

// Config says how to reach Kafka. Only Brokers is required; a consumer also
// needs GroupID.
type Config struct {
	// Brokers are the bootstrap addresses, host:port.
	Brokers []string
	// ClientID names this client in broker logs and quotas. It defaults to
	// "medgate".
	ClientID string
	// GroupID is the consumer group; instances with the same GroupID share
	// the partitions of the consumed topics.
	GroupID string
	// InstanceID, when set, makes a Consumer a static member of its group
	// (KIP-345): an instance restarted with the same InstanceID takes its
	// partitions back at once instead of waiting for the group to notice
	// the old member is gone and rebalance. Every running instance needs
	// its own InstanceID; a second one with the same id fences the first.
	// It is 1 to 249 letters, digits, '.', '_' or '-'.
	InstanceID string
	// Version is the Kafka protocol version to speak, such as "3.6.0".
	// Empty means DefaultVersion.
	Version string
	// TLS, when set, encrypts connections to the brokers.
	TLS *TLSConfig
	// SASL, when set, authenticates to the brokers.
	SASL *SASLConfig
	// Credentials, when set, are the SASL credentials and TLS material
	// the clients use, read again for every new connection and SASL
	// authentication, so that Credentials.Rotate changes them without
	// new clients; they replace what SASL and TLS say (make them with
	// NewCredentials(SASL, TLS)). Nil means SASL and TLS, read once when
	// each client is made.
	Credentials *Credentials
	// MaxInFlight bounds how many messages a Consumer hands to its handler
	// at the same time, over all keys and partitions. Zero means
	// DefaultMaxInFlight.
	MaxInFlight int
	// MaxBufferedBytes bounds the keys and values of the messages a
	// Consumer has read and not yet finished, over all partitions, so a
	// burst of large messages cannot take the host's memory: reading
	// pauses until enough of them finish. A single message larger than the
	// bound is still read, alone. Zero means DefaultMaxBufferedBytes.
	MaxBufferedBytes int64
	// ReleaseGrace is how long a Consumer lets the handlers running, and
	// the deferred messages (Defer) waiting, when a partition is released
	// (a rebalance takes it away, or the consumer stops) go on before
	// their context is cancelled: a handler that returns nil within it,
	// and a Later done with nil within it, finish their message, and the
	// partition's last commit includes them. Zero means
	// DefaultReleaseGrace. It is at most half the group's rebalance
	// timeout (sarama's Consumer.Group.Rebalance.Timeout, 60s by
	// default), so that the member rejoins the group in time; a longer
	// value is cut to that.
	ReleaseGrace time.Duration
	// Linger, for a Producer, is how long a record may wait for others to
	// be sent with it in one request (the Java client's linger.ms; its
	// default is 5 ms since Kafka 4.0). Fewer, fuller produce requests cost
	// the broker and the client less CPU per record; each record may wait
	// up to Linger longer for its acknowledgement. Zero sends at once (a
	// request still carries every record that waited for the one before).
	Linger time.Duration
	// Logger receives warnings about retried errors. Nil means
	// slog.Default().
	Logger *slog.Logger
	// RetryCause, when set, names the cause of an error a Consumer's
	// handler returned, for the WARNs of the retries: per partition, the
	// first retry of a cause is logged, then at most one a minute with
	// how many retries of that cause were not logged meanwhile
	// (retriesSinceLastLog), so that an outage every message fails on
	// (the store refusing writes) does not log a line per retry of every
	// message. Where it returns "", and for every error when it is nil,
	// the cause is the error's text: only retries failing with the very
	// same error are counted together. It must be quick and safe for
	// concurrent use.
	RetryCause func(err error) string
	// OnOffsetReset, when set, is called each time a Consumer reads a
	// partition again from its oldest record because its committed offset
	// is outside the partition's log (reason ResetOutOfRange) or because
	// the group has none although History says the partition was consumed
	// before (reason ResetOffsetsLost), after the ALERT is logged. It must
	// not block.
	OnOffsetReset func(topic string, partition int32, reason string)
	// OnRefused, when set, is called each time a Consumer's attempt to
	// join its group fails because the brokers' TLS certificate is not
	// trusted (reason RefusedTLSCertificate: untrusted or expired, a
	// wrong tls.caFile, a hostname mismatch), the brokers refused this
	// client's certificate (RefusedTLSCertificate too: none, expired, or
	// from a CA they do not trust) or the brokers refused the SASL
	// credentials (reason RefusedSASL); the consumer keeps retrying. It
	// must not block.
	OnRefused func(reason string)
	// OnReleaseCut, when set, is called when a released partition's
	// release grace (ReleaseGrace; none when the member has left the
	// group already) passes while n of its messages are unfinished: n
	// handlers still running, whose context is then cancelled, plus the
	// deferred messages still waiting for their acknowledgement. Each of
	// them stays uncommitted and is reconciled at its next delivery. It
	// must not block.
	OnReleaseCut func(topic string, partition int32, n int)
	// History, when set, remembers durably which partitions have had a
	// committed offset, so that a Consumer can tell a partition whose
	// group lost its offsets from one never consumed (see
	// PartitionHistory). Nil means every partition without a committed
	// offset is taken as the group's first start.
	History PartitionHistory

	// tune, when set by tests, adjusts the sarama configuration last.
	tune func(*sarama.Config)
	// lagRefresh, when set by tests, replaces lagRefreshEvery.
	lagRefresh time.Duration
}

// Reasons a Consumer gives OnOffsetReset.
const (
	// ResetOutOfRange: the partition's committed offset is outside its
	// log (the broker lost records, or deleted them before they were
	// read).
	ResetOutOfRange = "out_of_range"
	// ResetOffsetsLost: the group has no committed offset for a partition
	// that History says the same group consumed before (the group's
	// offsets expired while every instance was down, or the group was
	// deleted). A partition History names for another group (kafka.groupId
	// was changed) is only logged, as a WARN.
	ResetOffsetsLost = "offsets_lost"
)

// Reasons a Consumer gives OnRefused.
const (
	// RefusedTLSCertificate: the brokers' certificate failed
	// verification, or the brokers refused this client's certificate.
	RefusedTLSCertificate = "tls_certificate"
	// RefusedSASL: the brokers refused the SASL credentials.
	RefusedSASL = "sasl"
)

// PartitionHistory is a durable record, kept outside Kafka (the daemon
// keeps it in the store), of the partitions that have had a committed
// offset. Kafka forgets a group's offsets (offsets.retention.minutes
// after its last member left, 7 days by default), and forgets them at once
// when the group is deleted or renamed in the configuration; a partition
// without offsets is then read again from its oldest record, as at the
// group's first start. The history tells the two apart. A Consumer records
// a partition once per process, when it finds the group has committed an
// offset for it, and reads the history only when a claimed partition has
// no committed offset: no call is made per message.
//
// Partitions are recorded with the group and the Kafka cluster, so that
// a changed kafka.groupId and a new Kafka cluster (a new installation
// reusing the store) are told from lost offsets. Methods must be safe for
// concurrent use.
type PartitionHistory interface {
	// Consumed reports whether RecordConsumed was called for the
	// partition, and with what, last.
	Consumed(ctx context.Context, topic string, partition int32) (by Consumption, ok bool, err error)
	// RecordConsumed records that by.Group, on the cluster by.Cluster,
	// has committed an offset for the partition.
	RecordConsumed(ctx context.Context, by Consumption, topic string, partition int32) error
}

// Consumption says who committed offsets for a partition: the consumer
// group, and the id of the Kafka cluster (its cluster.id; "" when the
// brokers did not say, or for a partition recorded before medgate kept
// it).
type Consumption struct {
	Group   string
	Cluster string
}

// TLSConfig enables TLS towards the brokers. All files are PEM.
type TLSConfig struct {
	// CAFile holds the certificates that sign the brokers' certificates.
	// Empty means the system roots.
	CAFile string
	// CertFile and KeyFile hold this client's certificate and key, for
	// brokers that require client certificates. Set both or neither.
	CertFile, KeyFile string
	// InsecureSkipVerify disables verification of the brokers'
	// certificates. Use it only against test brokers.
	InsecureSkipVerify bool
}

// SASL mechanisms accepted in SASLConfig.Mechanism.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// SASLConfig authenticates to the brokers. Its String and LogValue methods
// never show the password.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string
	// Username and Password are the credentials.
	Username, Password string
}

// String describes the SASL settings without the password.
func (s SASLConfig) String() string {
	return fmt.Sprintf("{Mechanism:%s Username:%s Password:%s}", s.Mechanism, s.Username, redacted(s.Password))
}

// LogValue describes the SASL settings to log/slog without the password.
func (s SASLConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("mechanism", s.Mechanism),
		slog.String("username", s.Username),
		slog.String("password", redacted(s.Password)),
	)
}

func redacted(secret string) string {
	if secret == "" {
		return ""
	}
	return "[redacted]"
}

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// retryCause is the cause of a handler's error err (see RetryCause).
func (c Config) retryCause(err error) string {
	if c.RetryCause != nil {
		if cause := c.RetryCause(err); cause != "" {
			return "cause: " + cause
		}
	}
	return "error: " + err.Error()
}

func (c Config) maxInFlight() int {
	if c.MaxInFlight > 0 {
		return c.MaxInFlight
	}
	return DefaultMaxInFlight
}

// releaseGrace is ReleaseGrace or its default, at most half of
// rebalance (the group's rebalance timeout).
func (c Config) releaseGrace(rebalance time.Duration) time.Duration {
	g := c.ReleaseGrace
	if g <= 0 {
		g = DefaultReleaseGrace
	}
	// sarama validated the rebalance timeout as at least 1ms.
	return min(g, rebalance/2)
}

func (c Config) maxBufferedBytes() int64 {
	if c.MaxBufferedBytes > 0 {
		return c.MaxBufferedBytes
	}
	return DefaultMaxBufferedBytes
}

// saramaConfig returns the settings shared by producers, consumers and
// admin clients.
func (c Config) saramaConfig() (*sarama.Config, error) {
	if len(c.Brokers) == 0 {
		return nil, errors.New("no Kafka brokers configured: set at least one host:port in Brokers")
	}
	for _, b := range c.Brokers {
		if strings.TrimSpace(b) == "" {
			return nil, errors.New("empty Kafka broker address: every entry in Brokers must be host:port")
		}
	}
	if c.MaxInFlight < 0 {
		return nil, fmt.Errorf("invalid MaxInFlight %d: use a positive number, or 0 for %d", c.MaxInFlight, DefaultMaxInFlight)
	}
	if c.MaxBufferedBytes < 0 {
		return nil, fmt.Errorf("invalid MaxBufferedBytes %d: use a positive number, or 0 for %d", c.MaxBufferedBytes, DefaultMaxBufferedBytes)
	}
	if c.Linger < 0 || c.Linger > time.Second {
		return nil, fmt.Errorf("invalid Linger %s: use 0 (send at once) up to 1s", c.Linger)
	}

	sc := sarama.NewConfig()
	version := c.Version
	if version == "" {
		version = DefaultVersion
	}
	v, err := sarama.ParseKafkaVersion(version)
	if err != nil {
		return nil, fmt.Errorf("parse Kafka version %q: %w (use a broker version such as %s)", version, err, DefaultVersion)
	}
	sc.Version = v
	sc.ClientID = c.ClientID
	if sc.ClientID == "" {
		sc.ClientID = "medgate"
	}

	creds, err := c.credentials()
	if err != nil {
		return nil, err
	}
	creds.apply(sc)
	return sc, nil
}

// credentials returns c.Credentials, or when nil the credentials of
// c.SASL and c.TLS read now.
func (c Config) credentials() (*Credentials, error) {
	if c.Credentials != nil {
		return c.Credentials, nil
	}
	return NewCredentials(c.SASL, c.TLS)
}

// finish applies the test hook and validates the configuration.
func (c Config) finish(sc *sarama.Config) error {
	if c.tune != nil {
		c.tune(sc)
	}
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("invalid Kafka client configuration: %w", err)
	}
	return nil
}

// backoff returns the wait before retry n (0-based): 250ms doubling up to
// 10s.
func backoff(n int) time.Duration {
	d := 250 * time.Millisecond
	for i := 0; i < n && d < 10*time.Second; i++ {
		d *= 2
	}
	return min(d, 10*time.Second)
}
