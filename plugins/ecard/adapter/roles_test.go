package adapter

import (
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestCorrectionsNeedAdmin: correcting a stored identity (ecard.rename,
// ecard.phone) and revoking a card (ecard.revoke, wrongId or not) change
// what another patient's record says or whether it scans, so their
// console forms and commands declare the admin role; the desk's own work
// (register and print, scan, reprint, look up) stays the operator's. The host
// enforces what is declared (console, command line).
func TestCorrectionsNeedAdmin(t *testing.T) {
	t.Parallel()
	d, err := New().Describe(t.Context(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{OpRename: sdk.RoleAdmin, OpRevoke: sdk.RoleAdmin, OpPhone: sdk.RoleAdmin,
		OpDesk: sdk.RoleOperator, OpQRCode: sdk.RoleOperator, OpScan: sdk.RoleOperator, OpGet: sdk.RoleOperator}
	seen := map[string]bool{}
	for _, f := range d.Forms {
		w, ok := want[f.Operation]
		if !ok {
			t.Errorf("form %q sends %s, which this test does not know: say which role it needs", f.Name, f.Operation)
			continue
		}
		seen[f.Operation] = true
		if got := sdk.RoleOf(f.Role); got != w {
			t.Errorf("form %q (%s) needs the role %s, want %s", f.Name, f.Operation, got, w)
		}
	}
	for _, c := range d.Commands {
		if w := want[c.Operation]; sdk.RoleOf(c.Role) != w {
			t.Errorf("command %q (%s) needs the role %s, want %s", c.Name, c.Operation, sdk.RoleOf(c.Role), w)
		}
		seen["command "+c.Operation] = true
	}
	for _, op := range []string{OpRename, OpRevoke, OpPhone} {
		if !seen[op] || !seen["command "+op] {
			t.Errorf("%s has no console form or no command (form %v, command %v)", op, seen[op], seen["command "+op])
		}
	}
}
