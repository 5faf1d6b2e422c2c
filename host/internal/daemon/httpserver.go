package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/api"
	"github.com/medgate/medgate/host/internal/api/origin"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/console"
	"github.com/medgate/medgate/host/internal/siteadmin"
)

// startHTTP serves the ingress, admin API, health, metrics and console
// with the configured credentials, allowed hosts, timeouts and connection
// cap.
func (d *Daemon) startHTTP(cfg *config.Config) error {
	creds, err := cfg.HTTPCredentials()
	if err != nil {
		return err
	}
	clients := make([]api.Client, len(creds.Clients))
	clientTokens := map[string]string{}
	for i, c := range creds.Clients {
		clients[i] = api.Client{Name: c.Name, Token: c.Token, Sites: c.Sites}
		clientTokens[c.Name] = c.Token
	}
	h := cfg.HTTP
	cs := cfg.Console
	var proxy *access.Proxy
	if cs.Proxy != nil {
		if proxy, err = access.NewProxy(cs.Proxy.UserHeader, cs.Proxy.RoleHeader, cs.Proxy.Trusted); err != nil {
			return fmt.Errorf("console.proxy: %w", err)
		}
	}
	ln, err := api.Listen(h.Listen, api.ConnLimits{Max: h.MaxConnections, PerAddress: h.MaxConnectionsPerAddress,
		Exempt: proxy.Trusts, Refused: d.connRefusals(h.MaxConnectionsPerAddress).refused})
	if err != nil {
		return err
	}
	d.httpAddr = ln.Addr().String()
	// Console messages are never cut short (a cut one would stay pending):
	// they may take the pipeline's whole retry budget plus a last call.
	p := cfg.Processing
	origins, err := origin.New(cfg.Console.PublicOrigins)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("console.publicOrigins: %w", err)
	}
	users := access.NewUsers(d.store, access.DefaultParams)
	rec := audit.New(d.store, d.log)
	// One lockout for the console and the admin API: failures add up,
	// per user and address and per user across addresses.
	lockout := access.NewLockout(cs.Lockout.Failures, cs.Lockout.Duration.D(), nil).PerUser(cs.Lockout.UserFailures, cs.Lockout.UserMaxWait.D()).
		OnLock(d.signInLockouts())
	siteAdmin := siteadmin.New(siteHost{d})
	con, err := console.New(consoleBackend{d}, console.Options{AdminToken: creds.Admin, ClientTokens: clientTokens, Wait: h.IngressTimeout.D(),
		MaxCall: p.RetryBudget.D() + 2*p.CallTimeout.D(), Logger: d.log, Artifacts: d.arts, Origins: origins,
		Users: users, Proxy: proxy, Lockout: lockout, Audit: rec, HTTPS: cs.HTTPS, HSTSMaxAge: cs.HSTSMaxAge.D(),
		SessionIdle: cs.SessionIdle.D(), SessionMax: cs.SessionMax.D(), Sites: siteAdmin,
		Deadline: p.UploadDeadline.D(), MaxSessionsPerUser: cs.MaxSessionsPerUser, Location: cs.Location()})
	if err != nil {
		_ = ln.Close()
		return err
	}
	// The name medgate listens on is one clients may use (the CLI does).
	allowed := h.AllowedHosts
	if host, _, err := net.SplitHostPort(h.Listen); err == nil && host != "" && net.ParseIP(host) == nil {
		allowed = append([]string{strings.ToLower(host)}, allowed...)
	}
	d.serveHTTP(api.NewServer(api.Handler(d, api.Options{
		IngressTimeout: h.IngressTimeout.D(), AdminToken: creds.Admin, Clients: clients, AllowedHosts: allowed,
		MaxBodyBytes: int64(p.MaxPayloadBytes), Registry: d.metrics.Registry, Logger: d.log, Console: con, Origins: origins,
		Users: users, Lockout: lockout, Proxy: proxy, Audit: rec, Sites: siteAdmin,
	}), api.Timeouts{ReadHeader: h.ReadHeaderTimeout.D(), Read: h.ReadTimeout.D(), Write: h.WriteTimeout.D(), Idle: h.IdleTimeout.D()}), ln)
	return nil
}

// signInLockouts registers medgate_signin_lockouts_total{kind} and
// returns the lockout's access.Lockout.OnLock, which counts each lockout
// as it begins. Both kinds exist at 0 from the start.
func (d *Daemon) signInLockouts() func(kind string) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "medgate_signin_lockouts_total",
		Help: "Sign-in lockouts begun (console and admin API users), by kind: address (a user's failed sign-ins from one address reached console.lockout.failures; that address waits console.lockout.duration) or user (a user's failed sign-ins from every address reached console.lockout.userFailures: someone guessing from many addresses). The medgate log and the audit log name the user and addresses.",
	}, []string{"kind"})
	if err := d.metrics.Registry.Register(c); err != nil {
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			c = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	for _, k := range []string{access.LockAddress, access.LockUser} {
		c.WithLabelValues(k)
	}
	return func(kind string) { c.WithLabelValues(kind).Inc() }
}

// connRefusals counts and logs the HTTP connections refused for too many
// from one address (api.ConnLimits.PerAddress): every one counted, a WARN
// at most once a minute per address.
type connRefusals struct {
	log     *slog.Logger
	perAddr int
	counter prometheus.Counter

	mu     sync.Mutex
	logged map[netip.Addr]time.Time
}

// connRefusalLogEvery is how often one address's refusals are logged.
const connRefusalLogEvery = time.Minute

func (d *Daemon) connRefusals(perAddr int) *connRefusals {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "medgate_http_connections_refused_total",
		Help: "HTTP connections answered 429 and closed, by reason (maxConnectionsPerAddress: their address had http.maxConnectionsPerAddress open already).",
	}, []string{"reason"})
	if err := d.metrics.Registry.Register(c); err != nil {
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			c = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	return &connRefusals{log: d.log, perAddr: perAddr, counter: c.WithLabelValues("maxConnectionsPerAddress"), logged: map[netip.Addr]time.Time{}}
}

func (r *connRefusals) refused(a netip.Addr) {
	r.counter.Inc()
	now := time.Now()
	r.mu.Lock()
	last, seen := r.logged[a]
	if seen && now.Sub(last) < connRefusalLogEvery {
		r.mu.Unlock()
		return
	}
	if len(r.logged) >= 10000 {
		for k, t := range r.logged {
			if now.Sub(t) >= connRefusalLogEvery {
				delete(r.logged, k)
			}
		}
	}
	if len(r.logged) < 10000 {
		r.logged[a] = now
	}
	r.mu.Unlock()
	r.log.Warn("HTTP connection refused: too many from one address", "remote", a.String(), "open", r.perAddr,
		"fix", "the client should reuse its connections (keep-alive) or close idle ones; if many clients share this address, list the proxy in console.proxy.trusted or raise http.maxConnectionsPerAddress")
}

// serveHTTP serves srv on ln. The requests' contexts end when stopHTTP
// gives up waiting for them.
func (d *Daemon) serveHTTP(srv *http.Server, ln net.Listener) {
	base, cancel := context.WithCancel(context.Background())
	srv.BaseContext = func(net.Listener) context.Context { return base }
	d.http, d.endRequests = srv, cancel
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("http server stopped", "err", err)
		}
	}()
}

// answerGrace is how long stopHTTP waits for the requests it ended to
// answer.
const answerGrace = 5 * time.Second

// stopHTTP stops the HTTP server (the ingress, the admin API, the
// console) taking requests, and waits for those it took to finish, for
// the shutdown's grace at most: Close calls it while the Kafka consumer
// still runs, so a request waiting for the outcome of its message gets
// it. The requests still running after the grace have their context
// ended: one still waiting for its outcome is answered that its message
// is queued and will be completed, to be asked for again with the same
// id (HTTP 504), rather than cut off when medgate exits.
func (d *Daemon) stopHTTP() {
	if d.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.shutdownGrace())
	defer cancel()
	if d.http.Shutdown(ctx) == nil {
		return
	}
	d.endRequests()
	actx, acancel := context.WithTimeout(context.Background(), answerGrace)
	defer acancel()
	if err := d.http.Shutdown(actx); err != nil {
		d.log.Warn("HTTP requests still running at shutdown, after their context ended; closing their connections", "grace", d.shutdownGrace().String(), "err", err)
		_ = d.http.Close()
	}
}

// The admin API's reload reply names the settings a reload did not apply,
// and its warnings.
var (
	_ api.ReloadReporter = (*Daemon)(nil)
	_ api.ReloadWarner   = (*Daemon)(nil)
)
