package sdkhost

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestDeclaredRoles: a form, row action or remote command may require the
// admin role (sdk.RoleAdmin); the host refuses a role it does not know
// (a typo would leave the entry point open to operators, or shut it for
// everyone), a role on a local command (it runs on the operator's machine,
// where no running medgate checks anything), and one operation sent by
// entry points that require different roles (the lower one would be a way
// around the higher).
func TestDeclaredRoles(t *testing.T) {
	t.Parallel()
	base := func() *sdk.DescribeResponse {
		return &sdk.DescribeResponse{
			Name:          "lab",
			Operations:    []sdk.Operation{{Type: "lab.fix"}, {Type: "lab.list"}, {Type: "lab.order"}},
			WorkLists:     []sdk.WorkList{{Name: "orders", Title: "Orders", ListOperation: "lab.list"}},
			Forms:         []sdk.Form{{Name: "fix", Title: "Fix", Operation: "lab.fix", Role: sdk.RoleAdmin}, {Name: "order", Title: "Order", Operation: "lab.order"}},
			WorkListViews: []sdk.WorkListView{{List: "orders", Actions: []sdk.Action{{Name: "fix", Label: "Fix", Operation: "lab.fix", Role: sdk.RoleAdmin}}}},
			Commands: []sdk.Command{{Name: "fix", Summary: "fix", Operation: "lab.fix", Role: sdk.RoleAdmin},
				{Name: "order", Summary: "order", Operation: "lab.order", Role: sdk.RoleOperator}},
		}
	}
	cases := map[string]struct {
		twist func(*sdk.DescribeResponse)
		want  string // in the one problem reported; "" for none
	}{
		"admin everywhere, operator spelled out or empty": {func(*sdk.DescribeResponse) {}, ""},
		"unknown role on a form":                          {func(d *sdk.DescribeResponse) { d.Forms[1].Role = "Admin" }, `form "order": role "Admin" is not one of operator, admin`},
		"viewer on a form":                                {func(d *sdk.DescribeResponse) { d.Forms[1].Role = "viewer" }, `form "order": role "viewer" is not one of operator, admin`},
		"unknown role on an action": {func(d *sdk.DescribeResponse) { d.WorkListViews[0].Actions[0].Role = "root" },
			`work list "orders": action "fix": role "root" is not one of operator, admin`},
		"unknown role on a command": {func(d *sdk.DescribeResponse) { d.Commands[1].Role = "superuser" }, `command "order": role "superuser" is not one of operator, admin`},
		"role on a local command": {func(d *sdk.DescribeResponse) {
			d.Commands[1] = sdk.Command{Name: "keys", Summary: "keys", Local: true, Role: sdk.RoleAdmin}
		}, `command "keys": a local command runs on the operator's machine`},
		"form lower than its command": {func(d *sdk.DescribeResponse) { d.Forms[0].Role = "" },
			`operation "lab.fix" is sent by entry points requiring different roles`},
		"action lower than its form": {func(d *sdk.DescribeResponse) { d.WorkListViews[0].Actions[0].Role = sdk.RoleOperator },
			`operation "lab.fix" is sent by entry points requiring different roles`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := base()
			tc.twist(d)
			errs := CheckDescription(d)
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Fatalf("problems %v; want none", errs)
			case tc.want == "":
			case len(errs) != 1:
				t.Fatalf("problems %v; want one containing %q", errs, tc.want)
			case !strings.Contains(errs[0].Error(), tc.want):
				t.Fatalf("problem %q; want it to contain %q", errs[0], tc.want)
			}
		})
	}
}
