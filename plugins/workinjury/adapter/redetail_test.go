package adapter

import (
	"testing"
	"time"
)

// TestRevokedDetailUploadedAgain: a hospital corrects a fee line by
// revoking it (GYR001) and uploading the corrected line under the HIS's
// own number. The stay's settlement then counts the corrected line, not
// the revoked one, whichever of the two the state lists first, and both
// the adapter and the simulator take it.
func TestRevokedDetailUploadedAgain(t *testing.T) {
	t.Parallel()
	revoke := func(nos ...string) map[string]any {
		m := map[string]any{"revoke_reason": "明细有误", "revoke_time": stampT(admitDay.Add(2 * time.Hour)), "aae011": "王五"}
		var l []any
		for _, no := range nos {
			l = append(l, map[string]any{"detail_no": no})
		}
		if l != nil {
			m["details"] = l
		}
		return m
	}
	tests := map[string]struct {
		revoked []string // detail numbers GYR001 lists; none: all
		again   string   // id of the message uploading the lines again: its lines sort before or after the revoked ones
	}{
		"one line, corrected after":   {revoked: []string{"0001"}, again: "z-fees-again"},
		"one line, corrected before":  {revoked: []string{"0001"}, again: "a-fees-again"},
		"every line, uploaded again":  {again: "z-fees-again"},
		"every line, listed in order": {revoked: []string{"0001", "0002"}, again: "a-fees-again"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			v, lines := c.stay("ZY0301")
			in := revoke(tc.revoked...)
			in["ykc700"] = v
			c.mustOK(c.send("GYR001", in))
			// 0001 corrected: 3 instead of 2 at 10.00; 0002 as it was
			// when every line was revoked.
			again := []map[string]any{line("0001", "10.00", "3", "5.00")}
			if len(tc.revoked) != 1 {
				again = append(again, lines[1])
			}
			c.mustOK(c.handle(tc.again, "GYU102", fees(v, "ZY0301", again...), false))
			want := []map[string]any{again[0], lines[1]}
			out := c.mustOK(c.send("GYU103", c.settlementOf(v, "ZY0301", want)))
			info, ok := c.sim.Settlement(out["settle_no"].(string))
			if !ok || info.Total != 6750 {
				t.Fatalf("simulator settlement %+v, want total 67.50 (30.00 + 37.50)", info)
			}
		})
	}
}
