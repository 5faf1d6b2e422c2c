package adapter

import (
	"testing"
)

// TestDeviceLinesSettledOnce: a line of an assistive-device settlement
// (GYU303, detail_no) is settled once for the person at the institution,
// as a fee detail is uploaded once for its stay (README: lines as
// GYU102). A GYU303 listing a line of a device settlement of the person
// there that is not revoked – the same settlement sent again under a new
// message id by a platform that lost the reply, say – is refused before
// anything is sent; once that settlement is revoked (GYR003) its lines
// may be settled again.
func TestDeviceLinesSettledOnce(t *testing.T) {
	t.Parallel()
	revoke := func(c *chain, settleNo string) {
		c.t.Helper()
		c.mustOK(c.send("GYR003", map[string]any{"settle_no": settleNo, "akb020": deviceInst, "revoke_reason": "结算有误",
			"revoke_time": "2025-05-10 16:00:00", "aae011": "王五"}))
	}
	renumber := func(in map[string]any, nos ...string) map[string]any {
		items := in["items"].([]any)
		out := make([]any, len(items))
		for i, x := range items {
			out[i] = with(x.(map[string]any), "detail_no", nos[i])
		}
		return with(in, "items", out)
	}
	runRuleCases(t, map[string]ruleCase{
		"the same settlement again": {code: "GYU303", prepare: func(c *chain) map[string]any {
			c.mustOK(c.send("GYU303", c.deviceSettlement()))
			return c.deviceSettlement()
		}, field: "$.items[0].detail_no", rule: "rule unique-detail-no"},
		"one line again": {code: "GYU303", prepare: func(c *chain) map[string]any {
			c.mustOK(c.send("GYU303", c.deviceSettlement()))
			return renumber(c.deviceSettlement(), "0003", "0002")
		}, field: "$.items[1].detail_no", rule: "rule unique-detail-no"},
		"new lines": {code: "GYU303", prepare: func(c *chain) map[string]any {
			c.mustOK(c.send("GYU303", c.deviceSettlement()))
			return renumber(c.deviceSettlement(), "0003", "0004")
		}, ok: true},
		"again after its revocation": {code: "GYU303", prepare: func(c *chain) map[string]any {
			out := c.mustOK(c.send("GYU303", c.deviceSettlement()))
			revoke(c, out["settle_no"].(string))
			return c.deviceSettlement("settle_time", "2025-05-10 17:00:00", "aae036", "2025-05-10 17:00:00")
		}, ok: true},
	})
}
