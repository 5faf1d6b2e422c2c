package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/store"
)

// TestRevealGrant: POST /admin/personal/reveal, what the command line's
// -reveal asks before it shows personal data unmasked, is granted to an
// admin only, as the console's 显示个人信息, and only once the reveal is
// in the audit log (personal.reveal, naming what and where); anyone else
// is refused and nothing is recorded as revealed.
func TestRevealGrant(t *testing.T) {
	t.Parallel()
	f := newAccessFixture(t, okBackend(), "tok-0123456789abcdef")
	for name, tc := range map[string]struct {
		role   access.Role
		method string
		query  string
		code   int
		has    []string
	}{
		"admin":                {access.Admin, "POST", "?site=s1&target=cli-0001", http.StatusOK, []string{`"granted":true`, `"user":"u-admin"`}},
		"operator":             {access.Operator, "POST", "?site=s1&target=cli-0002", http.StatusForbidden, []string{"forbidden", "needs the role admin"}},
		"viewer":               {access.Viewer, "POST", "?site=s1&target=cli-0003", http.StatusForbidden, []string{"forbidden"}},
		"no target":            {access.Admin, "POST", "?site=s1", http.StatusBadRequest, []string{"target"}},
		"no site":              {access.Admin, "POST", "?target=cli-0004", http.StatusBadRequest, []string{"site"}},
		"a target with a line": {access.Admin, "POST", "?site=s1&target=a%0Ab", http.StatusBadRequest, []string{"target"}},
		"GET grants nothing":   {access.Admin, "GET", "?site=s1&target=cli-0005", http.StatusMethodNotAllowed, nil},
	} {
		t.Run(name, func(t *testing.T) {
			u := f.users[tc.role]
			code, body := f.call(t, tc.method, "/admin/personal/reveal"+tc.query, u[0], u[1])
			if code != tc.code {
				t.Fatalf("%s as %s: %d %s, want %d", tc.query, u[0], code, body, tc.code)
			}
			for _, h := range tc.has {
				if !strings.Contains(body, h) {
					t.Errorf("answer %s lacks %q", body, h)
				}
			}
		})
	}
	entries, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "personal.reveal"})
	if err != nil {
		t.Fatal(err)
	}
	var ok []string
	for _, e := range entries {
		if e.Outcome == "ok" {
			ok = append(ok, e.Actor+" "+e.Target+" "+e.Site)
		}
	}
	if len(ok) != 1 || ok[0] != "u-admin cli-0001 s1" {
		t.Errorf("personal.reveal entries recorded ok: %q, want exactly the admin's of cli-0001 at s1", ok)
	}
}
