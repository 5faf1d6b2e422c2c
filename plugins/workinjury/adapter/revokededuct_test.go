package adapter

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// A settlement revoked (GYR003) with audit deductions still valid: the
// deductions are not revoked with it, so they stay in the institution's
// monthly settlement and keep reducing its fund payment, even once the
// stay is settled again (and deducted again). The reply says so, naming
// them, so that the agency revokes them (GYR004) when they belong to the
// revoked settlement only. Without deductions, or with all of them
// revoked, there is nothing to say.
func TestSettlementRevokedWithDeductions(t *testing.T) {
	t.Parallel()
	day := admitDay.Add(10 * 24 * time.Hour)
	tests := map[string]struct {
		deduct, revoke []string // deductions made; of them revoked before the GYR003
		warn           []string // named by the warning
	}{
		"valid deductions":   {deduct: []string{"KR0001", "KR0002"}, warn: []string{"KR0001", "KR0002", "GYR004"}},
		"one of two revoked": {deduct: []string{"KR0001", "KR0002"}, revoke: []string{"KR0001"}, warn: []string{"KR0002"}},
		"all revoked":        {deduct: []string{"KR0001"}, revoke: []string{"KR0001"}},
		"no deductions":      {},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			v, s := c.settle("ZY0601")
			var items []map[string]any
			for _, no := range tc.deduct {
				items = append(items, deduction(no, s, "1.00"))
			}
			if items != nil {
				c.mustOK(c.send("GYU004", deductions(items...)))
			}
			var list []any
			for _, no := range tc.revoke {
				list = append(list, map[string]any{"deduct_no": no})
			}
			if list != nil {
				c.mustOK(c.send("GYR004", map[string]any{"deductions": list, "revoke_time": stampT(day), "aae011": "王五"}))
			}
			r := c.send("GYR003", map[string]any{"settle_no": s, "ykc700": v, "akb020": hospital, "revoke_reason": "结算有误",
				"revoke_time": stampT(day.Add(time.Hour)), "aae011": "王五"})
			c.mustOK(r)
			var warning *sdk.Diagnostic
			for i, d := range r.Diagnostics {
				if d.Severity == sdk.SeverityWarning && d.Rule == "deductions-remain" {
					warning = &r.Diagnostics[i]
				}
			}
			if len(tc.warn) == 0 {
				if warning != nil {
					t.Fatalf("a warning without valid deductions: %+v", *warning)
				}
				return
			}
			if warning == nil {
				t.Fatalf("no deductions-remain warning: %s", r.Diagnostics)
			}
			text := warning.Summary + " " + warning.Detail
			for _, w := range tc.warn {
				if !strings.Contains(text, w) {
					t.Fatalf("the warning does not name %s: %s", w, text)
				}
			}
			var remaining []any
			for _, no := range tc.deduct {
				if strings.Contains(warning.Summary, no) == slices.Contains(tc.revoke, no) {
					t.Fatalf("the warning names the revoked deductions, or not the valid ones (%s): %s", no, warning.Summary)
				}
				if !slices.Contains(tc.revoke, no) {
					remaining = append(remaining, map[string]any{"deduct_no": no})
				}
			}
			// As the warning says, the agency can still revoke them.
			c.mustOK(c.send("GYR004", map[string]any{"deductions": remaining, "revoke_time": stampT(day.Add(2 * time.Hour)), "aae011": "王五"}))
		})
	}
}
