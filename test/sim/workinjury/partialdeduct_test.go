package workinjury

import (
	"fmt"
	"testing"
	"time"
)

// TestPartialDeductions: with Config.PartialDeductions a GYU004 (GYR004)
// takes the deductions that pass the rules and leaves out the others,
// counting only those taken; a call none of whose deductions passes is
// refused; by default one deduction breaking a rule refuses the call.
// The settlement's fund_pay is 30.00 (two lines of 15.00).
func TestPartialDeductions(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		partial bool
		code    string
		prep    func(c *chain, st string)
		nos     []string // GYU004: KA 10.00, KB 25.00 (over fund_pay after KA); GYR004: the numbers revoked
		want    string   // business code
		count   string   // accepted_count or revoked_count
		taken   []string // deductions added (GYU004) or revoked (GYR004) in the ledger after the call
	}{
		"GYU004 one over fund_pay, partial": {partial: true, code: "GYU004", want: "0", count: "1", taken: []string{"KA"}},
		"GYU004 one over fund_pay, default": {code: "GYU004", want: "E8003"},
		"GYU004 all over fund_pay, partial": {partial: true, code: "GYU004", prep: func(c *chain, st string) {
			mustNil(c.t, c.srv.AddDeduction("NAT1", st, 2500, "国家扣款", deductDay))
		}, want: "E8003"},
		"GYR004 one already revoked, partial": {partial: true, code: "GYR004", nos: []string{"K1", "K2"}, prep: func(c *chain, _ string) {
			mustNil(c.t, c.srv.RevokeDeduction("K1", "国家撤销", deductDay.Add(30*time.Minute)))
		}, want: "0", count: "1", taken: []string{"K2"}},
		"GYR004 one unknown, partial": {partial: true, code: "GYR004", nos: []string{"K1", "KX", "K2"}, want: "0", count: "2", taken: []string{"K1", "K2"}},
		"GYR004 one already revoked, default": {code: "GYR004", nos: []string{"K1", "K2"}, prep: func(c *chain, _ string) {
			mustNil(c.t, c.srv.RevokeDeduction("K1", "国家撤销", deductDay.Add(30*time.Minute)))
		}, want: "E7006"},
		"GYR004 every one unknown, partial": {partial: true, code: "GYR004", nos: []string{"KX", "KY"}, want: "E7005"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, func(cfg *Config) { cfg.PartialDeductions = tc.partial })
			_, st := c.stay("ZY1", lines("D", 1, 2))
			if tc.code == "GYR004" {
				c.must("GYU004", deductions(deductionLine("K1", st, "1.00", deductDay), deductionLine("K2", st, "2.00", deductDay)))
			}
			if tc.prep != nil {
				tc.prep(c, st)
			}
			before := map[string]DeductionInfo{}
			for _, d := range c.srv.Deductions(st) {
				before[d.DeductNo] = d
			}
			var got string
			var out map[string]any
			countField := "accepted_count"
			if tc.code == "GYU004" {
				got, out = c.call("GYU004", deductions(deductionLine("KA", st, "10.00", deductDay), deductionLine("KB", st, "25.00", deductDay)))
			} else {
				countField = "revoked_count"
				got, out = c.call("GYR004", revokeDeductions(tc.nos...))
			}
			if got != tc.want {
				t.Fatalf("%s answered %s, want %s", tc.code, got, tc.want)
			}
			if tc.want == "0" {
				if n := fmt.Sprint(out[countField]); n != tc.count {
					t.Fatalf("%s %s, want %s", countField, n, tc.count)
				}
			}
			var taken []string
			for _, d := range c.srv.Deductions(st) {
				b, existed := before[d.DeductNo]
				if !existed || d.Revoked && !b.Revoked {
					taken = append(taken, d.DeductNo)
				}
			}
			if fmt.Sprint(taken) != fmt.Sprint(tc.taken) {
				t.Fatalf("taken by the call: %v, want %v", taken, tc.taken)
			}
		})
	}
}
