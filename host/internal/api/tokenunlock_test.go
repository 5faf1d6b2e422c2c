package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
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

// bearerFrom calls GET /admin/plugins with a bearer token as a client at
// from (forwarded by the trusted proxy on loopback) and returns the status.
func bearerFrom(t *testing.T, base, from, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/admin/plugins", nil)
	req.Header.Set("X-Forwarded-For", from)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestAdminUnlocksTheToken: an address that sent wrong bearer tokens
// waits (429, even with the right token), and one whose console sign-ins
// with the admin token failed is locked out of them; medgate unlock
// could lift neither (it takes a user's name), so the admin token stayed
// refused there until the wait ran out or medgate restarted. POST
// /admin/token/unlock (admin) now lifts both, at every address or one
// (an IPv6 one by its /64), says how many of each it lifted and that it
// acts on this instance only, and is audited token.unlock with who did
// it; an address that is no IP address is refused, and so is a role
// below admin, lifting nothing.
func TestAdminUnlocksTheToken(t *testing.T) {
	t.Parallel()
	const v4, v6 = "10.4.0.1", "2001:db8:1:2::10"
	tests := map[string]struct {
		address        string
		basic          [2]string // who calls (HTTP Basic); zero: the admin token
		code           int
		signIn, tokens float64
		wantV4, wantV6 int // the right token from each address afterwards
		signInLockedV4 bool
	}{
		"every address":       {code: 200, signIn: 1, tokens: 2, wantV4: 200, wantV6: 200},
		"one IPv4 address":    {address: v4, code: 200, signIn: 1, tokens: 1, wantV4: 200, wantV6: 429},
		"another in the /64":  {address: "2001:db8:1:2::99", code: 200, tokens: 1, wantV4: 429, wantV6: 200, signInLockedV4: true},
		"an unlocked address": {address: "10.9.9.9", code: 200, wantV4: 429, wantV6: 429, signInLockedV4: true},
		"not an IP address":   {address: "10.4.0", code: 400, wantV4: 429, wantV6: 429, signInLockedV4: true},
		"an operator":         {basic: [2]string{"op", "op-password-0123456789"}, code: 403, wantV4: 429, wantV6: 429, signInLockedV4: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "token.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			users := access.NewUsers(st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
			if err := users.Add(t.Context(), "op", access.Operator, "op-password-0123456789", nil); err != nil {
				t.Fatal(err)
			}
			proxy, err := access.NewProxy("", "", []string{"127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			clock := &fakeClock{t: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)}
			lockout := access.NewLockout(3, 15*time.Minute, clock.now)
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			srv := httptest.NewServer(Handler(okBackend(), Options{IngressTimeout: time.Second, MaxBodyBytes: 1 << 10,
				Registry: prometheus.NewRegistry(), Logger: log, Users: users, Proxy: proxy, Audit: audit.New(st, log), Now: clock.now,
				AdminToken: signInToken, Lockout: lockout}))
			t.Cleanup(srv.Close)

			for _, from := range []string{v4, v6} {
				for range freeFailures {
					bearerFrom(t, srv.URL, from, "wrong-token-0123456789")
				}
				if code := bearerFrom(t, srv.URL, from, signInToken); code != http.StatusTooManyRequests {
					t.Fatalf("the right token from %s after %d wrong ones: %d, want 429", from, freeFailures, code)
				}
			}
			for range 3 { // the console's failed sign-ins with the token
				lockout.Fail(access.TokenLockUser, v4)
			}

			u := srv.URL + "/admin/token/unlock"
			if tc.address != "" {
				u += "?address=" + tc.address
			}
			req, _ := http.NewRequest("POST", u, nil)
			if tc.basic[0] != "" {
				req.SetBasicAuth(tc.basic[0], tc.basic[1])
			} else {
				req.Header.Set("Authorization", "Bearer "+signInToken)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Fatalf("POST %s: %d %v, want %d", u, resp.StatusCode, out, tc.code)
			}
			if tc.code == http.StatusOK {
				if out["signIn"] != tc.signIn || out["tokens"] != tc.tokens || out["lifted"] != tc.signIn+tc.tokens {
					t.Errorf("answer %v: want signIn %v, tokens %v, lifted %v", out, tc.signIn, tc.tokens, tc.signIn+tc.tokens)
				}
				if note, _ := out["note"].(string); !strings.Contains(note, "this medgate instance only") || !strings.Contains(note, "ingress") {
					t.Errorf("answer %v does not say it acts on this instance only and for the ingress too", out)
				}
				got, err := st.ListAudit(t.Context(), store.AuditFilter{Action: "token.unlock", Limit: 1})
				if err != nil || len(got) != 1 {
					t.Fatalf("audit of the unlock: %v, %d entries", err, len(got))
				}
				if e := got[0]; e.Actor != "admin-token" || e.Target != "admin token" || e.Outcome != "ok" || !strings.Contains(e.Detail, "admin token lockout lifted at") {
					t.Errorf("audit entry %+v, want actor admin-token, target admin token, outcome ok", e)
				}
			} else if msg, _ := out["message"].(string); tc.code == 400 && !strings.Contains(msg, `"10.4.0" is not an IP address`) {
				t.Errorf("refusal %v does not name the address", out)
			}
			for from, want := range map[string]int{v4: tc.wantV4, v6: tc.wantV6} {
				if code := bearerFrom(t, srv.URL, from, signInToken); code != want {
					t.Errorf("the right token from %s after the unlock: %d, want %d", from, code, want)
				}
			}
			if locked := lockout.Locked(access.TokenLockUser, v4) > 0; locked != tc.signInLockedV4 {
				t.Errorf("console token sign-ins from %s locked out after the unlock: %v, want %v", v4, locked, tc.signInLockedV4)
			}
		})
	}
}
