package adapter

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestUsedInpatientNumberAdviceFitsTheStay: an admission (GYU101) under an
// inpatient number the institution already used is refused
// (「同一机构住院号/门诊号不重复」) with advice that fits the stay holding
// the number: an open stay's admission is revoked with GYR002; a settled
// stay's is not (GYR002 refuses it, rule admission-revocable), so the
// refusal names the settlement and says a new stay takes a number of its
// own, and only a wrong settlement is revoked, with GYR003. Before, both
// said "revoke the wrong admission with GYR002 first", which for a settled
// stay sent the clerk to a revocation that is always refused.
func TestUsedInpatientNumberAdviceFitsTheStay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(c *chain) string // holds ZY0991; returns the settlement, if any
		want    []string
		not     []string
	}{
		{"open stay", func(c *chain) string { c.admit("ZY0991"); return "" }, []string{"GYR002"}, []string{"GYR003"}},
		{"settled stay", func(c *chain) string { _, s := c.settle("ZY0991"); return s },
			[]string{"is settled", "GYR003", "a number of its own", "已结算"}, []string{"revoke the wrong admission with GYR002"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			settleNo := tc.prepare(c)
			r := c.send("GYU101", c.admission("ZY0991"))
			if r.Status != sdk.StatusInvalid || !hasField(r, "$.akc190", "state") {
				t.Fatalf("status %s %v, want invalid at $.akc190", r.Status, fields(r))
			}
			var msg string
			for _, d := range r.Diagnostics {
				if d.Field == "$.akc190" {
					msg = d.Message()
				}
			}
			want := tc.want
			if settleNo != "" {
				want = append(want, settleNo)
			}
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("refusal %q does not say %q", msg, w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(msg, w) {
					t.Errorf("refusal %q says %q", msg, w)
				}
			}
		})
	}
}
