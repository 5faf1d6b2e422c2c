package console

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
)

// TestUnconfirmedSessionRefused: while the store cannot be read, a
// session cannot be checked against it (a user disabled meanwhile would
// keep access). Such a session is served pages for at most confirmGrace
// after the store last confirmed it, then answered 503 with Retry-After
// (500 for a store fault that is no outage) instead of the page; a post
// on a session the store did not confirm at that request is never
// carried out. Once the store is back the session works again, for every
// kind of session the store checks (a password, the admin token, a user
// a trusted proxy names without a role).
func TestUnconfirmedSessionRefused(t *testing.T) {
	t.Parallel()
	refused := fmt.Errorf(`store: postgres: failed to connect to "host=pg-primary.hospital.internal user=medgate database=medgate": %w`,
		&net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP("10.20.0.9"), Port: 5432}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	fault := errors.New("store: sqlite: get user: decode row: invalid character 'x'")
	proxy, err := access.NewProxy("X-Remote-User", "", []string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	for _, via := range []string{viaPassword, viaToken, viaProxy} {
		for kind, k := range map[string]struct {
			err  error
			code int
		}{
			"outage": {refused, http.StatusServiceUnavailable},
			"fault":  {fault, http.StatusInternalServerError},
		} {
			t.Run(via+"/"+kind, func(t *testing.T) {
				t.Parallel()
				down := &downStore{}
				f := newFixture(t, testToken, func(o *Options) {
					o.Users = access.NewUsers(down, testParams)
					o.Audit = audit.New(down, nil)
					o.Proxy = proxy
				})
				down.Store = f.st
				c := f.client()
				var hdr []string // the proxy's header on every request
				switch via {
				case viaPassword:
					c.signIn("desk", f.addUser("desk", access.Operator))
				case viaToken:
					c.login("boss")
				case viaProxy:
					f.addUser("desk", access.Operator)
					hdr = []string{"X-Remote-User", "desk"}
				}
				get := func(path string) resp {
					t.Helper()
					req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
					for i := 0; i+1 < len(hdr); i += 2 {
						req.Header.Set(hdr[i], hdr[i+1])
					}
					return c.do(req)
				}
				run := func() resp {
					t.Helper()
					return c.post("/console/jobs/run", url.Values{"csrf": {c.csrf}, "job": {"tracecode/s1/stockin-sync"}}, hdr...)
				}
				served := func(when string) {
					t.Helper()
					if r := get("/console/jobs"); r.code != http.StatusOK || !strings.Contains(r.body, "stockin-sync") {
						t.Fatalf("%s: GET /console/jobs %d, want the page", when, r.code)
					}
				}
				refusedPage := func(when string, r resp) {
					t.Helper()
					if r.code != k.code || strings.Contains(r.body, "stockin-sync") {
						t.Fatalf("%s: HTTP %d, want %d without the page:\n%s", when, r.code, k.code, r.body)
					}
					if retry := r.h.Get("Retry-After"); (k.code == http.StatusServiceUnavailable) != (retry != "") {
						t.Fatalf("%s: HTTP %d with Retry-After %q", when, r.code, retry)
					}
					for _, leak := range []string{"pg-primary", "10.20.0.9"} {
						if strings.Contains(r.body, leak) {
							t.Fatalf("%s: the page shows %q", when, leak)
						}
					}
				}
				served("store up")
				down.failing.Store(&k.err)
				served("store down, just confirmed")
				refusedPage("a post on an unconfirmed session", run())
				runs := func() int {
					f.b.mu.Lock()
					defer f.b.mu.Unlock()
					return len(f.b.triggered)
				}
				if n := runs(); n != 0 {
					t.Fatalf("the job ran %d time(s) on a post the store did not confirm", n)
				}
				f.clock.add(confirmGrace - time.Second)
				served("store down, confirmed just under confirmGrace ago")
				f.clock.add(time.Second)
				refusedPage("store down, confirmed confirmGrace ago", get("/console/jobs"))
				down.failing.Store(nil)
				served("store back")
				if r := run(); r.code != http.StatusSeeOther || runs() != 1 {
					t.Fatalf("a post once the store is back: HTTP %d, job runs %d; want 303 and one run", r.code, runs())
				}
			})
		}
	}
}

// TestUserDisabledDuringOutage: a user disabled while the console cannot
// read the store (another instance, or `medgate user disable` once the
// database is reachable from there) is not served past confirmGrace, and
// is signed out at the first request the store answers.
func TestUserDisabledDuringOutage(t *testing.T) {
	t.Parallel()
	down := &downStore{}
	f := newFixture(t, testToken, func(o *Options) {
		o.Users = access.NewUsers(down, testParams)
		o.Audit = audit.New(down, nil)
	})
	down.Store = f.st
	c := f.client()
	c.signIn("desk", f.addUser("desk", access.Operator))
	outage := error(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	down.failing.Store(&outage)
	if err := f.users.SetDisabled(t.Context(), "desk", true); err != nil { // written through another path to the database
		t.Fatal(err)
	}
	f.clock.add(confirmGrace)
	if r := c.get("/console/jobs"); r.code != http.StatusServiceUnavailable {
		t.Fatalf("a disabled user's session during an outage past confirmGrace: %d, want 503", r.code)
	}
	down.failing.Store(nil)
	if r := c.get("/console/jobs"); r.code != http.StatusSeeOther || !strings.HasPrefix(r.h.Get("Location"), "/console/login") {
		t.Fatalf("a disabled user's session once the store is back: %d, want a redirect to sign in", r.code)
	}
}

// TestSignOutDuringOutage: signing out ends the session even while the
// store cannot confirm it, past confirmGrace too: it only takes access
// away, so it is no change to refuse.
func TestSignOutDuringOutage(t *testing.T) {
	t.Parallel()
	down := &downStore{}
	f := newFixture(t, testToken, func(o *Options) {
		o.Users = access.NewUsers(down, testParams)
		o.Audit = audit.New(down, nil)
	})
	down.Store = f.st
	c := f.client()
	c.signIn("desk", f.addUser("desk", access.Operator))
	outage := error(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	down.failing.Store(&outage)
	f.clock.add(confirmGrace)
	if r := c.post("/console/logout", url.Values{"csrf": {c.csrf}}); r.code != http.StatusSeeOther || r.h.Get("Location") != "/console/login" {
		t.Fatalf("sign-out during an outage: %d (Location %q), want a redirect to the sign-in page", r.code, r.h.Get("Location"))
	}
	down.failing.Store(nil)
	if r := c.get("/console/jobs"); r.code != http.StatusSeeOther || !strings.HasPrefix(r.h.Get("Location"), "/console/login") {
		t.Fatalf("the session after signing out during an outage: %d, want a redirect to sign in", r.code)
	}
}
