package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/store"
)

// unlockCall sends POST /admin/users/{name}/unlock (address: the query's
// address, "" for none) with the admin token and returns the status and
// the decoded answer.
func unlockCall(t *testing.T, base, name, address string) (int, map[string]any) {
	t.Helper()
	u := base + "/admin/users/" + url.PathEscape(name) + "/unlock"
	if address != "" {
		u += "?address=" + url.QueryEscape(address)
	}
	req, _ := http.NewRequest("POST", u, nil)
	req.Header.Set("Authorization", "Bearer "+signInToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(body, &out)
	return resp.StatusCode, out
}

// TestAdminUnlocksSignIn: a user locked out after wrong passwords (from
// two addresses; one IPv6, whose /64 is locked) signs in with the right
// password at once after an admin unlocks the user, everywhere or from
// one address only, where before nothing but a restart of medgate
// lifted a lockout (the 429 page said "ask an administrator"). An unlock
// of one address leaves the other locked. The unlock is audited with
// who did it, and an unknown user or an address that is no IP address
// is refused, naming it.
func TestAdminUnlocksSignIn(t *testing.T) {
	t.Parallel()
	const pw = "amy-right-password-0123"
	const v4, v6 = "10.4.0.1", "2001:db8:1:2::10"
	tests := map[string]struct {
		address string
		// want: the status of the right password from each address after
		// the unlock.
		wantV4, wantV6 int
		lifted         float64
	}{
		"every address":       {address: "", wantV4: 200, wantV6: 200, lifted: 2},
		"one IPv4 address":    {address: v4, wantV4: 200, wantV6: 429, lifted: 1},
		"another in the /64":  {address: "2001:db8:1:2::99", wantV4: 429, wantV6: 200, lifted: 1},
		"an unlocked address": {address: "10.9.9.9", wantV4: 429, wantV6: 429, lifted: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newSignInServer(t, 3, 15*60e9)
			if err := s.users.Add(t.Context(), "amy", access.Operator, pw, nil); err != nil {
				t.Fatal(err)
			}
			for _, from := range []string{v4, v6} {
				for range 3 {
					callAs(t, s.url, from, "amy", "wrong-password-0123456789")
				}
				if code, _ := callAs(t, s.url, from, "amy", pw); code != http.StatusTooManyRequests {
					t.Fatalf("the right password from %s after 3 wrong ones: %d, want 429 (locked out)", from, code)
				}
			}
			code, out := unlockCall(t, s.url, "amy", tc.address)
			if code != http.StatusOK {
				t.Fatalf("POST /admin/users/amy/unlock?address=%s: %d %v, want 200", tc.address, code, out)
			}
			if out["lifted"] != tc.lifted {
				t.Errorf("answer %v: lifted %v, want %v", out, out["lifted"], tc.lifted)
			}
			if note, _ := out["note"].(string); !strings.Contains(note, "instance") {
				t.Errorf("answer %v does not say it acts on this instance only", out)
			}
			for from, want := range map[string]int{v4: tc.wantV4, v6: tc.wantV6} {
				if code, _ := callAs(t, s.url, from, "amy", pw); code != want {
					t.Errorf("the right password from %s after the unlock: %d, want %d", from, code, want)
				}
			}
			got, err := s.st.ListAudit(t.Context(), store.AuditFilter{Action: "user.unlock", Limit: 1})
			if err != nil || len(got) != 1 {
				t.Fatalf("audit of the unlock: %v, %d entries", err, len(got))
			}
			if e := got[0]; e.Actor != "admin-token" || e.Target != "amy" || e.Outcome != "ok" {
				t.Errorf("audit entry %+v, want actor admin-token, target amy, outcome ok", e)
			}
		})
	}

	refusals := map[string]struct {
		user, address string
		code          int
		want          string
	}{
		"unknown user":   {user: "nobody", code: http.StatusNotFound, want: "medgate user list"},
		"not an address": {user: "amy", address: "10.4.0", code: http.StatusBadRequest, want: "10.4.0"},
	}
	for name, tc := range refusals {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newSignInServer(t, 3, 15*60e9)
			if err := s.users.Add(t.Context(), "amy", access.Operator, pw, nil); err != nil {
				t.Fatal(err)
			}
			code, out := unlockCall(t, s.url, tc.user, tc.address)
			if msg, _ := out["message"].(string); code != tc.code || !strings.Contains(msg, tc.want) {
				t.Errorf("unlock %s at %q: %d %v, want %d naming %q", tc.user, tc.address, code, out, tc.code, tc.want)
			}
		})
	}
}
