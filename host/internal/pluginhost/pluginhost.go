// Package pluginhost launches, verifies and supervises adapter plugins.
//
// Each plugin is a separate process started with hashicorp/go-plugin over
// gRPC with AutoMTLS. Before launch the binary's SHA-256 is compared with
// the configured checksum, and checked again just before exec (procRunner,
// as go-plugin's SecureConfig would). go-plugin does not restart a crashed
// plugin, so every Instance has a supervisor: when the process exits or
// stops answering health checks it is relaunched (with exponential backoff while relaunches
// fail), described again and every site's configuration is applied again
// (a site whose Configure fails then is logged and left out: it does not
// keep the plugin down for its other sites; a site whose Configure kills
// the process at Options.ConfigureCrashLimit relaunches in a row is
// isolated, see Isolated). A death of the process during messages' calls
// is attributed to the sites whose messages were in flight, and a site
// whose messages keep crashing it (Options.SiteCrashLimit) is isolated
// too. A plugin binary replaced by one with another checksum
// is not relaunched, and a plugin that speaks no protocol version of this
// medgate is refused with ErrProtocol. Calls made while a plugin
// is down fail with ErrUnavailable, a transient error the pipeline retries.
// A plugin a reload removed is retired (Retire): it is stopped once the
// calls it has in flight have ended (bounded), and meanwhile answers a
// message with a failed response no retry fixes (Retired). A plugin a
// reload launched again from a new binary or checksum is replaced
// (Replace): the old process finishes its calls in flight the same way,
// and every later call to it, a retry of a message that began on it
// included, goes to the new one (Current).
// Describe and Configure, which the host's start and reloads wait on, are
// bounded by Options.CallTimeout.
//
// A plugin's calls back into the host services (state, sequences, events,
// journal, artifacts) each name a site; they are refused with a
// *SiteError unless the plugin is enabled and configured at that site, or
// the host has a call for that site in flight to it (its Configure, or a
// message or job that a reload disabling the site caught mid-way, which
// finishes as it began). Journal entries alone are taken a while longer
// (Options.JournalGrace): an exchange with an external system that a
// plugin finishes after its call timed out, or after its site was
// disabled, is still recorded.
package pluginhost

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medgate/medgate/host/internal/artifact"
	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// ErrUnavailable: the plugin process is not running (crashed, restarting).
var ErrUnavailable = errors.New("plugin is not running")

// CrashError is the error of a call during which the plugin process it
// started on died (crashed, was killed, or was stopped by the supervisor
// for not answering). A call that could not start because the plugin was
// being relaunched fails with ErrUnavailable instead.
type CrashError struct {
	Plugin string
	// Generation counts the launches of the plugin; the call started on
	// this one, and this one died.
	Generation uint64
	// Uptime is how long that process had been running when the call
	// started; Lasted how long the call ran until it failed.
	Uptime, Lasted time.Duration
	Err            error
}

func (e *CrashError) Error() string {
	return fmt.Sprintf("the plugin process (launch %d, up %s) died during the call after %s: %v",
		e.Generation, e.Uptime.Round(time.Millisecond), e.Lasted.Round(time.Millisecond), e.Err)
}

func (e *CrashError) Unwrap() error { return e.Err }

// exitGrace is how long a failed call waits for the process it ran on to
// be seen as exited: the connection breaks a moment before go-plugin reaps
// the process.
const exitGrace = time.Second

// ErrChecksum: the plugin binary does not match its configured checksum.
var ErrChecksum = errors.New("plugin checksum mismatch")

// ErrProtocol: the plugin speaks no protocol version this medgate speaks.
var ErrProtocol = errors.New("plugin protocol version not supported")

// Spec says how to launch one plugin.
type Spec struct {
	Name string
	// Path is the plugin binary; a relative path is taken from the
	// working directory (never looked up in $PATH).
	Path   string
	SHA256 string // lowercase hex
}

// Options tune the supervisor.
type Options struct {
	// Logger is the host's logger (default slog.Default()): give one from
	// logging.New, which masks every message.
	Logger *slog.Logger
	// PluginLogs logs the plugins' own log lines in the host's format and
	// keys, masked, with plugin=<name> (logging.Plugin); nil: Logger.
	PluginLogs *slog.Logger
	// HealthInterval is how often a running plugin is checked.
	HealthInterval time.Duration
	// MinBackoff and MaxBackoff bound relaunch delays: the delay doubles
	// with every launch that fails, up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// CrashBackoff (5s, at most MaxBackoff) bounds the delays of a crash
	// loop: after a launch that succeeded but died within CrashBackoff, the
	// delay doubles too, up to CrashBackoff; a launch that stayed up that
	// long starts the delays again at MinBackoff.
	CrashBackoff time.Duration
	// OnRestart is called after each relaunch (for metrics).
	OnRestart func(plugin string)
	// OnHealth is called when the plugin's health changes (for the
	// medgate_plugin_up metric, so that it does not wait for /readyz):
	// up while its process runs with no site isolated (Isolated), down
	// while it is down or runs without a site. A retired Instance reports
	// nothing more.
	OnHealth func(plugin string, up bool)
	// ConfigureCrashLimit (default DefaultConfigureCrashLimit) is how
	// many relaunches in a row a site's Configure may kill the plugin
	// process in before the site is isolated: the plugin is relaunched
	// without it (see Isolated).
	ConfigureCrashLimit int
	// SiteCrashLimit (default DefaultSiteCrashLimit; -1: never) is how
	// many of a site's messages must each have died with the process in
	// two crashes or more, in a run of crashes that all had a message of
	// the site in flight (Handle), within SiteCrashWindow (default
	// DefaultSiteCrashWindow), before the site is isolated (see Isolated).
	SiteCrashLimit  int
	SiteCrashWindow time.Duration
	// Artifacts keeps the files plugins hand over (default: the machine's
	// artifact.Default store).
	Artifacts *artifact.Store
	// CallTimeout bounds a plugin's Describe and each Configure (default
	// DefaultCallTimeout): the host's start and reloads wait on them.
	CallTimeout time.Duration
	// JournalGrace (default DefaultJournalGrace) is how long a plugin's
	// journal entries for a site are still taken after it stopped serving
	// the site: after the site was forgotten (Forget), or after a message
	// or job of the site the host handed it ended (answered, timed out or
	// cancelled) while the site was not served. Every other host service
	// is refused at once.
	JournalGrace time.Duration

	now func() time.Time // the journal grace's clock (tests); nil: time.Now
}

// DefaultJournalGrace is Options.JournalGrace when zero. When the host
// stops waiting for a call, the plugin's context ends with it, but an
// exchange already under way ends on the plugin's own bound for one
// external call (the shared HTTP client's is 30s by default; none should
// exceed a call timeout, DefaultCallTimeout, which is also the pipeline's
// default processing.callTimeout), and then the plugin journals it
// (within 10s: the bound the shared client puts on that write). An entry
// later than that comes from a plugin that does not bound its work; it is
// refused like any other call for a site not served, so a disabled site
// does not stay open to a plugin for long.
const DefaultJournalGrace = DefaultCallTimeout + 10*time.Second

// DefaultConfigureCrashLimit is Options.ConfigureCrashLimit when zero.
const DefaultConfigureCrashLimit = 3

// DefaultSiteCrashLimit and DefaultSiteCrashWindow are
// Options.SiteCrashLimit and SiteCrashWindow when zero: three messages of
// a site, each in two crashes or more (the pipeline retries a message
// alone after a crash in company, processing.pluginCrashLimit), in ten
// minutes of crashes that all had one of its messages in flight.
const (
	DefaultSiteCrashLimit  = 3
	DefaultSiteCrashWindow = 10 * time.Minute
)

// maxCrashRecords bounds the crashes an Instance remembers for
// attribution (Options.SiteCrashWindow bounds them too).
const maxCrashRecords = 1024

// ErrSiteIsolated: the plugin runs without the site, whose Configure
// killed its process at every relaunch, or whose messages kept crashing
// it (see Instance.Isolated).
var ErrSiteIsolated = errors.New("site isolated from the plugin")

// DefaultCallTimeout bounds Describe and Configure calls when
// Options.CallTimeout is zero, and in Launch.
const DefaultCallTimeout = time.Minute

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PluginLogs == nil {
		o.PluginLogs = o.Logger
	}
	if o.HealthInterval == 0 {
		o.HealthInterval = time.Second
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.CrashBackoff == 0 {
		o.CrashBackoff = 5 * time.Second
	}
	o.CrashBackoff = min(o.CrashBackoff, o.MaxBackoff)
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	o.isolationDefaults()
	if o.JournalGrace <= 0 {
		o.JournalGrace = DefaultJournalGrace
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.Artifacts == nil {
		if s, err := artifact.Default(); err == nil {
			o.Artifacts = s
		} else {
			o.Logger.Error("no artifact store; plugins cannot hand over files", "err", err)
		}
	}
}

// isolationDefaults gives the isolation options left zero their
// defaults.
func (o *Options) isolationDefaults() {
	if o.ConfigureCrashLimit <= 0 {
		o.ConfigureCrashLimit = DefaultConfigureCrashLimit
	}
	if o.SiteCrashLimit == 0 || o.SiteCrashLimit < -1 {
		o.SiteCrashLimit = DefaultSiteCrashLimit
	}
	if o.SiteCrashWindow <= 0 {
		o.SiteCrashWindow = DefaultSiteCrashWindow
	}
}

// Instance is one supervised plugin.
type Instance struct {
	spec Spec
	host sdkhost.HostServer
	opts Options

	mu       sync.RWMutex
	client   *plugin.Client
	pid      int // client's process id (it stays known once killed)
	impl     sdk.Plugin
	desc     *sdk.DescribeResponse
	version  int                          // negotiated protocol version
	sites    map[string]map[string]string // applied settings, re-applied after relaunch
	schemas  map[string]map[string][]byte // per site, the schema documents Configure returned
	inFlight map[string]int               // per site, the host's calls to the plugin not yet answered
	calls    int                          // the host's calls to the plugin not yet answered, every site
	idle     chan struct{}                // closed while calls is 0
	retired  bool                         // Retire was called: calls are refused
	// successor is the Instance that replaced this one (Replace): the
	// calls a retired Instance refuses go to it.
	successor *Instance
	restarts  int
	lastErr   error
	gen       uint64        // launches so far; the running process is launch gen
	upSince   time.Time     // when launch gen started taking calls
	up        chan struct{} // closed while running; replaced when down

	kick chan struct{}
	stop chan struct{}
	// life ends when Close is called; it bounds relaunches.
	life    context.Context
	endLife context.CancelFunc
	done    chan struct{}
	closed  bool

	// journalUntil is, per site the plugin stopped serving, until when
	// its journal entries are still taken (Options.JournalGrace; guarded
	// by mu).
	journalUntil map[string]time.Time

	// configureCrashes counts, per site, the relaunches in a row whose
	// process died in the site's Configure; isolated holds the sites the
	// plugin runs without once that reached Options.ConfigureCrashLimit,
	// with why (both guarded by mu).
	configureCrashes map[string]int
	isolated         map[string]error
	// crashes are the recent deaths of the process during messages'
	// calls (Handle), oldest first, each with the messages of every site
	// in flight then (see messageCrashed; guarded by mu).
	crashes []crashRecord
	// crashCount is len(crashes), read without mu by every answered call.
	crashCount atomic.Int64
	// reported is the health last given to Options.OnHealth (0: none
	// yet, 1 up, 2 down; guarded by healthMu, which is taken after mu).
	healthMu sync.Mutex
	reported int
}

// Start verifies and launches the plugin, describes it and starts its
// supervisor. The context bounds the first launch only.
func Start(ctx context.Context, spec Spec, host sdkhost.HostServer, opts Options) (*Instance, error) {
	opts.defaults()
	in := &Instance{
		spec: spec, host: host, opts: opts,
		sites:    map[string]map[string]string{},
		schemas:  map[string]map[string][]byte{},
		inFlight: map[string]int{},
		idle:     make(chan struct{}),
		up:       make(chan struct{}),
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),

		journalUntil: map[string]time.Time{},

		configureCrashes: map[string]int{},
		isolated:         map[string]error{},
	}
	close(in.idle)
	in.life, in.endLife = context.WithCancel(context.Background())
	if err := in.launch(ctx); err != nil {
		in.endLife()
		return nil, err
	}
	go in.supervise()
	return in, nil
}

// VerifyChecksum hashes the file at path and compares it with want.
func VerifyChecksum(path, want string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open plugin binary: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("read plugin binary %s: %w", path, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return fmt.Errorf("%w: %s has sha256 %s but the configuration expects %s; if this binary is the trusted build, put its sha256sum in the configuration, otherwise reinstall the plugin", ErrChecksum, path, got, want)
	}
	return nil
}

// open verifies the binary of spec, starts it, negotiates the protocol and
// checks its Describe answer. host serves the plugin's calls back, for
// the sites serves accepts (journal entries: journals); nil answers them
// with errors.
func open(ctx context.Context, spec Spec, host sdkhost.HostServer, serves, journals func(site string) bool, artifacts *artifact.Store, logger hclog.Logger, timeout time.Duration) (*plugin.Client, *sdkhost.Client, *sdk.DescribeResponse, error) {
	// The checksum is taken of the file at Path and that file is run: a
	// relative path without a directory part ("acme") would otherwise be
	// looked up in $PATH by exec.
	abs, err := filepath.Abs(spec.Path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("plugin %q: path %s: %w", spec.Name, spec.Path, err)
	}
	spec.Path = abs
	if err := VerifyChecksum(spec.Path, spec.SHA256); err != nil {
		return nil, nil, nil, fmt.Errorf("plugin %q: %w", spec.Name, err)
	}
	if host != nil {
		host = guard{HostServer: host, plugin: spec.Name, artifacts: artifacts, serves: serves, journals: journals}
	}
	stderr := &tail{max: 2048}
	dir, err := sockets.make()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("plugin %q: %w", spec.Name, err)
	}
	var client *plugin.Client
	client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdkhost.Handshake,
		VersionedPlugins: sdkhost.PluginSets(host),
		// go-plugin makes the launch's socket directory in dir and hands
		// it to the runner (sockets.go); the runner checks the binary's
		// checksum again just before it runs it.
		RunnerFunc: func(_ hclog.Logger, cmd *exec.Cmd, socketDir string) (runner.Runner, error) {
			r, err := newRunner(spec.Path, spec.SHA256, cmd)
			if err != nil {
				return nil, err
			}
			sockets.started(client, socketDir, r)
			return r, nil
		},
		UnixSocketConfig: &plugin.UnixSocketConfig{TempDir: dir},
		SkipHostEnv:      true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		GRPCDialOptions:  sdkhost.DialOptions(),
		StartTimeout:     30 * time.Second,
		Logger:           logger,
		Stderr:           stderr,
		// What the plugin writes to os.Stdout and os.Stderr while it
		// serves (go-plugin's Serve swaps them for pipes it forwards
		// here) is logged, not discarded.
		SyncStdout: &lineLog{log: logger, stream: "stdout"},
		SyncStderr: &lineLog{log: logger, stream: "stderr"},
	})
	sockets.use(client)
	rpc, err := client.Client()
	if err != nil {
		killPlugin(client)
		// go-plugin says so only in words.
		if strings.Contains(strings.ToLower(err.Error()), "incompatible api version") {
			return nil, nil, nil, fmt.Errorf("plugin %q: %s: %w: this medgate speaks versions %d to %d (%v); rebuild the plugin with an SDK of one of them, or run a medgate that speaks the plugin's version",
				spec.Name, spec.Path, ErrProtocol, sdkhost.ProtocolV1, sdkhost.ProtocolLatest, err)
		}
		// Kill has waited for the plugin's stderr to be read.
		return nil, nil, nil, fmt.Errorf("plugin %q: start %s: %s%w", spec.Name, spec.Path, startHint(err, stderr.String()), err)
	}
	raw, err := rpc.Dispense(sdkhost.PluginName)
	if err != nil {
		killPlugin(client)
		return nil, nil, nil, fmt.Errorf("plugin %q: dispense: %w", spec.Name, err)
	}
	impl := raw.(*sdkhost.Client)
	dctx, cancel := context.WithTimeout(ctx, timeout)
	desc, err := impl.Describe(dctx, &sdk.DescribeRequest{})
	cancel()
	if err != nil {
		killPlugin(client)
		return nil, nil, nil, fmt.Errorf("plugin %q: describe: %w", spec.Name, unanswered(ctx, dctx, timeout, "Describe", err))
	}
	if desc.Name != spec.Name {
		killPlugin(client)
		return nil, nil, nil, fmt.Errorf("plugin %q: the binary %s describes itself as %q; fix the name in the configuration", spec.Name, spec.Path, desc.Name)
	}
	if err := CheckDescription(desc, impl.Version()); err != nil {
		killPlugin(client)
		return nil, nil, nil, fmt.Errorf("plugin %q (%s): %w", spec.Name, spec.Path, err)
	}
	return client, impl, desc, nil
}

func (in *Instance) launch(ctx context.Context) error {
	client, impl, desc, err := open(ctx, in.spec, in.host, in.serves, in.journals, in.opts.Artifacts, logging.Plugin(in.opts.PluginLogs, in.spec.Name), in.opts.CallTimeout)
	if err != nil {
		return err
	}
	in.declare(desc)
	in.mu.Lock()
	sites := make([]string, 0, len(in.sites))
	settingsOf := make(map[string]map[string]string, len(in.sites))
	for s, v := range in.sites {
		if in.isolated[s] == nil {
			sites = append(sites, s)
			settingsOf[s] = v
		}
	}
	in.mu.Unlock()
	sort.Strings(sites)
	// Re-apply every site's configuration before taking traffic. A site
	// whose Configure fails (an error, no answer within CallTimeout) is
	// logged, as one the plugin refuses: it must not keep the plugin down
	// for its other sites. Its calls fail in the plugin (retried, never
	// lost) until a reload or the next relaunch configures it. Only a
	// process that died, or the end of ctx, fails the launch; a site in
	// whose Configure the process died ConfigureCrashLimit launches in a
	// row is isolated (isolate): the next launch leaves it out.
	for _, site := range sites {
		settings := settingsOf[site]
		cctx, cancel := context.WithTimeout(ctx, in.opts.CallTimeout)
		r, err := impl.Configure(cctx, &sdk.ConfigureRequest{Site: site, Settings: settings})
		cancel()
		if err != nil {
			dead := status.Code(err) == codes.Unavailable || client.Exited() // the connection broke: the process is dying
			err = unanswered(ctx, cctx, in.opts.CallTimeout, "Configure", err)
			if ctx.Err() != nil || dead {
				killPlugin(client)
				err = fmt.Errorf("plugin %q: reconfigure site %q: %w", in.spec.Name, site, err)
				if ctx.Err() == nil {
					in.configureCrashed(site, err)
				}
				return err
			}
			in.configured(site)
			in.opts.Logger.Error("plugin failed to configure a site after relaunch; it serves its other sites, and this site's messages fail and are retried until a reload (or the next relaunch) configures it: fix what the error names",
				"plugin", in.spec.Name, "site", site, "err", err)
			continue
		}
		in.configured(site)
		if r.Diagnostics.HasError() {
			in.opts.Logger.Error("plugin refused a site configuration after relaunch", "plugin", in.spec.Name, "site", site, "problems", r.Diagnostics.String())
		}
	}
	in.mu.Lock()
	in.client, in.impl, in.desc, in.version, in.lastErr = client, impl, desc, impl.Version(), in.isolation()
	in.pid = pidOf(client)
	in.gen++
	in.upSince = time.Now()
	close(in.up)
	in.mu.Unlock()
	in.health()
	in.opts.Logger.Info("plugin running", "plugin", in.spec.Name, "version", desc.Version, "protocol", impl.Version(), "pid", pidOf(client))
	return nil
}

// configureCrashed counts a launch whose process died in site's
// Configure (err); at Options.ConfigureCrashLimit in a row the site is
// isolated: launches leave it out, its calls fail without reaching the
// plugin (retryable: the pipeline retries its messages, nothing is lost),
// and the plugin's status names it, until a Configure of the site
// succeeds (a reload) or the site is forgotten.
func (in *Instance) configureCrashed(site string, err error) {
	in.mu.Lock()
	if _, ok := in.sites[site]; !ok {
		in.mu.Unlock()
		return
	}
	in.configureCrashes[site]++
	n, limit := in.configureCrashes[site], in.opts.ConfigureCrashLimit
	isolate := n >= limit && in.isolated[site] == nil
	if isolate {
		in.isolated[site] = fmt.Errorf("plugin %q: %w: site %q: its Configure killed the plugin process at %d relaunches in a row (last: %v), so the plugin runs without the site and its messages fail and are retried; "+
			"fix the site's settings (or have the vendor fix the adapter) and reload, which configures the site again",
			in.spec.Name, ErrSiteIsolated, site, n, err)
	}
	in.mu.Unlock()
	if isolate {
		in.opts.Logger.Error("ALERT: plugin site isolated: the site's Configure killed the plugin process at every relaunch; the plugin is relaunched without it and serves its other sites, and the site's messages fail and are retried until a reload configures it: fix the site's settings (or the adapter) and reload",
			"plugin", in.spec.Name, "site", site, "crashes", n, "err", err)
		return
	}
	in.opts.Logger.Warn("plugin process died in a site's Configure while relaunched; relaunching again",
		"plugin", in.spec.Name, "site", site, "crashes", n, "isolatedAfter", limit, "err", err)
}

// Isolation says when an Instance runs without one of its sites
// (Isolated): Options.ConfigureCrashLimit, SiteCrashLimit and
// SiteCrashWindow; a zero field is the default.
type Isolation struct {
	ConfigureCrashes int
	SiteCrashes      int // -1: never for its messages' crashes
	SiteCrashWindow  time.Duration
}

// Isolation returns when the Instance isolates a site now.
func (in *Instance) Isolation() Isolation {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return Isolation{ConfigureCrashes: in.opts.ConfigureCrashLimit, SiteCrashes: in.opts.SiteCrashLimit, SiteCrashWindow: in.opts.SiteCrashWindow}
}

// SetIsolation changes when the Instance isolates a site (a reload): the
// counts so far are kept and compared with the new limits at the next
// crash; a site isolated already stays so.
func (in *Instance) SetIsolation(iso Isolation) {
	o := Options{ConfigureCrashLimit: iso.ConfigureCrashes, SiteCrashLimit: iso.SiteCrashes, SiteCrashWindow: iso.SiteCrashWindow}
	o.isolationDefaults()
	in.mu.Lock()
	in.opts.ConfigureCrashLimit, in.opts.SiteCrashLimit, in.opts.SiteCrashWindow = o.ConfigureCrashLimit, o.SiteCrashLimit, o.SiteCrashWindow
	in.mu.Unlock()
}

// configured ends the count of site's Configure crashes: the process
// survived its Configure.
func (in *Instance) configured(site string) {
	in.mu.Lock()
	delete(in.configureCrashes, site)
	in.mu.Unlock()
}

// isolation is the error the plugin's status carries while sites are
// isolated (nil when none); the caller holds in.mu.
func (in *Instance) isolation() error {
	if len(in.isolated) == 0 {
		return nil
	}
	sites := make([]string, 0, len(in.isolated))
	for s := range in.isolated {
		sites = append(sites, s)
	}
	sort.Strings(sites)
	errs := make([]error, 0, len(sites))
	for _, s := range sites {
		errs = append(errs, in.isolated[s])
	}
	return errors.Join(errs...)
}

// Isolated returns the sites the plugin runs without, each with why: the
// plugin process died in the site's Configure at
// Options.ConfigureCrashLimit relaunches in a row, or the site's messages
// kept crashing it (Options.SiteCrashLimit, see messageCrashed). Such a site stays
// enabled (Configured, Sites) but its calls fail with ErrSiteIsolated, a
// retryable error, without reaching the plugin, and relaunches leave it
// out, until a Configure of the site succeeds (a reload tries it again)
// or it is forgotten. The plugin's status (Status) names it meanwhile.
func (in *Instance) Isolated() map[string]error {
	in.mu.RLock()
	defer in.mu.RUnlock()
	out := make(map[string]error, len(in.isolated))
	for s, err := range in.isolated {
		out[s] = err
	}
	return out
}

// isolatedErr returns the error of a call for site while it is isolated,
// or nil.
func (in *Instance) isolatedErr(site string) error {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return in.isolated[site]
}

// unanswered says so when err is the end of call's own time bound (not of
// the caller's ctx): the plugin's method did not answer within timeout.
//
// gRPC sends the bound to the plugin, whose end may close the stream with
// DeadlineExceeded a moment before call's own timer fires, so an error with
// that code counts too, unless the caller's deadline came first.
func unanswered(ctx, call context.Context, timeout time.Duration, method string, err error) error {
	if ctx.Err() != nil {
		return err
	}
	ours := errors.Is(call.Err(), context.DeadlineExceeded)
	if !ours && status.Code(err) == codes.DeadlineExceeded {
		callEnd, _ := call.Deadline()
		callerEnd, bounded := ctx.Deadline()
		ours = !bounded || !callerEnd.Before(callEnd)
	}
	if ours {
		return fmt.Errorf("its %s did not answer within %s; it must not wait on anything without a bound (see the plugin's log): %w", method, timeout, err)
	}
	return err
}

// pidOf returns the process id of c's process, 0 once it was killed.
func pidOf(c *plugin.Client) int {
	return sockets.pid(c)
}

// supervise watches the plugin and relaunches it when it dies.
//
// The delay before a relaunch doubles with every relaunch: up to
// MaxBackoff while launches fail, up to CrashBackoff while launches succeed
// but die within CrashBackoff, and starts again at MinBackoff once a launch
// has stayed up for CrashBackoff. A plugin that launches fine but dies at
// once (on a message the pipeline redelivers to it, say) is so not
// relaunched in a tight loop, nor left down for long after a burst of
// crashes (the pipeline stops redelivering a message that crashes it every
// time).
func (in *Instance) supervise() {
	defer close(in.done)
	t := time.NewTicker(in.opts.HealthInterval)
	defer t.Stop()
	backoff := in.opts.MinBackoff
	for {
		select {
		case <-in.stop:
			return
		case <-t.C:
		case <-in.kick:
		}
		if in.healthy() {
			continue
		}
		in.mu.RLock()
		upSince := in.upSince
		in.mu.RUnlock()
		if time.Since(upSince) >= in.opts.CrashBackoff {
			backoff = in.opts.MinBackoff
		}
		in.markDown(errors.New("plugin process exited or stopped answering"), backoff)
		for {
			select {
			case <-in.stop:
				return
			case <-time.After(backoff):
			}
			// Close stops a relaunch that hangs (in Describe or a site's
			// Configure) instead of waiting for it to time out. Each step
			// has its own bound (the start's, and CallTimeout for Describe
			// and each site's Configure); a bound on them all would fail
			// the relaunch of a plugin with many sites, or with one whose
			// Configure hangs, every time.
			err := in.launch(in.life)
			if err == nil {
				backoff = min(backoff*2, in.opts.CrashBackoff)
				in.mu.Lock()
				in.restarts++
				in.mu.Unlock()
				if in.opts.OnRestart != nil {
					in.opts.OnRestart(in.spec.Name)
				}
				break
			}
			if in.life.Err() != nil {
				return // closed while relaunching
			}
			backoff = min(backoff*2, in.opts.MaxBackoff)
			in.mu.Lock()
			in.lastErr = err
			in.mu.Unlock()
			in.opts.Logger.Error("plugin relaunch failed", "plugin", in.spec.Name, "err", err, "retryIn", backoff.String())
		}
	}
}

func (in *Instance) healthy() bool {
	in.mu.RLock()
	c := in.client
	in.mu.RUnlock()
	if c == nil || c.Exited() {
		return false
	}
	rpc, err := c.Client()
	if err != nil {
		return false
	}
	// Ping has no deadline of its own: a process that is alive but answers
	// nothing (stopped, hung) would hold the supervisor for ever.
	answer := make(chan error, 1)
	go func() { answer <- rpc.Ping() }()
	t := time.NewTimer(max(10*in.opts.HealthInterval, 2*time.Second))
	defer t.Stop()
	select {
	case err := <-answer:
		return err == nil
	case <-t.C:
		// Kill it at once: markDown's graceful Kill asks the process to
		// shut down and would wait for it just the same.
		if pid := pidOf(c); pid > 0 && !c.Exited() {
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Kill()
			}
		}
		return false
	}
}

func (in *Instance) markDown(cause error, retryIn time.Duration) {
	in.mu.Lock()
	c := in.client
	if c != nil {
		select {
		case <-in.up:
			in.up = make(chan struct{})
		default:
		}
		in.client, in.impl = nil, nil
		in.lastErr = cause
	}
	in.mu.Unlock()
	in.health()
	if c != nil {
		in.opts.Logger.Warn("plugin down; relaunching", "plugin", in.spec.Name, "cause", cause, "retryIn", retryIn.String())
		killPlugin(c)
	}
}

// launchRef is the process a call starts on.
type launchRef struct {
	impl    sdk.Plugin
	client  *plugin.Client
	gen     uint64
	upSince time.Time
	start   time.Time
	dead    bool // the process had already exited when the call started
}

// current returns the running implementation. While the plugin is being
// relaunched it waits for it, until ctx ends or wait has passed.
func (in *Instance) current(ctx context.Context, wait time.Duration) (launchRef, error) {
	ref, up := in.running()
	if ref.impl != nil {
		return ref, nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-up:
	case <-ctx.Done():
		return ref, fmt.Errorf("plugin %q: %w: %w", in.spec.Name, ErrUnavailable, ctx.Err())
	case <-t.C:
		return ref, fmt.Errorf("plugin %q: %w", in.spec.Name, ErrUnavailable)
	}
	if ref, _ = in.running(); ref.impl == nil {
		return ref, fmt.Errorf("plugin %q: %w", in.spec.Name, ErrUnavailable)
	}
	return ref, nil
}

func (in *Instance) running() (launchRef, chan struct{}) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	ref := launchRef{impl: in.impl, client: in.client, gen: in.gen, upSince: in.upSince, start: time.Now()}
	ref.dead = ref.client != nil && ref.client.Exited()
	return ref, in.up
}

// failed classifies the error of a call made on ref: if ref's process has
// died (or dies within exitGrace, while ctx lasts) it is a *CrashError;
// if it was dead before the call started, the error is ErrUnavailable.
func (in *Instance) failed(ctx context.Context, ref launchRef, err error) error {
	lasted := time.Since(ref.start)
	if ref.client == nil {
		return err
	}
	if ref.dead {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.Canceled:
		// The connection broke: the process may be dying.
	default:
		// The plugin answered with an error: it is alive.
		if !ref.client.Exited() {
			return err
		}
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	deadline := time.Now().Add(exitGrace)
	for !ref.client.Exited() {
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-t.C:
		}
	}
	return &CrashError{Plugin: in.spec.Name, Generation: ref.gen, Uptime: ref.start.Sub(ref.upSince), Lasted: lasted, Err: err}
}

// afterCall nudges the supervisor when a call failed in a way that suggests
// the process died, so the relaunch starts at once.
func (in *Instance) afterCall(err error) {
	if err == nil {
		return
	}
	in.mu.RLock()
	c := in.client
	in.mu.RUnlock()
	if c == nil || c.Exited() {
		select {
		case in.kick <- struct{}{}:
		default:
		}
	}
}

// Name returns the plugin name.
func (in *Instance) Name() string { return in.spec.Name }

// Spec returns how the plugin was launched (its binary and checksum).
func (in *Instance) Spec() Spec { return in.spec }

// Current returns the Instance that serves the plugin now: in itself, or,
// once in was replaced (Replace), its latest successor.
func (in *Instance) Current() *Instance {
	for {
		in.mu.RLock()
		next := in.successor
		in.mu.RUnlock()
		if next == nil {
			return in
		}
		in = next
	}
}

// JournalGrace is how long the plugin's journal entries for a site are
// still taken after the host stopped waiting for its call there
// (Options.JournalGrace, defaulted).
func (in *Instance) JournalGrace() time.Duration { return in.opts.JournalGrace }

// Description returns the latest Describe answer.
func (in *Instance) Description() *sdk.DescribeResponse {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return in.desc
}

// ProtocolVersion returns the protocol version negotiated at the latest
// launch.
func (in *Instance) ProtocolVersion() int {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return in.version
}

// Status reports whether the plugin runs, its restarts and last error:
// while it runs, the error says which sites are isolated and why
// (Isolated; nil when none), while it is down why it went down or why its
// last relaunch failed.
func (in *Instance) Status() (running bool, restarts int, lastErr error) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return in.impl != nil, in.restarts, in.lastErr
}

// Configure applies settings for a site; they are kept and re-applied
// after every relaunch. Settings must already be checked (CheckSettings).
// An isolated site (Isolated) is configured too: once its Configure
// succeeds, the site is no longer isolated.
func (in *Instance) Configure(ctx context.Context, site string, settings map[string]string) (sdk.Diagnostics, error) {
	done, err := in.enter(site, false)
	if err != nil {
		return nil, err
	}
	ref, err := in.current(ctx, 30*time.Second)
	if err != nil {
		done()
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, in.opts.CallTimeout)
	r, err := ref.impl.Configure(cctx, &sdk.ConfigureRequest{Site: site, Settings: settings})
	cancel()
	done()
	in.afterCall(err)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: configure site %q: %w", in.spec.Name, site, unanswered(ctx, cctx, in.opts.CallTimeout, "Configure", err))
	}
	if !r.Diagnostics.HasError() {
		in.mu.Lock()
		in.sites[site] = settings
		in.schemas[site] = r.Schemas
		desc := in.desc
		if in.isolated[site] != nil {
			delete(in.isolated, site)
			in.statusAfterIsolation()
			in.opts.Logger.Info("plugin site no longer isolated: its Configure succeeded", "plugin", in.spec.Name, "site", site)
		}
		delete(in.configureCrashes, site)
		in.mu.Unlock()
		in.declare(desc)
		in.health()
	}
	return r.Diagnostics, nil
}

// declare tells package logging which fields desc, the plugin's
// Describe, and the sites' schema documents (Configure) mark personal, so
// that the plugin's messages on the console and the admin API and its log
// lines are masked by them (logging.Declare): once per launch and per
// Configure, never per message.
func (in *Instance) declare(desc *sdk.DescribeResponse) {
	if desc == nil {
		return
	}
	in.mu.RLock()
	sites := maps.Clone(in.schemas)
	in.mu.RUnlock()
	logging.Declare(in.spec.Name, desc, sites)
}

// health gives Options.OnHealth the plugin's health now, if it changed.
// The caller holds no lock.
func (in *Instance) health() {
	if in.opts.OnHealth == nil {
		return
	}
	in.mu.RLock()
	retired, up := in.retired, in.impl != nil && len(in.isolated) == 0
	in.healthMu.Lock()
	in.mu.RUnlock()
	defer in.healthMu.Unlock()
	now := 2
	if up {
		now = 1
	}
	if retired || now == in.reported {
		return
	}
	in.reported = now
	in.opts.OnHealth(in.spec.Name, up)
}

// statusAfterIsolation sets the status of a running plugin to what is
// isolated now; the caller holds in.mu.
func (in *Instance) statusAfterIsolation() {
	if in.impl != nil {
		in.lastErr = in.isolation()
	}
}

// Applied is what an Instance holds of one site's configuration, taken
// by Applied before a Configure that may have to be undone (Restore).
type Applied struct {
	site     string
	settings map[string]string // nil: not configured at the site
	schemas  map[string][]byte
	isolated error // the site was isolated (Isolated)
}

// Applied returns what the Instance holds of site's configuration now.
func (in *Instance) Applied(site string) Applied {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return Applied{site: site, settings: in.sites[site], schemas: in.schemas[site], isolated: in.isolated[site]}
}

// Restore undoes the Configure calls made for a's site since a was taken
// (a reload that was refused): the Instance holds a's configuration again
// (re-applied after relaunches, serving the host services), and a plugin
// that was configured at the site is configured with a's settings again.
// A site that had no configuration is forgotten; the plugin process keeps
// what it was given, but gets no call for the site, no host services for
// it, and not the settings after a relaunch. A site that was isolated
// (Isolated) is isolated again and not configured: its Configure killed
// the plugin. An error says the plugin may still hold the undone settings
// for the site, until it is relaunched.
func (in *Instance) Restore(ctx context.Context, a Applied) error {
	in.mu.Lock()
	if a.settings == nil {
		delete(in.sites, a.site)
		delete(in.schemas, a.site)
		delete(in.isolated, a.site)
		delete(in.configureCrashes, a.site)
	} else {
		in.sites[a.site] = a.settings
		in.schemas[a.site] = a.schemas
		if a.isolated != nil {
			in.isolated[a.site] = a.isolated
		}
	}
	isolated := in.isolated[a.site] != nil
	in.statusAfterIsolation()
	in.mu.Unlock()
	in.health()
	if a.settings == nil || isolated {
		return nil
	}
	done, err := in.enter(a.site, false)
	if err != nil {
		return nil // retired: it is not relaunched
	}
	ref, err := in.current(ctx, 30*time.Second)
	if err != nil {
		done()
		return nil // down: the relaunch applies a's settings
	}
	cctx, cancel := context.WithTimeout(ctx, in.opts.CallTimeout)
	r, err := ref.impl.Configure(cctx, &sdk.ConfigureRequest{Site: a.site, Settings: a.settings})
	cancel()
	done()
	in.afterCall(err)
	switch {
	case err != nil:
		return fmt.Errorf("plugin %q: configure site %q with its previous settings again: %w", in.spec.Name, a.site, unanswered(ctx, cctx, in.opts.CallTimeout, "Configure", err))
	case r.Diagnostics.HasError():
		return fmt.Errorf("plugin %q: configure site %q with its previous settings again: refused: %s", in.spec.Name, a.site, r.Diagnostics.String())
	}
	return nil
}

// SiteSchemas returns the schema documents the plugin returned from
// Configure for site (its overlay, by path as in Describe), or nil.
func (in *Instance) SiteSchemas(site string) map[string][]byte {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return in.schemas[site]
}

// Forget drops a site's settings (the plugin was disabled there, or the
// site removed): they are not applied again after a relaunch, and the
// plugin's calls to the host services for the site are refused from now
// on, but for those made during a call for the site the host has in
// flight to it (see serves) and journal entries within
// Options.JournalGrace (see journals).
func (in *Instance) Forget(site string) {
	in.mu.Lock()
	if _, ok := in.sites[site]; ok {
		in.graceFrom(site)
	}
	delete(in.sites, site)
	delete(in.schemas, site)
	if in.isolated[site] != nil {
		delete(in.isolated, site)
		in.statusAfterIsolation()
	}
	delete(in.configureCrashes, site)
	for _, r := range in.crashes {
		delete(r.messages, site)
	}
	in.mu.Unlock()
	in.health()
}

// Sites returns the sites the plugin is configured at (Configure succeeded
// and Forget was not called since), sorted.
func (in *Instance) Sites() []string {
	in.mu.RLock()
	out := make([]string, 0, len(in.sites))
	for s := range in.sites {
		out = append(out, s)
	}
	in.mu.RUnlock()
	sort.Strings(out)
	return out
}

// Configured reports whether the plugin is configured at site now
// (Configure succeeded and Forget was not called since; see Sites).
func (in *Instance) Configured(site string) bool {
	in.mu.RLock()
	defer in.mu.RUnlock()
	_, ok := in.sites[site]
	return ok
}

// enter counts a call of the host to the plugin for site (Configure,
// Handle, RunJob) until the returned func is called. If grace, a call
// that ends while the plugin is not configured at site starts the
// journal grace of the site (see journals): a message or a job may have
// made exchanges the plugin records after the host stopped waiting. A
// Configure has none to record.
//
// Once the Instance is retired (Retire) no call is counted any more: enter
// returns ErrRetired.
func (in *Instance) enter(site string, grace bool) (done func(), err error) {
	in.mu.Lock()
	if in.retired {
		in.mu.Unlock()
		return nil, fmt.Errorf("plugin %q: %w", in.spec.Name, ErrRetired)
	}
	in.inFlight[site]++
	if in.calls++; in.calls == 1 {
		in.idle = make(chan struct{})
	}
	in.mu.Unlock()
	return func() {
		in.mu.Lock()
		if in.inFlight[site]--; in.inFlight[site] <= 0 {
			delete(in.inFlight, site)
		}
		if in.calls--; in.calls == 0 {
			close(in.idle)
		}
		if _, ok := in.sites[site]; grace && !ok {
			in.graceFrom(site)
		}
		in.mu.Unlock()
	}, nil
}

// graceFrom starts site's journal grace now, and drops the graces that
// have ended. The caller holds in.mu.
func (in *Instance) graceFrom(site string) {
	now := in.opts.now()
	for s, until := range in.journalUntil {
		if !now.Before(until) {
			delete(in.journalUntil, s)
		}
	}
	in.journalUntil[site] = now.Add(in.opts.JournalGrace)
}

// journals reports whether the plugin may journal for site: it serves
// the site (serves), or stopped serving it less than Options.JournalGrace
// ago (Forget, or the end of a message or job of the site the host handed
// it while the site was not served). A plugin whose call timed out, or
// whose site was disabled meanwhile, so still records the exchanges it
// made; only journal entries are taken so, which change no state and
// publish nothing.
func (in *Instance) journals(site string) bool {
	if in.serves(site) {
		return true
	}
	in.mu.RLock()
	defer in.mu.RUnlock()
	until, ok := in.journalUntil[site]
	return ok && in.opts.now().Before(until)
}

// serves reports whether the plugin may use the host services for site:
// it is configured there (Sites), or the host has a call for the site in
// flight to it. The second keeps working what the host itself asked for:
// the plugin's Configure of a site it is being enabled at, and a message
// or job of a site that a reload disables meanwhile, which finishes with
// its state, sequences, events and journal entries while the host waits
// for it (the next one is not routed to the plugin). What the plugin sends
// for such a site after the host stopped waiting (a call that timed out
// or was cancelled) is refused like any other call, but for journal
// entries within Options.JournalGrace (see journals). An isolated site
// (Isolated) is not served but during a call for it (a reload's
// Configure): the plugin process runs without it.
func (in *Instance) serves(site string) bool {
	in.mu.RLock()
	defer in.mu.RUnlock()
	_, ok := in.sites[site]
	return ok && in.isolated[site] == nil || in.inFlight[site] > 0
}

// Handle calls the plugin. If the plugin is restarting it waits briefly.
//
// A retired Instance (Retire: the plugin was removed from the
// configuration) is not called: the answer is a failed response that no
// retry fixes (see Retired), so a message that still held it (a retry
// after the reload) ends with a clear outcome instead of retrying a
// stopped plugin.
//
// A retired Instance that a reload replaced by a new binary (Replace)
// hands the message to its successor instead: a retry of a call that began
// on the old binary is sent to the new one.
func (in *Instance) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	done, err := in.enter(req.Site, true)
	if errors.Is(err, ErrRetired) {
		if next := in.Current(); next != in {
			return next.Handle(ctx, req)
		}
		return in.Retired(req), nil
	}
	if err := in.isolatedErr(req.Site); err != nil {
		done()
		return nil, err
	}
	ref, err := in.current(ctx, 10*time.Second)
	if err != nil {
		done()
		return nil, err
	}
	r, err := ref.impl.Handle(ctx, req)
	done()
	in.afterCall(err)
	if err != nil {
		err = in.failed(ctx, ref, err)
		if crash := (*CrashError)(nil); errors.As(err, &crash) {
			in.messageCrashed(crash.Generation, req.Site, req.MessageID)
		}
		return nil, fmt.Errorf("plugin %q: handle: %w", in.spec.Name, err)
	}
	in.messageSurvived(req.Site)
	return r, nil
}

// messageSurvived notes that the plugin answered a message of site: not
// every message of the site crashes it, so the crashes so far are not
// the site's (see messageCrashed); the messages among them that crash it
// are the pipeline's business (processing.pluginCrashLimit).
func (in *Instance) messageSurvived(site string) {
	if in.crashCount.Load() == 0 {
		return
	}
	in.mu.Lock()
	for _, r := range in.crashes {
		delete(r.messages, site)
	}
	in.mu.Unlock()
}

// crashRecord is one death of the plugin process during messages' calls:
// the launch that died, when it was first seen, and the messages in
// flight then, by site.
type crashRecord struct {
	gen      uint64
	at       time.Time
	messages map[string]map[string]bool // site → message ids
}

// messageCrashed attributes the death of launch gen to site, whose
// message id was in flight then (each call that died with the process
// reports itself), and isolates site (see Isolated) once
// Options.SiteCrashLimit of its messages each died with the process in
// two crashes or more, in the run of latest crashes within
// Options.SiteCrashWindow that all had a message of site in flight, and
// every message of site in that run did.
//
// Several sites' messages are in the plugin at once, so one crash blames
// none of them: a site that merely shared a crash is followed by a crash
// without it, which ends its run. A message in two crashes is one the
// pipeline retried alone after a crash in company
// (processing.pluginCrashLimit): it crashed the plugin itself. One such
// message is the pipeline's business (it gives the message up); several
// of one site, with no crash in between that the site had no part in and
// no message of the site answered meanwhile (messageSurvived), are a site
// whose messages crash the plugin (a setting of the site the adapter
// trips on), which would otherwise keep it down for every site. A site
// some of whose messages crash the plugin while others are answered is
// not isolated: the pipeline stops those messages one by one.
func (in *Instance) messageCrashed(gen uint64, site, id string) {
	now := in.opts.now()
	in.mu.Lock()
	if in.opts.SiteCrashLimit < 0 {
		in.mu.Unlock()
		return
	}
	window := in.opts.SiteCrashWindow
	keep := in.crashes[:0]
	for _, r := range in.crashes {
		if now.Sub(r.at) < window {
			keep = append(keep, r)
		}
	}
	in.crashes = keep
	i := sort.Search(len(in.crashes), func(i int) bool { return in.crashes[i].gen >= gen })
	if i == len(in.crashes) || in.crashes[i].gen != gen {
		in.crashes = slices.Insert(in.crashes, i, crashRecord{gen: gen, at: now, messages: map[string]map[string]bool{}})
		if over := len(in.crashes) - maxCrashRecords; over > 0 {
			in.crashes = slices.Delete(in.crashes, 0, over)
			i -= over
		}
	}
	if i >= 0 {
		if in.crashes[i].messages[site] == nil {
			in.crashes[i].messages[site] = map[string]bool{}
		}
		in.crashes[i].messages[site][id] = true
	}
	in.crashCount.Store(int64(len(in.crashes)))
	// The run of latest crashes with site in each.
	seen := map[string]int{}
	run := 0
	for j := len(in.crashes) - 1; j >= 0; j-- {
		ids, ok := in.crashes[j].messages[site]
		if !ok {
			break
		}
		run++
		for m := range ids {
			seen[m]++
		}
	}
	again := 0
	for _, n := range seen {
		if n >= 2 {
			again++
		}
	}
	_, configured := in.sites[site]
	// Every message of the site in the run crashed the plugin again: one
	// in company that was then answered alone (or waits to be) says the
	// site's messages do not all crash it.
	isolate := configured && in.isolated[site] == nil && again >= in.opts.SiteCrashLimit && again == len(seen)
	if isolate {
		in.isolated[site] = fmt.Errorf("plugin %q: %w: site %q: %d of its messages each crashed the plugin process again (retried alone), in %d crashes in a row that all had a message of the site in flight (within %s), so a setting of the site (or the adapter) makes its messages crash the plugin; "+
			"the plugin runs without the site and its messages fail and are retried: fix the site's settings (or have the vendor fix the adapter) and reload, which configures the site again",
			in.spec.Name, ErrSiteIsolated, site, again, run, window)
		// Its crashes are accounted for: after a reload configures it
		// again, it takes as many to isolate it anew.
		for _, r := range in.crashes {
			delete(r.messages, site)
		}
		in.statusAfterIsolation()
	}
	in.mu.Unlock()
	if isolate {
		in.opts.Logger.Error("ALERT: plugin site isolated: the site's messages crash the plugin process, which every site's messages in the plugin die with; the plugin serves its other sites without it, and the site's messages fail and are retried until a reload configures it: fix the site's settings (or the adapter) and reload",
			"plugin", in.spec.Name, "site", site, "messagesCrashingAgain", again, "crashesInARow", run, "window", window.String())
		in.health()
	}
}

// RunJob calls the plugin's job. A retired Instance that was replaced
// (Replace) hands the run to its successor.
func (in *Instance) RunJob(ctx context.Context, req *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	done, err := in.enter(req.Site, true)
	if errors.Is(err, ErrRetired) {
		if next := in.Current(); next != in {
			return next.RunJob(ctx, req)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("job %q: %w", req.Job, err)
	}
	if err := in.isolatedErr(req.Site); err != nil {
		done()
		return nil, fmt.Errorf("job %q: %w", req.Job, err)
	}
	ref, err := in.current(ctx, 10*time.Second)
	if err != nil {
		done()
		return nil, err
	}
	r, err := ref.impl.RunJob(ctx, req)
	done()
	in.afterCall(err)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: job %q: %w", in.spec.Name, req.Job, err)
	}
	return r, nil
}

// Kill stops the plugin process without stopping supervision (tests use it
// to simulate a crash).
func (in *Instance) Kill() {
	in.mu.RLock()
	c := in.client
	in.mu.RUnlock()
	if c != nil {
		killPlugin(c)
	}
	select {
	case in.kick <- struct{}{}:
	default:
	}
}

// Pid returns the plugin process id, or 0 when not running.
func (in *Instance) Pid() int {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if in.client == nil {
		return 0
	}
	return in.pid
}

// ErrRetired: the plugin was removed from the configuration (Retire); it
// takes no more calls.
var ErrRetired = errors.New("plugin was removed from the configuration")

// Retired is the answer of a retired Instance to a message (Handle): failed,
// not retryable, nothing sent to the plugin. The pipeline gives the message
// its failed reply and dead-letters it; replayed once a plugin serves its
// type again, a message whose earlier call's outcome was unknown is
// reconciled before any resend (its attempt counts past one).
func (in *Instance) Retired(req *sdk.HandleRequest) *sdk.HandleResponse {
	return sdk.Failed(sdk.Diagnostic{
		Severity: sdk.SeverityError, Rule: "removed",
		Summary: fmt.Sprintf("plugin %q was removed from the configuration by a reload while message %q was being handled; this attempt was not sent to it", in.spec.Name, req.MessageID),
		Detail:  fmt.Sprintf("declare and enable the plugin for site %q again, then replay the message with `medgate replay %s`; an earlier attempt whose outcome is unknown is reconciled before any resend", req.Site, req.MessageID),
	})
}

// Retire stops the plugin once the host's calls to it in flight have
// ended: a reload that removed the plugin has moved traffic away, but
// messages and jobs may still be inside its calls, and cutting them would
// leave their external outcome unknown. From now on the Instance takes no
// call (Handle answers Retired, the others fail with ErrRetired). Retire
// waits at most wait (a call's timeout and a grace); then it stops the
// plugin anyway, logging a warning that names the plugin and how many
// calls were cut (their messages are retried and end as Retired, with
// what a cut call sent reconciled when they are replayed). It returns
// once the plugin is stopped, or at once when Close was called meanwhile.
func (in *Instance) Retire(wait time.Duration) {
	in.retire(nil, wait)
}

// Replace retires in (see Retire) for next, the same plugin launched from
// a new binary by a reload: the calls in has in flight finish on it, and
// every call made to in from now on (a retry of a message that began on
// it, a job run that held it) goes to next. Like Retire it returns once in
// is stopped.
func (in *Instance) Replace(next *Instance, wait time.Duration) {
	in.retire(next, wait)
}

func (in *Instance) retire(next *Instance, wait time.Duration) {
	in.mu.Lock()
	in.retired = true
	in.successor = next
	idle := in.idle
	in.mu.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-idle:
	case <-in.life.Done():
	case <-t.C:
		in.mu.RLock()
		n := in.calls
		in.mu.RUnlock()
		switch {
		case n > 0 && next != nil:
			in.opts.Logger.Warn("plugin binary replaced by a reload is stopped with calls still in flight; their outcome is unknown and is reconciled before any resend on the new binary",
				"plugin", in.spec.Name, "calls", n, "waited", wait.String())
		case n > 0:
			in.opts.Logger.Warn("plugin removed by a reload is stopped with calls still in flight; their outcome is unknown and is reconciled before any resend",
				"plugin", in.spec.Name, "calls", n, "waited", wait.String())
		}
	}
	in.Close()
}

// Close stops supervision and the plugin process.
func (in *Instance) Close() {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return
	}
	in.closed = true
	in.mu.Unlock()
	close(in.stop)
	in.endLife()
	<-in.done
	in.mu.Lock()
	c := in.client
	in.client, in.impl = nil, nil
	in.mu.Unlock()
	if c != nil {
		killPlugin(c)
	}
}

// pluginLogger is the logger go-plugin re-emits the log lines of a plugin
// Launch started through: hclog JSON lines, masked, written to output.
func pluginLogger(name string, output io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "plugin." + name,
		Output:     logging.Writer(output),
		Level:      hclog.Info,
		JSONFormat: true,
	})
}

// Process is a plugin started for one task on this machine, outside the
// supervisor: the command line starts one to read its declarations and to
// run its local commands. It has no host services.
type Process struct {
	client *plugin.Client
	impl   *sdkhost.Client
	desc   *sdk.DescribeResponse
}

// Launch verifies the binary of spec, starts it and describes it. Its log
// lines go to output as hclog JSON lines, masked. Close it when done.
func Launch(ctx context.Context, spec Spec, output io.Writer) (*Process, error) {
	client, impl, desc, err := open(ctx, spec, nil, nil, nil, nil, pluginLogger(spec.Name, output), DefaultCallTimeout)
	if err != nil {
		return nil, err
	}
	return &Process{client: client, impl: impl, desc: desc}, nil
}

// Description returns the plugin's Describe answer.
func (p *Process) Description() *sdk.DescribeResponse { return p.desc }

// ProtocolVersion returns the negotiated protocol version.
func (p *Process) ProtocolVersion() int { return p.impl.Version() }

// RunCommand runs a local command in the plugin.
func (p *Process) RunCommand(ctx context.Context, req *sdk.RunCommandRequest) (*sdk.RunCommandResponse, error) {
	r, err := p.impl.RunCommand(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: command %q: %w", p.desc.Name, req.Command, err)
	}
	return r, nil
}

// Close stops the plugin process.
func (p *Process) Close() { killPlugin(p.client) }

// startHint says what a plugin that did not start did, ahead of
// go-plugin's generic notes (architecture, libraries, permissions): the
// line it wrote to standard output instead of the handshake, and the end
// of its standard error, masked as its logs are, for `medgate
// check-config` shows no logs.
func startHint(err error, stderr string) string {
	var hint string
	if _, line, ok := strings.Cut(err.Error(), "Unrecognized remote plugin message: "); ok {
		line, _, _ = strings.Cut(line, "\n")
		if line = strings.TrimSpace(line); line != "" {
			hint += fmt.Sprintf("the plugin wrote %q to standard output before the handshake: a plugin writes nothing there (log with sdk.Logger, which writes to standard error; a plugin built with a current SDK has what it prints to os.Stdout before it serves sent to standard error, so this line came from the file descriptor itself or an older SDK); ", logging.Mask(line))
		}
	}
	if stderr = strings.TrimSpace(stderr); stderr != "" {
		hint += fmt.Sprintf("its standard error ends with: %s; ", logging.Mask(stderr))
	}
	return hint
}

// lineLog logs each line written to it as a warning of the plugin, with
// the stream it came from: go-plugin hands it what the plugin writes to
// os.Stdout or os.Stderr while it serves, outside its logger. A line
// longer than maxPrintedLine is logged in pieces.
type lineLog struct {
	log    hclog.Logger
	stream string

	mu  sync.Mutex
	buf []byte
}

// maxPrintedLine bounds a line lineLog holds before it logs it.
const maxPrintedLine = 64 << 10

func (w *lineLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	rest := w.buf
	for {
		i, next := bytes.IndexByte(rest, '\n'), 0
		switch {
		case i >= 0:
			next = i + 1
		case len(rest) >= maxPrintedLine:
			i, next = maxPrintedLine, maxPrintedLine
		default:
			w.buf = append(w.buf[:0], rest...)
			return len(p), nil
		}
		if line := strings.TrimRight(string(rest[:i]), "\r"); strings.TrimSpace(line) != "" {
			w.log.Warn(line, "stream", w.stream)
		}
		rest = rest[next:]
	}
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
