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

// TestSignInGuessingFromManyAddresses: a guesser with many addresses
// (here forwarded by a trusted proxy, as a botnet or a /16 of the
// hospital's network looks) gets only a bounded number of checked
// guesses at one user's password, with the per-address lockout at 3;
// past the bound every further guess from an address the user never
// signed in from waits its turn, and the real user, from an address they
// signed in from before, still gets through at once with the right
// password.
func TestSignInGuessingFromManyAddresses(t *testing.T) {
	t.Parallel()
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "guess.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	users := access.NewUsers(st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
	const name, pw = "admin-amy", "amy-right-password-0123"
	const bob, bobPW = "viewer-bob", "bob-right-password-0123"
	for _, u := range [][2]string{{name, pw}, {bob, bobPW}} {
		if err := users.Add(t.Context(), u[0], access.Admin, u[1], nil); err != nil {
			t.Fatal(err)
		}
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
	call := func(from, password string) (int, http.Header) { return callAs(t, srv.URL, from, name, password) }
	const home = "10.1.0.1" // where the real user signed in before
	if code, _ := call(home, pw); code != http.StatusOK {
		t.Fatalf("the real user's first sign-in: %d, want 200", code)
	}
	// 150 addresses, 2 guesses each (under the per-address lockout of 3).
	checked := 0
	for i := range 150 {
		from := fmt.Sprintf("10.2.%d.%d", i/200, i%200+1)
		for range 2 {
			code, h := call(from, "guess-"+strconv.Itoa(i))
			switch code {
			case http.StatusUnauthorized:
				checked++
			case http.StatusTooManyRequests:
				if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 {
					t.Fatalf("a guess refused without a Retry-After in seconds: %q", h.Get("Retry-After"))
				}
			default:
				t.Fatalf("a guess from %s: %d", from, code)
			}
		}
	}
	if checked > 25 {
		t.Fatalf("%d of 300 guesses at one user's password from 150 addresses were checked; want at most about 20 (a per-user bound across addresses)", checked)
	}
	for _, step := range []struct {
		name, from, user, password string
		advance                    time.Duration
		want                       int
	}{
		{"the real user from their own address, at once", home, name, pw, 0, http.StatusOK},
		{"the right password from a new address must wait its turn too", "10.3.0.1", name, pw, 0, http.StatusTooManyRequests},
		{"another user, from a new address, is not slowed down", "10.3.0.9", bob, bobPW, 0, http.StatusOK},
		{"after the wait, one guess from a new address is checked", "10.3.0.2", name, "guess-x", 2 * time.Minute, http.StatusUnauthorized},
		{"and the next one waits again", "10.3.0.3", name, "guess-y", 0, http.StatusTooManyRequests},
		{"the real user from their own address, still at once", home, name, pw, 0, http.StatusOK},
	} {
		clock.advance(step.advance)
		if code, _ := callAs(t, srv.URL, step.from, step.user, step.password); code != step.want {
			t.Errorf("%s: %d, want %d", step.name, code, step.want)
		}
	}
}

// callAs calls GET /admin/plugins as user, forwarded for address from.
func callAs(t *testing.T, base, from, user, password string) (int, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/admin/plugins", nil)
	req.Header.Set("X-Forwarded-For", from)
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}
