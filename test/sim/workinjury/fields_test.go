package workinjury

import (
	"errors"
	"strings"
	"testing"
)

// TestFieldRulesRefused: a fee upload (GYU102) that breaks one field rule
// of schemas/workinjury/GYU102.yaml is refused with E1001 naming the field
// and the rule, whether the rule is broken at the top or inside a line;
// the simulator checks with its own rules (test/sim/simspec), so a defect
// of the adapter's validator is not mirrored here. Lengths count
// characters: 200 Chinese characters (600 bytes) fit ake006's 200.
func TestFieldRulesRefused(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		change func(line map[string]any)
		want   string // "" accepted, else the "path rule" E1001 names
	}{
		"valid":                        {change: func(map[string]any) {}},
		"200 Chinese characters":       {change: func(l map[string]any) { l["ake006"] = strings.Repeat("药", 200) }},
		"missing required in a line":   {change: func(l map[string]any) { delete(l, "detail_no") }, want: "$.fee[1].detail_no required"},
		"empty required in a line":     {change: func(l map[string]any) { l["ake005"] = "" }, want: "$.fee[1].ake005 required"},
		"blank required in a line":     {change: func(l map[string]any) { l["ake005"] = "\u3000\u3000" }, want: "$.fee[1].ake005 required"},
		"blank required amount":        {change: func(l map[string]any) { l["fund_pay"] = " " }, want: "$.fee[1].fund_pay required"},
		"blank required date-time":     {change: func(l map[string]any) { l["fee_time"] = "\t\r\n" }, want: "$.fee[1].fee_time required"},
		"201 Chinese characters":       {change: func(l map[string]any) { l["ake006"] = strings.Repeat("药", 201) }, want: "$.fee[1].ake006 length"},
		"three decimals in an amount":  {change: func(l map[string]any) { l["self_pay"] = "5.001" }, want: "$.fee[1].self_pay type"},
		"five decimals in a quantity":  {change: func(l map[string]any) { l["qty"] = "2.00001" }, want: "$.fee[1].qty type"},
		"amount too large":             {change: func(l map[string]any) { l["fund_pay"] = "12345678901234567" }, want: "$.fee[1].fund_pay type"},
		"day that does not exist":      {change: func(l map[string]any) { l["fee_time"] = "2025-02-30 09:00:00" }, want: "$.fee[1].fee_time format"},
		"date-time without seconds":    {change: func(l map[string]any) { l["fee_time"] = "2025-04-01 09:00" }, want: "$.fee[1].fee_time format"},
		"date-time with a fraction":    {change: func(l map[string]any) { l["fee_time"] = "2025-04-01 09:00:00.5" }, want: "$.fee[1].fee_time format"},
		"code not in the table":        {change: func(l map[string]any) { l["catalog_type"] = "9" }, want: "$.fee[1].catalog_type enum"},
		"number where text is written": {change: func(l map[string]any) { l["ake001"] = 1 }, want: "$.fee[1].ake001 type"},
		"key the list does not know":   {change: func(l map[string]any) { l["ake0066"] = "x" }, want: "$.fee[1].ake0066 unknown"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, nil)
			v := c.admit("ZY1")
			ls := lines("D", 1, 2)
			tc.change(ls[1])
			in := map[string]any{"ykc700": v, "akc190": "ZY1", "fee": anys(ls)}
			code, _ := c.call("GYU102", in)
			if tc.want == "" {
				if code != "0" {
					t.Fatalf("answered %s, want 0", code)
				}
				return
			}
			if code != "E1001" {
				t.Fatalf("answered %s, want E1001", code)
			}
			_, err := c.srv.Apply("GYU102", in)
			var be *BusinessError
			if !errors.As(err, &be) || be.Code != "E1001" || !strings.Contains(be.Message, tc.want) {
				t.Fatalf("Apply: %v; want E1001 naming %q", err, tc.want)
			}
			if n := c.srv.Accepted("GYU102", v); n != 0 {
				t.Fatalf("%d fee uploads accepted", n)
			}
		})
	}
}
