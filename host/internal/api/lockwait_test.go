package api

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/store"
)

// TestLockedOutRetryAfterIsTheLongerWait: a sign-in refused at an address
// that is locked out for the user, while the user's sign-ins from new
// addresses also wait their turn, gives in Retry-After the longer of the
// two waits: a client waiting what it was told is checked then, not
// refused again for the other lockout.
func TestLockedOutRetryAfterIsTheLongerWait(t *testing.T) {
	t.Parallel()
	const window = 15 * time.Minute
	tests := map[string]struct {
		others int           // failures from other addresses, after 3 from this one
		want   time.Duration // the wait at this address
	}{
		"the address's lockout is longer": {others: 2, want: window},              // turn 2 s
		"the user's turn is longer":       {others: 12, want: 2048 * time.Second}, // turn 2^11 s
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "wait.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			users := access.NewUsers(st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
			const user, pw, from = "amy", "amy-right-password-0123", "10.4.0.1"
			if err := users.Add(t.Context(), user, access.Admin, pw, nil); err != nil {
				t.Fatal(err)
			}
			proxy, err := access.NewProxy("", "", []string{"127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			lockout := access.NewLockout(3, window, clock.now).PerUser(4, time.Hour)
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			srv := httptest.NewServer(Handler(okBackend(), Options{IngressTimeout: time.Second, MaxBodyBytes: 1 << 10,
				Registry: prometheus.NewRegistry(), Logger: log, Users: users, Proxy: proxy, Audit: audit.New(st, log), Now: clock.now,
				Lockout: lockout}))
			t.Cleanup(srv.Close)
			for range 3 {
				if code, _ := callAs(t, srv.URL, from, user, "a-wrong-guess-0123"); code != http.StatusUnauthorized {
					t.Fatalf("a guess from %s: %d, want 401", from, code)
				}
			}
			// A guesser elsewhere, its failures counted at once (as
			// guesses let through together would be).
			for i := range tc.others {
				lockout.Fail(user, fmt.Sprintf("10.4.1.%d", i+1))
			}
			code, h := callAs(t, srv.URL, from, user, pw)
			if code != http.StatusTooManyRequests {
				t.Fatalf("amy at %s, locked out: %d, want 429", from, code)
			}
			ra, err := strconv.Atoi(h.Get("Retry-After"))
			if err != nil {
				t.Fatalf("429 with Retry-After %q", h.Get("Retry-After"))
			}
			if got := time.Duration(ra) * time.Second; got != tc.want {
				t.Errorf("Retry-After %v, want %v", got, tc.want)
			}
			clock.advance(time.Duration(ra-1) * time.Second)
			if code, _ := callAs(t, srv.URL, from, user, pw); code != http.StatusTooManyRequests {
				t.Errorf("1 s before Retry-After ended: %d, want 429", code)
			}
			clock.advance(time.Second)
			if code, h := callAs(t, srv.URL, from, user, pw); code != http.StatusOK {
				t.Errorf("once Retry-After (%ds) passed: %d (Retry-After %q), want 200", ra, code, h.Get("Retry-After"))
			}
		})
	}
}
