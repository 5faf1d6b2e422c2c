package workinjury

import "testing"

// TestSettledStayTakesNothingMore: a settled stay takes no more fee lines
// and no second settlement (requirements: GYU103 前置校验「费用明细全部上传完成」,
// GYR001/GYR002 「职工未结算」), and once its settlement is revoked (GYR003,
// which revokes the admission and the lines too) neither, until the
// patient is admitted again.
func TestSettledStayTakesNothingMore(t *testing.T) {
	t.Parallel()
	one := lines("P", 1, 1)
	cases := map[string]struct {
		code    string
		revoked bool // the settlement revoked first
		want    string
	}{
		"fee lines after the settlement":            {code: "GYU102", want: "E6103"},
		"the settlement again":                      {code: "GYU103", want: "E6103"},
		"fee lines after the settlement revoked":    {code: "GYU102", revoked: true, want: "E6102"},
		"a settlement after the settlement revoked": {code: "GYU103", revoked: true, want: "E6102"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, nil)
			v, settleNo := c.stay("ZY1", one)
			if tc.revoked {
				c.must("GYR003", with(revokeTime(day0.AddDate(0, 0, 10)), "settle_no", settleNo, "ykc700", v, "akb020", hospital))
			}
			in := map[string]any{"ykc700": v, "akc190": "ZY1", "fee": anys(lines("Q", 1, 1))}
			if tc.code == "GYU103" {
				in = SampleSettlement(v, "ZY1", one, day0.AddDate(0, 0, 9))
			}
			if got, out := c.call(tc.code, in); got != tc.want {
				t.Fatalf("%s answered %s %v; want %s", tc.code, got, out, tc.want)
			}
			if n := len(c.srv.Settlements("")); n != 1 {
				t.Errorf("the ledger holds %d settlements, want 1", n)
			}
		})
	}
}
