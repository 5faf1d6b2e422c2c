package api

import (
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/store"
)

// signInServer is an admin API with users in a SQLite store, a trusted
// proxy on loopback (so tests choose the client address with
// X-Forwarded-For), a lockout of failures on a fake clock, and an admin
// token.
type signInServer struct {
	url   string
	st    store.Store
	users *access.Users
	clock *fakeClock
}

const signInToken = "the-admin-token-0123456789"

func newSignInServer(t *testing.T, failures int, window time.Duration) *signInServer {
	t.Helper()
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "signin.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	users := access.NewUsers(st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
	proxy, err := access.NewProxy("", "", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(Handler(okBackend(), Options{IngressTimeout: time.Second, MaxBodyBytes: 1 << 10,
		Registry: prometheus.NewRegistry(), Logger: log, Users: users, Proxy: proxy, Audit: audit.New(st, log), Now: clock.now,
		AdminToken: signInToken, Lockout: access.NewLockout(failures, window, clock.now)}))
	t.Cleanup(srv.Close)
	return &signInServer{url: srv.URL, st: st, users: users, clock: clock}
}

// TestAdminAPILockoutAuditSaysUntilWhen: the admin API's audit log says
// when a sign-in lockout began and until when, as the console's does:
// the failed sign-in that locks the user out says so with its end, and
// so does each refusal while it lasts; failures before it say nothing of
// a lockout. Before, both said only "wrong user name or password" and
// "locked out", so an administrator could not tell from GET /admin/audit
// when the user may sign in again.
func TestAdminAPILockoutAuditSaysUntilWhen(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		fails     int
		want, not []string
	}{
		"below the limit":      {fails: 2, want: []string{"wrong user name or password"}, not: []string{"locked out"}},
		"at the limit":         {fails: 3, want: []string{"wrong user name or password", "locked out from this address until 2026-11-26T08:10:00Z", "锁定至 2026-11-26T08:10:00Z"}},
		"refused while locked": {fails: 4, want: []string{"locked out from this address until 2026-11-26T08:10:00Z"}, not: []string{"wrong user name or password"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newSignInServer(t, 3, 10*time.Minute)
			if err := s.users.Add(t.Context(), "amy", access.Operator, "amy-right-password-0123", nil); err != nil {
				t.Fatal(err)
			}
			for i := range tc.fails {
				callAs(t, s.url, "10.4.0.1", "amy", fmt.Sprintf("wrong-%d-0123456789", i))
			}
			got, err := s.st.ListAudit(t.Context(), store.AuditFilter{Action: "login", Actor: "amy", Limit: 1})
			if err != nil || len(got) != 1 {
				t.Fatalf("audit: %v, %d entries", err, len(got))
			}
			d := got[0].Detail
			for _, w := range tc.want {
				if !strings.Contains(d, w) {
					t.Errorf("after %d wrong passwords the audit entry says %q, want it to say %q", tc.fails, d, w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(d, w) {
					t.Errorf("after %d wrong passwords the audit entry says %q, want nothing of %q", tc.fails, d, w)
				}
			}
		})
	}
}
