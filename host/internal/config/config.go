// Package config loads and checks medgate's configuration file (YAML).
//
// Loading never stops at the first problem: every problem is collected and
// reported with the file, the line and the fix (see [Problems]). Unknown
// keys are errors, and so is a second YAML document after "---" (medgate
// reads one). Relative paths are resolved against the directory of the
// configuration file. Secrets are never written in the file itself: they are
// references "env:NAME" or "file:PATH", resolved when used.
//
// A key left out takes its default. A key where 0 is not a valid value
// (a count, size or duration that must be positive) written as 0 or "0s"
// is a problem naming the valid range and the default that removing the
// line gives: it is never silently replaced by the default.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/IBM/sarama"
	"gopkg.in/yaml.v3"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// Config is the whole configuration.
//
// A key tagged secret:"true" holds a secret reference (or, for a plugin's
// settings, may hold some): a problem never quotes what is written there,
// nor in a section that holds such a key.
type Config struct {
	// Node names this instance (leases, logs); default: $MEDGATE_NODE, else the host name.
	Node       string     `yaml:"node"`
	Kafka      Kafka      `yaml:"kafka"`
	Store      Store      `yaml:"store"`
	HTTP       HTTP       `yaml:"http"`
	Console    Console    `yaml:"console"`
	Log        Log        `yaml:"log"`
	Processing Processing `yaml:"processing"`
	Retention  Retention  `yaml:"retention"`
	Artifacts  Artifacts  `yaml:"artifacts"`
	// Transforms is a directory of site mappings (<site>/<format>/<type>.yaml
	// and <site>/tables/<name>.yaml) that add to or replace the built-in
	// ones in transforms/mappings.
	Transforms string `yaml:"transforms"`
	// PluginChecksums is a sha256sum-format file giving the SHA-256 of
	// plugins that have no sha256 of their own. It must not sit in a
	// plugin's directory, nor be writable by group or others: whoever can
	// replace a plugin must not be able to replace its checksum too.
	PluginChecksums string `yaml:"pluginChecksums"`
	// PluginLimits bound what every plugin writes through the host
	// services (events, journal entries, state values); a plugin's own
	// limits (Plugin.Limits) override them key by key.
	PluginLimits PluginLimits `yaml:"pluginLimits"`
	Plugins      []Plugin     `yaml:"plugins"`
	Sites        []Site       `yaml:"sites"`
	// MLLP takes HL7 v2 over MLLP from platforms that do not speak Kafka
	// (see mllp.go).
	MLLP MLLP `yaml:"mllp"`

	// File is the path the configuration was loaded from.
	File string `yaml:"-"`
	// lines maps a dotted path to its line in File.
	lines map[string]int
	// values maps a dotted path to its value's node in File.
	values map[string]*yaml.Node
	// zeros are the keys given an explicit 0 where 0 is not valid
	// (found while applying defaults, see defNonZero).
	zeros Problems
}

// Kafka configures the broker connection and topics.
type Kafka struct {
	// Embedded starts an in-process Kafka-protocol broker (for one machine
	// and demos). Brokers must then be empty.
	Embedded *Embedded `yaml:"embedded"`
	Brokers  []string  `yaml:"brokers"`
	GroupID  string    `yaml:"groupId"`
	ClientID string    `yaml:"clientId"`
	Version  string    `yaml:"version"`
	Topics   Topics    `yaml:"topics"`
	TLS      *TLS      `yaml:"tls"`
	SASL     *SASL     `yaml:"sasl"`
	// MaxInFlight bounds messages processed at once across keys.
	MaxInFlight int `yaml:"maxInFlight"`
	// MaxBufferedMB bounds the size of the messages read from Kafka and
	// not yet finished; reading pauses past it.
	MaxBufferedMB int `yaml:"maxBufferedMB"`
	// ReleaseGrace is how long the messages being processed when the
	// consumer stops (shutdown) or a rebalance takes their partition away
	// may go on: a plugin call that ends within it has its outcome stored,
	// its reply published and its offset committed; one still running
	// then is cancelled and reconciled at its next delivery
	// (bus.Config.ReleaseGrace).
	ReleaseGrace Duration `yaml:"releaseGrace"`
	// ReplyLinger is how long a reply (or DLQ record) may wait to go to
	// Kafka in one request with others (linger.ms; nil: DefaultReplyLinger;
	// 0s sends at once). Requests the HTTP ingress queues and plugin events
	// are sent at once.
	ReplyLinger *Duration `yaml:"replyLinger"`
	// CreateTopics creates missing topics at start with Partitions and
	// ReplicationFactor.
	CreateTopics      bool  `yaml:"createTopics"`
	Partitions        int   `yaml:"partitions"`
	ReplicationFactor int16 `yaml:"replicationFactor"`
}

// Embedded configures the in-process broker.
type Embedded struct {
	DataDir string `yaml:"dataDir"`
	Listen  string `yaml:"listen"`
}

// Topics names the four topics.
type Topics struct {
	Requests string `yaml:"requests"`
	Replies  string `yaml:"replies"`
	Events   string `yaml:"events"`
	DLQ      string `yaml:"dlq"`
	// ReplyTo lists the topics a request may name in replyTo besides
	// Replies; any other replyTo gets an invalid reply. They are created
	// at start like the others (see All).
	ReplyTo []string `yaml:"replyTo"`
}

// All lists every topic medgate reads or writes: requests, replies,
// events, dlq, then the replyTo topics, each once. These are the topics
// the embedded broker and kafka.createTopics create at start, with
// kafka.partitions and kafka.replicationFactor: a replyTo topic left to
// the broker's auto-creation would be missing (the embedded broker and
// clusters with auto.create.topics.enable=false create none, and a reply
// sent there is redirected to replies) or get the broker's default
// partitions and replication factor.
func (t Topics) All() []string {
	all := []string{t.Requests, t.Replies, t.Events, t.DLQ}
	for _, r := range t.ReplyTo {
		if r != "" && !slices.Contains(all, r) {
			all = append(all, r)
		}
	}
	return all
}

// TLS configures TLS to the brokers. A reload puts new contents of the
// files, or other files, in force for the Kafka clients' next connections;
// turning TLS on or off, or changing InsecureSkipVerify, needs a restart.
type TLS struct {
	CAFile             string `yaml:"caFile"`
	CertFile           string `yaml:"certFile"`
	KeyFile            string `yaml:"keyFile"`
	InsecureSkipVerify bool   `yaml:"insecureSkipVerify"`
}

// SASL configures SASL authentication. A reload puts a new Username or
// Password (a new reference, or new contents of its file) in force for the
// Kafka clients' next authentications; a new Mechanism needs a restart, and
// so does a new value of an env: Password's variable (a running process
// keeps the environment it started with).
type SASL struct {
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	// Password is a secret reference: "env:NAME" or "file:PATH".
	Password string `yaml:"password" secret:"true"`
}

// Store selects the store engine.
type Store struct {
	Driver string `yaml:"driver"` // sqlite | postgres
	// Path is the SQLite database file. medgate creates its directory with
	// mode 0700 and the files with mode 0600, and tightens looser modes.
	Path string `yaml:"path"`
	// DSN is a secret reference to the PostgreSQL connection string.
	DSN string `yaml:"dsn" secret:"true"`
	// Encryption, when set, encrypts stored requests, replies, journal
	// bodies, plugin state and download batches (AES-256-GCM).
	Encryption *Encryption `yaml:"encryption"`
}

// Encryption lists the store's data keys. The first key encrypts what is
// written; every key decrypts what was written with it (each value carries
// its key id), so a key is rotated by putting a new one first and keeping
// the old one until nothing written with it is left (README: "Rotating
// the store key").
type Encryption struct {
	Keys []StoreKey `yaml:"keys"`
	// RefusePlain, once POST /admin/store/rekey answers 0 on every
	// instance, makes every read of a value stored without encryption (a
	// row written before encryption was turned on, or put into the
	// database behind medgate's back) fail, naming its row, instead of
	// taking it for genuine. It needs keys. Off by default: rows written
	// before encryption was turned on stay readable.
	RefusePlain bool `yaml:"refusePlain"`
	// RefuseUnboundJournal, once POST /admin/store/rekey answers 0 on
	// every instance, makes every read of a journal body written before
	// journal entries were bound to their row (schema version 7: bound
	// only to its message, plugin, site, code and serial, so a body of
	// another call with the same ones could have been moved into it) fail,
	// naming the entry, instead of taking it for genuine. It needs keys.
	// Off by default: such entries stay readable.
	RefuseUnboundJournal bool `yaml:"refuseUnboundJournal"`
}

// StoreKey is one data key: an id stored with every value it encrypts,
// and a secret reference to 32 random bytes written as 64 hex digits or
// standard base64 (openssl rand -hex 32).
type StoreKey struct {
	ID  string `yaml:"id"`
	Key string `yaml:"key" secret:"true"`
}

// HTTP configures the HTTP server (ingress, admin API, health, metrics).
// A listener on an address other than loopback needs an admin token and
// ingress credentials.
type HTTP struct {
	Listen         string   `yaml:"listen"`
	IngressTimeout Duration `yaml:"ingressTimeout"`
	// AdminToken is a secret reference; when set, /admin calls need
	// "Authorization: Bearer <token>".
	AdminToken string `yaml:"adminToken" secret:"true"`
	// IngressToken is a secret reference; when set, POST /v1/messages
	// accepts it (as the client "default").
	IngressToken string `yaml:"ingressToken" secret:"true"`
	// Clients are the ingress clients, each with its own token, so one
	// client's token can be replaced without touching the others.
	Clients []HTTPClient `yaml:"clients"`
	// AllowedHosts are the names clients use to reach medgate (its DNS
	// names), checked against the Host header; IP addresses and localhost
	// are always allowed. ".hospital.local" allows every name under it.
	AllowedHosts []string `yaml:"allowedHosts"`
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout bound
	// each phase of a connection; WriteTimeout must exceed ingressTimeout.
	ReadHeaderTimeout Duration `yaml:"readHeaderTimeout"`
	ReadTimeout       Duration `yaml:"readTimeout"`
	WriteTimeout      Duration `yaml:"writeTimeout"`
	IdleTimeout       Duration `yaml:"idleTimeout"`
	// MaxConnections caps the connections served at once.
	MaxConnections int `yaml:"maxConnections"`
	// MaxConnectionsPerAddress caps the connections one client address
	// holds open at once (default 256, at most MaxConnections); one past
	// it is answered 429 and closed. A trusted reverse proxy
	// (console.proxy.trusted) is not capped.
	MaxConnectionsPerAddress int `yaml:"maxConnectionsPerAddress"`
	// ShutdownDelay is how long a shutdown (SIGTERM) has /readyz answer
	// 503 while medgate still takes HTTP requests, MLLP connections and
	// Kafka messages as before, so that a load balancer (a Kubernetes
	// Service) stops sending new ones before the listeners close; 0s (the
	// default) stops taking them at once.
	ShutdownDelay Duration `yaml:"shutdownDelay"`
}

// MaxShutdownDelay bounds http.shutdownDelay.
const MaxShutdownDelay = 2 * time.Minute

// Console configures the staff web console's access (README: "Console
// access").
type Console struct {
	// PublicOrigins are the addresses staff type to reach the console
	// through a reverse proxy ("https://medgate.hospital.example"), accepted
	// as the origin of form posts besides the server's own.
	PublicOrigins []string `yaml:"publicOrigins"`
	// HTTPS says browsers reach the console over HTTPS (a TLS proxy in
	// front): session cookies are Secure and HSTS is sent with HSTSMaxAge.
	HTTPS      bool     `yaml:"https"`
	HSTSMaxAge Duration `yaml:"hstsMaxAge"`
	// SessionIdle ends a session after this long without a request
	// (default 30m); SessionMax ends it anyway (default 12h).
	SessionIdle Duration `yaml:"sessionIdle"`
	SessionMax  Duration `yaml:"sessionMax"`
	// Lockout refuses a user's sign-ins from one client address after
	// Failures failures within Duration (defaults 5 and 15m).
	Lockout Lockout `yaml:"lockout"`
	// MaxSessionsPerUser bounds the console sessions one user holds (1 to
	// 1000, default 20): a sign-in past it ends that user's own least
	// recently used session.
	MaxSessionsPerUser int `yaml:"maxSessionsPerUser"`
	// Proxy trusts a reverse proxy: its forwarded client address and,
	// when set, the user (and role) it names.
	Proxy *ConsoleProxy `yaml:"proxy"`
	// TimeZone is the zone the console and the CLI show times in, each
	// with its offset: an IANA name such as Asia/Shanghai, UTC, or Local
	// (the server's zone, the default). The admin API's times stay RFC
	// 3339 with their offset.
	TimeZone string `yaml:"timeZone"`
	// loc is TimeZone loaded (checkConsole).
	loc *time.Location
}

// Location returns the zone of console.timeZone (the server's zone when
// it is not set or not checked).
func (cs Console) Location() *time.Location {
	if cs.loc == nil {
		return time.Local
	}
	return cs.loc
}

// Lockout configures the sign-in lockout.
type Lockout struct {
	Failures int      `yaml:"failures"`
	Duration Duration `yaml:"duration"`
	// UserFailures bounds the failed sign-ins of one user from every
	// address together within Duration (default 20): past it, each
	// sign-in of the user from an address the user has not signed in
	// from waits its turn, a turn that doubles with each failure up to
	// UserMaxWait (default 15m). See access.Lockout.
	UserFailures int      `yaml:"userFailures"`
	UserMaxWait  Duration `yaml:"userMaxWait"`
}

// ConsoleProxy is a trusted reverse proxy in front of the console.
type ConsoleProxy struct {
	// Trusted lists the proxy's addresses or CIDRs; the headers below and
	// X-Forwarded-For are believed only from them.
	Trusted []string `yaml:"trusted"`
	// UserHeader names the header carrying the signed-in user (e.g.
	// X-Remote-User); empty: the proxy only forwards addresses.
	UserHeader string `yaml:"userHeader"`
	// RoleHeader names the header carrying the role (viewer, operator,
	// admin); empty: the role of the medgate user of that name.
	RoleHeader string `yaml:"roleHeader"`
}

// HTTPClient is one ingress client.
type HTTPClient struct {
	Name string `yaml:"name"`
	// Token is a secret reference: "env:NAME" or "file:PATH".
	Token string `yaml:"token" secret:"true"`
	// Sites, when set, are the only site codes the client may send
	// messages for: the ingress refuses (403) a message claiming another
	// site, so one hospital's HIS token cannot act at another site. Empty:
	// every site (a platform-wide client).
	Sites []string `yaml:"sites"`
}

// KafkaMaxRecordBytes is the largest record medgate's Kafka producer sends
// (bus.MaxRecordBytes). MaxPayloadLimit leaves room in it for the key, the
// headers and the record's own framing.
const (
	KafkaMaxRecordBytes = bus.MaxRecordBytes
	MaxPayloadLimit     = KafkaMaxRecordBytes - 16<<10
)

// Log configures logging.
type Log struct {
	Format string `yaml:"format"` // json | text
	Level  string `yaml:"level"`  // debug | info | warn | error
}

// Processing tunes message handling.
type Processing struct {
	// MaxPayloadBytes bounds a request message (and an ingress body); at
	// most MaxPayloadLimit, so that whatever is accepted can be published.
	MaxPayloadBytes int      `yaml:"maxPayloadBytes"`
	MaxAttempts     int      `yaml:"maxAttempts"`
	InitialBackoff  Duration `yaml:"initialBackoff"`
	MaxBackoff      Duration `yaml:"maxBackoff"`
	CallTimeout     Duration `yaml:"callTimeout"`
	// UploadDeadline is the time allowed from the business event to the
	// upload (the 30-minute rule).
	UploadDeadline Duration `yaml:"uploadDeadline"`
	// RetryBudget bounds retries of messages that have no upload deadline.
	RetryBudget Duration `yaml:"retryBudget"`
	// BreakerThreshold consecutive transient failures of a plugin at a site
	// open its circuit for BreakerCooldown: calls pause instead of hammering
	// a system that is down. 0 uses the default (5); -1 disables the
	// breaker; any other value below 1 is a configuration problem.
	BreakerThreshold int      `yaml:"breakerThreshold"`
	BreakerCooldown  Duration `yaml:"breakerCooldown"`
	// PluginCrashLimit: a message during whose calls the plugin process
	// died this many times (with no other message in the plugin) is
	// answered failed, rule plugin-crash, and goes to the DLQ.
	PluginCrashLimit int `yaml:"pluginCrashLimit"`
}

// Retention bounds the store's growth. Finished messages (ok, invalid,
// rejected) older than Messages and journal entries older than Exchanges
// are deleted every Interval by one instance; pending and failed messages
// are never deleted. Keep Messages longer than the request topic's
// retention, so a redelivery can always find its stored reply. To keep rows
// for good, give a very long duration (e.g. "87600h").
type Retention struct {
	Messages  Duration `yaml:"messages"`
	Exchanges Duration `yaml:"exchanges"`
	Interval  Duration `yaml:"interval"`
}

// Artifacts configures where the files plugins hand over (exports,
// labels) are kept.
type Artifacts struct {
	// Dir holds them, mode 0700; default data/artifacts beside the
	// configuration. The console and `medgate <plugin> <command> -out`
	// read them from there.
	Dir string `yaml:"dir"`
}

// Plugin declares one plugin binary.
type Plugin struct {
	Name   string `yaml:"name"`
	Path   string `yaml:"path"`
	SHA256 string `yaml:"sha256"`
	// Limits bound what the plugin writes through the host services; a
	// key left out takes the value of pluginLimits (after defaults).
	Limits PluginLimits `yaml:"limits"`
	// Isolation says when the plugin is run without one of its sites
	// (pluginhost.Options); a key left out takes DefaultPluginIsolation.
	Isolation PluginIsolation `yaml:"isolation"`
}

// PluginIsolation says when medgate runs a plugin without one of its
// sites, so that a site that keeps killing the plugin process does not
// keep it down for its other sites. An isolated site's messages fail
// retryably without reaching the plugin (uploads are retried, late, never
// dropped) until a reload configures the site again.
type PluginIsolation struct {
	// ConfigureCrashes is how many relaunches in a row the site's
	// Configure may kill the process in before the site is isolated.
	ConfigureCrashes int `yaml:"configureCrashes"`
	// SiteCrashes is how many of the site's messages must each have
	// crashed the plugin again (retried alone: processing.pluginCrashLimit)
	// in crashes that all had a message of the site in flight, every
	// message of the site in them crashing it again and none answered
	// meanwhile, within SiteCrashWindow, before the site is isolated; -1:
	// never for its messages' crashes. One message that crashes the
	// plugin is processing.pluginCrashLimit's business, and a site that
	// only shared a crash is never isolated.
	SiteCrashes int `yaml:"siteCrashes"`
	// SiteCrashWindow bounds how far back those crashes count.
	SiteCrashWindow Duration `yaml:"siteCrashWindow"`
}

// DefaultPluginIsolation is plugins[].isolation when not set.
var DefaultPluginIsolation = PluginIsolation{ConfigureCrashes: 3, SiteCrashes: 3, SiteCrashWindow: Duration(10 * time.Minute)}

// Bounds of plugins[].isolation.
const (
	maxIsolationCrashes = 100
	minSiteCrashWindow  = time.Minute
	maxSiteCrashWindow  = 24 * time.Hour
)

// PluginLimits bound what a plugin writes through the host services, in
// each medgate instance (hostsvc.Limits): events and journal entries by
// token buckets (a rate a second, sustained, and a burst, how many at
// once after a quiet spell), and the size of one state value. A write
// past a limit fails the plugin's call, so its message is tried again
// later (or goes to the DLQ with the reason); nothing is dropped. The
// replies and DLQ records medgate publishes for a plugin are never
// limited. A rate of -1 is no limit; 0 is a problem (it would refuse
// every write).
type PluginLimits struct {
	PublishPerSecond int `yaml:"publishPerSecond"`
	PublishBurst     int `yaml:"publishBurst"`
	JournalPerSecond int `yaml:"journalPerSecond"`
	JournalBurst     int `yaml:"journalBurst"`
	StateValueBytes  int `yaml:"stateValueBytes"`
	// The perSite keys bound each one of the plugin's sites under the
	// plugin's own buckets (hostsvc.Limits): a write takes a token of
	// both, so one site's burst is refused by its own bucket and leaves
	// the plugin's tokens to its other sites, while the plugin's bucket
	// still bounds all of them together. -1 as the rate (the default) is
	// no bucket per site. A perSite burst left out is twice the perSite
	// rate written beside it, else the pluginLimits value.
	PerSitePublishPerSecond int `yaml:"perSitePublishPerSecond"`
	PerSitePublishBurst     int `yaml:"perSitePublishBurst"`
	PerSiteJournalPerSecond int `yaml:"perSiteJournalPerSecond"`
	PerSiteJournalBurst     int `yaml:"perSiteJournalBurst"`
	// StateWritesPerSecond and StateWritesBurst bound the plugin's state
	// writes (each Put, CompareAndSet and write of a WriteState) by a
	// token bucket like the events'; the perSite keys each site's under
	// it, as for events.
	StateWritesPerSecond        int `yaml:"stateWritesPerSecond"`
	StateWritesBurst            int `yaml:"stateWritesBurst"`
	PerSiteStateWritesPerSecond int `yaml:"perSiteStateWritesPerSecond"`
	PerSiteStateWritesBurst     int `yaml:"perSiteStateWritesBurst"`
}

// DefaultPluginLimits are pluginLimits when not set (hostsvc.DefaultLimits
// are the same): rates well above what a plugin keeping pace with the
// pipeline needs (about 10,000 messages a second in the pass-through
// benchmark, and one event and journal entry per message would be half
// the rate), and state values of at most 1 MiB.
//
// State writes are counted by host call (Put, CompareAndSet, WriteState:
// one transaction of the store each): 20000 a second is over 100 times
// what the busiest shipped paths make in the benchmarks (a 500-line
// GYU102 makes 2 such calls, at most about 150 a second; the trace-code
// seeding of 1,000,000 codes about 4,000 a second, its codes written 64
// to a WriteState).
//
// The perSite rates are -1: no bucket per site, a plugin's sites share
// its buckets, which keeps a plugin at one site as it was. Their bursts
// are used only with a rate, and then default to twice it.
var DefaultPluginLimits = PluginLimits{
	PublishPerSecond: 50000, PublishBurst: 100000,
	JournalPerSecond: 50000, JournalBurst: 100000,
	StateValueBytes:         1 << 20,
	PerSitePublishPerSecond: -1, PerSitePublishBurst: 100000,
	PerSiteJournalPerSecond: -1, PerSiteJournalBurst: 100000,
	StateWritesPerSecond: 20000, StateWritesBurst: 40000,
	PerSiteStateWritesPerSecond: -1, PerSiteStateWritesBurst: 40000,
}

// Bounds of the plugin limits' values.
const (
	maxLimitRate  = 1_000_000
	maxLimitBurst = 10_000_000
	// MaxStateValueBytes is the largest stateValueBytes: gRPC carries at
	// most 4 MiB to the host in one call, so a larger value never arrives.
	MaxStateValueBytes = 4 << 20
)

// Site is one hospital site (campus) and its plugins.
type Site struct {
	Code    string                `yaml:"code"`
	Name    string                `yaml:"name"`
	Plugins map[string]SitePlugin `yaml:"plugins"`
	// Outbound maps the site's replies and events into its platform's own
	// format (see outbound.go); nil keeps medgate's JSON.
	Outbound *Outbound `yaml:"outbound"`
}

// SitePlugin enables a plugin for a site with its settings.
type SitePlugin struct {
	Enabled *bool `yaml:"enabled"`
	// Settings are the plugin's own; those it declares secret hold secret
	// references.
	Settings map[string]string `yaml:"settings" secret:"true"`
}

// IsEnabled reports whether the plugin is enabled (default true when listed).
func (p SitePlugin) IsEnabled() bool { return p.Enabled == nil || *p.Enabled }

// DefaultReplyLinger is kafka.replyLinger when it is not set. The Java
// producer's linger.ms is 5 ms since Kafka 4.0; medgate's producer keeps one
// request in flight (idempotence), and a key's next reply can only join the
// request after the one that acknowledges its previous reply, so a batch
// that is ready sooner shortens every key's cycle: 2 ms gave the Kafka
// pass-through 12–15 % more messages a second than 5 ms, faster in 10 of
// 12 alternated pairs (docs/performance-history.md, tenth round); 0 ms gave less.
const DefaultReplyLinger = 2 * time.Millisecond

// Duration is a time.Duration written as "30s", "5m".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		// Worded as yaml.v3's own, so Parse places and explains it.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot unmarshal %s into config.Duration", n.Line, n.ShortTag())}}
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		// A *yaml.TypeError lets the decoder go on and report every problem.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration; %s", n.Line, n.Value, durationHint(n.Value))}}
	}
	*d = Duration(v)
	return nil
}

var (
	daysRE   = regexp.MustCompile(`^([0-9]{1,6})d$`)
	numberRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
)

// durationHint says how to write v, which is not a Go duration: days
// (which Go durations have no unit for) in hours, a bare number with a
// unit.
func durationHint(v string) string {
	if m := daysRE.FindStringSubmatch(v); m != nil {
		days, _ := strconv.Atoi(m[1])
		return fmt.Sprintf("durations have no unit for days: write hours, %q for %d day(s)", strconv.Itoa(days*24)+"h", days)
	}
	if numberRE.MatchString(v) {
		return fmt.Sprintf("give a unit (ns, us, ms, s, m or h), e.g. %q", v+"s")
	}
	return `write a number with a unit (ns, us, ms, s, m or h; no days), e.g. "30s", "5m" or "1h30m"`
}

// MarshalYAML writes the duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Problem is one configuration problem.
type Problem struct {
	File    string
	Line    int
	Path    string // dotted key path, e.g. sites[0].plugins.ledger
	Message string // what is wrong and how to fix it
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Path != "" {
		return fmt.Sprintf("%s: %s: %s", loc, p.Path, p.Message)
	}
	return fmt.Sprintf("%s: %s", loc, p.Message)
}

// Problems is every problem found; it is an error.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return fmt.Sprintf("%d configuration problem(s):\n  %s", len(ps), strings.Join(lines, "\n  "))
}

// Load reads, defaults and checks the file. The error, if any, is Problems.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Problems{{File: path, Message: fmt.Sprintf("cannot read the configuration file: %v", err)}}
	}
	return Parse(path, data)
}

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// Parse parses data as if read from path.
func Parse(path string, data []byte) (*Config, error) {
	c := &Config{File: path, lines: map[string]int{}, values: map[string]*yaml.Node{}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Problems{syntaxProblem(path, data, err)}
	}
	index(&root, "", c.lines, c.values)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var ps Problems
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				ps = append(ps, c.placeProblem(yamlProblem(path, errors.New(e))))
			}
		} else {
			ps = append(ps, c.placeProblem(yamlProblem(path, err)))
		}
	}
	// medgate reads one document; keys after a "---" would be ignored. An
	// empty document (a trailing "---") ignores nothing.
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil && len(next.Content) == 1 && next.Content[0].ShortTag() == "!!null" {
			continue
		}
		p := Problem{File: path, Line: next.Line}
		if err != nil {
			p = yamlProblem(path, err)
		}
		p.Message = `a second YAML document starts here; medgate reads only the first, so what follows would be ignored: remove the "---" line (and any "..." line before it) so that the file is one document`
		ps = append(ps, p)
		break
	}
	c.applyDefaults()
	ps = append(ps, c.zeros...)
	ps = append(ps, c.check()...)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	if len(ps) > 0 {
		return c, ps
	}
	return c, nil
}

func yamlProblem(path string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{File: path, Message: msg}
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Message = m[2]
	}
	return p
}

// syntaxProblem is a file YAML cannot read, in the YAML library's words
// with what to change: its messages name no fix, and one of a tab names
// the line before the tab.
func syntaxProblem(path string, data []byte, err error) Problem {
	p := yamlProblem(path, err)
	msg := p.Message
	switch {
	case strings.Contains(msg, "tab character") || strings.Contains(msg, "cannot start any token") && bytes.ContainsRune(data, '\t'):
		for i, line := range strings.Split(string(data), "\n") {
			if indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]; strings.Contains(indent, "\t") {
				p.Line = i + 1
				break
			}
		}
		p.Message = msg + `: YAML does not take a tab in the indentation; indent with spaces only`
	case strings.Contains(msg, "cannot start any token"):
		p.Message = msg + `: a value that starts with @, ` + "`" + ` or % must be in quotes, e.g. node: "@a"`
	case strings.Contains(msg, "mapping values are not allowed"):
		p.Message = msg + `: a value holds ": " (a colon and a space), or this key is indented deeper than the keys beside it; put such a value in quotes (key: "a: b"; a secret reference has no space: "env:NAME", "file:/path"), or indent the key as the keys of its section`
	case strings.Contains(msg, "expected ',' or ']'") || strings.Contains(msg, "expected ',' or '}'"):
		p.Message = msg + `: a list [ … ] or map { … } that starts at or after this line does not close; close it on its line (brokers: [a:9093, b:9093]), or put a value holding [ or { in quotes`
	case strings.Contains(msg, "did not find expected") || strings.Contains(msg, "could not find expected ':'"):
		p.Message = msg + `: check the indentation of this line and the lines around it: every key ends with ":", the keys of one section line up, and a list item starts with "- " under its key`
	case strings.Contains(msg, "unexpected end of stream"):
		p.Message = msg + `: a quote opened in the file is not closed; close it on the line it opens`
	}
	return p
}

var unknownKeyRE = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

// placeProblem gives a decoding problem the path of its key: an unknown
// key is named with the keys its section takes (not a Go type), and a
// value of the wrong type with its key when one key alone sits deepest on
// its line.
func (c *Config) placeProblem(p Problem) Problem {
	if p.Line == 0 {
		return p
	}
	var onLine []string
	for path, l := range c.lines {
		if l == p.Line {
			onLine = append(onLine, path)
		}
	}
	sort.Strings(onLine)
	if m := unknownKeyRE.FindStringSubmatch(p.Message); m != nil {
		for _, path := range onLine {
			parent, key := "", path
			if i := strings.LastIndex(path, "."); i >= 0 {
				parent, key = path[:i], path[i+1:]
			}
			if key != m[1] {
				continue
			}
			section := parent
			if section == "" {
				section = "the top level"
			}
			p.Path = path
			p.Message = fmt.Sprintf("unknown key; %s takes: %s; check the spelling against the configuration reference in README.md", section, strings.Join(keysAt(parent), ", "))
			return p
		}
		p.Message = fmt.Sprintf("unknown key %q; check the spelling against the configuration reference in README.md", m[1])
		return p
	}
	if m := typeErrRE.FindStringSubmatch(p.Message); m != nil {
		tag, value, into := m[1], m[2], m[3]
		p.Path = c.valuePath(p.Line, into, func(n *yaml.Node) bool {
			if n.ShortTag() != tag {
				return false
			}
			short, cut := strings.CutSuffix(value, "...") // yaml.v3 cuts long values
			return n.Kind != yaml.ScalarNode || n.Value == value || cut && strings.HasPrefix(n.Value, short)
		})
		subject := p.Path
		if subject == "" {
			subject = "the key"
		}
		p.Message = fmt.Sprintf("is %s, but %s takes %s", c.describeValue(tag, p.Path), subject, describeType(into))
		return p
	}
	if m := badDurationRE.FindStringSubmatch(p.Message); m != nil {
		if v, err := strconv.Unquote(m[1]); err == nil {
			p.Path = c.valuePath(p.Line, "config.Duration", func(n *yaml.Node) bool {
				return n.Kind == yaml.ScalarNode && n.Value == v
			})
		}
		return p
	}
	deepest, n := "", 0
	for _, path := range onLine {
		switch d := strings.Count(path, ".") + strings.Count(path, "["); {
		case d > n || deepest == "":
			deepest, n = path, d
		case d == n:
			return p // two keys on the line: do not guess
		}
	}
	p.Path = deepest
	return p
}

var (
	typeErrRE     = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (\\S+)$")
	badDurationRE = regexp.MustCompile(`^("(?:[^"\\]|\\.)*") is not a duration`)
)

// valuePath returns the path of the one value on line whose Go type is
// into and that match accepts, or "" when there is none or more than one.
func (c *Config) valuePath(line int, into string, match func(*yaml.Node) bool) string {
	found := ""
	for path, n := range c.values {
		if n.Line != line || !match(n) {
			continue
		}
		if t, ok := typeAt(path); !ok || strings.TrimPrefix(t.String(), "*") != strings.TrimPrefix(into, "*") {
			continue
		}
		if found != "" {
			return ""
		}
		found = path
	}
	return found
}

// describeValue says in words what kind of YAML value was written at
// path, with a tag yaml.v3 gave it. A single value is quoted (see
// [quoteValue]) unless it may be a secret, or its path is not known:
// yaml.v3's own quote is cut to 7 bytes and belongs to no known key.
func (c *Config) describeValue(tag, path string) string {
	switch tag {
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!null":
		return "empty"
	}
	n := c.values[path]
	switch {
	case path == "" || n == nil || n.Kind != yaml.ScalarNode || n.Value == "":
		return "a single value"
	case mayHoldSecret(path) || looksLikeCredential(n.Value):
		return "a single value (not repeated here: it may hold a secret)"
	}
	return fmt.Sprintf("a single value (%s)", quoteValue(n.Value))
}

// quoteRunes is how much of a wrong value a problem quotes: enough to
// recognise it, not a whole pasted blob.
const quoteRunes = 40

// quoteValue quotes v for a problem message, cut after quoteRunes
// characters (not bytes, so a Chinese value is not cut inside a
// character) with an ellipsis.
func quoteValue(v string) string {
	if r := []rune(v); len(r) > quoteRunes {
		v = string(r[:quoteRunes]) + "…"
	}
	return strconv.Quote(v)
}

// credentialRE matches text that reads as a credential: a URL or DSN with
// a password in it, a "password=…" pair, a PEM block.
var credentialRE = regexp.MustCompile(`(?i)://[^/@\s]*:[^/@\s]*@|(password|passwd|pwd|secret|token|api_?key)\s*[=:]|-----BEGIN`)

// looksLikeCredential reports whether v reads as a credential, wherever it
// is written.
func looksLikeCredential(v string) bool { return credentialRE.MatchString(v) }

// mayHoldSecret reports whether the value at a dotted path may be or hold
// a secret: a key tagged secret:"true" is on the path, or the section at
// the path has one below it. A path medgate does not know counts as one.
func mayHoldSecret(path string) bool {
	t := reflect.TypeFor[Config]()
	for _, seg := range strings.Split(path, ".") {
		name, _, _ := strings.Cut(seg, "[")
		f, next, ok := keyStep(t, name)
		if !ok || f.Tag.Get("secret") == "true" {
			return true
		}
		t = next
	}
	return holdsSecret(t, map[reflect.Type]bool{})
}

// holdsSecret reports whether a key tagged secret:"true" is anywhere in t.
func holdsSecret(t reflect.Type, seen map[reflect.Type]bool) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return false
	}
	seen[t] = true
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("secret") == "true" || holdsSecret(f.Type, seen) {
			return true
		}
	}
	return false
}

// describeType says in words what a key of Go type t takes, and how to
// write it.
func describeType(t string) string {
	t = strings.TrimPrefix(t, "*")
	switch {
	case t == "config.Duration":
		return `a duration; write e.g. "30s" or "5m"`
	case strings.HasPrefix(t, "[]"):
		return `a list; write one "- item" per line under the key, or [a, b]`
	case strings.HasPrefix(t, "map[string]string"):
		return "a mapping of names to values; write one \"name: value\" per line, indented under the key"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "config."):
		return "a mapping of keys; write one \"key: value\" per line, indented under the key (see the configuration reference in README.md)"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "a whole number; write digits only, e.g. 64"
	case strings.HasPrefix(t, "float"):
		return "a number, e.g. 0.5"
	case t == "string":
		return "a single value; to keep a value that starts with [ or { or holds \": \" as text, put it in quotes"
	}
	return "another kind of value; see the configuration reference in README.md"
}

// typeAt returns the Go type of the value at a dotted path.
func typeAt(path string) (reflect.Type, bool) {
	t := reflect.TypeFor[Config]()
	if path == "" {
		return t, true
	}
	for _, seg := range strings.Split(path, ".") {
		name, _, _ := strings.Cut(seg, "[")
		_, next, ok := keyStep(t, name)
		if !ok {
			return nil, false
		}
		t = next
		for range strings.Count(seg, "[") {
			for t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			if t.Kind() != reflect.Slice {
				return nil, false
			}
			t = t.Elem()
		}
	}
	return t, true
}

// keysAt lists the keys the section at a dotted path takes (sorted).
func keysAt(path string) []string {
	t, ok := typeAt(path)
	if !ok {
		return nil
	}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	sort.Strings(keys)
	return keys
}

// keyStep takes one key, name, down from a section of Go type t (pointers
// followed): a struct's field whose yaml tag is name, or any key of a map.
// It returns the struct field (zero for a map's key), the type of the
// key's value, and false when t takes no key name.
func keyStep(t reflect.Type, name string) (reflect.StructField, reflect.Type, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Map:
		return reflect.StructField{}, t.Elem(), true
	case reflect.Struct:
		if f, ok := fieldByTag(t, name); ok {
			return f, f.Type, true
		}
	}
	return reflect.StructField{}, nil, false
}

// fieldByTag finds the field of struct t whose yaml tag is name.
func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// index records the line of every mapping key and sequence item, and the
// node of its value.
func index(n *yaml.Node, path string, lines map[string]int, values map[string]*yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			index(c, path, lines, values)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			lines[p] = k.Line
			values[p] = n.Content[i+1]
			index(n.Content[i+1], p, lines, values)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			lines[p] = c.Line
			values[p] = c
			index(c, p, lines, values)
		}
	}
}

// Line returns the line of a dotted path, or of its nearest parent.
func (c *Config) Line(path string) int {
	for path != "" {
		if l, ok := c.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// Problems builds a one-problem Problems at a dotted path of this file.
func (c *Config) Problems(path, format string, args ...any) Problems {
	return Problems{c.Problem(path, format, args...)}
}

// Problem builds a Problem at a dotted path of this file.
func (c *Config) Problem(path, format string, args ...any) Problem {
	return Problem{File: c.File, Line: c.Line(path), Path: path, Message: fmt.Sprintf(format, args...)}
}

func (c *Config) applyDefaults() {
	if c.Node == "" {
		c.Node = os.Getenv("MEDGATE_NODE")
	}
	if c.Node == "" {
		c.Node, _ = os.Hostname()
	}
	k := &c.Kafka
	if k.GroupID == "" {
		k.GroupID = "medgate"
	}
	if k.ClientID == "" {
		k.ClientID = "medgate"
	}
	def(&k.Topics.Requests, "medgate.requests")
	def(&k.Topics.Replies, "medgate.replies")
	def(&k.Topics.Events, "medgate.events")
	def(&k.Topics.DLQ, "medgate.dlq")
	defNonZero(c, "kafka.maxInFlight", &k.MaxInFlight, 64, "must be between 1 and 10000")
	defNonZero(c, "kafka.maxBufferedMB", &k.MaxBufferedMB, 64, "must be between 1 and 65536 (MiB)")
	defNonZero(c, "kafka.releaseGrace", &k.ReleaseGrace, Duration(bus.DefaultReleaseGrace), "must be between 1s and 20s")
	if k.ReplyLinger == nil {
		d := Duration(DefaultReplyLinger)
		k.ReplyLinger = &d
	}
	defNonZero(c, "kafka.partitions", &k.Partitions, 6, "must be at least 1")
	defNonZero(c, "kafka.replicationFactor", &k.ReplicationFactor, 1, "must be at least 1")
	if k.Embedded != nil {
		def(&k.Embedded.Listen, "127.0.0.1:9092")
		def(&k.Embedded.DataDir, "data/kafka")
		k.Embedded.DataDir = c.rel(k.Embedded.DataDir)
		k.CreateTopics = true
	}
	if k.TLS != nil {
		k.TLS.CAFile = c.rel(k.TLS.CAFile)
		k.TLS.CertFile = c.rel(k.TLS.CertFile)
		k.TLS.KeyFile = c.rel(k.TLS.KeyFile)
	}
	def(&c.Store.Driver, "sqlite")
	if c.Store.Driver == "sqlite" {
		def(&c.Store.Path, "data/medgate.db")
		c.Store.Path = c.rel(c.Store.Path)
	}
	h := &c.HTTP
	def(&h.Listen, "127.0.0.1:8080")
	defNonZero(c, "http.ingressTimeout", &h.IngressTimeout, Duration(30*time.Second), "must be positive")
	defNonZero(c, "http.readHeaderTimeout", &h.ReadHeaderTimeout, Duration(10*time.Second), "must be positive")
	defNonZero(c, "http.readTimeout", &h.ReadTimeout, Duration(30*time.Second), "must be positive")
	defNonZero(c, "http.writeTimeout", &h.WriteTimeout, h.IngressTimeout+Duration(15*time.Second), "must be longer than http.ingressTimeout")
	defNonZero(c, "http.idleTimeout", &h.IdleTimeout, Duration(2*time.Minute), "must be positive")
	defNonZero(c, "http.maxConnections", &h.MaxConnections, 1024, "must be between 1 and 100000")
	perAddr := 256
	if h.MaxConnections >= 1 {
		perAddr = min(perAddr, h.MaxConnections)
	}
	defNonZero(c, "http.maxConnectionsPerAddress", &h.MaxConnectionsPerAddress, perAddr, "must be between 1 and http.maxConnections")
	cs := &c.Console
	defNonZero(c, "console.hstsMaxAge", &cs.HSTSMaxAge, Duration(365*24*time.Hour), "must be positive")
	defNonZero(c, "console.sessionIdle", &cs.SessionIdle, Duration(30*time.Minute), "must be at least 1m")
	defNonZero(c, "console.sessionMax", &cs.SessionMax, Duration(12*time.Hour), "must be positive")
	defNonZero(c, "console.lockout.failures", &cs.Lockout.Failures, 5, "must be between 1 and 100")
	defNonZero(c, "console.lockout.duration", &cs.Lockout.Duration, Duration(15*time.Minute), "must be at least 1m")
	defNonZero(c, "console.lockout.userFailures", &cs.Lockout.UserFailures, 20, "must be between 1 and 10000")
	defNonZero(c, "console.lockout.userMaxWait", &cs.Lockout.UserMaxWait, Duration(15*time.Minute), "must be between 1s and 24h")
	defNonZero(c, "console.maxSessionsPerUser", &cs.MaxSessionsPerUser, 20, "must be between 1 and 1000")
	def(&cs.TimeZone, "Local")
	def(&c.Log.Format, "json")
	def(&c.Log.Level, "info")
	p := &c.Processing
	defNonZero(c, "processing.maxPayloadBytes", &p.MaxPayloadBytes, MaxPayloadLimit, fmt.Sprintf("must be between 1 and %d", MaxPayloadLimit))
	defNonZero(c, "processing.maxAttempts", &p.MaxAttempts, 8, "must be at least 1")
	defNonZero(c, "processing.initialBackoff", &p.InitialBackoff, Duration(500*time.Millisecond), "must be positive")
	defNonZero(c, "processing.maxBackoff", &p.MaxBackoff, Duration(30*time.Second), "must be positive")
	defNonZero(c, "processing.callTimeout", &p.CallTimeout, Duration(60*time.Second), "must be positive")
	defNonZero(c, "processing.uploadDeadline", &p.UploadDeadline, Duration(30*time.Minute), "must be positive")
	defNonZero(c, "processing.retryBudget", &p.RetryBudget, Duration(10*time.Minute), "must be positive")
	def(&p.BreakerThreshold, 5)
	defNonZero(c, "processing.pluginCrashLimit", &p.PluginCrashLimit, 3, "must be at least 1")
	defNonZero(c, "processing.breakerCooldown", &p.BreakerCooldown, Duration(30*time.Second), "must be positive")
	defNonZero(c, "retention.messages", &c.Retention.Messages, Duration(90*24*time.Hour), "must be positive (0s would delete finished messages at once); to keep rows for good, give a very long duration (e.g. \"87600h\")")
	defNonZero(c, "retention.exchanges", &c.Retention.Exchanges, Duration(180*24*time.Hour), "must be positive (0s would delete journal entries at once); to keep rows for good, give a very long duration (e.g. \"87600h\")")
	defNonZero(c, "retention.interval", &c.Retention.Interval, Duration(time.Hour), "must be at least 1m")
	if c.PluginChecksums != "" {
		c.PluginChecksums = c.rel(c.PluginChecksums)
	}
	if c.Transforms != "" {
		c.Transforms = c.rel(c.Transforms)
	}
	def(&c.Artifacts.Dir, "data/artifacts")
	c.Artifacts.Dir = c.rel(c.Artifacts.Dir)
	c.defaultLimits("pluginLimits", &c.PluginLimits, DefaultPluginLimits)
	for i := range c.Plugins {
		c.Plugins[i].Path = c.rel(c.Plugins[i].Path)
		c.defaultLimits(fmt.Sprintf("plugins[%d].limits", i), &c.Plugins[i].Limits, c.PluginLimits)
		iso, path, d := &c.Plugins[i].Isolation, fmt.Sprintf("plugins[%d].isolation", i), DefaultPluginIsolation
		defNonZero(c, path+".configureCrashes", &iso.ConfigureCrashes, d.ConfigureCrashes, fmt.Sprintf("must be between 1 and %d", maxIsolationCrashes))
		defNonZero(c, path+".siteCrashes", &iso.SiteCrashes, d.SiteCrashes, fmt.Sprintf("must be between 1 and %d, or -1 never to isolate a site for its messages' crashes", maxIsolationCrashes))
		defNonZero(c, path+".siteCrashWindow", &iso.SiteCrashWindow, d.SiteCrashWindow, "must be between 1m and 24h")
	}
	c.defaultMLLP()
}

// defaultLimits gives each key of l at path left out its value in def
// (an explicit 0 is a problem, see defNonZero).
func (c *Config) defaultLimits(path string, l *PluginLimits, def PluginLimits) {
	rate := "must be at least 1 (a second), or -1 for no limit"
	defNonZero(c, path+".publishPerSecond", &l.PublishPerSecond, def.PublishPerSecond, rate)
	defNonZero(c, path+".publishBurst", &l.PublishBurst, def.PublishBurst, "must be at least 1")
	defNonZero(c, path+".journalPerSecond", &l.JournalPerSecond, def.JournalPerSecond, rate)
	defNonZero(c, path+".journalBurst", &l.JournalBurst, def.JournalBurst, "must be at least 1")
	defNonZero(c, path+".stateValueBytes", &l.StateValueBytes, def.StateValueBytes, fmt.Sprintf("must be between 1 and %d", MaxStateValueBytes))
	defNonZero(c, path+".stateWritesPerSecond", &l.StateWritesPerSecond, def.StateWritesPerSecond, rate)
	defNonZero(c, path+".stateWritesBurst", &l.StateWritesBurst, def.StateWritesBurst, "must be at least 1")
	// A perSite burst left out is twice the perSite rate written beside
	// it: a site's bucket is the site's own, not the plugin's.
	perSite := func(rateKey, burstKey string, rate, burst *int, defRate, defBurst int) {
		defNonZero(c, path+"."+rateKey, rate, defRate, "must be at least 1 (a second), or -1 for no limit")
		if _, given := c.values[path+"."+rateKey]; given && *rate >= 1 {
			defBurst = min(2**rate, maxLimitBurst)
		}
		defNonZero(c, path+"."+burstKey, burst, defBurst, "must be at least 1")
	}
	perSite("perSitePublishPerSecond", "perSitePublishBurst", &l.PerSitePublishPerSecond, &l.PerSitePublishBurst, def.PerSitePublishPerSecond, def.PerSitePublishBurst)
	perSite("perSiteJournalPerSecond", "perSiteJournalBurst", &l.PerSiteJournalPerSecond, &l.PerSiteJournalBurst, def.PerSiteJournalPerSecond, def.PerSiteJournalBurst)
	perSite("perSiteStateWritesPerSecond", "perSiteStateWritesBurst", &l.PerSiteStateWritesPerSecond, &l.PerSiteStateWritesBurst, def.PerSiteStateWritesPerSecond, def.PerSiteStateWritesBurst)
}

// checkLimits reports the values of l at path out of their range; with
// given, only those written at path (the others come from pluginLimits,
// checked there).
func (c *Config) checkLimits(path string, l PluginLimits, given bool) Problems {
	var ps Problems
	for _, r := range []struct {
		key     string
		v       int
		noLimit bool // -1 is no limit
		max     int
		what    string
	}{
		{"publishPerSecond", l.PublishPerSecond, true, maxLimitRate, "events a second"},
		{"publishBurst", l.PublishBurst, false, maxLimitBurst, "events at once"},
		{"journalPerSecond", l.JournalPerSecond, true, maxLimitRate, "journal entries a second"},
		{"journalBurst", l.JournalBurst, false, maxLimitBurst, "journal entries at once"},
		{"stateValueBytes", l.StateValueBytes, false, MaxStateValueBytes, "bytes of one state value; gRPC carries at most 4 MiB in one call"},
		{"perSitePublishPerSecond", l.PerSitePublishPerSecond, true, maxLimitRate, "events a second of each site"},
		{"perSitePublishBurst", l.PerSitePublishBurst, false, maxLimitBurst, "events at once of each site"},
		{"perSiteJournalPerSecond", l.PerSiteJournalPerSecond, true, maxLimitRate, "journal entries a second of each site"},
		{"perSiteJournalBurst", l.PerSiteJournalBurst, false, maxLimitBurst, "journal entries at once of each site"},
		{"stateWritesPerSecond", l.StateWritesPerSecond, true, maxLimitRate, "state writes a second"},
		{"stateWritesBurst", l.StateWritesBurst, false, maxLimitBurst, "state writes at once"},
		{"perSiteStateWritesPerSecond", l.PerSiteStateWritesPerSecond, true, maxLimitRate, "state writes a second of each site"},
		{"perSiteStateWritesBurst", l.PerSiteStateWritesBurst, false, maxLimitBurst, "state writes at once of each site"},
	} {
		if _, ok := c.values[path+"."+r.key]; given && !ok {
			continue
		}
		switch {
		case r.noLimit && r.v == -1, r.v >= 1 && r.v <= r.max:
		case r.noLimit:
			ps = append(ps, c.Problem(path+"."+r.key, "must be between 1 and %d (%s), or -1 for no limit, is %d", r.max, r.what, r.v))
		default:
			ps = append(ps, c.Problem(path+"."+r.key, "must be between 1 and %d (%s), is %d", r.max, r.what, r.v))
		}
	}
	return ps
}

// def sets *p to v when *p is the zero value (the setting was not given).
func def[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// defNonZero is def for a key where 0 is not a valid value: *p is set to v
// when it is zero, and when the file gives the key an explicit zero ("0",
// "0s") that is recorded as a problem at the key, saying what is valid and
// that removing the line gives v. A key left empty ("maxAttempts:") counts
// as not given.
func defNonZero[T comparable](c *Config, path string, p *T, v T, valid string) {
	var zero T
	if *p != zero {
		return
	}
	*p = v
	n, ok := c.values[path]
	if !ok || n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return
	}
	// A value that does not decode is already reported by the decoder.
	var written T
	if err := n.Decode(&written); err != nil || written != zero {
		return
	}
	c.zeros = append(c.zeros, c.Problem(path, "%s is not a valid value: %s; write another value, or remove the line for the default %s",
		n.Value, valid, defaultText(v)))
}

// defaultText writes a default as it is written in the file ("1h", not
// "1h0m0s").
func defaultText(v any) string {
	d, ok := v.(Duration)
	if !ok {
		return fmt.Sprint(v)
	}
	s := d.D().String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (c *Config) rel(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(c.File), p)
}

var (
	siteRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)
	hexRE   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	topicRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)
)

// check validates everything that can be checked without plugins.
func (c *Config) check() Problems {
	var ps Problems
	add := func(path, f string, a ...any) { ps = append(ps, c.Problem(path, f, a...)) }
	k := c.Kafka
	switch {
	case k.Embedded == nil && len(k.Brokers) == 0:
		add("kafka", "no brokers: list kafka.brokers (host:port), or set kafka.embedded: {} for the in-process broker")
	case k.Embedded != nil && len(k.Brokers) > 0:
		add("kafka.brokers", "kafka.brokers and kafka.embedded are both set; keep one")
	}
	for i, b := range k.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			add(fmt.Sprintf("kafka.brokers[%d]", i), "%q is not host:port", b)
		}
	}
	if k.Embedded != nil {
		if _, _, err := net.SplitHostPort(k.Embedded.Listen); err != nil {
			add("kafka.embedded.listen", "%q is not host:port", k.Embedded.Listen)
		}
	}
	for name, t := range map[string]string{"requests": k.Topics.Requests, "replies": k.Topics.Replies, "events": k.Topics.Events, "dlq": k.Topics.DLQ} {
		if !topicRE.MatchString(t) {
			add("kafka.topics."+name, "%q is not a valid topic name (letters, digits, '.', '_', '-')", t)
		}
	}
	// Each topic is its own: what medgate writes to the requests topic it
	// reads back as requests (a reply answered invalid, for ever).
	topicOf := map[string]string{}
	for _, t := range []struct{ name, topic string }{{"requests", k.Topics.Requests}, {"replies", k.Topics.Replies}, {"events", k.Topics.Events}, {"dlq", k.Topics.DLQ}} {
		if other, dup := topicOf[t.topic]; dup {
			add("kafka.topics."+t.name, "%q is also kafka.topics.%s; give each of requests, replies, events and dlq its own topic", t.topic, other)
			continue
		}
		topicOf[t.topic] = t.name
	}
	for i, t := range k.Topics.ReplyTo {
		switch {
		case !topicRE.MatchString(t):
			add(fmt.Sprintf("kafka.topics.replyTo[%d]", i), "%q is not a valid topic name (letters, digits, '.', '_', '-')", t)
		case t == k.Topics.Requests:
			add(fmt.Sprintf("kafka.topics.replyTo[%d]", i), "%q is kafka.topics.requests: replies sent there would be read back as requests; list only topics that HIS clients read replies from", t)
		}
	}
	if k.Version != "" {
		// bus uses it as sarama's protocol version; the idempotent producer
		// needs 0.11 or later.
		if v, err := sarama.ParseKafkaVersion(k.Version); err != nil || !v.IsAtLeast(sarama.V0_11_0_0) {
			add("kafka.version", "%q is not a Kafka version medgate can speak; write the brokers' version as x.y.z, at least 0.11.0 (e.g. %q), or leave it out", k.Version, bus.DefaultVersion)
		}
	}
	if k.MaxInFlight < 1 || k.MaxInFlight > 10000 {
		add("kafka.maxInFlight", "must be between 1 and 10000, is %d", k.MaxInFlight)
	}
	if k.MaxBufferedMB < 1 || k.MaxBufferedMB > 65536 {
		add("kafka.maxBufferedMB", "must be between 1 and 65536 (MiB), is %d", k.MaxBufferedMB)
	}
	// Within half the consumer group's rebalance timeout (60s), so that
	// a member releasing its partitions rejoins in time, and short enough
	// for the longest shutdown (deploy/kubernetes: http.shutdownDelay 15s,
	// mllp.shutdownGrace 1m, HTTP 15s, this, jobs 10s) to end within the
	// Kubernetes manifest's terminationGracePeriodSeconds of 120s.
	if g := k.ReleaseGrace.D(); g < time.Second || g > 20*time.Second {
		add("kafka.releaseGrace", "must be between 1s and 20s (the shutdown waits for it after the HTTP and MLLP requests, within Kubernetes' terminationGracePeriodSeconds), is %s", g)
	}
	// Used to create missing topics (createTopics, the embedded broker),
	// which refuse less than 1 and would stop medgate at start.
	if k.Partitions < 1 {
		add("kafka.partitions", "must be at least 1, is %d; remove the line for the default 6", k.Partitions)
	}
	if k.ReplicationFactor < 1 {
		add("kafka.replicationFactor", "must be at least 1 (and at most the number of brokers), is %d; remove the line for the default 1", k.ReplicationFactor)
	}
	if k.ReplyLinger != nil && (k.ReplyLinger.D() < 0 || k.ReplyLinger.D() > time.Second) {
		add("kafka.replyLinger", "must be between 0s (send at once) and 1s, is %s", k.ReplyLinger.D())
	}
	if k.SASL != nil {
		switch k.SASL.Mechanism {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		default:
			add("kafka.sasl.mechanism", "%q is not supported; use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", k.SASL.Mechanism)
		}
		if k.SASL.Username == "" {
			add("kafka.sasl.username", "is required with SASL")
		}
		if err := checkSecretRef(k.SASL.Password, true); err != nil {
			add("kafka.sasl.password", "%v", err)
		}
	}
	if k.TLS != nil {
		if (k.TLS.CertFile == "") != (k.TLS.KeyFile == "") {
			add("kafka.tls", "certFile and keyFile go together for client certificates; set both or neither")
		}
		for name, f := range map[string]string{"caFile": k.TLS.CAFile, "certFile": k.TLS.CertFile, "keyFile": k.TLS.KeyFile} {
			if f != "" {
				if _, err := os.Stat(f); err != nil {
					add("kafka.tls."+name, "cannot read %s: %v", f, err)
				}
			}
		}
	}
	switch c.Store.Driver {
	case "sqlite":
	case "postgres":
		if err := checkSecretRef(c.Store.DSN, true); err != nil {
			add("store.dsn", "%v", err)
		}
	default:
		add("store.driver", "%q is not a store engine; use sqlite or postgres", c.Store.Driver)
	}
	ps = append(ps, c.checkHTTP()...)
	ps = append(ps, c.checkOutbound()...)
	ps = append(ps, c.checkMLLP()...)
	ps = append(ps, c.checkEncryption()...)
	ps = append(ps, c.checkConsole()...)
	switch c.Log.Format {
	case "json", "text":
	default:
		add("log.format", "%q: use json or text", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "%q: use debug, info, warn or error", c.Log.Level)
	}
	p := c.Processing
	if p.MaxPayloadBytes < 1 || p.MaxPayloadBytes > MaxPayloadLimit {
		add("processing.maxPayloadBytes", "must be between 1 and %d, is %d: a larger message could not be published to Kafka (the producer sends at most %d bytes per record, key and headers included)",
			MaxPayloadLimit, p.MaxPayloadBytes, KafkaMaxRecordBytes)
	}
	if p.MaxAttempts < 1 {
		add("processing.maxAttempts", "must be at least 1")
	}
	if p.PluginCrashLimit < 1 {
		add("processing.pluginCrashLimit", "must be at least 1, is %d", p.PluginCrashLimit)
	}
	if p.BreakerThreshold < -1 {
		add("processing.breakerThreshold", "%d has no meaning: write -1 to turn the breaker off, or a count of at least 1 (consecutive transient failures that pause a plugin at a site); 0 or no line gives the default 5", p.BreakerThreshold)
	}
	for _, d := range []struct {
		name string
		d    Duration
	}{{"initialBackoff", p.InitialBackoff}, {"maxBackoff", p.MaxBackoff}, {"callTimeout", p.CallTimeout},
		{"uploadDeadline", p.UploadDeadline}, {"retryBudget", p.RetryBudget}, {"breakerCooldown", p.BreakerCooldown}} {
		if d.d <= 0 {
			add("processing."+d.name, "must be positive, is %s", d.d.D())
		}
	}
	if p.MaxBackoff < p.InitialBackoff {
		add("processing.maxBackoff", "must not be shorter than processing.initialBackoff")
	}
	for _, d := range []struct {
		name string
		d    Duration
	}{{"messages", c.Retention.Messages}, {"exchanges", c.Retention.Exchanges}} {
		if d.d < 0 {
			add("retention."+d.name, "must not be negative, is %s; to keep rows for good, give a very long duration (e.g. \"87600h\")", d.d.D())
		}
	}
	if c.Retention.Interval.D() < time.Minute {
		add("retention.interval", "must be at least 1m, is %s", c.Retention.Interval.D())
	}
	ps = append(ps, c.checkLimits("pluginLimits", c.PluginLimits, false)...)
	seen := map[string]int{}
	for i, pl := range c.Plugins {
		path := fmt.Sprintf("plugins[%d]", i)
		ps = append(ps, c.checkLimits(path+".limits", pl.Limits, true)...)
		if n := pl.Isolation.ConfigureCrashes; n < 1 || n > maxIsolationCrashes {
			add(path+".isolation.configureCrashes", "must be between 1 and %d (relaunches in a row whose process the site's Configure killed), is %d", maxIsolationCrashes, n)
		}
		if n := pl.Isolation.SiteCrashes; n != -1 && (n < 1 || n > maxIsolationCrashes) {
			add(path+".isolation.siteCrashes", "must be between 1 and %d (messages of the site that each crashed the plugin again), or -1 never to isolate a site for its messages' crashes, is %d", maxIsolationCrashes, n)
		}
		if w := pl.Isolation.SiteCrashWindow.D(); w < minSiteCrashWindow || w > maxSiteCrashWindow {
			add(path+".isolation.siteCrashWindow", "must be between 1m and 24h, is %s", w)
		}
		if !sdkhost.ValidPluginName(pl.Name) { // the rule sdktest applies to a plugin's Describe
			add(path+".name", "%q is not a plugin name (lowercase letters, digits, '-', '_')", pl.Name)
		}
		if j, dup := seen[pl.Name]; dup {
			add(path+".name", "plugin %q is declared twice (also plugins[%d])", pl.Name, j)
		}
		seen[pl.Name] = i
		if pl.Path == "" {
			add(path+".path", "path to the plugin binary is required")
		} else if st, err := os.Stat(pl.Path); err != nil {
			add(path+".path", "cannot find the plugin binary: %v; install the plugin's binary at that path (`make build` writes them to bin/plugins/ of a checkout; README \"Installing on a server\"), or correct the path", err)
		} else if st.IsDir() || st.Mode()&0o111 == 0 {
			add(path+".path", "%s is not an executable file", pl.Path)
		}
		if pl.SHA256 != "" && !hexRE.MatchString(pl.SHA256) {
			add(path+".sha256", "must be 64 lowercase hex digits (sha256sum output)")
		}
		if pl.SHA256 == "" && c.PluginChecksums == "" {
			add(path+".sha256", "no checksum: set sha256 (sha256sum %s) or pluginChecksums; medgate refuses to launch an unverified plugin", pl.Path)
		}
	}
	if c.PluginChecksums != "" {
		if _, err := ReadChecksums(c.PluginChecksums); err != nil {
			add("pluginChecksums", "%v", err)
		} else if st, err := os.Stat(c.PluginChecksums); err == nil && st.Mode().Perm()&0o022 != 0 {
			add("pluginChecksums", "%s is writable by group or others (mode %o); run chmod 644 %s, or better, pin each plugin's sha256 in this file",
				c.PluginChecksums, st.Mode().Perm(), c.PluginChecksums)
		}
		sumsDir := filepath.Clean(filepath.Dir(c.PluginChecksums))
		for i, pl := range c.Plugins {
			// Beside the plugin, or above it in the same tree.
			rel, err := filepath.Rel(sumsDir, filepath.Dir(pl.Path))
			if pl.SHA256 == "" && pl.Path != "" && err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				add("pluginChecksums", "%s sits beside (or above) the plugin %s (plugins[%d]) it vouches for: whoever can replace the plugin can replace its checksum. Pin plugins[%d].sha256 in this file (make build prints the sums), or keep the checksums file in another directory", c.PluginChecksums, pl.Path, i, i)
				break
			}
		}
	}
	sites := map[string]int{}
	for i, s := range c.Sites {
		path := fmt.Sprintf("sites[%d]", i)
		if !siteRE.MatchString(s.Code) {
			add(path+".code", "%q is not a site code (letters, digits, '-', '_', at most 32)", s.Code)
		}
		if j, dup := sites[s.Code]; dup {
			add(path+".code", "site %q is declared twice (also sites[%d])", s.Code, j)
		}
		sites[s.Code] = i
		names := make([]string, 0, len(s.Plugins))
		for n := range s.Plugins {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if _, ok := seen[n]; !ok {
				add(path+".plugins."+n, "plugin %q is not declared under plugins:; add it there with its path and sha256", n)
			}
		}
	}
	return ps
}

// ReadChecksums reads a sha256sum-format file into base name → hex digest.
func ReadChecksums(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read plugin checksums: %w", err)
	}
	out := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 || !hexRE.MatchString(f[0]) {
			return nil, fmt.Errorf("%s:%d: expected \"<sha256> <file>\" as printed by sha256sum", path, i+1)
		}
		out[filepath.Base(strings.TrimPrefix(f[1], "*"))] = f[0]
	}
	return out, nil
}

// Checksum returns the expected SHA-256 of plugin p.
func (c *Config) Checksum(p Plugin) (string, error) {
	if p.SHA256 != "" {
		return p.SHA256, nil
	}
	if c.PluginChecksums == "" {
		return "", fmt.Errorf("plugin %q has no sha256 and no pluginChecksums file is configured", p.Name)
	}
	sums, err := ReadChecksums(c.PluginChecksums)
	if err != nil {
		return "", err
	}
	s, ok := sums[filepath.Base(p.Path)]
	if !ok {
		return "", fmt.Errorf("plugin %q: %s has no line for %s; regenerate it with sha256sum", p.Name, c.PluginChecksums, filepath.Base(p.Path))
	}
	return s, nil
}

// Site returns the site with the code, or nil.
func (c *Config) Site(code string) *Site {
	for i := range c.Sites {
		if c.Sites[i].Code == code {
			return &c.Sites[i]
		}
	}
	return nil
}

// checkSecretRef accepts "env:NAME" or "file:PATH" (empty if optional),
// whose name or path can be looked up (see refProblem).
func checkSecretRef(ref string, required bool) error {
	switch {
	case ref == "":
		if required {
			return errors.New(`is required; write "env:VARIABLE" or "file:/path/to/secret"`)
		}
		return nil
	case IsSecretRef(ref):
		return refProblem(ref)
	}
	return errors.New(`secrets are never written in the configuration; write "env:VARIABLE" or "file:/path/to/secret"`)
}

// IsSecretRef reports whether v is a secret reference: "env:" or "file:"
// and something after it. One whose name or path cannot be looked up (a
// space after the colon) is a reference too: resolving it says what is
// wrong.
func IsSecretRef(v string) bool {
	return strings.HasPrefix(v, "env:") && len(v) > 4 || strings.HasPrefix(v, "file:") && len(v) > 5
}

// refProblem says what keeps the secret reference ref from being looked
// up as the administrator meant it: a variable name with a space, '=' or
// a control character ("env: NAME", as YAML's "key: value" invites, would
// look up " NAME", which no shell sets), or a path that starts or ends
// with a space. It is nil when there is none. It never quotes ref, which
// may be a secret written by mistake.
func refProblem(ref string) error {
	if name, ok := strings.CutPrefix(ref, "env:"); ok && strings.ContainsFunc(name, func(r rune) bool { return r == '=' || unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return errors.New(`the name after "env:" has a space, '=' or a control character, which no environment variable name has; write the variable's name right after the colon, e.g. "env:MEDGATE_KAFKA_PASSWORD"`)
	}
	if p, ok := strings.CutPrefix(ref, "file:"); ok && strings.TrimSpace(p) != p {
		return errors.New(`the path after "file:" starts or ends with a space; write the path right after the colon, e.g. "file:/etc/medgate/secrets/kafka-password"`)
	}
	return nil
}

// Secret reads a secret reference; a relative "file:" path is taken
// relative to the configuration file's directory.
func (c *Config) Secret(ref string) (string, error) {
	if p, ok := strings.CutPrefix(ref, "file:"); ok && p != "" && !filepath.IsAbs(p) {
		ref = "file:" + c.rel(p)
	}
	return ResolveSecret(ref)
}

// ResolveSecret reads a secret reference. The error never contains the secret.
func ResolveSecret(ref string) (string, error) {
	if !IsSecretRef(ref) {
		return "", errors.New(`not a secret reference: secrets are never written in the configuration; write "env:VARIABLE" or "file:/path"`)
	}
	if err := refProblem(ref); err != nil {
		return "", err
	}
	switch {
	case strings.HasPrefix(ref, "env:"):
		name := ref[4:]
		v, ok := os.LookupEnv(name)
		switch {
		case !ok:
			return "", fmt.Errorf("environment variable %s is not set; set it in medgate's environment (the systemd unit's EnvironmentFile, the pod's env); a command run by hand, check-config among them, sees only its shell's environment, not the unit's EnvironmentFile: load it first, sudo sh -c 'set -a; . /etc/medgate/environment; exec runuser -u medgate -- medgate check-config -config FILE'", name)
		case v == "":
			return "", fmt.Errorf("environment variable %s is set but empty; put the secret in it", name)
		}
		return v, nil
	default: // "file:"
		p := ref[5:]
		st, err := os.Stat(p)
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err // the path is named once, below
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("secret file %s does not exist; write the secret into it, readable by the user medgate runs as alone (install -m 600), or correct the path after \"file:\": %w", p, err)
		case errors.Is(err, fs.ErrPermission):
			return "", fmt.Errorf("secret file %s cannot be reached by the user medgate runs as; give that user the file (chown, mode 600) and its directories (mode 700): %w", p, err)
		case err != nil:
			return "", fmt.Errorf("secret file %s: %w", p, err)
		case st.IsDir():
			return "", fmt.Errorf("secret file %s is a directory; name the file that holds the secret after \"file:\"", p)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("secret file %s is readable by group or others (mode %o); run chmod 600 %s", p, st.Mode().Perm(), p)
		}
		b, err := os.ReadFile(p)
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err
		}
		if errors.Is(err, fs.ErrPermission) {
			return "", fmt.Errorf("secret file %s cannot be read by the user medgate runs as; give that user the file (chown, mode 600): %w", p, err)
		}
		if err != nil {
			return "", fmt.Errorf("secret file %s: %w", p, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
}
