package api

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/api/outage"
	"github.com/medgate/medgate/host/internal/audit"
)

// route is one admin API route and the least role it needs.
type route struct {
	pattern string
	role    access.Role
	h       handlerFunc
}

// adminRoutes is every admin API route with the role it needs; Handler
// registers exactly these, and TestEveryAdminRouteHasARole checks that
// no /admin route is registered any other way.
//
// viewer: reads plugins, jobs, messages and the journal (masked), and
// asks a bulk replay's dry run (a read: see admin); operator: also runs
// jobs now and replays messages; admin: also reloads
// the configuration, re-encrypts the store, reads the audit log, manages
// sites and plugins, and is granted showing personal data unmasked on the
// command line (revealGrant).
func (s *server) adminRoutes() []route {
	return []route{
		{"GET /admin/plugins", access.Viewer, s.plugins},
		{"GET /admin/jobs", access.Viewer, s.jobs},
		{"GET /admin/messages", access.Viewer, s.messages},
		{"GET /admin/messages/{id}", access.Viewer, s.message},
		{"GET /admin/exchanges", access.Viewer, s.exchanges},

		{"POST /admin/jobs/{plugin}/{site}/{job}/run", access.Operator, s.runJob},
		{"POST /admin/messages/{id}/replay", access.Operator, s.replay},
		{"POST /admin/messages/replay", access.Operator, s.replayAll},
		// The plugin's declared role decides further (commandCheck).
		{"POST /admin/commands/check", access.Operator, s.commandCheck},

		{"POST /admin/reload", access.Admin, s.reload},
		{"POST /admin/store/rekey", access.Admin, s.rekey},
		{"GET /admin/audit", access.Admin, s.auditLog},
		{"GET /admin/sites", access.Admin, s.sites},
		{"GET /admin/sites/{site}/plugins/{plugin}", access.Admin, s.sitePlugin},
		{"PUT /admin/sites/{site}/plugins/{plugin}", access.Admin, s.updateSitePlugin},
		{"GET /admin/plugins/status", access.Admin, s.pluginStatus},
		{"GET /admin/users", access.Admin, s.users},
		{"POST /admin/users/{name}/unlock", access.Admin, s.unlockUser},
		{"POST /admin/token/unlock", access.Admin, s.unlockToken},
		{"POST /admin/personal/reveal", access.Admin, s.revealGrant},
	}
}

// auditActions name what the admin API's changes do in the audit log; a
// change not listed is recorded as "api" with its route.
var auditActions = map[string]string{
	"POST /admin/jobs/{plugin}/{site}/{job}/run": "job.run",
	"POST /admin/messages/{id}/replay":           "message.replay",
	"POST /admin/messages/replay":                "message.replay.bulk",
	"POST /admin/reload":                         "config.reload",
	"POST /admin/store/rekey":                    "store.rekey",
	"POST /admin/personal/reveal":                "personal.reveal",
	"POST /admin/commands/check":                 "command.check",
	"POST /admin/users/{name}/unlock":            "user.unlock",
	"POST /admin/token/unlock":                   "token.unlock",
	// A change refused before it reaches the site administration (a body
	// that is not a change) is recorded under the action it asked for.
	"PUT /admin/sites/{site}/plugins/{plugin}": "site.plugin.update",
}

// admin guards an admin route: browser checks, then who calls (the admin
// token, a user with HTTP Basic, or anyone while the API is open), then
// the role. The handler runs with the audit actor in its context. A
// change (any method but GET and HEAD, and but a bulk replay's dry run,
// which reads only) is first recorded as attempted
// (audit.Begin); when that entry cannot be written the change is not made
// and the answer says so (auditError). Its outcome, when the handler did
// not record it itself, is recorded here, naming the attempt: ok, refused
// for an [Error] marked refused (the caller's request was wrong), else
// failed.
func (s *server) admin(need access.Role, h handlerFunc) http.Handler {
	return s.guard(s.h(func(w http.ResponseWriter, r *http.Request) error {
		u, err := s.identify(r)
		if err != nil {
			return err
		}
		addr := s.o.Proxy.ClientAddr(r)
		ctx := audit.With(withUser(r.Context(), u), s.o.Audit, audit.Actor{Name: u.Name, Role: u.Role.String(), Remote: addr})
		r = r.WithContext(ctx)
		dry := isDryRun(r)
		change := r.Method != http.MethodGet && r.Method != http.MethodHead && !dry
		need := need
		if dry {
			// A read of what the caller may already search (GET
			// /admin/messages), within its sites (replayAll).
			need = access.Viewer
		}
		if !u.Role.Allows(need) {
			s.o.Logger.Warn("admin API: refused: role too low", "user", u.Name, "role", u.Role.String(), "need", need.String(), "route", r.Pattern)
			if change {
				_ = audit.Record(ctx, audit.Entry{Action: "api.refused", Target: r.URL.Path, Outcome: audit.Refused,
					Detail: "需要角色 " + need.String() + "，当前为 " + u.Role.String() + "。needs role " + need.String() + ", has " + u.Role.String()})
			}
			hint := ""
			if r.Pattern == bulkReplayRoute && u.Role.Allows(access.Viewer) {
				hint = "; a dry run (dryRun=true), which replays nothing, needs only the role viewer"
			}
			return &Error{Status: http.StatusForbidden, Code: "forbidden",
				Message: r.Pattern + " needs the role " + need.String() + "; " + u.Name + " has the role " + u.Role.String() + " (change it with: medgate user role " + u.Name + " " + need.String() + ")" + hint}
		}
		if u.Scoped() && !siteScoped[r.Pattern] {
			s.o.Logger.Warn("admin API: refused: a route of the whole instance for a user with sites", "user", u.Name, "route", r.Pattern)
			if change {
				_ = audit.Record(ctx, audit.Entry{Action: "api.refused", Target: r.URL.Path, Outcome: audit.Refused,
					Detail: "整个实例的路由，该用户只能看院区 " + strings.Join(u.Sites, ",") + "。a route of the whole instance; the user sees only sites " + strings.Join(u.Sites, ",")})
			}
			return scopeRefused(u, r.Pattern)
		}
		if change {
			// Announced before it is made (see package audit): a change
			// the audit log cannot take is not made.
			actx, err := audit.Begin(ctx, audit.Entry{Action: cmp.Or(auditActions[r.Pattern], "api"), Target: r.URL.Path, Site: requestSite(r),
				Detail: apiDetail(r.Pattern)})
			if err != nil {
				return s.auditError(r, err)
			}
			ctx = actx
			r = r.WithContext(ctx)
		}
		err = h(w, r)
		if change && !audit.Recorded(ctx) {
			e := audit.Entry{Action: cmp.Or(auditActions[r.Pattern], "api"), Target: r.URL.Path, Site: requestSite(r), Outcome: audit.OK, Detail: apiDetail(r.Pattern)}
			if ae, ok := errors.AsType[*Error](err); ok {
				e.Outcome, e.Detail = audit.Failed, e.Detail+": "+strconv.Itoa(ae.Status)+" "+ae.Code
				if ae.refused {
					e.Outcome = audit.Refused
				}
			} else if err != nil {
				e.Outcome = audit.Failed
			}
			_ = audit.Record(ctx, e)
		}
		return err
	}))
}

// bulkReplayRoute is the bulk replay's route, whose dry run is a read.
const bulkReplayRoute = "POST /admin/messages/replay"

// isDryRun reports whether r is a bulk replay's dry run, a read that
// changes nothing (see replayAll): it needs only the role viewer, and is
// not audited.
func isDryRun(r *http.Request) bool {
	if r.Pattern != bulkReplayRoute {
		return false
	}
	dry, ok := bulkDryRun(r)
	return ok && dry
}

// identify returns who calls: the admin token (Bearer) as "admin-token",
// a user (HTTP Basic) checked against the store with the lockout, or,
// while no admin token and no user exist, anyone on this machine as an
// admin (loopback only: the configuration refuses another listen address
// without a token, and a client a trusted reverse proxy forwards is
// judged by its own address).
func (s *server) identify(r *http.Request) (access.User, error) {
	name, password, basic := r.BasicAuth()
	if basic && s.o.Users != nil {
		addr := s.o.Proxy.ClientAddr(r)
		if access.CheckName(name) != nil {
			// No user has such a name: refused before the lockout keeps
			// it or the log writes it (it may be 64 KiB long).
			s.limit.failures.WithLabelValues("admin").Inc()
			s.o.Logger.Warn("authentication failed", "endpoint", "admin", "user", "(not a user name)", "remote", addr)
			_ = s.o.Audit.Write(r.Context(), audit.Actor{Name: "(not a user name)", Remote: addr}, audit.Entry{Action: "login", Outcome: audit.Refused, Detail: "管理 API：不是用户名。admin API: not a user name"})
			return access.User{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
				Message: "wrong user name or password; send HTTP Basic credentials of a medgate user (medgate user list) or Authorization: Bearer <admin token>"}
		}
		if what, isToken := s.tokenAsName(name); isToken {
			// A token sent as the name (the admin token, or an ingress
			// client's, which a 64-character hex token passes for as a
			// user name): never recorded or logged; refused as any wrong
			// password and counted by the limiter (a guess at a token).
			s.limit.fail(addr)
			s.limit.failures.WithLabelValues("admin").Inc()
			s.o.Logger.Warn("authentication failed: "+what+" was sent as the user name", "endpoint", "admin", "remote", addr)
			_ = s.o.Audit.Write(r.Context(), audit.Actor{Name: "(" + what + " sent as the user name)", Remote: addr},
				audit.Entry{Action: "login", Outcome: audit.Refused, Detail: "管理 API：用户名或密码错误，令牌被当作用户名发送。admin API: wrong user name or password: " + what + " sent as the user name"})
			return access.User{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
				Message: "wrong user name or password; send HTTP Basic credentials of a medgate user (medgate user list) or Authorization: Bearer <admin token>"}
		}
		if ref := s.o.Lockout.Begin(name, addr); ref.Wait > 0 {
			secs := int((ref.Wait + time.Second - 1) / time.Second)
			if ref.AllAddresses {
				// Guesses at this user's password from many addresses:
				// checked one at a time from addresses the user never
				// signed in from (access.Lockout).
				s.o.Logger.Warn("authentication refused: too many failed sign-ins for this user from many addresses; waiting its turn", "endpoint", "admin", "user", name, "remote", addr, "mustWait", ref.Wait.String())
				_ = s.o.Audit.Write(r.Context(), audit.Actor{Name: name, Remote: addr}, audit.Entry{Action: "login", Outcome: audit.Refused,
					Detail: "管理 API：该用户在多个地址登录失败次数过多，来自新地址的登录须等待。admin API: too many failed sign-ins for the user from many addresses; a new address waits its turn"})
				return access.User{}, &Error{Status: http.StatusTooManyRequests, Code: "locked_out", retryAfter: secs,
					Message: "too many failed sign-ins for this user from many addresses; from an address this user has not signed in from, wait " + strconv.Itoa(secs) +
						"s (Retry-After), then send the credentials again; from an address where this user signed in before, sign-ins are not slowed down"}
			}
			until := s.lockedUntil(ref.Wait)
			_ = s.o.Audit.Write(r.Context(), audit.Actor{Name: name, Remote: addr}, audit.Entry{Action: "login", Outcome: audit.Refused,
				Detail: "管理 API：登录失败次数过多，在此地址已锁定至 " + until + "。admin API: locked out from this address until " + until})
			return access.User{}, &Error{Status: http.StatusTooManyRequests, Code: "locked_out", retryAfter: secs,
				Message: "too many failed sign-ins for this user from this address; wait " + strconv.Itoa(secs) + "s"}
		}
		u, err := s.o.Users.Authenticate(r.Context(), name, password)
		if err == nil {
			s.o.Lockout.Succeed(name, addr)
			return u, nil
		}
		if !errors.Is(err, access.ErrBadCredentials) {
			return access.User{}, s.storeError(r, err)
		}
		locked := s.o.Lockout.Fail(name, addr)
		s.limit.failures.WithLabelValues("admin").Inc()
		s.o.Logger.Warn("authentication failed", "endpoint", "admin", "user", name, "remote", addr, "lockedOut", locked)
		detail := "管理 API：用户名或密码错误。admin API: wrong user name or password"
		if locked {
			// The failure that locks the user out says so, and until
			// when, as the refusals that follow do.
			until := s.lockedUntil(s.o.Lockout.Locked(name, addr))
			detail = "管理 API：用户名或密码错误，该用户在此地址已被锁定至 " + until + "。admin API: wrong user name or password; the user is now locked out from this address until " + until
		}
		_ = s.o.Audit.Write(r.Context(), audit.Actor{Name: name, Remote: addr}, audit.Entry{Action: "login", Outcome: audit.Refused, Detail: detail})
		return access.User{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
			Message: "wrong user name or password; send HTTP Basic credentials of a medgate user (medgate user list) or Authorization: Bearer <admin token>"}
	}
	if len(s.adminCreds) == 0 {
		open := s.o.Users == nil
		if !open {
			any, err := s.o.Users.Any(r.Context())
			if err != nil {
				return access.User{}, s.storeError(r, err)
			}
			open = !any
		}
		if open {
			// Open to this machine only (the configuration keeps
			// http.listen on loopback): not to the clients a trusted
			// reverse proxy on loopback forwards.
			if addr := s.o.Proxy.ClientAddr(r); !isLoopback(addr) {
				s.o.Logger.Warn("admin API: refused: open to this machine only", "remote", addr)
				return access.User{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
					Message: "without an admin token or users the admin API is open only to this machine, and " + addr + " (forwarded by the reverse proxy) is not; set http.adminToken or add a user (medgate user add)"}
			}
			return access.User{Name: "anonymous", Role: access.Admin}, nil
		}
		return access.User{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
			Message: "send HTTP Basic credentials of a medgate user (curl -u name); medgate has users, so the admin API is no longer open"}
	}
	if _, err := s.authenticate("admin", s.adminCreds, r); err != nil {
		return access.User{}, err
	}
	return access.User{Name: "admin-token", Role: access.Admin}, nil
}

// tokenAsName reports whether name, an HTTP Basic user name, is one of
// medgate's tokens (the admin token, or an ingress client's from
// http.clients, named by its client name) and says which, in words for
// the log and the audit log that never hold the token itself.
func (s *server) tokenAsName(name string) (string, bool) {
	if _, ok := match(s.adminCreds, name); ok {
		return "the admin token", true
	}
	if c, ok := match(s.ingressCreds, name); ok {
		return "the token of the ingress client " + c.name, true
	}
	return "", false
}

// lockedUntil is when a sign-in lockout of wait ends, as the audit log
// says it (as the console's does): RFC 3339 in UTC, rounded up to the
// second as Retry-After is.
func (s *server) lockedUntil(wait time.Duration) string {
	at := s.o.Now().Add(wait)
	if t := at.Truncate(time.Second); t.Before(at) {
		at = t.Add(time.Second)
	}
	return at.UTC().Format(time.RFC3339)
}

// auditError answers a change that was not made because its audit entry
// could not be written first (err, from audit.Begin): 503 audit_unavailable
// with Retry-After while the store is passing unavailable, naming it and
// saying to send the request again; else 500 audit_unavailable (no audit
// store, a fault of the store), saying to tell the administrator. Neither
// shows the store's error (the log has it).
func (s *server) auditError(r *http.Request, err error) error {
	if o, down := outage.Store(err); down {
		s.o.Logger.Error("admin API: change not made: its audit entry could not be written; answered 503", "path", r.URL.Path, "dependency", o.Dependency, "err", err)
		return &Error{Status: http.StatusServiceUnavailable, Code: "audit_unavailable", Dependency: o.Dependency, retryAfter: outage.RetryAfter,
			Message: fmt.Sprintf("nothing was changed: every change is recorded in the audit log before it is made, and %s; this is a transient outage, not a fault of the request: "+
				"send the same request again in %d seconds (Retry-After). If it lasts, check GET /readyz and the database server", o, outage.RetryAfter)}
	}
	s.o.Logger.Error("admin API: change not made: its audit entry could not be written", "path", r.URL.Path, "err", err)
	return &Error{Status: http.StatusInternalServerError, Code: "audit_unavailable",
		Message: "nothing was changed: every change is recorded in the audit log before it is made, and the audit log could not be written " +
			"(this is not a passing outage, so sending it again will not help); tell medgate's administrator: the medgate log (\"change not made\") has the cause"}
}

// requestSite is the site a change names for its audit entries: its
// path's, else every site= of its query (a bulk replay may name several).
func requestSite(r *http.Request) string {
	return cmp.Or(r.PathValue("site"), strings.Join(siteParams(r.URL.Query()), ","))
}

// apiDetail is the audit detail of a call of route pattern: in Chinese
// first, for the admins who read the audit page, then in English.
func apiDetail(pattern string) string {
	return "管理 API 调用 " + pattern + "。admin API " + pattern
}
