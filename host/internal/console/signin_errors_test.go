package console

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/store"
)

// storeDown is a user store that cannot reach its database: its error
// names the database's host, address and account, as pgx's do.
type storeDown struct{ access.UserStore }

var errStoreDown = fmt.Errorf(`failed to connect to "host=pg-primary.hospital.internal user=medgate database=medgate": %w`,
	&net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP("10.20.0.9"), Port: 5432}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})

func (storeDown) GetUser(context.Context, string) (*store.User, error) { return nil, errStoreDown }
func (storeDown) CountUsers(context.Context) (int, error)              { return 0, errStoreDown }

// TestSignInErrorsLeakNothing: the sign-in page is public, so when
// medgate cannot check a sign-in (the store is down, a stored hash is
// damaged) it says so and what to do — sign in again in a few seconds
// (503, Retry-After) for an outage of the store, ask the administrator
// (500) for a damaged hash — but shows nobody who has not signed in the
// store's error (database host, address, account) or what is wrong with
// whose password hash; the medgate log has the error.
func TestSignInErrorsLeakNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		token string
		setup func(f *fixture)
		user  string
		leaks []string
		// down: a transient outage of the store (503, sign in again).
		down bool
	}{
		{"store down, open console", "", func(f *fixture) { f.c.o.Users = access.NewUsers(storeDown{f.st}, testParams) },
			"op01", []string{"pg-primary", "10.20.0.9", "user=medgate"}, true},
		{"store down, admin token", testToken, func(f *fixture) { f.c.o.Users = access.NewUsers(storeDown{f.st}, testParams) },
			"pharm01", []string{"pg-primary", "10.20.0.9", "user=medgate"}, true},
		{"damaged password hash", testToken, func(f *fixture) {
			if err := f.st.CreateUser(t.Context(), store.User{Name: "pharm01", Role: "operator", PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$bad$bad"}); err != nil {
				t.Fatal(err)
			}
		}, "pharm01", []string{"hash", "pharm01", "argon2"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs logBuffer
			f := newFixture(t, tc.token, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
			tc.setup(f)
			r := f.client().post("/console/login", url.Values{"user": {tc.user}, "password": {"some-password-0123"}})
			if !strings.Contains(r.body, "无法登录 (sign-in unavailable)") {
				t.Fatalf("sign-in that cannot be checked: %d, no notice:\n%s", r.code, r.body)
			}
			if tc.down && (r.code != http.StatusServiceUnavailable || r.h.Get("Retry-After") != "5" ||
				!strings.Contains(r.body, "sign in again") || strings.Contains(r.body, "Ask the administrator")) {
				t.Fatalf("sign-in while the store is down: %d, Retry-After %q; want 503, Retry-After 5, saying to sign in again in a few seconds:\n%s", r.code, r.h.Get("Retry-After"), r.body)
			}
			if !tc.down && (r.code != http.StatusInternalServerError || r.h.Get("Retry-After") != "" || !strings.Contains(r.body, "medgate log")) {
				t.Fatalf("sign-in with a damaged hash: %d, Retry-After %q; want 500 naming the medgate log:\n%s", r.code, r.h.Get("Retry-After"), r.body)
			}
			for _, leak := range tc.leaks {
				if strings.Contains(r.body, leak) {
					t.Errorf("the public sign-in page shows %q:\n%s", leak, r.body)
				}
			}
			if got := logs.String(); !strings.Contains(got, "level=ERROR") || !strings.Contains(got, tc.leaks[0]) {
				t.Errorf("the log lacks the error:\n%s", got)
			}
		})
	}
}
