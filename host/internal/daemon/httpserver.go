package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

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
	for i, c := range creds.Clients {
		clients[i] = api.Client{Name: c.Name, Token: c.Token}
	}
	h := cfg.HTTP
	ln, err := api.Listen(h.Listen, h.MaxConnections)
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
	cs := cfg.Console
	var proxy *access.Proxy
	if cs.Proxy != nil {
		if proxy, err = access.NewProxy(cs.Proxy.UserHeader, cs.Proxy.RoleHeader, cs.Proxy.Trusted); err != nil {
			_ = ln.Close()
			return fmt.Errorf("console.proxy: %w", err)
		}
	}
	users := access.NewUsers(d.store, access.DefaultParams)
	rec := audit.New(d.store, d.log)
	// One lockout for the console and the admin API: failures add up.
	lockout := access.NewLockout(cs.Lockout.Failures, cs.Lockout.Duration.D(), nil)
	siteAdmin := siteadmin.New(siteHost{d})
	con, err := console.New(consoleBackend{d}, console.Options{AdminToken: creds.Admin, Wait: h.IngressTimeout.D(),
		MaxCall: p.RetryBudget.D() + 2*p.CallTimeout.D(), Logger: d.log, Artifacts: d.arts, Origins: origins,
		Users: users, Proxy: proxy, Lockout: lockout, Audit: rec, HTTPS: cs.HTTPS, HSTSMaxAge: cs.HSTSMaxAge.D(),
		SessionIdle: cs.SessionIdle.D(), SessionMax: cs.SessionMax.D(), Sites: siteAdmin,
		Deadline: p.UploadDeadline.D()})
	if err != nil {
		_ = ln.Close()
		return err
	}
	// The name medgate listens on is one clients may use (the CLI does).
	allowed := h.AllowedHosts
	if host, _, err := net.SplitHostPort(h.Listen); err == nil && host != "" && net.ParseIP(host) == nil {
		allowed = append([]string{strings.ToLower(host)}, allowed...)
	}
	d.http = api.NewServer(api.Handler(d, api.Options{
		IngressTimeout: h.IngressTimeout.D(), AdminToken: creds.Admin, Clients: clients, AllowedHosts: allowed,
		MaxBodyBytes: int64(p.MaxPayloadBytes), Registry: d.metrics.Registry, Logger: d.log, Console: con, Origins: origins,
		Users: users, Lockout: lockout, Proxy: proxy, Audit: rec, Sites: siteAdmin,
	}), api.Timeouts{ReadHeader: h.ReadHeaderTimeout.D(), Read: h.ReadTimeout.D(), Write: h.WriteTimeout.D(), Idle: h.IdleTimeout.D()})
	go func() {
		if err := d.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("http server stopped", "err", err)
		}
	}()
	return nil
}
