// Package console is medgate's small web console for hospital staff,
// mounted under /console/ on medgate's HTTP server.
//
// It is server-rendered (html/template, embedded CSS and one small
// vanilla script, nothing fetched from elsewhere) and has these parts:
//
//   - the overview: plugins, scheduled jobs (with "run now"), the latest
//     messages with their replies and journal, and the plugins per site;
//   - the work lists every plugin declares, per site where it is enabled
//     (read through the plugin's list operation, as the plugin masks them);
//     a cell that opens a form or document of its plugin is a link only
//     when the user's role may open that page (mayOpen), else plain text;
//   - the forms plugins declare (sdk.Form): fields, one operation, the
//     reply shown as a table, images with a printable label, or a file to
//     download; the navigation bar lists the forms of enabled plugins
//     (each entry of the bar only to the roles its route lets through);
//   - every page offers a button or link (run now, replay, replay all, a
//     work list's cell) only to the roles its route lets through
//     (page.May, Console.mayUse), so none answers 403;
//   - the documents plugins declare (sdk.DocumentView), such as draft
//     receipts: review the lines, adjust them one change at a time and
//     confirm, each sent as the declared operation with the operator who
//     signed in and the version the page showed;
//
// Every time is shown in Options.Location (console.timeZone) with its
// offset, the header naming the zone, and times typed into searches are
// read in it (when, zoneLabel).
//
// Messages and their exchanges are shown with personal data masked
// (logging.MaskJSON, and the personal fields of HL7 v2 text: hl7mask.go;
// a message's request and reply payloads also by the fields its plugin
// declares personal for its operation, logging.MaskRequest, MaskReply);
// an admin may reveal them, audited. A form's reply that the form shows
// whole (it declares no display) is masked the same way. A job's error and
// summary, and a refused form's, action's or document change's errors and
// external message, a plugin's words, are masked by pattern as log lines
// are (logging.Mask). Business keys (message page, search, board) are shown
// with ID and mobile numbers masked the same way; a search by key takes
// the full key.
//
// A user limited to sites (access.User.Sites) sees and acts on only those
// sites on every page it may open (scope.go, siteScoped): lists, forms'
// site choices and the navigation hold only their sites, another site's
// message, bulk replay, document, form or download answers 404 as one
// that does not exist, and an action there is refused (audited) before
// anything is sent. A page not yet checking sites is refused to them.
//
// Every action is a message through the same pipeline as Kafka and the HTTP
// ingress (ids "console-…"), so it is stored, deduplicated, journaled and
// replied to like any other. A message is always of the plugin whose page
// sends it ("<plugin>.<operation>"): an operation a plugin declares for
// another plugin is not sent, and the page says so.
//
// Access: with an admin token configured (http.adminToken) staff sign in
// with the token and their name; without one (and without users) the
// console is open to this machine only (bind http.listen to loopback; a
// client a trusted reverse proxy forwards cannot sign in) and still asks
// for a name for the audit trail.
// Sessions live in memory (a random id in an HttpOnly, SameSite=Strict
// cookie, never the token), and every POST carries the session's CSRF token.
// The cookie is Secure with Options.HTTPS or over TLS, and also when the
// request shows the browser is on HTTPS behind a TLS proxy HTTPS does not
// declare (an https Origin or Referer, X-Forwarded-Proto: https).
// A password sign-in also leaves a device cookie (device.go), so that
// the user's later sign-ins from that browser count apart from its client
// address in the lockout.
// A user a trusted reverse proxy names gets a session on the first
// request; a later request of that user without its cookie (a script, a
// health check through the proxy) reuses the user's live proxy session
// with the same role and stored-user stamp instead of starting another,
// so such requests cannot fill the session map (1000) and push other
// users' sessions out. One user holds at most Options.MaxSessionsPerUser
// sessions (console.maxSessionsPerUser, default 20; the admin
// token's sign-ins count as one user whatever their names, and so do the
// open console's): a sign-in past that ends the user's own least recently
// used session, so signing in again and again (a script with a password
// or the token) signs no one else out; only a full map of many users'
// sessions ends the least recently used of all. Each session so ended is
// audited (session.evicted).
// A session of a stored user is checked against the store at every
// request (one read by primary key, which every instance shares): it ends
// once the user is removed, disabled, or has their password, role or
// enabled state changed since signing in (access.User.Stamp, which
// follows the user's session generation: the store counts every change,
// so two changes in one clock tick, or a clock gone back, end it too),
// whichever instance or `medgate user` made the change. A session of the
// admin token ends likewise once a stored user has its name, so it never
// acts as admin recorded under that user's name.
// While the store cannot be read, no session can be checked (a user
// disabled meanwhile would keep access): a session is shown pages for at
// most confirmGrace (60 s) after the store last confirmed it, then its
// requests are answered 503 with Retry-After (500 for a store fault that
// is no outage); a post on a session the store did not confirm at that
// request is never carried out (Console.confirmed); signing out always
// works.
// A page's own reloads (the board, a pending message, a running bulk
// replay; their Refresh URL carries refresh=1) do not count as activity
// for the idle timeout: a page left alone signs out like any other.
// Failed sign-ins lock a user out from the client's address (Options.Lockout);
// failed sign-ins with the admin token count together per address, whatever
// names they use, and once they lock the address out every failed sign-in
// from it gets the same answer, whether its name is a user's or not.
// A page a transient outage of the store stops (its database down,
// unreachable, locked or too slow; package outage) is a 503 with
// Retry-After whose page names the store and says to try again in a few
// seconds, never the error's text (it names the database's host, account
// or file; the log has it); a page that shows what it could read says the
// same in its notice, and so does the notice of a message the pipeline
// could not finish because the store's database was down. Any other store
// failure is a 500 that says to tell the administrator. Every 503 carries
// Retry-After.
// Every post that changes something (run a job, replay one or all, a
// plugin's form, a work-list action, a draft's change or confirmation, a
// site's plugin) is recorded in the audit log as attempted before its
// handler runs, and with its outcome after, naming the attempt (package
// audit explains why two entries); when the attempt cannot be written
// nothing is done and the page says so: 503 with Retry-After while the
// store is passing unavailable, naming it, else 500 (no audit store, a
// fault). Signing out (never refused) and the reveal of personal data
// (recorded before anything is shown) record themselves. A sign-in (with
// a password, the admin token or a trusted proxy's header) is recorded
// before its session starts, and a download of a file a plugin handed
// over before the file is sent; when either cannot be, nothing is done
// (the same 503 or 500). An entry names
// the console's own fields (job, message id, list, action, change), masked
// as log lines are; never the fields of a plugin's form.
// Every POST body is bounded before it is read (body.go): 64 KiB for the
// sign-in and the console's own buttons, 1 MiB for forms with text and
// lists (a document change, a plugin's settings, a plugin's form, plus
// 16 MiB for each file the form declares); a larger one gets 413, nothing
// is done, and a signed-in user's is audited refused (console.refused).
package console

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/api/origin"
	"github.com/medgate/medgate/host/internal/api/outage"
	"github.com/medgate/medgate/host/internal/artifact"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/siteadmin"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// Backend is what the console needs from the daemon. *daemon.Daemon
// provides it through a small adapter (its Plugins method returns the
// admin API's JSON form).
type Backend interface {
	// Process runs one message through the pipeline and returns its reply.
	Process(ctx context.Context, in pipeline.Input) (*message.Reply, error)
	// Plugins lists the running plugins, sorted by name.
	Plugins() []Plugin
	// Jobs lists the scheduled jobs.
	Jobs() []scheduler.Status
	// TriggerJob runs a job now ("plugin/site/job").
	// It returns that run's own record (see scheduler.RunNow).
	TriggerJob(ctx context.Context, id string) (scheduler.Run, error)
	// Store gives the messages and the exchange journal.
	Store() store.Store
	// Replay sends a failed message through again (the plugin reconciles
	// first); any other message is refused with store.ErrConflict.
	Replay(ctx context.Context, id string) error
}

// Plugin is one running plugin as the console shows it.
type Plugin struct {
	Name        string
	Version     string
	Description string
	Running     bool
	Restarts    int
	LastError   string
	// Operations are the message types it handles.
	Operations []string
	// Jobs are "name every interval".
	Jobs []string
	// WorkLists are the lists it declares for the console.
	WorkLists []sdk.WorkList
	// Views are its forms and the columns and actions of its work lists.
	Views sdk.Views
	// Sites are the site codes where it is enabled.
	Sites []string
}

// Options configure the console.
type Options struct {
	// AdminToken, when set, signs in as an admin under any name that is not
	// a user's (bootstrap: the first admin adds users with it). With no
	// token and no users the console is open and asks only for a name.
	AdminToken string
	// ClientTokens are the ingress clients' tokens by client name
	// (http.clients): one typed as the user name at the sign-in is never
	// recorded, logged or shown back, as the admin token is not.
	ClientTokens map[string]string
	// Users are the console's users (nil: none, only the admin token).
	Users *access.Users
	// Proxy, when set, is a trusted reverse proxy: its X-Forwarded-For
	// names the client, and its user (and role) headers sign users in.
	Proxy *access.Proxy
	// Lockout limits failed sign-ins per user and client address
	// (default: 5 failures, then 15 minutes).
	Lockout *access.Lockout
	// HTTPS: browsers reach the console over HTTPS (a TLS proxy in front);
	// cookies are then Secure and HSTS is sent. Requests that arrive over
	// TLS get both anyway.
	HTTPS bool
	// HSTSMaxAge is Strict-Transport-Security's max-age (default 1 year).
	HSTSMaxAge time.Duration
	// Audit records every change, sign-in and reveal (nil: nothing can be
	// recorded, so no change is made; each is refused and logged as an
	// error).
	Audit *audit.Recorder
	// Sites lists and changes sites' plugins for the admin pages (nil:
	// the pages say the running medgate does not offer it).
	Sites *siteadmin.Service
	// Wait is how long a page waits for a plugin's reply (default 30s).
	// The message itself is never abandoned: it finishes in the background
	// within the pipeline's own retry budget.
	Wait time.Duration
	// LongWait is how long the export and "run job now" wait (default 10m).
	LongWait time.Duration
	// MaxCall bounds a message's processing in the background (default 15m);
	// the pipeline's retry budget normally ends it sooner.
	MaxCall time.Duration
	// SessionIdle ends a session after this long without a request
	// (default 30m); SessionMax ends it anyway (default 12h).
	SessionIdle, SessionMax time.Duration
	// MaxSessionsPerUser bounds the sessions one user holds
	// (console.maxSessionsPerUser, default 20): a sign-in past it ends
	// that user's own least recently used session.
	MaxSessionsPerUser int
	// DownloadTTL is how long an export's download link works (default 1h).
	DownloadTTL time.Duration
	// Artifacts holds the files plugins hand over (default: the machine's
	// artifact.Default store); the console serves only those.
	Artifacts *artifact.Store
	// Origins judges where form posts come from (default: the server's
	// own origin only; add the reverse proxy's public origins).
	Origins *origin.Checker
	// Logger receives the console's log records (default slog.Default()).
	Logger *slog.Logger
	// Deadline is the board's upload deadline (processing.uploadDeadline,
	// default 30m): messages
	// older than two thirds of it are near, older than it past.
	Deadline time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Location is the zone every time is shown in, with its offset, and
	// times typed into searches are read in (console.timeZone; default:
	// the server's zone, time.Local).
	Location *time.Location
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Console is the console's HTTP handler. Create it with New.
type Console struct {
	b     Backend
	o     Options
	mux   *http.ServeMux
	pages map[string]*template.Template

	sessions  *sessions
	downloads *downloads
	devices   *devices
	// table is every route with the role it needs (routes.go); need is
	// each route's role by its pattern (the mux's answer), for mayOpen.
	table []route
	need  map[string]access.Role
	bulks bulks
}

// New returns the console for b.
func New(b Backend, o Options) (*Console, error) {
	if o.Wait <= 0 {
		o.Wait = 30 * time.Second
	}
	if o.LongWait <= 0 {
		o.LongWait = 10 * time.Minute
	}
	if o.MaxCall <= 0 {
		o.MaxCall = 15 * time.Minute
	}
	if o.SessionIdle <= 0 {
		o.SessionIdle = 30 * time.Minute
	}
	if o.HSTSMaxAge <= 0 {
		o.HSTSMaxAge = 365 * 24 * time.Hour
	}
	if o.SessionMax <= 0 {
		o.SessionMax = 12 * time.Hour
	}
	if o.MaxSessionsPerUser <= 0 {
		o.MaxSessionsPerUser = defaultMaxUserSessions
	}
	if o.DownloadTTL <= 0 {
		o.DownloadTTL = time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Audit == nil {
		// Records nothing, but logs every entry as an error.
		o.Audit = audit.New(nil, o.Logger)
	}
	if o.Origins == nil {
		o.Origins, _ = origin.New(nil)
	}
	if o.Lockout == nil {
		o.Lockout = access.NewLockout(0, 0, o.Now)
	}
	if o.Artifacts == nil {
		s, err := artifact.Default()
		if err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
		o.Artifacts = s
	}
	if o.Deadline <= 0 {
		o.Deadline = 30 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	pages, err := parsePages(o.Location)
	if err != nil {
		return nil, err
	}
	c := &Console{b: b, o: o, pages: pages,
		devices: newDevices(), sessions: newSessions(o.Now, o.SessionIdle, o.SessionMax, o.MaxSessionsPerUser),
		downloads: newDownloads(o.Now, o.DownloadTTL),
	}
	c.table = c.routeTable()
	c.mux = c.routes(c.table)
	c.need = make(map[string]access.Role, len(c.table))
	for _, rt := range c.table {
		c.need[rt.pattern] = rt.role
	}
	return c, nil
}

// Prefix is where the console is mounted.
const Prefix = "/console/"

// ServeHTTP implements http.Handler. Every response forbids framing,
// caching and outside scripts.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// same-origin: the browser names the page in the console's own requests
	// (the origin check's last resort) and never to other sites; with
	// no-referrer it would send "Origin: null" on form posts.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if c.secure(r) {
		h.Set("Strict-Transport-Security", fmt.Sprintf("max-age=%d", int(c.o.HSTSMaxAge/time.Second)))
	}
	c.mux.ServeHTTP(w, r)
}

// page is what every template receives.
type page struct {
	Title string
	// Nav is the key of the navigation entry that is on; Navs are the
	// navigation bar's entries the user's role may open (Console.nav).
	Nav      string
	Navs     []navItem
	Operator string
	// Role is the signed-in user's role; CanAct (operator or admin) and
	// IsAdmin let pages show only what the user may do.
	Role    access.Role
	CanAct  bool
	IsAdmin bool
	CSRF    string
	// may is Console.mayUse for the signed-in role (nil: signed out).
	may func(method, target string) bool
	// Secured is true when an admin token protects the console.
	Secured bool
	Flash   *flash
	Data    any
	// Zone names the zone the page's times are in (zoneLabel).
	Zone string
}

// May reports whether the signed-in user's role may send method to target
// (a console path): the route's own role check (Console.mayUse). Pages
// offer a button or link only when it does, so none answers 403.
func (p page) May(method, target string) bool { return p.may != nil && p.may(method, target) }

// flash is a one-time notice shown on the next page of the session.
type flash struct {
	OK     bool
	Title  string
	Lines  []string
	Errors []message.ReplyError
	// Fields are what a refused reply says besides its errors, as the
	// form declares its result (formSubmit).
	Fields    []resultField
	MessageID string
	// kept is what was typed in a refused document change, for the
	// document page to show again in its form (documentPage).
	kept *keptForm
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) {
	t := c.pages[name]
	if t == nil {
		panic("console: no template " + name)
	}
	p := page{Title: title, Nav: nav, Secured: c.o.AdminToken != "", Data: data, Zone: zoneLabel(c.o.Location, c.o.Now())}
	if s := sessionFrom(r); s != nil {
		p.Operator, p.CSRF = s.operator, s.csrf
		p.Role = s.Role()
		u := s.user()
		p.Navs = c.nav(u)
		p.CanAct, p.IsAdmin = p.Role.Allows(access.Operator), p.Role.Allows(access.Admin)
		p.may = func(method, target string) bool { return c.mayUse(u, method, target) }
		p.Flash = c.sessions.takeFlash(s)
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		c.o.Logger.Error("console: render page", "page", name, "err", err)
		http.Error(w, "the console could not render this page; see the medgate log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		// Every 503 is a transient outage: ask again soon, as the
		// admin API's do.
		w.Header().Set("Retry-After", strconv.Itoa(outage.RetryAfter))
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(buf.String()))
}

// problem is the data of the error page.
type problem struct {
	What, Detail, Fix string
	// SignIn, when set, is the sign-in page that leads back to the page
	// the refused form was on.
	SignIn string
}

// fail shows an error page saying what failed and how to fix it.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, what, detail, fix string) {
	c.render(w, r, status, "error", what, "", problem{What: what, Detail: detail, Fix: fix})
}

// redirect sends the browser to a console page after a POST.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// result is the outcome of one message sent by the console.
type result struct {
	ID    string
	Reply *message.Reply
	// Err is set when there is no reply (yet); it says what to do.
	Err error
}

// ok reports whether the reply is ok.
func (r result) ok() bool {
	return r.Err == nil && r.Reply != nil && r.Reply.Status == message.StatusOK
}

// flash turns a result into a notice.
func (r result) flash(okTitle string) *flash {
	f := &flash{MessageID: r.ID}
	switch {
	case r.Err != nil:
		f.Title = "操作未完成 (not done)"
		f.Lines = []string{r.Err.Error()}
	case r.Reply.Status == message.StatusOK:
		f.OK, f.Title = true, okTitle
	default:
		// The plugin's and the external system's words may quote a
		// patient: masked as the message page masks the same reply.
		f.Title = fmt.Sprintf("插件拒绝了操作 (%s)", r.Reply.Status)
		for _, e := range r.Reply.Errors {
			e.Message = logging.Mask(e.Message)
			f.Errors = append(f.Errors, e)
		}
		if x := r.Reply.External; x != nil && x.Message != "" {
			f.Lines = append(f.Lines, fmt.Sprintf("%s answered %s: %s", x.System, x.Code, logging.Mask(x.Message)))
		}
		if len(f.Errors) == 0 && len(f.Lines) == 0 {
			f.Lines = []string{"the reply carries no explanation; open the message for details"}
		}
	}
	return f
}

// errNoReply says a reply did not come in time.
var errNoReply = errors.New("no reply in time")

// errForeignOperation refuses an operation a plugin declared for the
// console (a form, a work list or its action, a document) that is not its
// own: the console acts for the plugin whose page the user is on, and
// never sends, as that user, another plugin's message.
var errForeignOperation = errors.New("the plugin declares an operation of another plugin")

// send runs one message of plugin through the pipeline. It waits at most
// wait for the reply; the message itself goes on in the background (never
// abandoned half-way, so it does not stay pending) within o.MaxCall. A
// type that is not the plugin's own ("<plugin>.<operation>") is not sent:
// the result's Err wraps errForeignOperation.
func (c *Console) send(ctx context.Context, wait time.Duration, prefix, plugin, site, typ, key string, payload any) result {
	if !strings.HasPrefix(typ, plugin+".") {
		c.o.Logger.Error("console: message not sent: the plugin declares an operation of another plugin", "plugin", plugin, "type", typ, "site", site)
		return result{Err: fmt.Errorf("%w: %s declares %q, which is not one of its own operations (%s.…), so the console did not send it; report this to the plugin's vendor",
			errForeignOperation, plugin, typ, plugin)}
	}
	id := prefix + randomHex(12)
	raw, err := json.Marshal(payload)
	if err != nil {
		return result{ID: id, Err: fmt.Errorf("the console could not encode the request: %w", err)}
	}
	env := message.Envelope{ID: id, Site: site, Type: typ, OccurredAt: c.o.Now().Format(time.RFC3339), Format: "json", Payload: raw}
	value, err := json.Marshal(env)
	if err != nil {
		return result{ID: id, Err: fmt.Errorf("the console could not encode the request: %w", err)}
	}
	if key == "" {
		key = id
	}
	done := make(chan result, 1)
	go func() {
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.MaxCall)
		defer cancel()
		rep, err := c.b.Process(bctx, pipeline.Input{Value: value, Key: key, TraceID: id})
		if err != nil {
			c.o.Logger.Error("console: message not finished", "id", id, "type", typ, "site", site, "err", err)
			if o, down := outage.Dependency(err); down {
				// The driver's error names the database's host and
				// account: the page says only what is down (the log
				// has the error). Kafka's errors may come here too, so
				// only those the ingress marked as the store's or
				// Kafka's, and the database drivers' own, count
				// (outage.Dependency).
				err = fmt.Errorf("medgate could not finish message %s: %s; 这是暂时的故障 (a temporary outage): try again in a few seconds", id, o)
			} else {
				err = fmt.Errorf("medgate could not finish message %s (%v); check /readyz (store, Kafka) and try again", id, err)
			}
		}
		done <- result{ID: id, Reply: rep, Err: err}
	}()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case res := <-done:
		return res
	case <-t.C:
		return result{ID: id, Err: fmt.Errorf("%w: %s (%s at site %s) had no reply within %s; it goes on in the background — open the message page for its outcome later",
			errNoReply, id, typ, site, wait)}
	case <-ctx.Done():
		return result{ID: id, Err: fmt.Errorf("the browser left before the reply of %s came; open the message page for its outcome", id)}
	}
}

// pluginByName returns the running plugin with that name.
func (c *Console) pluginByName(name string) *Plugin {
	for _, p := range c.b.Plugins() {
		if p.Name == name {
			return &p
		}
	}
	return nil
}

// sitesOf lists the sites where a plugin is enabled (none if it is not running).
func (c *Console) sitesOf(name string) []string {
	if p := c.pluginByName(name); p != nil {
		return p.Sites
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("console: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// downloads maps random tokens to artifacts for a limited time, so a
// link works only in the session that got the reply, and not for long.
type downloads struct {
	mu  sync.Mutex
	now func() time.Time
	ttl time.Duration
	m   map[string]download
}

// download is one artifact a reply named.
type download struct {
	ArtifactID string
	// Session is the id of the session that got the reply.
	Session string
	Expires time.Time
}

func newDownloads(now func() time.Time, ttl time.Duration) *downloads {
	return &downloads{now: now, ttl: ttl, m: map[string]download{}}
}

// add registers a file and returns its token.
func (d *downloads) add(f download) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	for k, v := range d.m {
		if !now.Before(v.Expires) {
			delete(d.m, k)
		}
	}
	tok := randomHex(24)
	f.Expires = now.Add(d.ttl)
	d.m[tok] = f
	return tok
}

// get returns the file of a token that has not expired.
func (d *downloads) get(tok string) (download, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.m[tok]
	if !ok {
		return download{}, false
	}
	if !d.now().Before(f.Expires) {
		delete(d.m, tok)
		return download{}, false
	}
	return f, true
}
