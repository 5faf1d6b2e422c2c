// Package api is medgate's HTTP server: the ingress for HIS clients that
// cannot speak Kafka (POST /v1/messages, same envelope and same pipeline),
// health (/healthz, /readyz), Prometheus metrics (/metrics) and the admin
// API under /admin (reload, plugins, jobs, messages, exchanges), and the
// staff console under /console/ when one is given.
//
// Handlers return errors; one function turns an *Error into a JSON body
// with a stable code, so users see a message and a fix, never a stack.
// A transient outage of the store (package outage: its database down,
// unreachable, locked or too slow, the connection lost) is answered 503
// store_unavailable with Retry-After, the dependency named and the advice
// to send the request again, never the error's own text (it names the
// database's host, account or file; the log has it); a replay Kafka did
// not take because it is passing unavailable is 503 kafka_unavailable the
// same way; any other failure is 500, a fault to look into.
//
// The ingress (POST /v1/messages) answers 503 unavailable with
// Retry-After only for a passing outage: Kafka or the store unavailable
// (the ingress marks which one failed: ingress.DependencyError) or this
// instance shutting down. Anything else (a topic missing, a reply that
// cannot be encoded, a stored reply unreadable, a panic) is a fault of
// medgate: 500 internal without Retry-After, saying to tell the
// administrator, with the message id and nothing of the error. A message
// accepted whose outcome is not known in time is 504 (ask again with the
// same id).
//
// Every change of the admin API (any method but GET and HEAD: run a job,
// replay, reload, re-encrypt, change a site's plugin) is recorded in the
// audit log as attempted before it is made, and its outcome after, naming
// the attempt (package audit explains why two entries). When the attempt
// cannot be written the change is not made: 503 audit_unavailable with
// Retry-After while the store is passing unavailable, naming it; 500
// audit_unavailable otherwise (no audit store). An outcome that cannot be
// written is logged as an error and counted in
// medgate_audit_entries_lost_total, which an alert watches.
//
// Hostile clients get nowhere: every request must name this server in its
// Host header (no DNS rebinding); the ingress and admin API refuse other
// sites' pages (Origin, Sec-Fetch-Site), take only JSON bodies and send no
// CORS headers; tokens are compared in constant time and failed attempts
// are limited per remote address and logged, a user's failed sign-ins
// also across addresses (access.Lockout); /readyz details and stored
// personal data are shown only to admins, masked. With no admin token and
// no users the admin API is open to this machine only: a client a trusted
// reverse proxy forwards is judged by its own address. An ingress client
// bound to sites (Client.Sites) may send messages only for them: one
// claiming another site is refused 403 site_not_allowed, before anything
// is queued. A user limited to sites (access.User.Sites) lists only their
// sites' jobs, messages, exchanges and plugins (each plugin with only
// their sites, those at none of them left out); another site's message or
// job answers 404 as one that does not exist and is not replayed or run;
// a bulk replay covers all their sites or those named, and naming another
// is refused 403 site_scoped (bulk.go); the routes of the whole instance
// answer 403 site_scoped (scope.go).
package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/api/origin"
	"github.com/medgate/medgate/host/internal/api/outage"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/siteadmin"
	"github.com/medgate/medgate/host/internal/sites"
	"github.com/medgate/medgate/host/internal/store"
)

// Error is an API error: the HTTP status, a stable code and a message for
// people (what is wrong and how to fix it).
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Dependency, in an answer to a transient outage (503), names what is
	// down, e.g. "the store (PostgreSQL)".
	Dependency string `json:"dependency,omitempty"`
	// Settings, in a conflict (409) of PUT /admin/sites/{site}/plugins/
	// {plugin}, names the settings someone else changed since the base.
	Settings []string `json:"settings,omitempty"`
	// JobRun, in the answer to a job run now that failed (502 job_failed),
	// is what the run did: its fields beside code and message.
	*JobRun
	// retryAfter, when positive, is sent as Retry-After (seconds).
	retryAfter int
	// refused: the caller's request was wrong or does not apply (an
	// unknown job, a message that is not failed), so a change answered
	// with it is audited refused; otherwise failed (medgate could not do it).
	refused bool
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Backend is what the server needs from the daemon.
type Backend interface {
	Process(ctx context.Context, in pipeline.Input) (*message.Reply, error)
	Store() store.Store
	Ready(ctx context.Context) map[string]string // component → "ok" or the problem
	Reload(ctx context.Context) error
	Plugins() any
	Jobs() []scheduler.Status
	// TriggerJob runs a job now and returns that run's own record.
	TriggerJob(ctx context.Context, id string) (scheduler.Run, error)
	Replay(ctx context.Context, id string) error
}

// ReloadReporter is a Backend whose reload also says which settings
// changed in the configuration file but were not applied, because only a
// restart applies them (an optional capability: a Backend without it
// answers a reload with its status only).
type ReloadReporter interface {
	// ReloadReport reloads like Backend.Reload and returns the keys, as
	// written in the configuration file ("store.path"), of the changed
	// settings it did not apply; never their values.
	ReloadReport(ctx context.Context) (notApplied []string, err error)
}

// ReloadWarner is a ReloadReporter whose reload also returns warnings:
// what an accepted reload could not do that the admin must know, e.g. a
// Kafka password behind an env: reference, which a reload cannot rotate
// (an optional capability, preferred to ReloadReporter when a Backend has
// both).
type ReloadWarner interface {
	// ReloadNotes reloads like ReloadReporter.ReloadReport and also
	// returns the warnings of an accepted reload, each a sentence that
	// says what and how to fix it, naming settings and variables, never
	// a secret's value.
	ReloadNotes(ctx context.Context) (notApplied, warnings []string, err error)
}

// ReloadReply is the answer to a successful POST /admin/reload.
type ReloadReply struct {
	// Status is "reloaded".
	Status string `json:"status"`
	// NotApplied lists the keys of the settings that changed in the
	// configuration file but that a reload does not apply: the running
	// values stay in force until medgate restarts. Left out when there
	// are none.
	NotApplied []string `json:"notApplied,omitempty"`
	// Message says so, for people (with NotApplied only).
	Message string `json:"message,omitempty"`
	// Warnings are what the accepted reload warns about (ReloadWarner),
	// as the log says them: e.g. that kafka.sasl.password names an
	// environment variable, which a reload cannot rotate. Left out when
	// there are none.
	Warnings []string `json:"warnings,omitempty"`
}

// Options configure the server.
type Options struct {
	IngressTimeout time.Duration
	AdminToken     string // empty: admin API open (bind to loopback!)
	// IngressToken, when set, is one more ingress client named "default".
	IngressToken string
	// Clients are the ingress clients; with none (and no IngressToken)
	// the ingress is open (bind to loopback!).
	Clients []Client
	// AllowedHosts are the names (besides IP addresses and localhost) that
	// requests may use in their Host header; ".example.org" allows every
	// name under example.org.
	AllowedHosts []string
	// MaxBodyBytes bounds an ingress body: the largest message medgate can
	// publish to Kafka. A larger one gets 413.
	MaxBodyBytes int64
	// MaxKeyBytes bounds the X-Medgate-Key header (default 256).
	MaxKeyBytes int
	Registry    *prometheus.Registry
	Logger      *slog.Logger
	// Console, when not nil, is mounted under /console/ (the staff web
	// console; it does its own sign-in).
	Console http.Handler
	// ConsoleWriteTimeout is the write deadline of console requests, which
	// may wait for long exports (default 11m).
	ConsoleWriteTimeout time.Duration
	// Origins judges where browser requests come from (default: this
	// server's own origin only).
	Origins *origin.Checker
	// Users may call the admin API with HTTP Basic authentication, each
	// within their role (nil: only the admin token).
	Users *access.Users
	// Lockout limits failed Basic sign-ins per user and client address
	// (default: 5 failures, then 15 minutes), and per user across
	// addresses (access.Lockout.PerUser).
	Lockout *access.Lockout
	// Proxy, when set, is a trusted reverse proxy whose X-Forwarded-For
	// names the client.
	Proxy *access.Proxy
	// Audit records every change made through the admin API, before and
	// after it is made (nil: none can be recorded, so every change is
	// refused 500 audit_unavailable and logged as an error).
	Audit *audit.Recorder
	// Sites lists and changes sites' plugins (nil: 501 on those routes).
	Sites *siteadmin.Service
	// Now is the clock of the failed-authentication limiter (default time.Now).
	Now func() time.Time
}

// maxListLimit bounds the admin API's limit parameter.
const maxListLimit = 500

// maxTraceBytes bounds the X-Medgate-Trace-Id header of the ingress.
const maxTraceBytes = message.MaxTraceBytes

// Handler returns the HTTP handler.
func Handler(b Backend, o Options) http.Handler {
	return handler(b, o, (*server).adminRoutes)
}

// handler returns the HTTP handler with the admin routes of table, each
// behind s.admin (the tests check what every admin route runs with).
func handler(b Backend, o Options, table func(*server) []route) http.Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxKeyBytes <= 0 {
		o.MaxKeyBytes = 256
	}
	if o.ConsoleWriteTimeout <= 0 {
		o.ConsoleWriteTimeout = 11 * time.Minute
	}
	if o.Origins == nil {
		o.Origins, _ = origin.New(nil)
	}
	if o.Lockout == nil {
		o.Lockout = access.NewLockout(0, 0, o.Now)
	}
	if o.Audit == nil {
		// Records nothing, but logs every entry as an error.
		o.Audit = audit.New(nil, o.Logger)
	}
	if o.Registry != nil {
		// An alert's signal: a change whose attempt or outcome the audit
		// log did not take (package audit). Shared by the console, which
		// records through the same recorder. A second server on the same
		// registry keeps the first's.
		rec := o.Audit
		_ = o.Registry.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "medgate_audit_entries_lost_total",
			Help: "Audit entries not written: attempts (their change was then not made) and outcomes (their change was made or refused already); any rise needs an alert.",
		}, func() float64 { return float64(rec.Lost()) }))
	}
	clients := o.Clients
	if o.IngressToken != "" {
		clients = append([]Client{{Name: "default", Token: o.IngressToken}}, clients...)
	}
	s := &server{b: b, o: o, origins: o.Origins, limit: newLimiter(o.Now, o.Registry), ingressCreds: credentials(clients),
		adminCreds: credentials([]Client{{Name: "admin", Token: o.AdminToken}})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.Handle("GET /readyz", s.h(s.ready))
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}))
	mux.Handle("POST /v1/messages", s.guard(s.auth("ingress", s.ingressCreds, s.h(s.ingress))))
	s.table = table(s)
	for _, rt := range s.table {
		mux.Handle(rt.pattern, s.admin(rt.role, rt.h))
	}
	if o.Console != nil {
		mux.Handle("/console/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Exports and "run job now" may wait longer than the server's
			// write timeout; the console bounds its own waits.
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(o.ConsoleWriteTimeout))
			o.Console.ServeHTTP(w, r)
		}))
	}
	return s.checkHost(mux)
}

type server struct {
	b       Backend
	o       Options
	origins *origin.Checker
	// table is every admin API route with the role it needs (routes.go).
	table        []route
	limit        *limiter
	ingressCreds []credential
	adminCreds   []credential
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *server) h(f handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := f(w, r)
		if err == nil {
			return
		}
		var ae *Error
		if !errors.As(err, &ae) {
			s.o.Logger.Error("http handler failed", "path", r.URL.Path, "err", err)
			ae = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "medgate could not complete the request; see the medgate log for details"}
		}
		if ae.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
		}
		writeJSON(w, ae.Status, ae)
	})
}

// outageRetryAfter is the Retry-After, in seconds, of every 503 the
// server sends: medgate answers 503 only for a transient outage (Kafka or
// the store unavailable, a component not ready), which a client or load
// balancer should ask about again soon, but not at once and not in a
// loop. The Kafka client and the store reconnect within a few seconds of
// their server coming back.
const outageRetryAfter = outage.RetryAfter

// storeError answers the error of a call to the store: a transient outage
// of the store (package outage: its database down, unreachable, locked or
// too slow; the connection lost) is 503 store_unavailable with
// Retry-After, naming the store and saying the request can be sent again,
// and logged with its cause; the answer never shows the error itself,
// which names the database's host, address, account or file. Anything
// else is returned as it is: a fault of medgate (500, logged by h).
func (s *server) storeError(r *http.Request, err error) error {
	return s.outageError(r, err, outage.Store)
}

// outageError is storeError with the classifier given: outage.Store for an
// error of the store alone, outage.Dependency for a replay's (which Kafka
// may fail). An outage of Kafka is answered 503 kafka_unavailable, with
// the same body and Retry-After, pointing at the brokers instead.
func (s *server) outageError(r *http.Request, err error, classify func(error) (outage.Outage, bool)) error {
	o, ok := classify(err)
	if !ok {
		return err
	}
	code, what, check := "store_unavailable", "store unavailable", "the database server"
	if o.Dependency == outage.KafkaDependency {
		code, what, check = "kafka_unavailable", "kafka unavailable", "the Kafka brokers"
	}
	s.o.Logger.Error("admin API: "+what+"; answered 503", "path", r.URL.Path, "dependency", o.Dependency, "err", err)
	return &Error{Status: http.StatusServiceUnavailable, Code: code, Dependency: o.Dependency, retryAfter: outage.RetryAfter,
		Message: fmt.Sprintf("%s; this is a transient outage, not a fault of the request: send the same request again in %d seconds (Retry-After). "+
			"If it lasts, check GET /readyz and %s; the medgate log (%q) has the cause", o, outage.RetryAfter, check, what)}
}

// writeJSON answers with v as JSON. No answer is kept in a cache: replies
// and stored messages hold personal data (masked or not), and a browser
// with HTTP Basic credentials would otherwise keep them on disk. A 503
// says when to ask again (outageRetryAfter), unless the handler said it.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.Itoa(outageRetryAfter))
	}
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// replyStatus maps a reply status to the HTTP status of the ingress.
var replyStatus = map[string]int{
	message.StatusOK:       http.StatusOK,
	message.StatusInvalid:  http.StatusUnprocessableEntity,
	message.StatusRejected: http.StatusConflict,
	message.StatusFailed:   http.StatusBadGateway,
}

func (s *server) ingress(w http.ResponseWriter, r *http.Request) error {
	tooLarge := &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: fmt.Sprintf(
		"the body is larger than %d bytes (processing.maxPayloadBytes), so medgate could not publish it as one Kafka record (at most 1 MB); split the payload into several messages", s.o.MaxBodyBytes)}
	if r.ContentLength > s.o.MaxBodyBytes {
		return tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.o.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return tooLarge
		}
		return &Error{Status: http.StatusBadRequest, Code: "read", Message: "cannot read the request body: " + err.Error()}
	}
	key := r.Header.Get("X-Medgate-Key")
	if len(key) > s.o.MaxKeyBytes {
		return &Error{Status: http.StatusBadRequest, Code: "key_too_long", Message: fmt.Sprintf(
			"the X-Medgate-Key header is %d bytes; a business key (patient or visit number) has at most %d", len(key), s.o.MaxKeyBytes)}
	}
	trace := r.Header.Get("X-Medgate-Trace-Id")
	if len(trace) > maxTraceBytes {
		// It travels as a header of the request and reply records, in the
		// 16 KiB processing.maxPayloadBytes leaves below Kafka's limit.
		return &Error{Status: http.StatusBadRequest, Code: "trace_too_long", Message: fmt.Sprintf(
			"the X-Medgate-Trace-Id header is %d bytes; a trace id has at most %d", len(trace), maxTraceBytes)}
	}
	if err := checkClientSite(r, body); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.o.IngressTimeout)
	defer cancel()
	reply, err := s.process(ctx, pipeline.Input{Value: body, Key: key, TraceID: trace})
	if err != nil {
		if ctx.Err() != nil {
			return &Error{Status: http.StatusGatewayTimeout, Code: "timeout", Message: fmt.Sprintf("no outcome within %s; send the same message (same id) again later: medgate returns the stored outcome and never repeats the external call", s.o.IngressTimeout)}
		}
		return s.ingressError(body, err)
	}
	code, known := replyStatus[reply.Status]
	if !known {
		// A status this version does not map (written by a newer
		// instance sharing the store): the reply is still given, as a
		// server error the client can read, never WriteHeader(0).
		s.o.Logger.Error("ingress reply with a status this version does not know; answered 500 with the reply", "id", reply.ID, "status", reply.Status)
		code = http.StatusInternalServerError
	}
	writeJSON(w, code, reply)
	return nil
}

// checkClientSite refuses, with 403, a message for a site the ingress
// client may not send for (http.clients[].sites): it is not queued, so
// one site's client cannot act at another site with that site's keys. The
// site is read as the pipeline reads it (message.Parse); a message
// without a site is left to the pipeline, which answers it invalid and
// sends nothing out.
func checkClientSite(r *http.Request, body []byte) error {
	c, ok := client(r)
	if !ok || c.sites == nil {
		return nil // no credentials, or a client bound to no site: every site
	}
	// Compared exactly, as the pipeline routes by the site code.
	env, _ := message.Parse(body)
	if env.Site == "" || slices.Contains(c.sites, env.Site) {
		return nil
	}
	return &Error{Status: http.StatusForbidden, Code: "site_not_allowed", Message: fmt.Sprintf(
		"ingress client %q may send messages only for site(s) %s, not for site %q; send it with the token of a client of that site, or add the site to the client's sites in http.clients and reload",
		c.name, strings.Join(c.sites, ", "), env.Site)}
}

// process is the backend's Process, with a panic of it (a bug of medgate)
// returned as an error.
func (s *server) process(ctx context.Context, in pipeline.Input) (r *message.Reply, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("ingress: processing panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return s.b.Process(ctx, in)
}

// shuttingDown is the outage of a message this instance stopped
// processing because it shuts down (pipeline.ErrStopped before the
// client's time is up).
var shuttingDown = outage.Outage{Dependency: "medgate", Reason: "this medgate instance is shutting down"}

// ingressOutage reports whether err, a processing error of the ingress,
// is a passing outage: a dependency's error the ingress marked
// (ingress.DependencyError: Kafka's judged by outage.Kafka, the store's by
// outage.Store), an unmarked error a database driver reports as transient
// (outage.Database), or the instance shutting down.
func ingressOutage(err error) (outage.Outage, bool) {
	if errors.Is(err, pipeline.ErrStopped) {
		return shuttingDown, true
	}
	return outage.Dependency(err)
}

// ingressError answers a processing error of the ingress (err) for the
// message in body: a passing outage (ingressOutage) is 503 unavailable
// with Retry-After, naming what is down and saying to send the message
// again with the same id; anything else is a fault of medgate, 500
// internal without Retry-After (sending it again will not help), saying
// to tell the administrator, with the message id. Neither shows err's
// text (addresses, topics, a driver's or Go's words): the log has it,
// under the message id.
func (s *server) ingressError(body []byte, err error) error {
	id := "(none)"
	if env, _ := message.Parse(body); env != nil && message.ValidID(env.ID) {
		id = env.ID
	}
	if o, ok := ingressOutage(err); ok {
		s.o.Logger.Error("ingress: message not finished: "+o.Dependency+" unavailable; answered 503", "id", id, "err", err)
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Dependency: o.Dependency, retryAfter: outage.RetryAfter,
			Message: fmt.Sprintf("medgate could not finish message %q: %s; this is a transient outage, not a fault of the message: send it again with the same id in %d seconds (Retry-After)", id, o, outage.RetryAfter)}
	}
	s.o.Logger.Error("ingress: message not finished: a fault of medgate; answered 500", "id", id, "err", err)
	return &Error{Status: http.StatusInternalServerError, Code: "internal",
		Message: fmt.Sprintf("medgate could not finish message %q because of a fault of medgate, not of the message nor a passing outage: sending it again will not help. Tell medgate's administrator, with the message id; the medgate log has the cause under it", id)}
}

// ready answers /readyz: 200 when every component is ok, else 503 (with
// Retry-After, see outageRetryAfter). Each
// component shows "ok" or "not ready"; what is wrong (which may name
// files, addresses or checksums) is shown only to admins: a request with
// the admin token, or from loopback when no admin token is configured (the
// client's address: behind a trusted reverse proxy, the one it forwards).
func (s *server) ready(w http.ResponseWriter, r *http.Request) error {
	details := false
	_, _, basic := r.BasicAuth()
	switch _, sent := bearer(r); {
	case basic && s.o.Users != nil:
		// A medgate user: details for admins (the lockout applies).
		u, err := s.identify(r)
		if err != nil {
			return err
		}
		details = u.Role.Allows(access.Admin)
	case len(s.adminCreds) == 0:
		// The client, not a trusted reverse proxy on loopback that
		// forwards it.
		details = isLoopback(s.o.Proxy.ClientAddr(r))
	case sent:
		if _, err := s.authenticate("admin", s.adminCreds, r); err != nil {
			return err
		}
		details = true
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := s.b.Ready(ctx)
	status := http.StatusOK
	out := make(map[string]string, len(checks))
	for k, v := range checks {
		out[k] = v
		if v != "ok" {
			if len(v) < 9 || v[:9] != "degraded:" { // "degraded: …" is shown but still ready (e.g. a stalled partition)
				status = http.StatusServiceUnavailable
			}
			if !details {
				out[k] = "not ready"
			}
		}
	}
	writeJSON(w, status, out)
	return nil
}

// isLoopback reports whether ip is a loopback address.
func isLoopback(ip string) bool {
	a := net.ParseIP(ip)
	return a != nil && a.IsLoopback()
}

// listLimit reads the admin API's limit parameter: "" is the store's
// default (100); otherwise 1 to maxListLimit.
// defaultListLimit is how many entries a list without limit= holds: the
// store's default (store.ListMessages and ListExchanges take 0 for it).
const defaultListLimit = 100

func listLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxListLimit {
		return 0, &Error{Status: http.StatusBadRequest, Code: "limit", Message: fmt.Sprintf(
			"limit=%q: give a whole number from 1 to %d; page through older entries with the site, type or time filters", v, maxListLimit)}
	}
	return n, nil
}

// reload applies the configuration file again; its reply lists the
// changed settings that need a restart (ReloadReporter) and the reload's
// warnings (ReloadWarner).
func (s *server) reload(w http.ResponseWriter, r *http.Request) error {
	var notApplied, warnings []string
	var err error
	if rw, ok := s.b.(ReloadWarner); ok {
		notApplied, warnings, err = rw.ReloadNotes(r.Context())
	} else if rr, ok := s.b.(ReloadReporter); ok {
		notApplied, err = rr.ReloadReport(r.Context())
	} else {
		err = s.b.Reload(r.Context())
	}
	if err != nil {
		// Problems are the configuration's (refused); anything else is
		// medgate's own failure to apply it (a plugin that cannot start).
		var ps config.Problems
		return &Error{Status: http.StatusUnprocessableEntity, Code: "config", refused: errors.As(err, &ps),
			Message: "the new configuration was not applied; the previous one stays in force: " + err.Error()}
	}
	reply := ReloadReply{Status: "reloaded", Warnings: warnings}
	if len(notApplied) > 0 {
		reply.NotApplied = notApplied
		reply.Message = "the configuration was reloaded, but these settings changed in it take effect only when medgate restarts " +
			"(the running values stay in force until then): " + strings.Join(notApplied, ", ") + "; restart medgate to apply them"
	}
	writeJSON(w, http.StatusOK, reply)
	return nil
}

// plugins lists the running plugins; a user limited to sites gets those
// enabled at their sites, each with only those sites (scopePlugins).
func (s *server) plugins(w http.ResponseWriter, r *http.Request) error {
	u := caller(r)
	ps, ok := scopePlugins(u, s.b.Plugins())
	if !ok {
		return scopeRefused(u, "GET /admin/plugins")
	}
	if infos, ok := ps.([]sites.Info); ok {
		// A plugin's last error is its own words (a Configure refusal
		// quoting a setting, a crash's panic quoting a message): masked
		// as log lines are, as the jobs' errors are.
		infos = slices.Clone(infos)
		for i := range infos {
			infos[i].LastError = logging.Mask(infos[i].LastError)
		}
		ps = infos
	}
	writeJSON(w, http.StatusOK, ps)
	return nil
}

// jobStatus is a job as GET /admin/jobs lists it: the scheduler's status
// with how long the last run took as people read it ("2.5s", as POST
// /admin/jobs/…/run answers) and in milliseconds for scripts (tookMs),
// both absent for a job that has not run.
type jobStatus struct {
	scheduler.Status
	Took   string `json:"took,omitempty"`
	TookMS int64  `json:"tookMs,omitempty"`
}

// jobs lists the scheduled jobs. A job's last error and summary are the
// plugin's words and may quote a patient: they are masked as log lines are
// (logging.Mask), as the console shows them.
func (s *server) jobs(w http.ResponseWriter, r *http.Request) error {
	jobs := scopeJobs(caller(r), s.b.Jobs())
	out := make([]jobStatus, len(jobs))
	for i, j := range jobs {
		j.LastErr, j.Summary = logging.Mask(j.LastErr), logging.Mask(j.Summary)
		out[i] = jobStatus{Status: j}
		if j.Took > 0 {
			out[i].Took, out[i].TookMS = j.Took.Round(time.Millisecond).String(), j.Took.Milliseconds()
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// JobRun is what one run of a job now did, as POST /admin/jobs/{plugin}/
// {site}/{job}/run answers it: when it started (RFC 3339 with the
// offset), how long it took, what the job reported (its summary, masked
// as in the log, and the records it processed) and, for a run that
// failed, the failures in a row and when the scheduler tries it again.
type JobRun struct {
	Job       string    `json:"job"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	Took      string    `json:"took"`
	TookMS    int64     `json:"tookMs"`
	Summary   string    `json:"summary,omitempty"`
	Processed int64     `json:"processed"`
	Failures  int       `json:"failures,omitempty"`
	NextRun   time.Time `json:"nextRun,omitzero"`
}

func (s *server) runJob(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("plugin") + "/" + r.PathValue("site") + "/" + r.PathValue("job")
	if !caller(r).SeesSite(r.PathValue("site")) {
		return unknownJob(id)
	}
	start := time.Now()
	rec, err := s.b.TriggerJob(r.Context(), id)
	run := jobRun(id, rec, err, start, time.Since(start))
	if err != nil {
		switch {
		case errors.Is(err, scheduler.ErrUnknownJob):
			return unknownJob(id)
		case errors.Is(err, scheduler.ErrNotOwner):
			return &Error{Status: http.StatusConflict, Code: "not_owner", Message: err.Error() + "; it runs on the instance that holds the lease", refused: true}
		}
		if _, down := outage.Database(err); down {
			// The store's own (its lease, its record): 503 without the
			// error's text, which names the database's host and
			// account. Only a database driver's error counts: a
			// plugin's network errors are not the store's.
			return s.outageError(r, err, outage.Database)
		}
		// The plugin's words may quote a patient: masked, as in the log.
		msg := logging.Mask(err.Error()) + "; see the plugin's lines (plugin=" + r.PathValue("plugin") + ") in the medgate log and the journal of its external calls: GET /admin/exchanges?" +
			url.Values{"plugin": {r.PathValue("plugin")}, "site": {r.PathValue("site")}}.Encode()
		if !run.NextRun.IsZero() {
			msg += fmt.Sprintf("; the scheduler tries it again at %s (failed %d time(s) in a row), or run it again once the cause is fixed", run.NextRun.Format(time.RFC3339), run.Failures)
		}
		return &Error{Status: http.StatusBadGateway, Code: "job_failed", Message: msg, JobRun: run}
	}
	writeJSON(w, http.StatusOK, struct {
		Status string `json:"status"`
		*JobRun
	}{"ran", run})
	return nil
}

// jobRun returns what the run of job id that was asked for at start and
// answered after took did: its own record rec (the job's status could
// already be a later, scheduled run's), or, for a run that did not
// start, start and took. The failures in a row and the retry are given
// for a run that failed (err).
func jobRun(id string, rec scheduler.Run, err error, start time.Time, took time.Duration) *JobRun {
	run := &JobRun{Job: id, StartedAt: start}
	if !rec.StartedAt.IsZero() {
		run.StartedAt, took = rec.StartedAt, rec.Took
		run.Summary, run.Processed = logging.Mask(rec.Summary), rec.Processed
		if err != nil {
			run.Failures, run.NextRun = rec.Failures, rec.NextRun
		}
	}
	run.Took, run.TookMS = took.Round(time.Millisecond).String(), took.Milliseconds()
	return run
}

func (s *server) messages(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := listLimit(q)
	if err != nil {
		return err
	}
	keep := cmp.Or(limit, defaultListLimit) // the store's default for 0
	// Each site the caller sees (none for another's), merged newest
	// first: another site's messages cannot crowd theirs out.
	sites := listSites(caller(r), siteParams(q))
	var ms []store.Message
	for _, site := range sites {
		got, err := s.b.Store().ListMessages(r.Context(), site, q.Get("type"), q.Get("status"), limit)
		if err != nil {
			return s.storeError(r, err)
		}
		ms = append(ms, got...)
	}
	if len(sites) > 1 {
		sort.SliceStable(ms, func(i, j int) bool { return ms[i].ReceivedAt.After(ms[j].ReceivedAt) })
	}
	out := []messageView{}
	for _, m := range ms {
		if caller(r).SeesSite(m.Site) && len(out) < keep {
			out = append(out, view(m))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) message(w http.ResponseWriter, r *http.Request) error {
	m, err := s.seesMessage(r, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return messageNotFound(false)
	}
	if err != nil {
		return s.storeError(r, err)
	}
	writeJSON(w, http.StatusOK, view(*m))
	return nil
}

func (s *server) replay(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var err error
	if caller(r).Scoped() {
		// Of a site the caller sees, or answered as one never received.
		_, err = s.seesMessage(r, id)
	}
	if err == nil {
		err = s.b.Replay(r.Context(), id)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return messageNotFound(true)
	case errors.Is(err, store.ErrConflict):
		return s.notReplayable(r.Context(), id)
	case err != nil:
		// Kafka's errors come too: told apart by the ingress's mark
		// (outage.Dependency).
		return s.outageError(r, err, outage.Dependency)
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "replayed", "id": id, "next": "GET /admin/messages/" + id})
	return nil
}

// notReplayable is the refusal of a replay of message id, which is not
// failed: it says the message's state, read from the store, and what to do
// instead, without the store's own words (store.WhyNotReplayable).
func (s *server) notReplayable(ctx context.Context, id string) *Error {
	var m *store.Message
	if st := s.b.Store(); st != nil {
		m, _ = st.GetMessage(ctx, id)
	}
	return &Error{Status: http.StatusConflict, Code: "not_replayable", refused: true,
		Message: store.WhyNotReplayable(id, m) + "; see GET /admin/messages/" + id}
}

// rekey re-encrypts stored data under the current store key (the step of
// a key rotation before the old key is removed).
func (s *server) rekey(w http.ResponseWriter, r *http.Request) error {
	rk, ok := s.b.Store().(store.Rekeyer)
	if !ok {
		return &Error{Status: http.StatusConflict, Code: "no_encryption", Message: "this store engine does not encrypt at rest", refused: true}
	}
	n, err := rk.Rekey(r.Context())
	if err != nil {
		if errors.Is(err, store.ErrKey) {
			return &Error{Status: http.StatusConflict, Code: "key_missing", Message: err.Error(), refused: true}
		}
		if _, down := outage.Store(err); down {
			// Rows done so far stay done: the request can be sent again.
			return s.storeError(r, err)
		}
		return &Error{Status: http.StatusConflict, Code: "rekey_failed", Message: "re-encryption stopped; the rows done so far stay done, run it again once fixed: " + err.Error()}
	}
	s.o.Logger.Info("store re-encrypted under the current key", "rows", n)
	writeJSON(w, http.StatusOK, map[string]any{"status": "rekeyed", "rows": n})
	return nil
}

type messageView struct {
	ID         string          `json:"id"`
	Site       string          `json:"site"`
	Type       string          `json:"type"`
	Key        string          `json:"key"`
	Status     string          `json:"status"`
	Outcome    string          `json:"outcome,omitempty"`
	Attempts   int             `json:"attempts"`
	OccurredAt time.Time       `json:"occurredAt,omitzero"`
	ReceivedAt time.Time       `json:"receivedAt"`
	UpdatedAt  time.Time       `json:"updatedAt"`
	Reply      json.RawMessage `json:"reply,omitempty"`
}

// view shows a stored message with its reply masked as the console
// masks it (names, ID and phone numbers, and the fields the message's
// plugin declares personal for its operation: logging.MaskReply), and its business key with ID and
// mobile numbers masked (logging.Mask), as the console shows keys: a site
// may key its messages by them, while the hospital's own patient and visit
// numbers stay readable.
func view(m store.Message) messageView {
	return messageView{ID: m.ID, Site: m.Site, Type: m.Type, Key: logging.Mask(m.Key), Status: m.Status, Outcome: m.Outcome, Attempts: m.Attempts,
		OccurredAt: m.OccurredAt, ReceivedAt: m.ReceivedAt, UpdatedAt: m.UpdatedAt, Reply: logging.MaskReply(m.Type, m.Reply)}
}

func (s *server) exchanges(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := listLimit(q)
	if err != nil {
		return err
	}
	keep := cmp.Or(limit, defaultListLimit)
	// As messages: each site the caller sees, merged newest first.
	sites := listSites(caller(r), siteParams(q))
	var xs []store.Exchange
	for _, site := range sites {
		got, err := s.b.Store().ListExchanges(r.Context(), store.ExchangeFilter{
			Plugin: q.Get("plugin"), Site: site, Code: q.Get("code"), Serial: q.Get("serial"), MessageID: q.Get("messageId"), Limit: limit,
		})
		if err != nil {
			return s.storeError(r, err)
		}
		xs = append(xs, got...)
	}
	if len(sites) > 1 {
		sort.SliceStable(xs, func(i, j int) bool { return xs[i].At.After(xs[j].At) })
	}
	out := []exchangeView{}
	for _, x := range xs {
		if !caller(r).SeesSite(x.Site) || len(out) == keep {
			continue
		}
		out = append(out, exchangeView{ID: x.ID, MessageID: x.MessageID, Plugin: x.Plugin, Site: x.Site, System: x.System, Code: x.Code,
			Serial: x.Serial, Request: body(x.Request), Response: body(x.Response), Status: x.Status, Error: logging.Mask(x.Error), DurationMS: x.DurationMS, At: x.At})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type exchangeView struct {
	ID         int64           `json:"id"`
	MessageID  string          `json:"messageId,omitempty"`
	Plugin     string          `json:"plugin"`
	Site       string          `json:"site"`
	System     string          `json:"system"`
	Code       string          `json:"code"`
	Serial     string          `json:"serial,omitempty"`
	Request    json.RawMessage `json:"request,omitempty"`
	Response   json.RawMessage `json:"response,omitempty"`
	Status     string          `json:"status"`
	Error      string          `json:"error,omitempty"`
	DurationMS int64           `json:"durationMs"`
	At         time.Time       `json:"at"`
}

// body shows a journal body, masked: as JSON when it is JSON, else as a
// string.
func body(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return logging.MaskJSON(b)
}
