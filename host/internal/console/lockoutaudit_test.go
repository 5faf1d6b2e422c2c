package console

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/store"
)

// TestLockoutBeginningIsAudited: the audit log tells when a lockout
// began and until when: the failed sign-in that locks a user out (the
// 3rd here, from one address) is recorded as wrong and as locking the
// user out until the time the 429s then give; failures before it say
// nothing of a lockout. Refused sign-ins while it lasts are recorded as
// locked out, with the same end. An administrator asked "why can't I
// sign in" reads it at GET /admin/audit?action=login without the log.
func TestLockoutBeginningIsAudited(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		fails int
		// want: substrings of the newest login entry's detail; not:
		// what it must not say.
		want, not []string
	}{
		"below the limit":      {fails: 2, want: []string{"wrong user name or password"}, not: []string{"locked out"}},
		"at the limit":         {fails: 3, want: []string{"wrong user name or password", "locked out from this address until 2026-11-26T08:10:00Z", "锁定"}},
		"refused while locked": {fails: 4, want: []string{"locked out from this address until 2026-11-26T08:10:00Z"}, not: []string{"wrong user name or password"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proxy, err := access.NewProxy("", "", []string{"127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, testToken, func(o *Options) { o.Proxy = proxy })
			f.addUser("amy", access.Operator)
			for i := range tc.fails {
				f.client().post("/console/login", url.Values{"user": {"amy"}, "password": {fmt.Sprintf("wrong-%d-0123456789", i)}}, "X-Forwarded-For", "10.4.0.1")
			}
			got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "login", Actor: "amy", Limit: 1})
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
