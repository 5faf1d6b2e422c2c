package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/store"
)

// TestForwardedClientWithAPort: some trusted proxies write the client's
// port into X-Forwarded-For (10.5.0.1:40001, [2001:db8::1]:443). The
// client is still that address: a guesser behind the proxy locks the
// user out from the guesser's own address only, and a colleague behind
// the same proxy signs in (an IPv6 colleague in another /64: the lockout
// counts an IPv6 client by its /64). Read as a malformed chain, every client took
// the proxy's address, so one guesser locked the user out for everyone.
func TestForwardedClientWithAPort(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ guesser, colleague string }{
		"IPv4 with a port":            {"10.5.0.1:40001", "10.5.0.2:40002"},
		"IPv6 in brackets with ports": {"[2001:db8::1]:443", "[2001:db8:0:1::2]:443"},
		"IPv6 in brackets":            {"[2001:db8::1]", "[2001:db8:0:1::2]"},
		"a colleague without a port":  {"10.5.0.1:40001", "10.5.0.2"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "xff.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			users := access.NewUsers(st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
			const user, pw = "amy", "amy-right-password-0123"
			if err := users.Add(t.Context(), user, access.Admin, pw, nil); err != nil {
				t.Fatal(err)
			}
			proxy, err := access.NewProxy("", "", []string{"127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			srv := httptest.NewServer(Handler(okBackend(), Options{IngressTimeout: time.Second, MaxBodyBytes: 1 << 10,
				Registry: prometheus.NewRegistry(), Logger: log, Users: users, Proxy: proxy, Audit: audit.New(st, log), Now: clock.now,
				Lockout: access.NewLockout(3, 15*time.Minute, clock.now)}))
			t.Cleanup(srv.Close)
			for range 3 {
				if code, _ := callAs(t, srv.URL, tc.guesser, user, "a-wrong-guess-0123"); code != http.StatusUnauthorized {
					t.Fatalf("a guess from %s: %d, want 401", tc.guesser, code)
				}
			}
			if code, _ := callAs(t, srv.URL, tc.guesser, user, pw); code != http.StatusTooManyRequests {
				t.Errorf("the guesser at %s, locked out: %d, want 429", tc.guesser, code)
			}
			if code, _ := callAs(t, srv.URL, tc.colleague, user, pw); code != http.StatusOK {
				t.Errorf("amy at %s, behind the same proxy as the guesser at %s: %d, want 200", tc.colleague, tc.guesser, code)
			}
		})
	}
}
