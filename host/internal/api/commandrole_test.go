package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/sites"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// commandBackend runs a plugin "ledger" with a command "fix" declared
// for admins and a command "note" declaring no role (operator).
type commandBackend struct{ fakeBackend }

func (b *commandBackend) Plugins() any {
	return []sites.Info{{Name: "ledger", Version: "1.0.0", Running: true, Sites: []string{"s1"},
		Commands: []sdk.Command{{Name: "fix", Summary: "fix", Operation: "ledger.fix", Role: sdk.RoleAdmin}, {Name: "note", Summary: "note", Operation: "ledger.note"}}}}
}

// TestCommandRoleChecked: the command line asks the running medgate
// whether its user may run a plugin's command (POST /admin/commands/check)
// before it sends anything, over real HTTP: the role the plugin declares
// decides (admin for fix, operator for note), a refusal is 403 naming the
// role and is audited refused, a granted check is audited as the command
// (command.check, with the message id it will send), and a command no
// running plugin declares is 404.
func TestCommandRoleChecked(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		role  access.Role
		query url.Values
		code  int
		has   []string
		audit []string // the user's entries, newest first
	}{
		"admin, admin command": {role: access.Admin, query: url.Values{"plugin": {"ledger"}, "command": {"fix"}, "site": {"s1"}, "target": {"cli-1"}},
			code: http.StatusOK, has: []string{`"role":"admin"`}, audit: []string{"command.check ok", "command.check attempted"}},
		"operator, admin command": {role: access.Operator, query: url.Values{"plugin": {"ledger"}, "command": {"fix"}, "site": {"s1"}, "target": {"cli-2"}},
			code: http.StatusForbidden, has: []string{`"code":"forbidden"`, "ledger fix needs the role admin", "has the role operator", "medgate user role u1 admin"},
			audit: []string{"command.check refused", "command.check attempted"}},
		"operator, operator command": {role: access.Operator, query: url.Values{"plugin": {"ledger"}, "command": {"note"}, "site": {"s1"}, "target": {"cli-3"}},
			code: http.StatusOK, has: []string{`"role":"operator"`}, audit: []string{"command.check ok", "command.check attempted"}},
		"viewer, operator command": {role: access.Viewer, query: url.Values{"plugin": {"ledger"}, "command": {"note"}, "site": {"s1"}},
			code: http.StatusForbidden, has: []string{"needs the role operator"}, audit: []string{"api.refused refused"}},
		"admin, undeclared command": {role: access.Admin, query: url.Values{"plugin": {"ledger"}, "command": {"nosuch"}, "site": {"s1"}},
			code: http.StatusNotFound, has: []string{"no running plugin ledger declares a command nosuch"}, audit: []string{"command.check refused", "command.check attempted"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newAccessFixture(t, &commandBackend{fakeBackend: *okBackend()}, "")
			users := access.NewUsers(f.st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
			if err := users.Add(t.Context(), "u1", tc.role, "pw-u1-0123456789", nil); err != nil {
				t.Fatal(err)
			}
			path := "/admin/commands/check?" + tc.query.Encode()
			code, body := f.call(t, http.MethodPost, path, "u1", "pw-u1-0123456789")
			if code != tc.code {
				t.Fatalf("POST %s as a %s: %d %s, want %d", path, tc.role, code, body, tc.code)
			}
			for _, w := range tc.has {
				if !strings.Contains(body, w) {
					t.Errorf("answer %s lacks %q", body, w)
				}
			}
			es, err := f.st.ListAudit(t.Context(), store.AuditFilter{Actor: "u1"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Action+" "+e.Outcome)
			}
			if !slices.Equal(got, tc.audit) {
				t.Errorf("audit entries %q, want %q", got, tc.audit)
			}
		})
	}
}
