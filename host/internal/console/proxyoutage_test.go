package console

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
)

// TestProxyIdentityDuringOutage: a user a trusted proxy names (without a
// role header, so the role is the stored user's) whose request comes
// while the store cannot be read is neither refused as an unknown
// identity nor shown the store's error (database host, address,
// account): it gets the store's outage page, 503 with Retry-After, and
// signs in once the store is back.
func TestProxyIdentityDuringOutage(t *testing.T) {
	t.Parallel()
	proxy, err := access.NewProxy("X-Remote-User", "", []string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	down := &downStore{}
	f := newFixture(t, testToken, func(o *Options) {
		o.Users = access.NewUsers(down, testParams)
		o.Audit = audit.New(down, nil)
		o.Proxy = proxy
	})
	down.Store = f.st
	f.addUser("desk", access.Operator)
	refused := fmt.Errorf(`store: postgres: failed to connect to "host=pg-primary.hospital.internal user=medgate database=medgate": %w`,
		&net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP("10.20.0.9"), Port: 5432}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	down.failing.Store(&refused)
	c := f.client()
	get := func() resp {
		req, _ := http.NewRequest("GET", f.srv.URL+"/console/jobs", nil)
		req.Header.Set("X-Remote-User", "desk")
		return c.do(req)
	}
	r := get()
	if r.code != http.StatusServiceUnavailable || r.h.Get("Retry-After") == "" || !strings.Contains(r.body, "temporary outage") {
		t.Fatalf("proxy identity during an outage: HTTP %d, Retry-After %q; want 503 with Retry-After naming an outage:\n%s", r.code, r.h.Get("Retry-After"), r.body)
	}
	for _, leak := range []string{"pg-primary", "10.20.0.9", "user=medgate"} {
		if strings.Contains(r.body, leak) {
			t.Errorf("the page shows %q", leak)
		}
	}
	down.failing.Store(nil)
	if r := get(); r.code != http.StatusOK {
		t.Fatalf("proxy identity once the store is back: %d, want 200", r.code)
	}
}
