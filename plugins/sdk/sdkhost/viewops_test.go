package sdkhost

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestViewsSendDeclaredOperations: the host routes a message only to an
// operation its plugin declares, so a form, a row action, a remote command
// or a document page that sends any other type could never work (the
// operator would get "plugin has no operation" on every use). The host
// refuses such a plugin at launch, naming the view and the operation.
func TestViewsSendDeclaredOperations(t *testing.T) {
	t.Parallel()
	base := func() *sdk.DescribeResponse {
		return &sdk.DescribeResponse{
			Name:          "lab",
			Operations:    []sdk.Operation{{Type: "lab.order"}, {Type: "lab.list"}, {Type: "lab.get"}, {Type: "lab.adjust"}, {Type: "lab.confirm"}},
			WorkLists:     []sdk.WorkList{{Name: "orders", Title: "Orders", ListOperation: "lab.list"}},
			Forms:         []sdk.Form{{Name: "order", Title: "Order", Operation: "lab.order"}},
			WorkListViews: []sdk.WorkListView{{List: "orders", Actions: []sdk.Action{{Name: "redo", Label: "Redo", Operation: "lab.order"}}}},
			Commands:      []sdk.Command{{Name: "order", Summary: "order", Operation: "lab.order"}},
			Documents: []sdk.DocumentView{{
				Name: "order", Title: "Order", List: "orders", ItemField: "id", Get: "lab.get", IDField: "id", Lines: "lines", LineKey: "n",
				Adjust:  sdk.DocumentAdjust{Operation: "lab.adjust", Changes: "changes", Kind: "kind"},
				Edits:   []sdk.Edit{{Name: "setQty", Label: "Quantity"}},
				Confirm: &sdk.DocumentConfirm{Label: "Confirm", Operation: "lab.confirm"},
			}},
		}
	}
	cases := map[string]struct {
		twist func(*sdk.DescribeResponse)
		want  string // in the one problem reported; "" for none
	}{
		"all declared":            {func(*sdk.DescribeResponse) {}, ""},
		"form":                    {func(d *sdk.DescribeResponse) { d.Forms[0].Operation = "lab.odrer" }, `form "order": operation "lab.odrer" is not among the operations`},
		"row action":              {func(d *sdk.DescribeResponse) { d.WorkListViews[0].Actions[0].Operation = "lab.redo" }, `work list "orders": action "redo": operation "lab.redo" is not among the operations`},
		"remote command":          {func(d *sdk.DescribeResponse) { d.Commands[0].Operation = "lab.odrer" }, `command "order": operation "lab.odrer" is not among the operations`},
		"document get":            {func(d *sdk.DescribeResponse) { d.Documents[0].Get = "lab.fetch" }, `document view "order": Get operation "lab.fetch" is not among the operations`},
		"document adjust":         {func(d *sdk.DescribeResponse) { d.Documents[0].Adjust.Operation = "lab.edit" }, `document view "order": Adjust operation "lab.edit" is not among the operations`},
		"document confirm":        {func(d *sdk.DescribeResponse) { d.Documents[0].Confirm.Operation = "lab.done" }, `document view "order": Confirm operation "lab.done" is not among the operations`},
		"adjust unused, no edits": {func(d *sdk.DescribeResponse) { d.Documents[0].Edits = nil; d.Documents[0].Adjust.Operation = "" }, ""},
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
			case !strings.Contains(errs[0].Error(), tc.want) || !strings.Contains(errs[0].Error(), "register it (sdk.Mux)"):
				t.Fatalf("problem %q; want it to contain %q and the fix", errs[0], tc.want)
			}
		})
	}
}
