package console

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
)

var (
	postFormRE = regexp.MustCompile(`<form[^>]*method="post"[^>]*action="([^"]*)"`)
	consoleRE  = regexp.MustCompile(`href="(/console/[^"]*)"`)
)

// TestPagesOfferOnlyAllowed: the pages a role may open offer that role
// only the buttons (posts) and links whose route lets it through (the
// route table's own role): a viewer is not shown "run now", "replay" or
// "replay all", which answer 403.
func TestPagesOfferOnlyAllowed(t *testing.T) {
	t.Parallel()
	f, _ := traceFixture(t)
	allowed := func(role access.Role, method, target string) bool {
		u, err := url.Parse(target)
		if err != nil {
			return false
		}
		_, pattern := f.c.mux.Handler(&http.Request{Method: method, URL: u, Header: http.Header{}})
		need, ok := f.c.need[pattern]
		return ok && (need == access.Public || role.Allows(need))
	}
	pages := []string{"/console/", "/console/jobs", "/console/message?id=his-fail-1", "/console/messages?status=failed",
		"/console/board", "/console/worklists"}
	for _, role := range access.Roles {
		t.Run(role.String(), func(t *testing.T) {
			name := "offers-" + role.String()
			c := f.client()
			c.signIn(name, f.addUser(name, role))
			for _, p := range pages {
				r := c.get(p)
				if r.code != http.StatusOK {
					t.Fatalf("GET %s as %s: %d", p, role, r.code)
				}
				for _, m := range postFormRE.FindAllStringSubmatch(r.body, -1) {
					if a := html.UnescapeString(m[1]); !allowed(role, http.MethodPost, a) {
						t.Errorf("%s offers a %s a form posting to %s, whose route refuses that role", p, role, a)
					}
				}
				for _, m := range consoleRE.FindAllStringSubmatch(r.body, -1) {
					if h := html.UnescapeString(m[1]); !allowed(role, http.MethodGet, h) {
						t.Errorf("%s offers a %s a link to %s, whose route refuses that role", p, role, h)
					}
				}
			}
		})
	}
}
