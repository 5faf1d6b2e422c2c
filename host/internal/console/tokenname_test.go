package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/store"
)

// TestTokenSessionEndsWhenNameBecomesAUser: a session of the admin token
// under a name ends once a stored user takes that name (it would
// otherwise act as admin recorded as that user); the token's sessions
// under other names go on, and the token no longer signs in under it.
func TestTokenSessionEndsWhenNameBecomesAUser(t *testing.T) {
	t.Parallel()
	for _, role := range access.Roles {
		t.Run(role.String(), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			taken, other := f.client(), f.client()
			taken.login("zhangsan")
			other.login("bootstrap")
			f.addUser("zhangsan", role)
			if r := taken.get("/console/"); r.code != http.StatusSeeOther || !strings.HasPrefix(r.h.Get("Location"), "/console/login") {
				t.Fatalf("token session under a name now a %s user's: GET %d (Location %q), want a redirect to sign in", role, r.code, r.h.Get("Location"))
			}
			r := taken.post("/console/jobs/run", url.Values{"csrf": {taken.csrf}, "job": {"tracecode/s1/stockin-sync"}})
			if r.code != http.StatusForbidden || !strings.Contains(r.body, "未登录") {
				t.Fatalf("post of the ended session: %d, want 403 not signed in", r.code)
			}
			got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Actor: "zhangsan", Action: "job.run"})
			if err != nil || len(got) != 0 {
				t.Fatalf("a job run recorded as zhangsan: %+v %v", got, err)
			}
			if r := other.get("/console/"); r.code != http.StatusOK {
				t.Fatalf("token session under another name: %d, want 200", r.code)
			}
			if r := f.client().post("/console/login", url.Values{"user": {"zhangsan"}, "password": {testToken}}); r.code != http.StatusUnauthorized {
				t.Fatalf("token sign-in under a user's name: %d, want 401", r.code)
			}
		})
	}
}
