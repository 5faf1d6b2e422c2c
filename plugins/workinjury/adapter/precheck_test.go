package adapter

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestEveryPreCheckRefused lists the pre-checks (前置校验) and rules that
// requirements-zh.txt §2.2.1 states for the transactions of this part, one
// case each: the adapter refuses the message before sending it (nothing of
// the transaction reaches the national system), with an error at the
// field that names the requirement's check in Chinese first, the rule
// medgate checks it with, and how to fix it. The simulator refuses the same
// messages on its own (test/sim/workinjury TestEveryPreCheckRefused).
func TestEveryPreCheckRefused(t *testing.T) {
	t.Parallel()
	gyr001 := func(v string, nos ...string) map[string]any {
		m := map[string]any{"ykc700": v, "revoke_reason": "明细有误", "revoke_time": revokeT(3), "aae011": "王五"}
		var l []any
		for _, n := range nos {
			l = append(l, map[string]any{"detail_no": n})
		}
		if l != nil {
			m["details"] = l
		}
		return m
	}
	gyr002 := func(v string) map[string]any {
		return map[string]any{"ykc700": v, "revoke_reason": "登记有误", "revoke_time": revokeT(3), "aae011": "王五"}
	}
	gyr004 := func(nos ...string) map[string]any {
		var l []any
		for _, n := range nos {
			l = append(l, map[string]any{"deduct_no": n})
		}
		return map[string]any{"deductions": l, "revoke_time": stampT(admitDay.Add(11 * 24 * time.Hour)), "aae011": "王五"}
	}
	cards := func(c *chain, aac002 string) wisim.Card {
		card := wisim.Card{AAZ500: "A44030000009", CardID: "440300D156000009", AAB301: "440300", AAC002: aac002,
			AAC003: "无备案人", AAC004: "1", AAC006: "1980-01-01", Status: "1", Secret: []byte("s")}
		c.sim.AddCard(card)
		return card
	}
	cases := map[string]struct {
		code    string
		prepare func(c *chain) map[string]any
		field   string
		rule    string // medgate's rule id, "rule <id>"
		zh      string // the check as the requirements name it
		fix     string // a part of the fix, when the case needs a particular one
	}{
		// 8. GYU101 前置校验（人员备案已审核通过）, 入院时间在备案有效期, 协议机构状态有效, 住院号不重复
		"GYU101 no approved filing": {code: "GYU101", prepare: func(c *chain) map[string]any { return with(c.admission("ZY9101"), "filing_no", "BANOSUCH0001") },
			field: "$.filing_no", rule: "approved-filing", zh: "人员备案已审核通过"},
		"GYU101 admitted outside the filing": {code: "GYU101", prepare: func(c *chain) map[string]any {
			c.mustOK(c.send("GYU101", c.admission("ZY9100"))) // the filing is known here now
			return with(c.admission("ZY9101"), "ykc701", "2027-01-01 00:00:00")
		}, field: "$.filing_no", rule: "filing-validity", zh: "入院时间在备案有效期内"},
		"GYU101 agreement not valid": {code: "GYU101", prepare: func(c *chain) map[string]any {
			c.mustOK(c.send("GYU009", with(institution(hospital), "valid_flag", "0")))
			return c.admission("ZY9101")
		}, field: "$.akb020", rule: "institution-agreement", zh: "协议机构状态有效"},
		"GYU101 inpatient number used": {code: "GYU101", prepare: func(c *chain) map[string]any { c.admit("ZY9101"); return c.admission("ZY9101") },
			field: "$.akc190", rule: "unique-inpatient-number", zh: "同一机构住院号/门诊号不重复"},
		// 10. GYU102 前置校验（已上传入院信息且未撤销）
		"GYU102 admission not uploaded": {code: "GYU102", prepare: func(c *chain) map[string]any { return fees("JZNOSUCH", "ZY9102", line("0001", "1.00", "1", "0")) },
			field: "$.ykc700", rule: "admission-uploaded", zh: "已上传入院信息且未撤销"},
		"GYU102 admission revoked": {code: "GYU102", prepare: func(c *chain) map[string]any {
			v := c.admit("ZY9102")
			c.mustOK(c.send("GYR002", gyr002(v)))
			return fees(v, "ZY9102", line("0001", "1.00", "1", "0"))
		}, field: "$.ykc700", rule: "admission-uploaded", zh: "已上传入院信息且未撤销"},
		// 10. GYU102 费用金额校验规则：单价、数量、总金额、统筹支付金额、自付金额逻辑一致
		"GYU102 amount not price × qty": {code: "GYU102", prepare: func(c *chain) map[string]any {
			v := c.admit("ZY9102")
			return fees(v, "ZY9102", with(line("0001", "10.00", "2", "5.00"), "amount", json.Number("20.01"), "fund_pay", json.Number("15.01")))
		}, field: "$.fee[0].amount", rule: "price×qty=amount", zh: "单价、数量、总金额逻辑一致"},
		"GYU102 fund and self not the amount": {code: "GYU102", prepare: func(c *chain) map[string]any {
			v := c.admit("ZY9102")
			return fees(v, "ZY9102", with(line("0001", "10.00", "2", "5.00"), "fund_pay", json.Number("15.01")))
		}, field: "$.fee[0].fund_pay", rule: "fund+self=amount", zh: "统筹支付金额、自付金额与总金额逻辑一致"},
		// 12. GYU103 结算费用校验规则：结算总金额、统筹支付金额、自付金额与明细总和一致
		"GYU103 total not the details' sum": {code: "GYU103", prepare: func(c *chain) map[string]any {
			v, ls := c.stay("ZY9103")
			return with(c.settlementOf(v, "ZY9103", ls), "akc264", json.Number("0.01"))
		}, field: "$.akc264", rule: "settlement=Σdetails", zh: "结算总金额、统筹支付金额、自付金额与明细总和一致"},
		// 18. GYR003 (medgate's rule beside the pre-check)
		"GYR003 revoked before it was settled": {code: "GYR003", prepare: func(c *chain) map[string]any {
			v, s := c.settle("ZY9109")
			return map[string]any{"settle_no": s, "ykc700": v, "akb020": hospital, "revoke_reason": "结算有误", "revoke_time": revokeT(1), "aae011": "王五"}
		}, field: "$.revoke_time", rule: "revoke-after-settle", zh: "撤销时间不早于结算时间"},
		"GYR001 admission revoked": {code: "GYR001", prepare: func(c *chain) map[string]any {
			v := c.admit("ZY9106")
			c.mustOK(c.send("GYR002", gyr002(v)))
			return gyr001(v)
		}, field: "$.ykc700", rule: "not-settled", zh: "人员未结算", fix: "nothing left to revoke"},
		// 12. GYU103 前置校验（费用明细全部上传完成）
		"GYU103 no fee details": {code: "GYU103", prepare: func(c *chain) map[string]any {
			v := c.admit("ZY9103")
			return c.settlementOf(v, "ZY9103", []map[string]any{line("0001", "10.00", "2", "5.00")})
		}, field: "$.ykc700", rule: "all-details-uploaded", zh: "费用明细全部上传完成"},
		// 16. GYU004 前置校验（已上传出院结算信息）, 扣款金额大于0且不超过统筹支付总金额
		"GYU004 settlement not uploaded": {code: "GYU004", prepare: func(c *chain) map[string]any { return deductions(deduction("KK9104", "JSNOSUCH", "1.00")) },
			field: "$.deductions[0].settle_no", rule: "settlement-uploaded", zh: "已上传出院结算信息"},
		"GYU004 amount zero": {code: "GYU004", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY9104")
			return deductions(deduction("KK9104", s, "0"))
		},
			field: "$.deductions[0].deduct_amount", rule: "deduction>0", zh: "扣款金额大于0"},
		"GYU004 over the fund-paid total": {code: "GYU004", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY9104")
			return deductions(deduction("KK9104", s, "52.51"))
		}, field: "$.deductions[0].deduct_amount", rule: "deduction≤fund-paid", zh: "扣款金额不超过结算统筹支付总金额"},
		// 26. GYU003 前置校验（已上传结算信息）, 每月仅一次, 月结人次大于0
		"GYU003 settlement not uploaded here": {code: "GYU003", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY9105")
			m := c.monthly(hospital, "202505")
			m["items"].([]any)[0].(map[string]any)["ref_no"] = s + "X"
			return m
		}, field: "$.items[0].ref_no", rule: "month-items", zh: "已上传结算信息"},
		"GYU003 month settled": {code: "GYU003", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY9105")
			c.mustOK(c.send("GYU004", deductions(deduction("KK9105", s, "2.50"))))
			m := c.monthly(hospital, "202505")
			c.mustOK(c.send("GYU003", m))
			m["items"] = m["items"].([]any)[:1]
			return m
		}, field: "$.settle_month", rule: "once-per-month", zh: "每个协议机构每月仅一次月结"},
		// 20. GYR001 前置校验（人员未结算、存在费用明细）
		"GYR001 settled": {code: "GYR001", prepare: func(c *chain) map[string]any { v, _ := c.settle("ZY9106"); return gyr001(v) },
			field: "$.ykc700", rule: "not-settled", zh: "人员未结算"},
		"GYR001 no fee details": {code: "GYR001", prepare: func(c *chain) map[string]any { return gyr001(c.admit("ZY9106")) },
			field: "$.ykc700", rule: "details-exist", zh: "存在费用明细"},
		"GYR001 detail not uploaded": {code: "GYR001", prepare: func(c *chain) map[string]any { v, _ := c.stay("ZY9106"); return gyr001(v, "0009") },
			field: "$.details[0].detail_no", rule: "details-exist", zh: "存在费用明细"},
		// 22. GYR002 前置校验（已上传入院信息、无费用明细或已撤销费用明细）; 职工未结算
		"GYR002 admission not uploaded": {code: "GYR002", prepare: func(c *chain) map[string]any { return gyr002("JZNOSUCH") },
			field: "$.ykc700", rule: "admission-uploaded", zh: "已上传入院信息"},
		"GYR002 valid fee details": {code: "GYR002", prepare: func(c *chain) map[string]any { v, _ := c.stay("ZY9107"); return gyr002(v) },
			field: "$.ykc700", rule: "no-valid-details", zh: "无费用明细或已撤销费用明细"},
		"GYR002 settled": {code: "GYR002", prepare: func(c *chain) map[string]any { v, _ := c.settle("ZY9107"); return gyr002(v) },
			field: "$.ykc700", rule: "admission-revocable", zh: "已上传入院信息、职工未结算"},
		// 18. GYR003 前置校验（已上传结算信息）
		"GYR003 settlement not uploaded": {code: "GYR003", prepare: func(c *chain) map[string]any {
			return map[string]any{"settle_no": "JSNOSUCH", "akb020": hospital, "revoke_reason": "结算有误", "revoke_time": revokeT(100), "aae011": "王五"}
		}, field: "$.settle_no", rule: "settlement-uploaded", zh: "已上传结算信息"},
		// 24. GYR004 前置校验（已上传审核扣款信息）
		"GYR004 deduction not uploaded": {code: "GYR004", prepare: func(c *chain) map[string]any { return gyr004("KKNOSUCH") },
			field: "$.deductions[0].deduct_no", rule: "deduction-uploaded", zh: "已上传审核扣款信息"},
		// 31. GYD052 前置校验（人员存在已审核通过备案）
		"GYD052 no approved filing": {code: "GYD052", prepare: func(c *chain) map[string]any {
			card := cards(c, "440302198001019999")
			return map[string]any{"aaz500": card.AAZ500, "card_id": card.CardID, "aab301": card.AAB301, "aac002": card.AAC002,
				"aac003": card.AAC003, "akb020": hospital, "aae036": stampT(admitDay)}
		}, field: "$.aac002", rule: "approved-filing", zh: "人员存在已审核通过备案"},
		// 29. GYU009 审核通过的协议机构信息
		"GYU009 not approved": {code: "GYU009", prepare: func(c *chain) map[string]any { return with(institution(hospital), "audit_status", "0") },
			field: "$.audit_status", rule: "approved-institution", zh: "仅上传审核通过的协议机构"},
		// 32. GYD053 交易编号合规
		"GYD053 unknown transaction code": {code: "GYD053", prepare: func(c *chain) map[string]any {
			return map[string]any{"orig_code": "GYX999", "orig_msg_id": "35020020250401093000000001"}
		}, field: "$.orig_code", rule: "transaction-code", zh: "交易编号合规"},
		// 39. GYR005 前置校验（存在需要重复下载的数据）
		"GYR005 nothing named to download again": {code: "GYR005", prepare: func(c *chain) map[string]any {
			return map[string]any{"download_code": "GYD001", "reason": "丢失"}
		}, field: "$.batch_no", rule: "redownload-data", zh: "存在需要重复下载的数据"},
		"GYR005 of a batch acknowledged here": {code: "GYR005", prepare: func(c *chain) map[string]any {
			// newChain downloaded the institutions (GYD009) and fed them back.
			b := nonEmpty(c.sim.Batches("GYD009"))
			if len(b) != 1 || !b[0].Acked {
				c.t.Fatalf("GYD009 batches %+v; want one acknowledged", b)
			}
			return map[string]any{"download_code": "GYD009", "batch_no": b[0].No, "reason": "丢失"}
		}, field: "$.batch_no", rule: "redownload-data", zh: "存在需要重复下载的数据", fix: "aae030"},
		"GYR005 of a batch stored here": {code: "GYR005", prepare: func(c *chain) map[string]any {
			c.impl.hook = func(p string) error {
				if p == "stored" {
					return errCrash
				}
				return nil
			}
			c.runJob(JobFilings)
			c.impl.hook = nil
			b := nonEmpty(c.sim.Batches("GYD006"))
			if len(b) != 1 || b[0].Acked {
				c.t.Fatalf("GYD006 batches %+v; want one stored, not acknowledged", b)
			}
			return map[string]any{"download_code": "GYD006", "batch_no": b[0].No, "reason": "丢失"}
		}, field: "$.batch_no", rule: "redownload-data", zh: "存在需要重复下载的数据", fix: "job"},
		// 34. GYD054 前置校验（文件信息存在、附件ID有效）
		"GYD054 attachment revoked with its settlement": {code: "GYD054", prepare: func(c *chain) map[string]any {
			lines := []map[string]any{line("0001", "100", "1", "0")}
			v := c.mustOK(c.send("GYU101", with(c.admission("ZY0301"), "aka130", "2")))["ykc700"].(string)
			plan := c.uploadPlan(v)
			c.mustOK(c.send("GYU102", fees(v, "ZY0301", lines...)))
			s := c.mustOK(c.send("GYU103", with(c.settlementOf(v, "ZY0301", lines), "rehab_plan_id", plan)))["settle_no"].(string)
			c.mustOK(c.send("GYR003", map[string]any{"settle_no": s, "ykc700": v, "akb020": hospital, "revoke_reason": "结算有误",
				"revoke_time": stampT(admitDay.Add(100 * time.Hour)), "aae011": "王五"}))
			return map[string]any{"attachment_id": plan}
		}, field: "$.attachment_id", rule: "attachment-valid", zh: "附件ID有效", fix: "GYD001"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t)
			msg := tc.prepare(c)
			before := len(c.sim.Received(tc.code))
			r := c.send(tc.code, msg)
			if r.Status != sdk.StatusInvalid {
				t.Fatalf("status %s, want invalid: %s %+v", r.Status, r.Diagnostics, r.External)
			}
			if n := len(c.sim.Received(tc.code)); n != before {
				t.Fatalf("%s reached the simulator %d times, before %d", tc.code, n, before)
			}
			var d *sdk.Diagnostic
			for i := range r.Diagnostics {
				if x := &r.Diagnostics[i]; x.Field == tc.field && strings.Contains(x.Summary, "rule "+tc.rule) {
					d = x
				}
			}
			if d == nil {
				t.Fatalf("no error at %s naming rule %s: %s", tc.field, tc.rule, r.Diagnostics)
			}
			if first, _ := utf8.DecodeRuneInString(d.Summary); !unicode.Is(unicode.Han, first) {
				t.Errorf("the error does not start in Chinese: %q", d.Summary)
			}
			if !strings.Contains(d.Summary, "「"+tc.zh+"」") {
				t.Errorf("the error does not name the requirement's check 「%s」: %q", tc.zh, d.Summary)
			}
			if strings.TrimSpace(d.Detail) == "" {
				t.Errorf("the error says no fix: %q", d.Summary)
			}
			if !strings.Contains(d.Detail, tc.fix) {
				t.Errorf("the fix %q does not say %q", d.Detail, tc.fix)
			}
		})
	}
}
