package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestAdminOnlyFormAndAction: a plugin's form and row action that declare
// sdk.RoleAdmin are for admins only, over real HTTP. An operator (and a
// viewer) is not offered the form in the navigation bar, nor the row
// action as a button that would work (it is shown disabled, saying the
// role it needs), and the routes refuse them whatever the page shows: 403
// naming the role, nothing sent. An admin opens and sends both. A form
// without a role stays the operator's (backward compatible).
func TestAdminOnlyFormAndAction(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	revokeForm := sdk.Form{Name: "revoke", Title: "电子卡注销 Revoke", Operation: "ecard.revoke", Role: sdk.RoleAdmin,
		Fields: []sdk.Argument{{Name: "cardNo", Type: sdk.SettingString, Required: true}, {Name: "reason", Type: sdk.SettingString, Required: true}}}
	// Copies: the fixture's views are shared by the tests running beside.
	p := &f.b.plugins[0]
	p.Views.Forms = append(slices.Clone(p.Views.Forms), revokeForm)
	view := recentCards
	view.Actions = slices.Clone(view.Actions)
	view.Actions[0].Role = sdk.RoleAdmin
	p.Views.WorkListViews = []sdk.WorkListView{view}
	f.b.handlers["ecard.revoke"] = func(p json.RawMessage) *message.Reply {
		return okReply(map[string]any{"status": "revoked"})
	}
	cases := map[string]struct {
		role    access.Role
		allowed bool
	}{
		"viewer":   {access.Viewer, false},
		"operator": {access.Operator, false},
		"admin":    {access.Admin, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			user := "formrole-" + name
			c := f.client()
			c.signIn(user, f.addUser(user, tc.role))
			before := f.b.count("ecard.revoke")

			nav, _, _ := strings.Cut(c.get("/console/board").body, "</nav>")
			if got := strings.Contains(nav, `href="/console/form/ecard/revoke"`); got != tc.allowed {
				t.Errorf("navigation bar links the admin form: %v, want %v", got, tc.allowed)
			}
			if !strings.Contains(nav, `href="/console/form/ecard/print"`) && tc.role.Allows(access.Operator) {
				t.Errorf("navigation bar lacks the print form, which declares no role (operator)")
			}

			page := c.get("/console/form/ecard/revoke")
			sent := c.post("/console/form/ecard/revoke", url.Values{"site": {"s1"}, "cardNo": {"880100000000013"}, "reason": {"重复登记"}, "csrf": {c.csrf}})
			act := c.post("/console/action", url.Values{"plugin": {"ecard"}, "list": {"recent-cards"}, "action": {"revoke"}, "site": {"s1"},
				"row.cardNo": {`"880100000000013"`}, "csrf": {c.csrf}})
			if tc.allowed {
				if page.code != http.StatusOK || sent.code != http.StatusOK || act.code != http.StatusSeeOther {
					t.Fatalf("admin: page %d, send %d, action %d; want 200, 200, 303", page.code, sent.code, act.code)
				}
				if got := f.b.count("ecard.revoke") - before; got != 2 {
					t.Fatalf("admin sent %d revocations, want 2 (form and action)", got)
				}
				return
			}
			for what, r := range map[string]resp{"GET form": page, "POST form": sent, "POST action": act} {
				if r.code != http.StatusForbidden {
					t.Errorf("%s as %s: %d, want 403", what, name, r.code)
					continue
				}
				if !strings.Contains(r.body, "admin") || !strings.Contains(r.body, "需要") {
					t.Errorf("%s as %s: the refusal does not name the role it needs:\n%s", what, name, r.body)
				}
			}
			if got := f.b.count("ecard.revoke") - before; got != 0 {
				t.Fatalf("a %s sent %d revocations, want none", name, got)
			}
			if tc.role == access.Operator {
				list := c.get("/console/worklists?plugin=ecard&list=recent-cards").body
				if strings.Contains(list, `name="action" value="revoke"`) {
					t.Errorf("the work list offers the operator the admin action as a working button:\n%s", list)
				}
				if !strings.Contains(list, "需要角色 admin") {
					t.Errorf("the work list does not say why the action is not offered:\n%s", list)
				}
			}
		})
	}
}
