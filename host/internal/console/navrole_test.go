package console

import (
	"net/http"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
)

// TestNavShowsOnlyAllowedLinks: each role's navigation bar links only to
// pages its role may open (the routes' own role check), built-in and
// plugin-declared alike, and the routes still refuse the others: the
// navigation bar is not the security boundary.
func TestNavShowsOnlyAllowedLinks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	links := []struct {
		href string
		need access.Role
	}{
		{`href="/console/"`, access.Viewer},
		{`href="/console/messages"`, access.Viewer},
		{`href="/console/jobs"`, access.Viewer},
		{`href="/console/board"`, access.Viewer},
		{`href="/console/worklists"`, access.Viewer},
		{`href="/console/worklists?list=draft-receipts&amp;plugin=tracecode"`, access.Viewer}, // a plugin's documents (a work list)
		{`href="/console/form/ecard/print"`, access.Operator},                                 // plugin forms
		{`href="/console/form/tracecode/export"`, access.Operator},
		{`href="/console/admin/sites"`, access.Admin},
		{`href="/console/admin/users"`, access.Admin},
		{`href="/console/admin/audit"`, access.Admin},
	}
	for _, role := range access.Roles {
		t.Run(role.String(), func(t *testing.T) {
			name := "nav-" + role.String()
			c := f.client()
			c.signIn(name, f.addUser(name, role))
			page := c.get("/console/board")
			if page.code != http.StatusOK {
				t.Fatalf("board as %s: %d", role, page.code)
			}
			nav, _, _ := strings.Cut(page.body, "</nav>")
			for _, l := range links {
				if got, want := strings.Contains(nav, l.href), role.Allows(l.need); got != want {
					t.Errorf("navigation bar of a %s links %s: %v, want %v", role, l.href, got, want)
				}
				// The route decides, whatever the bar shows.
				path := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(l.href, `href="`), `"`), "&amp;", "&")
				r := c.get(path)
				if refused := r.code == http.StatusForbidden; refused == role.Allows(l.need) {
					t.Errorf("GET %s as %s: %d, want refused=%v", path, role, r.code, !role.Allows(l.need))
				}
			}
		})
	}
}
