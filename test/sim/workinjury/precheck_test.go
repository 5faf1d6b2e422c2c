package workinjury

import (
	"testing"
	"time"
)

// TestEveryPreCheckRefused is the simulator's side of the adapter's
// TestEveryPreCheckRefused: each pre-check (前置校验) and rule that
// requirements-zh.txt §2.2.1 states for the care, revocation and clearing
// transactions, sent straight to the simulator, is refused by it on its
// own with its business error. (GYU009's 审核通过 is not here: audit_status
// is a platform-only field the adapter checks and never sends.)
func TestEveryPreCheckRefused(t *testing.T) {
	t.Parallel()
	one := lines("P", 1, 1) // 2 × 10.00 = 20.00, fund 15.00
	gyr001 := func(v string, nos ...string) map[string]any {
		m := with(revokeTime(day0.Add(3*time.Hour)), "ykc700", v)
		var l []any
		for _, n := range nos {
			l = append(l, map[string]any{"detail_no": n})
		}
		if l != nil {
			m["details"] = l
		}
		return m
	}
	gyr002 := func(v string) map[string]any { return with(revokeTime(day0.Add(3*time.Hour)), "ykc700", v) }
	fee := func(v, akc190 string) map[string]any {
		return map[string]any{"ykc700": v, "akc190": akc190, "fee": anys(one)}
	}
	cases := map[string]struct {
		code    string
		zh      string // the requirement's check
		prepare func(c *chain) map[string]any
		want    string // the simulator's business error code
		// answer, when set, checks a refusal given as an answer (GYD053,
		// GYR005 answer, they do not fail).
		answer func(out map[string]any) bool
		// setup, when set, builds its own simulator instead of prepare.
		setup func(t testing.TB) (*chain, map[string]any)
	}{
		"GYU101 no approved filing": {code: "GYU101", zh: "人员备案已审核通过", want: "E6001",
			prepare: func(c *chain) map[string]any {
				return with(SampleAdmission(c.filing, hospital, "ZY1", day0), "filing_no", "BANOSUCH")
			}},
		"GYU101 admitted outside the filing": {code: "GYU101", zh: "入院时间在备案有效期", want: "E6002",
			prepare: func(c *chain) map[string]any {
				return SampleAdmission(c.filing, hospital, "ZY1", day0.AddDate(5, 0, 0))
			}},
		"GYU101 agreement not valid": {code: "GYU101", zh: "协议机构状态有效", want: "E6003",
			prepare: func(c *chain) map[string]any {
				c.srv.AddInstitution(with(SampleInstitution(hospital, "厦门市第一示例医院", "1", "350200"), "valid_flag", "0"))
				return SampleAdmission(c.filing, hospital, "ZY1", day0)
			}},
		"GYU101 inpatient number used": {code: "GYU101", zh: "同一机构住院号/门诊号不重复", want: "E6004",
			prepare: func(c *chain) map[string]any { c.admit("ZY1"); return SampleAdmission(c.filing, hospital, "ZY1", day0) }},
		"GYU102 admission not uploaded": {code: "GYU102", zh: "已上传入院信息", want: "E6101",
			prepare: func(c *chain) map[string]any { return fee("JZNOSUCH", "ZY1") }},
		"GYU102 admission revoked": {code: "GYU102", zh: "且未撤销", want: "E6102",
			prepare: func(c *chain) map[string]any { v := c.admit("ZY1"); revokeAdmission(c, v); return fee(v, "ZY1") }},
		"GYU103 no fee details": {code: "GYU103", zh: "费用明细全部上传完成", want: "E6203",
			prepare: func(c *chain) map[string]any {
				v := c.admit("ZY1")
				return SampleSettlement(v, "ZY1", one, day0.AddDate(0, 0, 9))
			}},
		"GYU004 settlement not uploaded": {code: "GYU004", zh: "已上传出院结算信息", want: "E8001",
			prepare: func(c *chain) map[string]any { return deductions(deductionLine("K1", "JSNOSUCH", "1.00", deductDay)) }},
		"GYU004 amount zero": {code: "GYU004", zh: "扣款金额大于0", want: "E8002",
			prepare: func(c *chain) map[string]any {
				_, s := c.stay("ZY1", one)
				return deductions(deductionLine("K1", s, "0", deductDay))
			}},
		"GYU004 over the fund-paid total": {code: "GYU004", zh: "不超过结算统筹支付总金额", want: "E8003",
			prepare: func(c *chain) map[string]any {
				_, s := c.stay("ZY1", one)
				return deductions(deductionLine("K1", s, "15.01", deductDay))
			}},
		"GYU004 institution of another province": {code: "GYU004", zh: "协议机构属于本省", want: "E8004",
			prepare: func(c *chain) map[string]any {
				return deductions(with(deductionLine("K1", outsideSettlement(c.t, c), "1.00", deductDay), "akb020", outside))
			}},
		"GYU003 no settlement uploaded": {code: "GYU003", zh: "已上传结算信息", want: "E8007",
			prepare: func(c *chain) map[string]any {
				in := newAprilInput(c)
				in["settle_month"] = "202401"
				return in
			}},
		"GYU003 month settled": {code: "GYU003", zh: "每月仅一次", want: "E8005",
			setup: func(t testing.TB) (*chain, map[string]any) {
				m := newApril(t)
				m.c.must("GYU003", m.input())
				return m.c, m.input()
			}},
		"GYR001 settled": {code: "GYR001", zh: "人员未结算", want: "E6103",
			prepare: func(c *chain) map[string]any { v, _ := c.stay("ZY1", one); return gyr001(v) }},
		"GYR001 no fee details": {code: "GYR001", zh: "存在费用明细", want: "E7003",
			prepare: func(c *chain) map[string]any { return gyr001(c.admit("ZY1")) }},
		"GYR001 detail not uploaded": {code: "GYR001", zh: "存在费用明细", want: "E7003",
			prepare: func(c *chain) map[string]any {
				v := c.admit("ZY1")
				c.must("GYU102", fee(v, "ZY1"))
				return gyr001(v, "P99999")
			}},
		"GYR002 admission not uploaded": {code: "GYR002", zh: "已上传入院信息", want: "E6101",
			prepare: func(c *chain) map[string]any { return gyr002("JZNOSUCH") }},
		"GYR002 valid fee details": {code: "GYR002", zh: "无费用明细或已撤销费用明细", want: "E7004",
			prepare: func(c *chain) map[string]any { v := c.admit("ZY1"); c.must("GYU102", fee(v, "ZY1")); return gyr002(v) }},
		"GYR002 settled": {code: "GYR002", zh: "职工未结算", want: "E6103",
			prepare: func(c *chain) map[string]any { v, _ := c.stay("ZY1", one); return gyr002(v) }},
		"GYR003 settlement not uploaded": {code: "GYR003", zh: "已上传结算信息", want: "E7001",
			prepare: func(c *chain) map[string]any {
				return with(revokeTime(day0), "settle_no", "JSNOSUCH", "akb020", hospital)
			}},
		"GYR004 deduction not uploaded": {code: "GYR004", zh: "已上传审核扣款信息", want: "E7005",
			prepare: func(c *chain) map[string]any { return revokeDeductions("KNOSUCH") }},
		"GYD052 no approved filing": {code: "GYD052", zh: "人员存在已审核通过备案", want: "E6001",
			prepare: func(c *chain) map[string]any {
				card := DemoCard()
				return map[string]any{"aaz500": card.AAZ500, "card_id": card.CardID, "aab301": card.AAB301, "aac002": "440302198001019999",
					"aac003": card.AAC003, "akb020": hospital, "aae036": stamp(day0)}
			}},
		"GYD055 no approved filing": {code: "GYD055", zh: "人员存在已审核通过备案", want: "E6001",
			prepare: func(c *chain) map[string]any {
				card := DemoCard()
				card.AAZ500, card.CardID, card.AAC002 = "A44030000009", "440300D156000009", "440302198001019999"
				c.srv.AddCard(card)
				return map[string]any{"aaz500": card.AAZ500, "card_id": card.CardID, "aab301": card.AAB301, "random_hex": "0123456789ABCDEF",
					"internal_auth_data": InternalAuthData(card.Secret, "0123456789ABCDEF"), "akb020": hospital}
			}},
		"GYD053 transaction that does not exist": {code: "GYD053", zh: "存在历史交易",
			prepare: func(c *chain) map[string]any {
				return map[string]any{"orig_code": "GYU101", "orig_msg_id": "T99999999"}
			},
			answer: func(out map[string]any) bool { return out["trans_status"] == "9" }},
		"GYR005 nothing to download again": {code: "GYR005", zh: "存在需要重复下载的数据",
			prepare: func(c *chain) map[string]any {
				return map[string]any{"download_code": "GYD101", "aae030": "2025-04-01", "aae031": "2025-04-30", "reason": "丢失"}
			},
			answer: func(out map[string]any) bool { return out["accept_flag"] == "0" }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var c *chain
			var in map[string]any
			if tc.setup != nil {
				c, in = tc.setup(t)
			} else {
				c = newChain(t, nil)
				in = tc.prepare(c)
			}
			got, out := c.call(tc.code, in)
			if tc.answer != nil {
				if got != "0" || !tc.answer(out) {
					t.Fatalf("%s (「%s」) answered %s %v; want a refusal in the answer", tc.code, tc.zh, got, out)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("%s (「%s」) answered %s %v; want %s", tc.code, tc.zh, got, out, tc.want)
			}
		})
	}
}

// newAprilInput is a GYU003 input of one settlement of hospital in April
// 2025 that was never uploaded.
func newAprilInput(c *chain) map[string]any {
	return map[string]any{
		"akb020": hospital, "settle_month": "202504", "settle_count": 1, "revoke_count": 0, "person_count": 1,
		"total_amount": "20.00", "fund_pay": "15.00", "self_pay": "5.00", "revoke_amount": "0", "deduct_amount": "0", "deduct_revoke_amount": "0",
		"month_fund_pay": "15.00",
		"items": []any{map[string]any{"item_type": "1", "ref_no": "JSNOSUCH", "settle_no": "JSNOSUCH", "aac002": c.filing["aac002"],
			"amount": "15.00", "total_amount": "20.00", "self_pay": "5.00", "biz_time": "2025-04-10 10:00:00"}},
		"aae011": "王五", "aae036": "2025-05-02 09:00:00",
	}
}
