package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/access"
)

// Client is one ingress client: a name for logs, the token it sends and
// the sites it may send messages for.
type Client struct {
	Name  string
	Token string
	// Sites are the site codes the client may send messages for
	// (http.clients[].sites); empty: every site.
	Sites []string
}

// credential is a token kept as its SHA-256, so every comparison is
// constant-time over the same length whatever the tokens' lengths.
type credential struct {
	name  string
	sum   [sha256.Size]byte
	sites []string // nil: every site
}

func credentials(cs []Client) []credential {
	out := make([]credential, 0, len(cs))
	for _, c := range cs {
		if c.Token != "" {
			cr := credential{name: c.Name, sum: sha256.Sum256([]byte(c.Token))}
			if len(c.Sites) > 0 {
				cr.sites = slices.Clone(c.Sites)
			}
			out = append(out, cr)
		}
	}
	return out
}

// match returns the credential the presented token matches. It compares
// against every credential, so the time taken does not tell which one (or
// how much of one) matched.
func match(creds []credential, token string) (credential, bool) {
	got := sha256.Sum256([]byte(token))
	var found credential
	ok := false
	for _, c := range creds {
		if subtle.ConstantTimeCompare(got[:], c.sum[:]) == 1 {
			found, ok = c, true
		}
	}
	return found, ok
}

// clientKey keys the ingress credential a request authenticated with in
// its context (see auth).
type clientKey struct{}

// client returns the ingress credential r authenticated with (see auth),
// or false when the endpoint has no credentials configured.
func client(r *http.Request) (credential, bool) {
	c, ok := r.Context().Value(clientKey{}).(credential)
	return c, ok
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	return strings.TrimSpace(h[7:]), true
}

// Defaults of the failed-authentication limiter.
const (
	freeFailures    = 5                // failures allowed before an address waits
	firstBlock      = time.Second      // the first wait; it doubles with each failure
	maxBlock        = 15 * time.Minute // the longest wait
	forgetAfter     = time.Hour        // an address with no failure for this long starts afresh
	maxTrackedPeers = 10000            // bounds the limiter's memory
)

// limiter slows down token guessing: each remote address may fail
// freeFailures times, then must wait before its next attempt, a wait that
// doubles with each further failure up to maxBlock. A success forgets the
// address's failures. An address is counted as the sign-in lockout counts
// it (access.LockAddr): an IPv6 client by its /64, which one host or LAN
// holds whole, an IPv4 client by its own address.
type limiter struct {
	// failures counts failed authentications by endpoint (admin, ingress).
	failures *prometheus.CounterVec

	mu    sync.Mutex
	now   func() time.Time
	peers map[string]*peer
}

type peer struct {
	failures int
	last     time.Time // last failure
	until    time.Time // no attempt is checked before this
}

// newLimiter returns a limiter counting failures in reg's
// medgate_http_auth_failures_total (shared when reg already has it; not
// exported when reg is nil).
func newLimiter(now func() time.Time, reg prometheus.Registerer) *limiter {
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "medgate_http_auth_failures_total",
		Help: "Requests refused for a missing or wrong token, by endpoint (admin, ingress): a rise is someone guessing.",
	}, []string{"endpoint"})
	if reg == nil {
		return &limiter{failures: failures, now: now, peers: map[string]*peer{}}
	}
	if err := reg.Register(failures); err != nil {
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			failures = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	return &limiter{failures: failures, now: now, peers: map[string]*peer{}}
}

// wait returns how long ip must still wait before its next attempt (0: none).
func (l *limiter) wait(ip string) time.Duration {
	ip = access.LockAddr(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.peers[ip]
	if p == nil {
		return 0
	}
	return max(0, p.until.Sub(l.now()))
}

// fail records a failed attempt from ip and returns the failures counted
// so far and how long ip must now wait.
func (l *limiter) fail(ip string) (int, time.Duration) {
	ip = access.LockAddr(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	p := l.peers[ip]
	if p != nil && now.Sub(p.last) > forgetAfter {
		p = nil
	}
	if p == nil {
		l.makeRoom(now)
		p = &peer{}
		l.peers[ip] = p
	}
	p.failures++
	p.last = now
	var wait time.Duration
	if over := p.failures - freeFailures; over >= 0 {
		wait = maxBlock
		if over < 20 {
			wait = min(maxBlock, firstBlock<<over)
		}
		p.until = now.Add(wait)
	}
	return p.failures, wait
}

// succeed forgets ip's failures.
func (l *limiter) succeed(ip string) {
	ip = access.LockAddr(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.peers, ip)
}

// unlock lifts the failed-token wait of addr (as access.LockAddr counts
// it), or of every address when addr is "", forgetting their failures
// (the next failure starts afresh), and returns how many addresses were
// waiting.
func (l *limiter) unlock(addr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if addr != "" {
		ip := access.LockAddr(addr)
		p := l.peers[ip]
		delete(l.peers, ip)
		if p != nil && p.until.After(now) {
			return 1
		}
		return 0
	}
	lifted := 0
	for ip, p := range l.peers {
		if p.until.After(now) {
			lifted++
		}
		delete(l.peers, ip)
	}
	return lifted
}

// makeRoom keeps the table under maxTrackedPeers: addresses whose last
// failure is old go first, then the ones with the fewest failures.
func (l *limiter) makeRoom(now time.Time) {
	if len(l.peers) < maxTrackedPeers {
		return
	}
	for ip, p := range l.peers {
		if now.Sub(p.last) > forgetAfter {
			delete(l.peers, ip)
		}
	}
	for len(l.peers) >= maxTrackedPeers {
		var victim string
		least := -1
		for ip, p := range l.peers {
			if least < 0 || p.failures < least {
				victim, least = ip, p.failures
			}
		}
		delete(l.peers, victim)
	}
}

// auth guards next with a token: an open endpoint when creds is empty.
// endpoint ("admin", "ingress") names it in errors and logs. Failures are
// counted per remote address by the limiter and logged, never with the
// token sent.
func (s *server) auth(endpoint string, creds []credential, next http.Handler) http.Handler {
	if len(creds) == 0 {
		return next
	}
	return s.h(func(w http.ResponseWriter, r *http.Request) error {
		c, err := s.authenticate(endpoint, creds, r)
		if err != nil {
			return err
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, c)))
		return nil
	})
}

// authenticate checks r's bearer token against creds and returns the
// matching credential, or an *Error (401, or 429 while the address must
// wait).
func (s *server) authenticate(endpoint string, creds []credential, r *http.Request) (credential, error) {
	ip := s.o.Proxy.ClientAddr(r) // the forwarded client behind a trusted proxy
	if wait := s.limit.wait(ip); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		return credential{}, &Error{Status: http.StatusTooManyRequests, Code: "too_many_failures", retryAfter: secs,
			Message: "too many failed authentications from this address; wait " + strconv.Itoa(secs) + "s, then send the token configured for this endpoint"}
	}
	token, ok := bearer(r)
	var c credential
	matched := false
	if ok {
		c, matched = match(creds, token)
	}
	if matched {
		s.limit.succeed(ip)
		return c, nil
	}
	failures, wait := s.limit.fail(ip)
	s.limit.failures.WithLabelValues(endpoint).Inc()
	s.o.Logger.Warn("authentication failed", "endpoint", endpoint, "remote", ip, "method", r.Method, "path", r.URL.Path,
		"tokenSent", ok, "failures", failures, "mustWait", wait.String())
	return credential{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
		Message: "send Authorization: Bearer <token> with the token configured for this endpoint (" + endpoint + ")"}
}
