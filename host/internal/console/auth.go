package console

import (
	"context"
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medgate/medgate/host/internal/api/origin"
)

// cookieName is the session cookie. It holds a random session id only.
const cookieName = "medgate_console"

// maxSessions bounds the session map; the oldest session is dropped first.
const maxSessions = 1000

// session is one signed-in operator.
type session struct {
	id       string
	csrf     string
	operator string
	created  time.Time
	seen     time.Time
	flash    *flash
}

// sessions is the server-side session map.
type sessions struct {
	mu        sync.Mutex
	now       func() time.Time
	idle, max time.Duration
	m         map[string]*session
}

func newSessions(now func() time.Time, idle, max time.Duration) *sessions {
	return &sessions{now: now, idle: idle, max: max, m: map[string]*session{}}
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.seen) >= ss.idle || now.Sub(s.created) >= ss.max
}

// create starts a session for an operator.
func (ss *sessions) create(operator string) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	var oldest *session
	for id, s := range ss.m {
		if ss.expired(s, now) {
			delete(ss.m, id)
			continue
		}
		if oldest == nil || s.seen.Before(oldest.seen) {
			oldest = s
		}
	}
	if len(ss.m) >= maxSessions && oldest != nil {
		delete(ss.m, oldest.id)
	}
	s := &session{id: randomHex(32), csrf: randomHex(32), operator: operator, created: now, seen: now}
	ss.m[s.id] = s
	return s
}

// get returns the live session with that id and marks it seen.
func (ss *sessions) get(id string) *session {
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
	s.seen = now
	return s
}

func (ss *sessions) end(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, id)
}

func (ss *sessions) setFlash(s *session, f *flash) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s.flash = f
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

// auth lets a request through only with a live session; POSTs also need
// the session's CSRF token and must come from the console's own pages.
func (c *Console) auth(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s *session
		if ck, err := r.Cookie(cookieName); err == nil {
			s = c.sessions.get(ck.Value)
		}
		if s == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				redirect(w, r, Prefix+"login?next="+url.QueryEscape(r.URL.RequestURI()))
				return
			}
			c.fail(w, r, http.StatusForbidden, "未登录 (not signed in)", "Your console session has ended or was never started.", "Sign in again at "+Prefix+"login, then repeat the action.")
			return
		}
		if r.Method == http.MethodPost {
			if !c.fromOwnPage(w, r, "form") {
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 {
				c.fail(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)), http.StatusForbidden, "表单已失效 (form expired)",
					"The form's security token does not match your session (the page was opened before you signed in again, or in another browser).",
					"Reload the page and submit the form again.")
				return
			}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)))
	})
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
	c.o.Logger.Warn("console: request refused: not from the console's own pages", "path", r.URL.Path, "remote", clientIP(r), "reason", res.Reason)
	c.fail(w, r, http.StatusForbidden, "请求来源不符 (cross-site request refused)",
		"The "+what+" was not sent from this console's own pages ("+res.Reason+").",
		"Open "+Prefix+" directly in the browser and use its pages. Behind a reverse proxy, list the address staff type (e.g. https://medgate.hospital.example) in console.publicOrigins.")
	return false
}

// loginData is the login page's data.
type loginData struct {
	Next     string
	Operator string
	Problem  string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "login", "登录 (sign in)", "", loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

// maxOperator bounds the operator's name (it is recorded with every change).
const maxOperator = 64

// checkOperator returns the trimmed name or a problem.
func checkOperator(s string) (string, string) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", "Enter your name or staff number: every adjustment and confirmation is recorded with it."
	case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", "The name contains control characters; type it as plain text."
	case utf8.RuneCountInString(s) > maxOperator:
		return "", "The name is longer than 64 characters; shorten it."
	}
	return s, ""
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	d := loginData{Next: safeNext(r.PostFormValue("next")), Operator: r.PostFormValue("operator")}
	if !c.fromOwnPage(w, r, "sign-in form") {
		return
	}
	ip := clientIP(r)
	if c.o.AdminToken != "" && !c.limiter.allow(ip) {
		d.Problem = "Too many failed sign-ins from this address; wait a minute and try again."
		c.render(w, r, http.StatusTooManyRequests, "login", "登录 (sign in)", "", d)
		return
	}
	op, problem := checkOperator(d.Operator)
	if problem != "" {
		d.Problem = problem
		c.render(w, r, http.StatusBadRequest, "login", "登录 (sign in)", "", d)
		return
	}
	if c.o.AdminToken != "" && subtle.ConstantTimeCompare([]byte(r.PostFormValue("token")), []byte(c.o.AdminToken)) != 1 {
		c.limiter.failed(ip)
		c.o.Logger.Warn("console: sign-in refused: wrong admin token", "remote", ip)
		d.Problem = "The admin token is wrong. Use the value of http.adminToken from the medgate configuration (ask the administrator)."
		c.render(w, r, http.StatusUnauthorized, "login", "登录 (sign in)", "", d)
		return
	}
	if ck, err := r.Cookie(cookieName); err == nil {
		c.sessions.end(ck.Value)
	}
	s := c.sessions.create(op)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.id, Path: Prefix, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	c.o.Logger.Info("console: operator signed in", "operator", op, "remote", ip)
	redirect(w, r, d.Next)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	c.sessions.end(sessionFrom(r).id)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	redirect(w, r, Prefix+"login")
}

// safeNext keeps a redirect target inside the console.
func safeNext(s string) string {
	if !strings.HasPrefix(s, Prefix) || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n") {
		return Prefix
	}
	return s
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// loginLimiter allows at most loginFailures failed sign-ins per address and minute.
type loginLimiter struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string][]time.Time
}

const loginFailures = 5

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, m: map[string][]time.Time{}}
}

func (l *loginLimiter) recent(ip string) []time.Time {
	cut := l.now().Add(-time.Minute)
	var keep []time.Time
	for _, t := range l.m[ip] {
		if t.After(cut) {
			keep = append(keep, t)
		}
	}
	if keep == nil {
		delete(l.m, ip)
	} else {
		l.m[ip] = keep
	}
	return keep
}

func (l *loginLimiter) allow(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(ip)) < loginFailures
}

func (l *loginLimiter) failed(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) > 10000 {
		l.m = map[string][]time.Time{}
	}
	l.m[ip] = append(l.recent(ip), l.now())
}
