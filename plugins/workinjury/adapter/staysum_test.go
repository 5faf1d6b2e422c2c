package adapter

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// A stay of 10,000 fee lines of 0.01 (twenty GYU102 calls of 500) adds
// up to exactly 100.00 – in float64 it would not (0.01 has no exact
// binary form) – and a settlement one fen off is refused with both sums.
// The sums are checked against a big.Rat reference of this test, and the
// simulator, adding the lines independently in fen, takes the settlement
// the adapter lets through.
func TestStayOfTenThousandCents(t *testing.T) {
	t.Parallel()
	const calls, perCall = 20, 500
	var ref big.Rat
	for range calls * perCall {
		ref.Add(&ref, big.NewRat(1, 100))
	}
	exact := ref.FloatString(2)
	if exact != "100.00" {
		t.Fatalf("reference sum %s", exact)
	}
	cases := map[string]struct {
		akc264, fund string
		ok           bool
	}{
		"the exact sum": {akc264: exact, fund: exact, ok: true},
		"one fen over":  {akc264: "100.01", fund: "100.01"},
		"one fen under": {akc264: "99.99", fund: "99.99"},
		"float64's sum": {akc264: "100.0000000000014", fund: exact},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			v := c.admit("ZY0961")
			for i := range calls {
				var fee []any
				for j := range perCall {
					fee = append(fee, line(fmt.Sprintf("%05d", i*perCall+j), "0.01", "1", "0"))
				}
				c.mustOK(c.send("GYU102", map[string]any{"ykc700": v, "akc190": "ZY0961", "fee": fee}))
			}
			in := c.settlementOf(v, "ZY0961", nil)
			in["akc264"], in["fund_pay"], in["self_pay"] = json.Number(tc.akc264), json.Number(tc.fund), json.Number("0.00")
			before := len(c.sim.Received("GYU103"))
			r := c.send("GYU103", in)
			if tc.ok {
				c.mustOK(r)
				return
			}
			c.wantInvalid(t, r, "GYU103", before, "$.akc264", "rule settlement=Σdetails")
			for _, d := range r.Diagnostics {
				if d.Severity == sdk.SeverityError && d.Field == "$.akc264" && strings.Contains(d.Summary, "details of visit "+v+" add up to "+exact) {
					return
				}
			}
			t.Fatalf("no diagnostic shows the details' sum %s: %s", exact, r.Diagnostics)
		})
	}
}
