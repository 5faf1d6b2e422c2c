package console

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/api/origin"
	"github.com/medgate/medgate/host/internal/api/outage"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/message"
)

// cookieName is the session cookie. It holds a random session id only.
const cookieName = "medgate_console"

// maxSessions bounds the session map: the last resort once many users
// hold sessions; the least recently used session of all ends first.
const maxSessions = 1000

// defaultMaxUserSessions is Options.MaxSessionsPerUser's default: the
// sessions one holder (holder) may have. A sign-in past the bound ends
// that holder's own least recently used session, so signing in again and
// again (a script) never pushes other users' out.
const defaultMaxUserSessions = 20

// confirmGrace is how long a session is served pages from what it holds
// while the store cannot confirm it (an outage): past it since the store
// last confirmed the session, a request is answered 503 with Retry-After
// instead, so a user disabled, removed or changed meanwhile (by another
// instance, or `medgate user`) keeps no access for longer. A post is never
// carried out on a session the store did not confirm at that request.
const confirmGrace = 60 * time.Second

// session is one signed-in user.
type session struct {
	id       string
	csrf     string
	operator string       // the user's name, recorded with every change
	role     atomic.Int32 // what the user may do (an access.Role)
	via      string       // how the user signed in: password, admin token, proxy, open console
	// stamp is the stored user's access.User.Stamp at sign-in (empty for
	// the admin token and the open console, which are no stored user's).
	stamp string
	// sites is the user's site scope at sign-in (access.User.Sites; a
	// change of it changes the stamp, which ends the session): empty,
	// every site.
	sites   []string
	created time.Time
	seen    time.Time
	// confirmed is when the store last confirmed the session (its
	// sign-in, or Console.current's check); guarded by sessions.mu.
	confirmed time.Time
	flash     *flash
}

// sessions is the server-side session map.
type sessions struct {
	mu        sync.Mutex
	now       func() time.Time
	idle, max time.Duration
	// perUser is the most sessions one holder may have (at least 1).
	perUser int
	m       map[string]*session
}

func newSessions(now func() time.Time, idle, max time.Duration, perUser int) *sessions {
	if perUser < 1 {
		perUser = 1
	}
	return &sessions{now: now, idle: idle, max: max, perUser: perUser, m: map[string]*session{}}
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.seen) >= ss.idle || now.Sub(s.created) >= ss.max
}

// holder is whose sessions count together against sessions.perUser: the
// user's name; for sessions of the admin token or the open console, which
// sign in under any name, the credential itself, so changing the name
// does not get around the bound.
func holder(operator, via string) string {
	if via == viaToken || via == viaOpen {
		return "\x00" + via
	}
	return operator
}

// holderName is a holder as the audit log and the log say it.
func holderName(operator, via string) string {
	switch via {
	case viaToken:
		return "the admin token"
	case viaOpen:
		return "the open console"
	}
	return operator
}

// evicted is a live session create ended to make room, and why.
type evicted struct {
	*session
	why string
}

// create starts a session for a user; stamp is the stored user's
// access.User.Stamp ("" when the session is no stored user's). It drops
// expired sessions, then makes room: when the user (holder) already has
// sessions.perUser, their own least recently used one ends; else, when
// the map is full, the least recently used one of all. It returns the
// live sessions it ended, for the caller to audit.
func (ss *sessions) create(operator string, role access.Role, via, stamp string, sites []string) (*session, []evicted) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	who := holder(operator, via)
	var lru, own *session
	owned := 0
	for id, s := range ss.m {
		if ss.expired(s, now) {
			delete(ss.m, id)
			continue
		}
		if lru == nil || s.seen.Before(lru.seen) {
			lru = s
		}
		if holder(s.operator, s.via) == who {
			owned++
			if own == nil || s.seen.Before(own.seen) {
				own = s
			}
		}
	}
	var out []evicted
	switch {
	case owned >= ss.perUser:
		delete(ss.m, own.id)
		out = append(out, evicted{own, fmt.Sprintf("session limit: %s already had %d sessions, the most one user may hold; its least recently used one (via %s, signed in %s) ended for a new sign-in",
			holderName(operator, via), owned, own.via, own.created.UTC().Format(time.RFC3339))})
	case len(ss.m) >= maxSessions:
		delete(ss.m, lru.id)
		out = append(out, evicted{lru, fmt.Sprintf("session limit: the console held %d sessions, the most it keeps; the least recently used of all (%s's, via %s, signed in %s) ended for %s's new sign-in",
			len(ss.m)+1, lru.operator, lru.via, lru.created.UTC().Format(time.RFC3339), holderName(operator, via))})
	}
	s := &session{id: randomHex(32), csrf: randomHex(32), operator: operator, via: via, stamp: stamp, sites: sites, created: now, seen: now, confirmed: now}
	s.role.Store(int32(role))
	ss.m[s.id] = s
	return s, out
}

// startSession starts a session (sessions.create) for the user signing
// in with r and audits every session it ended to make room, as done by
// that user (action session.evicted, the ended session's user as target).
func (c *Console) startSession(r *http.Request, operator string, role access.Role, via, stamp string, sites []string) *session {
	s, ended := c.sessions.create(operator, role, via, stamp, sites)
	actor := audit.Actor{Name: operator, Role: role.String(), Remote: c.clientAddr(r)}
	for _, e := range ended {
		c.o.Logger.Warn("console: session ended to make room for a new sign-in", "user", e.operator, "via", e.via, "signingIn", operator, "reason", e.why)
		_ = c.o.Audit.Write(r.Context(), actor, audit.Entry{Action: "session.evicted", Target: e.operator, Outcome: audit.OK, Detail: "会话数已达上限，最久未用的会话已结束，为新的登录腾出位置。" + e.why})
	}
	return s
}

// reuse returns the live session a trusted reverse proxy's user already
// has with that role and stamp (the most recently seen), marked seen
// unless the request is a page's own reload (touch false); nil
// when there is none. Requests the proxy names the user in but that carry
// no session cookie (a script, a health check) share it, so they do not
// fill the map and push other users' sessions out.
func (ss *sessions) reuse(operator string, role access.Role, stamp string, touch bool) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	var found *session
	for id, s := range ss.m {
		if s.via != viaProxy || s.operator != operator || s.Role() != role || s.stamp != stamp {
			continue
		}
		if ss.expired(s, now) {
			delete(ss.m, id)
			continue
		}
		if found == nil || s.seen.After(found.seen) {
			found = s
		}
	}
	if found != nil && touch {
		found.seen = now
	}
	return found
}

// get returns the live session with that id and, when touch is set,
// marks it seen (a user's request; a page's own reload is not one, see
// autoRefresh).
func (ss *sessions) get(id string, touch bool) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[id]
	if s == nil {
		return nil
	}
	now := ss.now()
	if ss.expired(s, now) {
		delete(ss.m, id)
		return nil
	}
	if touch {
		s.seen = now
	}
	return s
}

// confirm records that the store confirmed s now (Console.current).
func (ss *sessions) confirm(s *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s.confirmed = ss.now()
}

// unconfirmedFor is how long ago the store last confirmed s.
func (ss *sessions) unconfirmedFor(s *session) time.Duration {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.now().Sub(s.confirmed)
}

func (ss *sessions) end(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, id)
}

// Role is what the session's user may do now.
func (s *session) Role() access.Role { return access.Role(s.role.Load()) }

// user is the session's user: name, role and site scope.
func (s *session) user() access.User {
	return access.User{Name: s.operator, Role: s.Role(), Sites: s.sites}
}

func (ss *sessions) setFlash(s *session, f *flash) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s.flash = f
}

// peekFlash returns the session's flash without taking it (the page that
// renders it takes it).
func (ss *sessions) peekFlash(s *session) *flash {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return s.flash
}

func (ss *sessions) takeFlash(s *session) *flash {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	f := s.flash
	s.flash = nil
	return f
}

type ctxKey struct{}

// sessionFrom returns the request's session (nil before sign-in).
func sessionFrom(r *http.Request) *session {
	s, _ := r.Context().Value(ctxKey{}).(*session)
	return s
}

// auth lets a request through only with a live session whose role allows
// need (a page's own reload, autoRefresh, does not count as activity for
// the idle timeout); unsafe methods also need the session's CSRF token and must come
// from the console's own pages. A request from a trusted reverse proxy
// naming a user gets (or keeps) a session for that user. The handler
// runs with the session and the audit actor in its context; a change no
// handler recorded itself is recorded here, so none goes unaudited.
func (c *Console) auth(need access.Role, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.proxySession(w, r)
		if !ok {
			return
		}
		if s == nil {
			if ck, err := r.Cookie(cookieName); err == nil {
				s = c.sessions.get(ck.Value, !autoRefresh(r))
			}
			if s, ok = c.confirmed(w, r, s); !ok {
				return
			}
		}
		if s == nil {
			if safeMethod(r.Method) {
				redirect(w, r, Prefix+"login?next="+url.QueryEscape(r.URL.RequestURI()))
				return
			}
			c.render(w, r, http.StatusForbidden, "error", "未登录 (not signed in)", "", problem{What: "未登录 (not signed in)",
				Detail: "您的控制台会话已结束或从未开始，这次操作没有执行。Your console session has ended or was never started; this action was not done.",
				Fix:    "请点击下面的“登录”重新登录，回到原页面后再操作。Sign in again with the button below; it brings you back to the page, then repeat the action.",
				SignIn: Prefix + "login?next=" + url.QueryEscape(formPage(r))})
			return
		}
		ctx := audit.With(context.WithValue(r.Context(), ctxKey{}, s), c.o.Audit,
			audit.Actor{Name: s.operator, Role: s.Role().String(), Remote: c.clientAddr(r)})
		r = r.WithContext(ctx)
		if !safeMethod(r.Method) {
			if !c.fromOwnPage(w, r, "form") {
				return
			}
			if why := c.readForm(w, r, c.bodyLimit(r), "form", "请一次少提交一些：把一长串追溯码分几次修改，选择不超过 "+sizeText(maxUpload)+" 的文件，或刷新页面后重新提交。"+
				"Send less at once: split a long list of codes over several changes, choose files of at most "+
				sizeText(maxUpload)+", or reload the page and send the form again."); why != "" {
				// A refused post, audited like one refused for the role.
				_ = audit.Record(ctx, audit.Entry{Action: "console.refused", Target: r.URL.Path, Outcome: audit.Refused,
					Detail: "表单被拒收（route " + r.Pattern + "）。route " + r.Pattern + ": " + why})
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 {
				c.fail(w, r, http.StatusForbidden, "表单已失效 (form expired)",
					"表单的安全令牌与您的会话不符（页面是在您重新登录之前或在另一个浏览器中打开的）。"+
						"The form's security token does not match your session (the page was opened before you signed in again, or in another browser).",
					"请刷新页面后重新提交表单。Reload the page and submit the form again.")
				return
			}
		}
		if !s.Role().Allows(need) {
			c.o.Logger.Warn("console: request refused: role too low", "user", s.operator, "role", s.Role().String(), "need", need.String(), "route", r.Pattern)
			if !safeMethod(r.Method) {
				_ = audit.Record(ctx, audit.Entry{Action: "console.refused", Target: r.URL.Path, Outcome: audit.Refused,
					Detail: "需要角色 " + need.String() + "，当前为 " + s.Role().String() + "。needs role " + need.String() + ", has " + s.Role().String()})
			}
			c.fail(w, r, http.StatusForbidden, "权限不足 (not allowed)",
				"此页面或操作需要角色 "+need.Label()+"；您以 "+s.operator+" 登录，角色为 "+s.Role().Label()+"。"+
					"This page or action needs the role "+need.Label()+"; you are signed in as "+s.operator+" with the role "+s.Role().Label()+".",
				"请管理员修改您的角色（medgate user role "+s.operator+" "+need.String()+"），或以有此角色的用户登录。"+
					"Ask an administrator to change your role (medgate user role "+s.operator+" "+need.String()+"), or sign in as a user who has it.")
			return
		}
		if u := s.user(); u.Scoped() && !siteScoped[r.Pattern] {
			c.o.Logger.Warn("console: request refused: not open to users limited to sites", "user", s.operator, "route", r.Pattern)
			if !safeMethod(r.Method) {
				_ = audit.Record(ctx, audit.Entry{Action: "console.refused", Target: r.URL.Path, Outcome: audit.Refused,
					Detail: "限于院区（" + strings.Join(u.Sites, ",") + "）的用户不能使用 " + r.Pattern + "。route " + r.Pattern + " is not open to users limited to sites (" + strings.Join(u.Sites, ",") + ")"})
			}
			c.scopeRefusedPage(w, r, u)
			return
		}
		if safeMethod(r.Method) {
			next(w, r)
			return
		}
		if !auditsItself[r.Pattern] {
			// Announced before it is made (see package audit): a change
			// the audit log cannot take is not made.
			actx, err := audit.Begin(ctx, changeEntry(r, audit.Attempted))
			if err != nil {
				c.auditFailed(w, r, err)
				return
			}
			ctx = actx
			r = r.WithContext(ctx)
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next(sw, r)
		if !audit.Recorded(ctx) {
			e := changeEntry(r, audit.OK)
			if sw.status >= 400 {
				e.Outcome, e.Detail = audit.Failed, fmt.Sprintf("%s: HTTP %d", e.Detail, sw.status)
			}
			_ = audit.Record(ctx, e)
		}
	})
}

// auditsItself lists the posts that are not announced as attempted
// before their handler runs: signing out (it only takes access away, so it
// is never refused) and revealing personal data (its handler records the
// reveal before it shows anything, and shows nothing when it cannot).
var auditsItself = map[string]bool{
	logoutRoute:                         true,
	"POST " + Prefix + "message/reveal": true,
}

// auditFailed answers a post that was not carried out because its audit
// entry could not be written first (err, from audit.Begin): the store's
// page for a passing outage (503 with Retry-After, naming the store), else
// a 500 that says to tell the administrator (no audit store, a fault of
// the store). Neither shows the error's text (the log has it).
func (c *Console) auditFailed(w http.ResponseWriter, r *http.Request, err error) {
	c.notAudited(w, r, "Nothing was done: every change is recorded in the audit log before it is made, and the entry could not be written", err)
}

// notAudited answers a request not carried out because its audit entry
// (err) could not be written first; what says so (auditFailed).
func (c *Console) notAudited(w http.ResponseWriter, r *http.Request, what string, err error) {
	if o, down := outage.Store(err); down {
		c.o.Logger.Error("console: not done: its audit entry could not be written", "path", r.URL.Path, "dependency", o.Dependency, "err", err)
		c.fail(w, r, http.StatusServiceUnavailable, "无法记录审计，未执行 (not done: audit log unavailable)",
			what+": "+o.String()+". 这是暂时的故障 (a temporary outage), not a problem with your request.", retryFix)
		return
	}
	c.o.Logger.Error("console: not done: its audit entry could not be written", "path", r.URL.Path, "err", err)
	c.fail(w, r, http.StatusInternalServerError, "无法记录审计，未执行 (not done: audit log unavailable)", what+".",
		"这不是暂时的故障，重试无济于事：请把发生的时间告诉管理员，medgate 日志（\"console: not done\"）中有原因。"+
			"This is not a temporary outage, so trying again will not help: tell the administrator the time it happened; the medgate log (\"console: not done\") has the cause.")
}

// changeEntry is the audit entry of a post (its attempt, and its outcome
// when no handler recorded it): the route's action, its path, and the
// names and ids of the console's own fields, masked (logging.Mask); never
// the fields of a plugin's form, whose names are the plugin's (an "id"
// there may be a patient's ID number).
func changeEntry(r *http.Request, outcome string) audit.Entry {
	_ = r.PostFormValue("site") // parses the form (multipart too)
	// Every site named (a bulk replay may name several).
	e := audit.Entry{Action: cmp.Or(auditActions[r.Pattern], "console.post"), Target: r.URL.Path, Site: strings.Join(r.PostForm["site"], ","),
		Outcome: outcome, Detail: "控制台操作 " + r.Pattern + "。route " + r.Pattern}
	if r.Pattern == formRoute { // the fields are the plugin's, whatever their names
		return e
	}
	for _, k := range []string{"job", "plugin", "list", "action", "id", "edit"} { // names and ids only: never form values (personal data)
		if v := r.PostFormValue(k); v != "" && len(v) <= 200 {
			e.Detail += "; " + k + " " + logging.Mask(v)
		}
	}
	return e
}

// recordUndone records a post whose handler answers with a notice (a
// redirect) although the change was refused or failed, so the audit log
// does not say ok; why names the kind of failure, never the error's text.
func recordUndone(r *http.Request, outcome, why string) {
	e := changeEntry(r, outcome)
	e.Detail += ": " + why
	_ = audit.Record(r.Context(), e)
}

// recordResult records a post whose message was not answered ok (the
// handler shows the reply on its page or after a redirect): refused when
// the plugin refused it (invalid, rejected), failed when it failed or
// had no reply in time.
func recordResult(r *http.Request, res result) {
	switch {
	case res.ok():
	case errors.Is(res.Err, errForeignOperation):
		recordUndone(r, audit.Refused, "operation of another plugin, not sent")
	case res.Err != nil:
		recordUndone(r, audit.Failed, "message "+res.ID+": no reply")
	case res.Reply.Status == message.StatusFailed:
		recordUndone(r, audit.Failed, "message "+res.ID+": "+res.Reply.Status)
	default:
		recordUndone(r, audit.Refused, "message "+res.ID+": "+res.Reply.Status)
	}
}

// current keeps a session of a stored user (signed in with a password,
// or named by a trusted proxy without a role header) in step with the
// store, read at every request: a user who was removed, disabled, or
// whose password, role or enabled state changed since the session began
// (the stamp differs; the change may come from `medgate user` or any
// instance sharing the store) is signed out at that request; signing in
// again gives the new role. A session of the open console ends once a
// user exists. A session of the admin token ends once a stored user has
// its name (the token signs in only under names that are no user's):
// it would otherwise go on as admin, every change recorded under that
// user's name. Other sessions pass unchanged. A session the store
// confirmed is marked so (sessions.confirm); when the store could not be
// read, current returns the session with the error, for confirmed to
// decide.
func (c *Console) current(ctx context.Context, s *session) (*session, error) {
	if s == nil {
		return nil, nil
	}
	var err error
	switch {
	case s.via == viaToken && c.o.Users != nil:
		var taken bool
		if taken, err = c.o.Users.Exists(ctx, s.operator); err == nil && taken {
			c.o.Logger.Info("console: session ended: a user with this name was added; the admin token no longer signs in under it", "user", s.operator)
			c.sessions.end(s.id)
			return nil, nil
		}
	case s.via == viaOpen:
		// The open console ends with the first user: from then on
		// everyone needs credentials.
		var open bool
		if open, err = c.openConsole(ctx); err == nil && !open {
			c.o.Logger.Info("console: session ended: the console is no longer open (a user exists)", "user", s.operator)
			c.sessions.end(s.id)
			return nil, nil
		}
	case (s.via == viaPassword || s.via == viaProxy && c.o.Proxy.RoleHeader == "") && c.o.Users != nil:
		var u access.User
		u, err = c.o.Users.Lookup(ctx, s.operator)
		switch {
		case errors.Is(err, access.ErrBadCredentials):
			c.o.Logger.Info("console: session ended: the user is disabled or gone", "user", s.operator)
			c.sessions.end(s.id)
			return nil, nil
		case err == nil && u.Stamp != s.stamp:
			c.o.Logger.Info("console: session ended: the user's password, role or enabled state changed since sign-in", "user", s.operator)
			c.sessions.end(s.id)
			return nil, nil
		}
	}
	if err != nil {
		return s, err
	}
	c.sessions.confirm(s)
	return s, nil
}

// confirmed checks s against the store (current) and reports whether the
// request may go on with the session it returns (nil: signed out). When
// the store cannot be read (an outage, or another fault), the session is
// unconfirmed: signing out always goes on (it only takes access away);
// a page (GET) is still served from it for confirmGrace
// after the store last confirmed it, so a passing outage of a few
// seconds does not stop anyone; past that, and for every post whatever
// the time (no change is made on a session the store did not confirm
// at that request), the request is refused with the store's failure page
// (storeFailed: 503 with Retry-After for an outage, 500 otherwise), and
// confirmed reports false.
func (c *Console) confirmed(w http.ResponseWriter, r *http.Request, s *session) (*session, bool) {
	s, err := c.current(r.Context(), s)
	if err == nil {
		return s, true
	}
	age := c.sessions.unconfirmedFor(s)
	if r.Pattern == logoutRoute {
		// Signing out only takes access away: never refused.
		return s, true
	}
	if safeMethod(r.Method) && age < confirmGrace {
		c.o.Logger.Warn("console: the store cannot confirm the session; serving the page from it within the grace", "user", s.operator, "via", s.via,
			"confirmedAgo", age.Round(time.Second).String(), "grace", confirmGrace.String(), "err", err)
		return s, true
	}
	c.o.Logger.Warn("console: request refused: the store cannot confirm the session", "user", s.operator, "via", s.via, "method", r.Method,
		"path", r.URL.Path, "confirmedAgo", age.Round(time.Second).String())
	what := fmt.Sprintf("medgate could not check your session against the store (it was last confirmed %s ago; a user disabled meanwhile must not go on), so nothing was shown or done",
		age.Round(time.Second))
	c.storeFailed(w, r, "无法确认登录 (session not confirmed)", what, err)
	return nil, false
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// safeMethod reports whether a method only reads.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead
}

// clientAddr is the client's address, the one a trusted proxy forwards.
func (c *Console) clientAddr(r *http.Request) string {
	return c.o.Proxy.ClientAddr(r)
}

// proxySession returns the session of the user a trusted reverse proxy
// names (when the request has no cookie of that user's, the user's live
// proxy session with the same role and stamp, or else a new one, audited
// as a sign-in; either with a cookie), nil when the proxy names nobody. ok is false when it refused the
// request (an unknown role or user; the store could not be read, or could
// not confirm the session: Console.confirmed) and wrote the page.
func (c *Console) proxySession(w http.ResponseWriter, r *http.Request) (*session, bool) {
	name, roleName, found := c.o.Proxy.Identity(r)
	if !found {
		return nil, true
	}
	if ck, err := r.Cookie(cookieName); err == nil {
		if s := c.sessions.get(ck.Value, !autoRefresh(r)); s != nil && s.via == viaProxy && s.operator == name &&
			(c.o.Proxy.RoleHeader == "" || strings.EqualFold(s.Role().String(), roleName)) {
			// Without a role header the role is the stored user's: a
			// session the user's change ended is made again below
			// (with the new role) or refused (a disabled user).
			s, ok := c.confirmed(w, r, s)
			if !ok {
				return nil, false
			}
			if s != nil {
				return s, true
			}
		}
	}
	actor := audit.Actor{Name: name, Remote: c.clientAddr(r)}
	var role access.Role
	var stamp string
	var sites []string
	var err error
	switch {
	case c.o.Proxy.RoleHeader != "":
		role, err = access.ParseRole(roleName)
	case c.o.Users != nil:
		var u access.User
		u, err = c.o.Users.Lookup(r.Context(), name)
		if err != nil && !errors.Is(err, access.ErrBadCredentials) {
			// The store failed, not the identity: its page, never the
			// error's text (it names the database's host and account).
			c.storeFailed(w, r, "无法登录 (sign-in unavailable)",
				"medgate could not read the user "+name+" the reverse proxy names from the store, so nothing was signed in", err)
			return nil, false
		}
		role, stamp, sites = u.Role, u.Stamp, u.Sites
	default:
		err = errors.New("no role header is configured and medgate has no users")
	}
	if err == nil {
		err = access.CheckName(name)
	}
	if err != nil {
		c.o.Logger.Warn("console: proxy identity refused", "user", name, "remote", actor.Remote, "err", err)
		_ = c.o.Audit.Write(r.Context(), actor, audit.Entry{Action: "login", Outcome: audit.Refused, Detail: "反向代理给出的身份不被接受。proxy identity: " + err.Error()})
		c.fail(w, r, http.StatusForbidden, "身份无法识别 (identity not accepted)",
			"反向代理以 "+name+" 为您登录，但 medgate 无法为该身份确定角色。"+
				"The reverse proxy signed you in as "+name+", but medgate cannot give that identity a role: "+err.Error()+".",
			"请管理员在 "+c.o.Proxy.RoleHeader+" 中发送有效的角色（viewer、operator 或 admin），或添加该用户（medgate user add）。"+
				"Ask the administrator to send a valid role (viewer, operator or admin) in "+c.o.Proxy.RoleHeader+", or to add the user (medgate user add).")
		return nil, false
	}
	// The user's live session with this role (and, without a role
	// header, this stamp: the stored user as just read) serves a request
	// without its cookie; a new one would push the oldest session of
	// whoever out of the full map.
	if s := c.sessions.reuse(name, role, stamp, !autoRefresh(r)); s != nil {
		c.sessions.confirm(s) // the user was just read, or the proxy names the role
		c.setCookie(w, r, s.id, 0)
		return s, true
	}
	// Recorded before the session starts (as a sign-in with a password).
	actor.Role = role.String()
	if err := c.o.Audit.Write(r.Context(), actor, audit.Entry{Action: "login", Outcome: audit.OK, Detail: "经反向代理头 " + c.o.Proxy.UserHeader + " 登录。via reverse proxy header " + c.o.Proxy.UserHeader}); err != nil {
		c.notAudited(w, r, signInNotAudited, err)
		return nil, false
	}
	s := c.startSession(r, name, role, viaProxy, stamp, sites)
	c.setCookie(w, r, s.id, 0)
	return s, true
}

// How a session was signed in.
const (
	viaPassword = "password"
	viaToken    = "admin token"
	viaProxy    = "reverse proxy"
	viaOpen     = "open console"
)

// viaZH says in Chinese how a session was signed in (for the audit log).
var viaZH = map[string]string{viaPassword: "密码", viaToken: "管理令牌", viaProxy: "反向代理", viaOpen: "开放控制台"}

// secure reports whether the browser reaches the console over HTTPS.
func (c *Console) secure(r *http.Request) bool { return r.TLS != nil || c.o.HTTPS }

// browserOnHTTPS reports whether the request shows that the browser is on
// HTTPS although medgate got it over plain HTTP (a TLS proxy that
// console.https does not declare): the page that sent it (Origin, else
// Referer) is an https one, or the proxy forwards X-Forwarded-Proto:
// https. Nobody gains by faking these: they only make the cookie Secure.
func browserOnHTTPS(r *http.Request) bool {
	from := r.Header.Get("Origin")
	if from == "" || from == "null" {
		from = r.Header.Get("Referer")
	}
	if u, err := url.Parse(from); err == nil && strings.EqualFold(u.Scheme, "https") {
		return true
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// setCookie sets the session cookie (maxAge < 0 deletes it). It is Secure
// when the browser reaches the console over HTTPS (secure), and also when
// the request shows the browser is on HTTPS behind an undeclared TLS proxy
// (browserOnHTTPS), so the session id never travels over plain HTTP.
func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: Prefix, MaxAge: maxAge, HttpOnly: true,
		Secure: c.secure(r) || browserOnHTTPS(r), SameSite: http.SameSiteStrictMode})
}

// fromOwnPage refuses a POST unless the browser's headers show it was
// sent by the console's own pages (package origin); a POST with none of
// Sec-Fetch-Site, Origin or Referer is refused too, since every browser
// the console supports sends at least one. It writes the refusal page and
// logs the reason.
func (c *Console) fromOwnPage(w http.ResponseWriter, r *http.Request, what string) bool {
	res := c.o.Origins.Check(r)
	if res.Verdict == origin.Same {
		return true
	}
	c.o.Logger.Warn("console: request refused: not from the console's own pages", "path", r.URL.Path, "remote", c.clientAddr(r), "reason", res.Reason)
	c.fail(w, r, http.StatusForbidden, "请求来源不符 (cross-site request refused)",
		"该请求不是从本控制台自己的页面发出的。The "+what+" was not sent from this console's own pages ("+res.Reason+").",
		"请直接在浏览器中打开 "+Prefix+" 并使用其页面；在反向代理之后时，请把工作人员输入的地址列入 console.publicOrigins。"+
			"Open "+Prefix+" directly in the browser and use its pages. Behind a reverse proxy, list the address staff type (e.g. https://medgate.hospital.example) in console.publicOrigins.")
	return false
}

// onThisMachine reports whether a client address (Console.clientAddr)
// is loopback: the open console is for this machine only, not for the
// clients a trusted reverse proxy on it forwards.
func onThisMachine(addr string) bool {
	a, err := netip.ParseAddr(addr)
	return err == nil && a.Unmap().IsLoopback()
}

// loginData is the login page's data.
type loginData struct {
	Next    string
	User    string
	Problem string
	// Open: no users and no admin token, a name is enough.
	Open bool
	// Token: the admin token may sign in (bootstrap).
	Token bool
}

// openConsole reports whether the console needs no password: no admin
// token is configured and medgate has no users (loopback only; the
// configuration refuses another listen address without a token, and
// login refuses a client a trusted reverse proxy forwards).
func (c *Console) openConsole(ctx context.Context) (bool, error) {
	if c.o.AdminToken != "" {
		return false, nil
	}
	if c.o.Users == nil {
		return true, nil
	}
	any, err := c.o.Users.Any(ctx)
	return !any, err
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	open, err := c.openConsole(r.Context())
	if err != nil {
		c.o.Logger.Error("console: read users", "err", err)
	}
	c.render(w, r, http.StatusOK, "login", "登录 (sign in)", "", loginData{Next: safeNext(r.URL.Query().Get("next")), Open: open, Token: c.o.AdminToken != ""})
}

// checkOpenName returns the trimmed name typed in the open console, or a problem.
func checkOpenName(s string) (string, string) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", "请输入用户名 (enter your name or staff number): every change is recorded with it."
	case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", "The name contains control characters; type it as plain text."
	case utf8.RuneCountInString(s) > access.MaxNameLen:
		return "", "The name is longer than 64 characters; shorten it."
	}
	return s, ""
}

// maxLoginBody bounds the body of the public sign-in form (a name, a
// password and the page to return to).
const maxLoginBody = 64 << 10

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	// Anyone may post here: read at most maxLoginBody, not the 32 MB of
	// memory (and files on disk) a multipart form may otherwise take.
	if c.readForm(w, r, maxLoginBody, "sign-in form", "请打开 "+Prefix+"login 并在该页登录。Open "+Prefix+"login and sign in from that page.") != "" {
		return
	}
	d := loginData{Next: safeNext(r.PostFormValue("next")), User: strings.TrimSpace(r.PostFormValue("user")), Token: c.o.AdminToken != ""}
	if !c.fromOwnPage(w, r, "sign-in form") {
		return
	}
	addr := c.clientAddr(r)
	actor := audit.Actor{Name: d.User, Remote: addr}
	open, err := c.openConsole(r.Context())
	if err != nil {
		c.o.Logger.Error("console: sign-in unavailable: cannot read the users from the store", "remote", addr, "err", err)
		c.signInUnavailable(w, r, err)
		return
	}
	d.Open = open
	show := func(status int, problem string) {
		d.Problem = problem
		c.render(w, r, status, "login", "登录 (sign in)", "", d)
	}
	var role access.Role
	var via, stamp string
	var sites []string
	switch {
	case open && !onThisMachine(addr):
		c.o.Logger.Warn("console: sign-in refused: the console is open to this machine only", "remote", addr)
		_ = c.o.Audit.Write(r.Context(), actor, audit.Entry{Action: "login", Outcome: audit.Refused, Detail: "开放控制台只接受本机登录。open console: not this machine"})
		c.fail(w, r, http.StatusForbidden, "无法登录 (sign-in refused)",
			"没有管理令牌和用户时，控制台只对 medgate 所在的机器开放，而 "+addr+"（经反向代理转发）不是那台机器。"+
				"Without an admin token or users the console is open only on the machine medgate runs on, and "+addr+" (forwarded by the reverse proxy) is not that machine.",
			"请设置 http.adminToken 并用它登录，或在 medgate 所在机器上添加用户（medgate user add）。Set http.adminToken and sign in with it, or add a user (medgate user add) on the medgate machine.")
		return
	case open:
		name, problem := checkOpenName(d.User)
		if problem != "" {
			show(http.StatusBadRequest, problem)
			return
		}
		d.User, actor.Name, role, via = name, name, access.Admin, viaOpen
	default:
		if d.User == "" {
			show(http.StatusBadRequest, "请输入用户名 (enter your user name).")
			return
		}
		if _, problem := checkOpenName(d.User); problem != "" {
			// No user and no bootstrap sign-in has such a name: refused
			// before the lockout keeps it, the log writes it or the page
			// echoes it (it may be megabytes long).
			_ = c.o.Audit.Write(r.Context(), actor, audit.Entry{Action: "login", Outcome: audit.Refused, Detail: "用户名不可用。unusable user name"})
			d.User = ""
			show(http.StatusBadRequest, problem)
			return
		}
		if c.o.AdminToken != "" && sameSecret(d.User, c.o.AdminToken) {
			// The admin token typed as the name: never recorded, logged
			// or shown back. Answered as any wrong password (no oracle for
			// guessing the token), and counted as a failed token sign-in.
			c.o.Lockout.Fail(tokenLockKey, addr)
			c.o.Logger.Warn("console: sign-in refused: the admin token was typed as the user name", "remote", addr)
			_ = c.o.Audit.Write(r.Context(), audit.Actor{Name: tokenAsName, Remote: addr}, audit.Entry{Action: "login", Outcome: audit.Refused,
				Detail: "用户名或密码错误：管理令牌被填在用户名里。wrong user name or password: the admin token typed as the user name"})
			d.User = ""
			show(http.StatusUnauthorized, "用户名或密码错误 (wrong user name or password). Ask an administrator to check your account (medgate user list).")
			return
		}
		if client, ok := c.clientTokenAsName(d.User); ok {
			// An ingress client's token typed as the name (a 64-character
			// hex token passes for one): never recorded, logged or shown
			// back, refused as a wrong password and counted as a failed
			// token sign-in, as the admin API does.
			c.o.Lockout.Fail(tokenLockKey, addr)
			what := "the token of the ingress client " + client
			c.o.Logger.Warn("console: sign-in refused: "+what+" was typed as the user name", "remote", addr)
			_ = c.o.Audit.Write(r.Context(), audit.Actor{Name: "(" + what + " typed as the user name)", Remote: addr}, audit.Entry{Action: "login", Outcome: audit.Refused,
				Detail: "用户名或密码错误：接入令牌被填在用户名里。wrong user name or password: " + what + " typed as the user name"})
			d.User = ""
			show(http.StatusUnauthorized, "用户名或密码错误 (wrong user name or password). Ask an administrator to check your account (medgate user list).")
			return
		}
		// A browser the user signed in in before counts apart from its
		// address (device.go): a guesser sharing the address does not lock
		// the user out of it.
		lockAt, inBrowser := c.lockAddr(r, d.User, addr)
		if ref := c.o.Lockout.Begin(d.User, lockAt); ref.Wait > 0 {
			if ref.AllAddresses {
				// Guesses at this user's password from many addresses:
				// from an address the user never signed in from, one
				// sign-in at a time (access.Lockout).
				secs := int((ref.Wait + time.Second - 1) / time.Second)
				c.o.Logger.Warn("console: sign-in refused: too many failed sign-ins for this user from many addresses; waiting its turn", "user", d.User, "remote", addr, "mustWait", ref.Wait.String())
				_ = c.o.Audit.Write(r.Context(), actor, audit.Entry{Action: "login", Outcome: audit.Refused, Detail: "该用户在多个地址登录失败次数过多，来自新地址的登录须等待。too many failed sign-ins for the user from many addresses; a new address waits its turn"})
				w.Header().Set("Retry-After", retryAfter(ref.Wait))
				at := c.tryAgainAt(ref.Wait)
				show(http.StatusTooManyRequests, fmt.Sprintf("登录失败次数过多：%[1]s 在多个地址登录失败次数过多；从 %[1]s 未曾登录过的地址，请于 %[2]s 之后（%[3]d 秒后）再登录；在常用的工作站可立即登录。"+
					"Too many failed sign-ins: %[1]s has had too many failed sign-ins from many addresses; from an address where %[1]s has not signed in before, wait %[3]d second(s), until %[2]s, then sign in again. From your usual workstation you can sign in at once.", d.User, at, secs))
				return
			}
			mins := int((ref.Wait + time.Minute - 1) / time.Minute)
			whereZH, where := lockPlace(inBrowser)
			until := c.lockedUntil(ref.Wait)
			_ = c.o.Audit.Write(r.Context(), actor, audit.Entry{Action: "login", Outcome: audit.Refused,
				Detail: "登录失败次数过多，" + whereZH + "已锁定至 " + until + "。locked out " + where + " until " + until})
			w.Header().Set("Retry-After", retryAfter(ref.Wait))
			at := c.tryAgainAt(ref.Wait)
			show(http.StatusTooManyRequests, fmt.Sprintf("登录失败次数过多：%[1]s %[4]s已被锁定，请于 %[2]s 之后（约 %[3]d 分钟后）再登录，或请管理员处理。"+
				"Too many failed sign-ins: %[1]s is locked out %[5]s for %[3]d more minute(s), until %[2]s. Wait, or ask an administrator.", d.User, at, mins, whereZH, where))
			return
		}
		var u access.User
		u, via, err = c.checkPassword(r.Context(), d.User, r.PostFormValue("password"), addr)
		role, stamp, sites = u.Role, u.Stamp, u.Sites
		if tl, ok := errors.AsType[*tokenLocked](err); ok {
			// Counted against the name too, user or not, so a user's
			// password is not guessed freely meanwhile; the answer is
			// the same whether the name is a user's.
			c.o.Lockout.Fail(d.User, lockAt)
			mins := int((tl.wait + time.Minute - 1) / time.Minute)
			c.o.Logger.Warn("console: sign-in refused: too many failed admin token sign-ins from this address", "user", d.User, "remote", addr)
			_ = c.o.Audit.Write(r.Context(), actor, audit.Entry{Action: "login", Outcome: audit.Refused, Detail: "管理令牌猜测次数过多，已锁定。locked out: admin token guesses"})
			w.Header().Set("Retry-After", retryAfter(tl.wait))
			at := c.tryAgainAt(tl.wait)
			show(http.StatusTooManyRequests, fmt.Sprintf("登录失败次数过多：此地址登录失败次数过多，请于 %[1]s 之后（约 %[2]d 分钟后）再登录，或请管理员处理。"+
				"Too many failed sign-ins from this address: wait %[2]d more minute(s), until %[1]s, or ask an administrator.", at, mins))
			return
		}
		if err != nil {
			if !errors.Is(err, access.ErrBadCredentials) {
				c.o.Logger.Error("console: sign-in unavailable: the sign-in could not be checked", "user", d.User, "remote", addr, "err", err)
				c.signInUnavailable(w, r, err)
				return
			}
			locked := c.o.Lockout.Fail(d.User, lockAt)
			c.o.Logger.Warn("console: sign-in refused", "user", d.User, "remote", addr, "inKnownBrowser", inBrowser, "lockedOut", locked)
			detail := "用户名或密码错误。wrong user name or password"
			if locked {
				// The failure that locks the user out says so, and until
				// when, as the refusals that follow do.
				until := c.lockedUntil(c.o.Lockout.Locked(d.User, lockAt))
				whereZH, where := lockPlace(inBrowser)
				detail = "用户名或密码错误，该用户" + whereZH + "已被锁定至 " + until + "。wrong user name or password; the user is now locked out " + where + " until " + until
			}
			_ = c.o.Audit.Write(r.Context(), actor, audit.Entry{Action: "login", Outcome: audit.Refused, Detail: detail})
			show(http.StatusUnauthorized, "用户名或密码错误 (wrong user name or password). Ask an administrator to check your account (medgate user list).")
			return
		}
		// From the user's own browser the address's count is left alone
		// (it may be a guesser's at a shared address).
		c.o.Lockout.Succeed(d.User, lockAt)
	}
	// Recorded before the session starts: a sign-in the audit log cannot
	// take is not made.
	actor.Role = role.String()
	if err := c.o.Audit.Write(r.Context(), actor, audit.Entry{Action: "login", Outcome: audit.OK, Detail: "经" + viaZH[via] + "登录。via " + via}); err != nil {
		c.notAudited(w, r, signInNotAudited, err)
		return
	}
	if ck, err := r.Cookie(cookieName); err == nil {
		c.sessions.end(ck.Value)
	}
	s := c.startSession(r, d.User, role, via, stamp, sites)
	c.setCookie(w, r, s.id, 0)
	if via == viaPassword {
		c.rememberDevice(w, r, d.User)
	}
	c.o.Logger.Info("console: signed in", "user", d.User, "role", role.String(), "via", via, "remote", addr)
	redirect(w, r, d.Next)
}

// signInUnavailable answers a sign-in medgate could not check because of
// err. The page is public, so it never shows the error itself — a store's
// error names the database host, address and account, a hash's error
// tells that the user exists — only what kind of failure it is (the
// caller logged it). A transient outage of the store (package outage) is
// 503 with Retry-After and says to sign in again in a few seconds;
// anything else (a stored password hash that is damaged) is 500 and says
// to ask the administrator, who finds the cause in the log.
func (c *Console) signInUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	if o, down := outage.Store(err); down {
		c.fail(w, r, http.StatusServiceUnavailable, "无法登录 (sign-in unavailable)",
			"medgate 无法核对登录："+o.String()+"。medgate could not check the sign-in: "+o.String()+". 这是暂时的故障 (a temporary outage). Nothing was signed in.",
			"请稍候几秒后重新登录 (wait a few seconds, then sign in again): medgate reconnects by itself once the database is back.")
		return
	}
	c.fail(w, r, http.StatusInternalServerError, "无法登录 (sign-in unavailable)",
		"medgate 无法核对登录：无法读取保存的用户或密码，未登录。medgate could not check the sign-in: a stored user or password could not be read. Nothing was signed in.",
		"请管理员查看 medgate 日志（\"console: sign-in unavailable\"，其中有原因）；修复之前重试无济于事。Ask the administrator to check the medgate log (\"console: sign-in unavailable\", with the cause); trying again will not help until it is fixed.")
}

// retryAfter is the Retry-After of a sign-in the lockout refuses for
// wait: whole seconds, rounded up, so a client that waits that long is
// not refused again for the same lockout.
func retryAfter(wait time.Duration) string {
	return strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second)))
}

// tryAgainAt is when a sign-in refused for wait may be tried again, as
// the sign-in page says it: the time of day in the console's zone with
// its offset (15:04:05 UTC+08:00), rounded up to the second as
// Retry-After is.
func (c *Console) tryAgainAt(wait time.Duration) string {
	at := c.o.Now().Add(wait)
	if t := at.Truncate(time.Second); t.Before(at) {
		at = t.Add(time.Second)
	}
	return at.In(c.o.Location).Format("15:04:05 UTC-07:00")
}

// lockPlace says where a lockout holds, in Chinese and in English: in
// the user's own browser (device.go) or from the client's address.
func lockPlace(inBrowser bool) (zh, en string) {
	if inBrowser {
		return "在此浏览器", "in this browser"
	}
	return "在此地址", "from this address"
}

// lockedUntil is when a lockout of wait ends, as the audit log says it:
// RFC 3339 in UTC, rounded up to the second as Retry-After is.
func (c *Console) lockedUntil(wait time.Duration) string {
	at := c.o.Now().Add(wait)
	if t := at.Truncate(time.Second); t.Before(at) {
		at = t.Add(time.Second)
	}
	return at.UTC().Format(time.RFC3339)
}

// tokenLockKey is the lockout's user for sign-ins with the admin token
// (access.TokenLockUser, which medgate unlock -token lifts).
const tokenLockKey = access.TokenLockUser

// signInNotAudited is what a sign-in page says when the sign-in was not
// made because its audit entry could not be written.
const signInNotAudited = "Nobody was signed in: every sign-in is recorded in the audit log before its session starts, and the entry could not be written"

// clientTokenAsName reports whether name, typed as a user name, is an
// ingress client's token (Options.ClientTokens), and names the client.
func (c *Console) clientTokenAsName(name string) (string, bool) {
	for _, client := range slices.Sorted(maps.Keys(c.o.ClientTokens)) {
		if tok := c.o.ClientTokens[client]; tok != "" && sameSecret(name, tok) {
			return client, true
		}
	}
	return "", false
}

// tokenAsName is the name a sign-in is recorded under when the admin
// token was typed as the user name (the token is never recorded).
const tokenAsName = "(the admin token typed as the user name)"

// tokenLocked refuses an admin token sign-in from an address that failed
// too often; wait is how long it must still wait.
type tokenLocked struct{ wait time.Duration }

func (e *tokenLocked) Error() string {
	return fmt.Sprintf("admin token sign-ins locked out from this address for %s", e.wait)
}

// checkPassword signs in a user of the store, or, for a name that is not
// one, the admin token (bootstrap: the first admin signs in with it and
// adds users; that identity has no Stamp). It returns the identity and how
// it signed in. Wrong credentials give access.ErrBadCredentials. From an
// address whose token sign-ins failed too often (whatever the names),
// every failed sign-in gives *tokenLocked, a user's wrong password as
// any other name's (so the answer does not tell which names are users),
// and the token is then not compared; a user's right password still
// signs in.
func (c *Console) checkPassword(ctx context.Context, name, password, addr string) (access.User, string, error) {
	if c.o.Users != nil {
		u, err := c.o.Users.Authenticate(ctx, name, password)
		if err == nil {
			return u, viaPassword, nil
		}
		if !errors.Is(err, access.ErrBadCredentials) {
			return access.User{}, "", err
		}
		exists, err := c.o.Users.Exists(ctx, name)
		if err != nil {
			return access.User{}, "", err
		}
		if exists {
			// From an address locked out for token guesses, a user's
			// wrong password gets the answer any other name gets, so
			// the lockout tells no one which names are users.
			if wait := c.tokenLockedFor(addr); wait > 0 {
				return access.User{}, "", &tokenLocked{wait: wait}
			}
			return access.User{}, "", access.ErrBadCredentials
		}
	}
	if _, problem := checkOpenName(name); c.o.AdminToken != "" && problem == "" {
		// Begin takes the token's turn while token guesses from many
		// addresses are checked one at a time (access.Lockout).
		if wait := c.o.Lockout.Begin(tokenLockKey, addr).Wait; wait > 0 {
			return access.User{}, "", &tokenLocked{wait: wait}
		}
		if sameSecret(password, c.o.AdminToken) {
			c.o.Lockout.Succeed(tokenLockKey, addr)
			return access.User{Name: name, Role: access.Admin}, viaToken, nil
		}
		c.o.Lockout.Fail(tokenLockKey, addr)
	}
	return access.User{}, "", access.ErrBadCredentials
}

// tokenLockedFor is how long admin token sign-ins from addr stay locked
// out (0: not locked out, or no admin token is configured).
func (c *Console) tokenLockedFor(addr string) time.Duration {
	if c.o.AdminToken == "" {
		return 0
	}
	return c.o.Lockout.Locked(tokenLockKey, addr)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	c.sessions.end(sessionFrom(r).id)
	_ = audit.Record(r.Context(), audit.Entry{Action: "logout", Outcome: audit.OK})
	c.setCookie(w, r, "", -1)
	redirect(w, r, Prefix+"login")
}

// safeNext keeps a redirect target (a sign-in's next, a form's back)
// inside the console, as the browser reads it: a path under Prefix with
// no control character (which browsers drop, and which would break the
// Location header), no backslash (read as a slash) and no dot segment,
// not even a percent-encoded one ("/console/%2e%2e/admin" leads out);
// anything else gives Prefix.
func safeNext(s string) string {
	if !strings.HasPrefix(s, Prefix) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return Prefix
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return Prefix
	}
	for seg := range strings.SplitSeq(u.Path, "/") { // decoded: %2e%2e is ".."
		if seg == "." || seg == ".." {
			return Prefix
		}
	}
	return s
}

// sameSecret compares a typed secret with the configured one in constant
// time, their lengths included: both are hashed first, as the API compares
// its tokens (subtle.ConstantTimeCompare returns at once on a length
// mismatch).
func sameSecret(got, want string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// formPage is the console page a form was sent from (its Referer, when
// it is a console page of this host), or the overview: where to return
// after signing in again, since the form's own address may answer only
// POST.
func formPage(r *http.Request) string {
	ref, err := url.Parse(r.Referer())
	if err != nil || ref.Host != r.Host || !strings.HasPrefix(ref.Path, Prefix) || ref.Path == Prefix+"login" {
		return Prefix
	}
	return (&url.URL{Path: ref.Path, RawQuery: ref.RawQuery}).RequestURI()
}
