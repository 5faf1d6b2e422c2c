package adapter

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// The settlement chain: fixtures and the rules at their boundaries. Every
// invalid case also proves that nothing reached the national system.

const (
	hospital   = "H35020300123" // medical institution (type 1)
	rehabInst  = "K35020300456" // rehabilitation institution (type 2)
	deviceInst = "F35020300789" // assistive-device institution (type 3)
)

var admitDay = time.Date(2025, 5, 1, 10, 0, 0, 0, cst)

func stampT(t time.Time) string { return t.In(cst).Format("2006-01-02 15:04:05") }

// chain is an env whose simulator knows three institutions and two filings
// (a care filing at the hospital, a device filing at the device
// institution) and whose adapter downloaded the institutions (GYD009) but
// not the filings: they are verified with GYD051.
type chain struct {
	*env
	filing, device map[string]any
}

func newChain(t testing.TB, opts ...envOption) *chain {
	t.Helper()
	return newChainWith(t, nil, opts...)
}

// newChainWith is newChain with a hook that runs on the env before the
// first call.
func newChainWith(t testing.TB, before func(*env), opts ...envOption) *chain {
	t.Helper()
	filing := wisim.SampleFiling("LC", 1, "350200")
	device := wisim.SampleFiling("DV", 2, "350200")
	device["filing_type"], device["akb020"], device["akb021"] = "3", deviceInst, "厦门市示例辅助器具配置中心"
	seed := withSeed(func(s *wisim.Server) {
		s.AddInstitution(wisim.SampleInstitution(hospital, "厦门市第一示例医院", "1", "350200"))
		s.AddInstitution(wisim.SampleInstitution(rehabInst, "厦门市示例康复医院", "2", "350200"))
		s.AddInstitution(wisim.SampleInstitution(deviceInst, "厦门市示例辅助器具配置中心", "3", "350200"))
		s.AddFiling(filing)
		s.AddFiling(device)
	})
	e := newEnv(t, append([]envOption{seed}, opts...)...)
	if before != nil {
		before(e)
	}
	e.mustOK(e.send("GYD009", map[string]any{}))
	return &chain{env: e, filing: filing, device: device}
}

// admission returns a valid GYU101 input.
func (c *chain) admission(akc190 string) map[string]any {
	return wisim.SampleAdmission(c.filing, hospital, akc190, admitDay)
}

// admit uploads an admission and returns its visit number.
func (c *chain) admit(akc190 string) string {
	c.t.Helper()
	out := c.mustOK(c.send("GYU101", c.admission(akc190)))
	return out["ykc700"].(string)
}

// line is a fee line: price × qty, self-paid part self.
func line(no, price, qty, self string) map[string]any {
	return wisim.SampleFeeLine(no, price, qty, self, admitDay.Add(time.Hour))
}

func fees(ykc700, akc190 string, lines ...map[string]any) map[string]any {
	var fee []any
	for _, l := range lines {
		fee = append(fee, l)
	}
	return map[string]any{"ykc700": ykc700, "akc190": akc190, "fee": fee}
}

// stay admits, uploads lines and returns the visit and the lines.
func (c *chain) stay(akc190 string, lines ...map[string]any) (string, []map[string]any) {
	c.t.Helper()
	v := c.admit(akc190)
	if len(lines) == 0 {
		lines = []map[string]any{line("0001", "10.00", "2", "5.00"), line("0002", "12.5", "3", "0")}
	}
	c.mustOK(c.send("GYU102", fees(v, akc190, lines...)))
	return v, lines
}

func (c *chain) settlementOf(v, akc190 string, lines []map[string]any) map[string]any {
	return wisim.SampleSettlement(v, akc190, lines, admitDay.Add(72*time.Hour))
}

// settle runs a whole stay and returns the visit and the settlement number.
func (c *chain) settle(akc190 string) (string, string) {
	c.t.Helper()
	v, lines := c.stay(akc190)
	out := c.mustOK(c.send("GYU103", c.settlementOf(v, akc190, lines)))
	return v, out["settle_no"].(string)
}

func deduction(no, settleNo, amount string) map[string]any {
	return map[string]any{"deduct_no": no, "settle_no": settleNo, "akb020": hospital, "deduct_amount": json.Number(amount),
		"deduct_reason": "超目录范围用药", "deduct_time": stampT(admitDay.Add(10 * 24 * time.Hour))}
}

func deductions(items ...map[string]any) map[string]any {
	var l []any
	for _, it := range items {
		l = append(l, it)
	}
	return map[string]any{"deductions": l, "aae011": "王五", "aae036": stampT(admitDay.Add(10 * 24 * time.Hour))}
}

// wantInvalid checks that r is invalid with a diagnostic at field naming
// rule, and that nothing of code reached the simulator.
func (c *chain) wantInvalid(t *testing.T, r *sdk.HandleResponse, code string, sentBefore int, field, rule string) {
	t.Helper()
	if r.Status != sdk.StatusInvalid {
		t.Fatalf("status %s, want invalid (%s): %s", r.Status, rule, r.Diagnostics)
	}
	found := false
	for _, d := range r.Diagnostics {
		if (field == "" || d.Field == field) && strings.Contains(d.Summary, rule) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no diagnostic at %s naming %q: %s", field, rule, r.Diagnostics)
	}
	if n := len(c.sim.Received(code)); n != sentBefore {
		t.Fatalf("%s reached the simulator %d times, before %d: an invalid message must not be sent", code, n, sentBefore)
	}
}

// wantWait checks that r is failed, retryable and a deliberate wait (left
// out of the host's circuit breaker: the national system is not in
// trouble) with a diagnostic at field naming rule, and that nothing of
// code reached the simulator.
func (c *chain) wantWait(t *testing.T, r *sdk.HandleResponse, code string, sentBefore int, field, rule string) {
	t.Helper()
	if r.Status != sdk.StatusFailed || !r.Retryable || !r.Waiting {
		t.Fatalf("status %s (retryable %v, waiting %v), want failed, retryable and waiting (%s): %s", r.Status, r.Retryable, r.Waiting, rule, r.Diagnostics)
	}
	found := false
	for _, d := range r.Diagnostics {
		if (field == "" || d.Field == field) && strings.Contains(d.Summary, rule) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no diagnostic at %s naming %q: %s", field, rule, r.Diagnostics)
	}
	if n := len(c.sim.Received(code)); n != sentBefore {
		t.Fatalf("%s reached the simulator %d times, before %d: a message that waits must not be sent", code, n, sentBefore)
	}
}

// TestSettlementChain runs a stay end to end through the adapter and the
// simulator: admission, fee details, settlement, deduction, deduction
// revocation, settlement revocation, monthly settlement.
func TestSettlementChain(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	v, settleNo := c.settle("ZY0001")
	if info, ok := c.sim.Settlement(settleNo); !ok || info.VisitNo != v {
		t.Fatalf("simulator settlement %+v", info)
	}
	c.mustOK(c.send("GYU004", deductions(deduction("KK0001", settleNo, "5.00"), deduction("KK0002", settleNo, "1.50"))))
	c.mustOK(c.send("GYR004", map[string]any{"deductions": []any{map[string]any{"deduct_no": "KK0002"}},
		"revoke_time": stampT(admitDay.Add(11 * 24 * time.Hour)), "aae011": "王五"}))
	// A second stay in the same month, settled and revoked.
	v2, s2 := c.settle("ZY0002")
	c.mustOK(c.send("GYR003", map[string]any{"settle_no": s2, "ykc700": v2, "akb020": hospital, "revoke_reason": "结算有误",
		"revoke_time": stampT(admitDay.Add(12 * 24 * time.Hour)), "aae011": "王五"}))
	// The inpatient number of the revoked stay is free again.
	c.admit("ZY0002")

	m := c.monthly(hospital, "202505")
	r := c.mustOK(c.send("GYU003", m))
	if r["month_settle_no"] == "" {
		t.Fatalf("no month_settle_no: %v", r)
	}
	if got := c.sim.Monthlies(hospital, "202505"); len(got) != 1 {
		t.Fatalf("simulator monthlies %+v", got)
	}
}

// monthly builds the GYU003 input from what the adapter knows (its month
// index), as a site's monthly job would.
func (c *chain) monthly(akb020, month string) map[string]any {
	c.t.Helper()
	var idx monthIndex
	if _, err := getJSON(c.t.Context(), hostFor(c.host, testSite), "month/"+akb020+"/"+month, &idx); err != nil {
		c.t.Fatal(err)
	}
	var items []any
	var sums [5]sumOf
	var total, self sumOf
	counts := [5]int{}
	for _, it := range idx.Items {
		m := map[string]any{"item_type": it.Type, "ref_no": it.Ref, "settle_no": it.Settle, "amount": json.Number(it.Amount), "biz_time": it.Time}
		n := int(it.Type[0] - '0')
		counts[n]++
		sums[n].add(cents(it.Amount))
		if it.Type == itemSettlement || it.Type == itemSettleRevoke {
			m["total_amount"], m["self_pay"] = json.Number(it.Total), json.Number(it.Self)
		}
		if it.Type == itemSettlement {
			total.add(cents(it.Total))
			self.add(cents(it.Self))
		}
		items = append(items, m)
	}
	net := ratAdd(ratSub(ratSub(sums[1].rat(), sums[2].rat()), sums[3].rat()), sums[4].rat())
	return map[string]any{
		"akb020": akb020, "settle_month": month, "settle_count": counts[1], "revoke_count": counts[2], "person_count": counts[1] - counts[2],
		"total_amount": json.Number(money(total.rat())), "fund_pay": json.Number(money(sums[1].rat())), "self_pay": json.Number(money(self.rat())),
		"revoke_amount": json.Number(money(sums[2].rat())), "deduct_amount": json.Number(money(sums[3].rat())),
		"deduct_revoke_amount": json.Number(money(sums[4].rat())), "month_fund_pay": json.Number(money(net)),
		"items": items, "aae011": "王五", "aae036": stampT(admitDay.AddDate(0, 1, 0)),
	}
}

var _ = fmt.Sprint

// ruleCase is one boundary of one rule: prepare builds the message on a
// fresh chain; ok says the message must pass; else field and rule name the
// expected refusal, which wait says is a retryable failure and a
// deliberate wait (a condition that resolves by itself) rather than
// invalid.
type ruleCase struct {
	code    string
	opts    []envOption
	prepare func(c *chain) map[string]any
	ok      bool
	wait    bool
	field   string
	rule    string
}

func runRuleCases(t *testing.T, cases map[string]ruleCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, tc.opts...)
			msg := tc.prepare(c)
			before := len(c.sim.Received(tc.code))
			r := c.send(tc.code, msg)
			if tc.ok {
				if r.Status != sdk.StatusOK {
					t.Fatalf("status %s, want ok: %s %+v", r.Status, r.Diagnostics, r.External)
				}
				return
			}
			if tc.wait {
				c.wantWait(t, r, tc.code, before, tc.field, tc.rule)
				return
			}
			c.wantInvalid(t, r, tc.code, before, tc.field, tc.rule)
		})
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestRulesGYU101(t *testing.T) {
	t.Parallel()
	adm := func(mut ...any) func(c *chain) map[string]any {
		return func(c *chain) map[string]any { return with(c.admission("ZY0101"), mut...) }
	}
	runRuleCases(t, map[string]ruleCase{
		"valid (filing verified with GYD051)": {code: "GYU101", prepare: adm(), ok: true},
		"first day of the filing":             {code: "GYU101", prepare: adm("ykc701", "2025-01-01 00:00:00"), ok: true},
		"last day of the filing":              {code: "GYU101", prepare: adm("ykc701", "2026-12-31 23:59:59"), ok: true},
		"day before the filing (GYD051 says)": {code: "GYU101", prepare: adm("ykc701", "2024-12-31 23:59:59"), field: "$.filing_no", rule: "rule approved-filing"},
		"day after the filing (GYD051 says)":  {code: "GYU101", prepare: adm("ykc701", "2027-01-01 00:00:00"), field: "$.filing_no", rule: "rule approved-filing"},
		"day after the filing (known locally, GYD051 off)": {code: "GYU101", opts: []envOption{withSettings(setPreconditions, "-")},
			prepare: func(c *chain) map[string]any {
				c.mustOK(c.send("GYD006", map[string]any{}))
				return with(c.admission("ZY0101"), "ykc701", "2027-01-01 00:00:00")
			}, field: "$.filing_no", rule: "rule filing-validity"},
		"known locally, GYD051 off, valid": {code: "GYU101", opts: []envOption{withSettings(setPreconditions, "-")},
			prepare: func(c *chain) map[string]any {
				c.mustOK(c.send("GYD006", map[string]any{}))
				return c.admission("ZY0101")
			}, ok: true},
		"filing unknown here, only changed here (GYU007), GYD051 off": {code: "GYU101", opts: []envOption{withSettings(setPreconditions, "-")},
			prepare: func(c *chain) map[string]any {
				c.mustOK(c.send("GYU007", map[string]any{"filing_no": c.filing["filing_no"], "change_type": "4", "aae005": "13911112222",
					"change_reason": "电话变更", "aae011": "王五", "aae036": stampT(admitDay)}))
				return with(c.admission("ZY0101"), "ykc701", "2027-01-01 00:00:00")
			}, field: "$.filing_no", rule: "rule approved-filing"},
		"filing unknown here and nationally": {code: "GYU101", prepare: adm("filing_no", "BANOSUCH0001"), field: "$.filing_no", rule: "rule approved-filing"},
		"institution unknown":                {code: "GYU101", prepare: adm("akb020", "H35029999999"), field: "$.akb020", rule: "rule institution-agreement"},
		"assistive-device institution":       {code: "GYU101", prepare: adm("akb020", deviceInst), field: "$.akb020", rule: "rule institution-kind"},
		"agreement not valid": {code: "GYU101", prepare: func(c *chain) map[string]any {
			c.mustOK(c.send("GYU009", with(institution(hospital), "valid_flag", "0")))
			return c.admission("ZY0101")
		}, field: "$.akb020", rule: "rule institution-agreement"},
		"agreement ended the day before": {code: "GYU101", prepare: func(c *chain) map[string]any {
			c.mustOK(c.send("GYU009", with(institution(hospital), "aae031", "2025-04-30")))
			return c.admission("ZY0101")
		}, field: "$.akb020", rule: "rule institution-agreement"},
		"inpatient number used": {code: "GYU101", prepare: func(c *chain) map[string]any {
			c.admit("ZY0101")
			return c.admission("ZY0101")
		}, field: "$.akc190", rule: "rule unique-inpatient-number"},
		"inpatient number of a revoked admission": {code: "GYU101", prepare: func(c *chain) map[string]any {
			v := c.admit("ZY0101")
			c.mustOK(c.send("GYR002", map[string]any{"ykc700": v, "revoke_reason": "登记有误", "revoke_time": stampT(admitDay.Add(time.Hour)), "aae011": "王五"}))
			return c.admission("ZY0101")
		}, ok: true},
		"inpatient number over-length": {code: "GYU101", prepare: adm("akc190", strings.Repeat("9", 31)), field: "$.akc190", rule: ""},
		"card not authenticated (GYD052@admission)": {code: "GYU101", opts: []envOption{withSettings(setPreconditions, "GYD051@admission,GYD052@admission")},
			prepare: adm(), field: "$.aac002", rule: "rule card-authentication"},
		"card authenticated (GYD052@admission)": {code: "GYU101", opts: []envOption{withSettings(setPreconditions, "GYD051@admission,GYD052@admission")},
			prepare: func(c *chain) map[string]any {
				card := wisim.Card{AAZ500: "A44030000001", CardID: "440300D156000005", AAB301: "440300", AAC002: c.filing["aac002"].(string),
					AAC003: c.filing["aac003"].(string), AAC004: "2", AAC006: "1980-01-01", Status: "1", Secret: []byte("s")}
				c.sim.AddCard(card)
				c.mustOK(c.send("GYD052", map[string]any{"aaz500": card.AAZ500, "card_id": card.CardID, "aab301": card.AAB301,
					"aac002": card.AAC002, "aac003": card.AAC003, "akb020": hospital, "aae036": stampT(admitDay)}))
				return c.admission("ZY0101")
			}, ok: true},
		"filing known locally, another person": {code: "GYU101", prepare: func(c *chain) map[string]any {
			c.mustOK(c.send("GYU101", c.admission("ZY0100"))) // the filing is now known here
			return with(c.admission("ZY0101"), "aac002", "440302198001010099", "aac044", "440302198001010099")
		}, field: "$.aac002", rule: "rule filing-person"},
	})
}

func TestRulesGYU102(t *testing.T) {
	t.Parallel()
	fee := func(lines ...map[string]any) func(c *chain) map[string]any {
		return func(c *chain) map[string]any { return fees(c.admit("ZY0201"), "ZY0201", lines...) }
	}
	set := func(l map[string]any, kv ...any) map[string]any {
		out := with(l)
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i].(string)] = json.Number(kv[i+1].(string))
		}
		return out
	}
	base := line("0001", "10.00", "2", "5.00") // 20.00 = 15.00 + 5.00
	many := make([]map[string]any, 501)
	for i := range many {
		many[i] = line(fmt.Sprintf("%04d", i+1), "1", "1", "0")
	}
	runRuleCases(t, map[string]ruleCase{
		"valid":                      {code: "GYU102", prepare: fee(base), ok: true},
		"0.1 + 0.2 in decimal":       {code: "GYU102", prepare: fee(set(base, "price", "0.1", "qty", "3", "amount", "0.3", "fund_pay", "0.1", "self_pay", "0.2")), ok: true},
		"product rounded to the fen": {code: "GYU102", prepare: fee(set(base, "price", "3.333333", "qty", "3", "amount", "10.00", "fund_pay", "10.00", "self_pay", "0")), ok: true},
		// Half a fen: the product of a price with more than two decimals
		// is rounded to the fen either way; beyond half a fen it is wrong.
		"half a fen rounded up":           {code: "GYU102", prepare: fee(set(base, "price", "0.125", "qty", "1", "amount", "0.13", "fund_pay", "0.13", "self_pay", "0")), ok: true},
		"half a fen rounded down":         {code: "GYU102", prepare: fee(set(base, "price", "0.125", "qty", "1", "amount", "0.12", "fund_pay", "0.12", "self_pay", "0")), ok: true},
		"over half a fen off":             {code: "GYU102", prepare: fee(set(base, "price", "0.1251", "qty", "1", "amount", "0.12", "fund_pay", "0.12", "self_pay", "0")), field: "$.fee[0].amount", rule: "rule price×qty=amount"},
		"4-decimal price × quantity":      {code: "GYU102", prepare: fee(set(base, "price", "1.2345", "qty", "3", "amount", "3.70", "fund_pay", "3.70", "self_pay", "0")), ok: true},
		"price rounded before × quantity": {code: "GYU102", prepare: fee(set(base, "price", "0.0125", "qty", "100", "amount", "1.00", "fund_pay", "1.00", "self_pay", "0")), field: "$.fee[0].amount", rule: "rule price×qty=amount"},
		"amount one cent over":            {code: "GYU102", prepare: fee(set(base, "amount", "20.01", "fund_pay", "15.01")), field: "$.fee[0].amount", rule: "rule price×qty=amount"},
		"amount one cent under":           {code: "GYU102", prepare: fee(set(base, "amount", "19.99", "fund_pay", "14.99")), field: "$.fee[0].amount", rule: "rule price×qty=amount"},
		"2 × 10.00 ≠ 999.99":              {code: "GYU102", prepare: fee(set(base, "amount", "999.99", "fund_pay", "994.99")), field: "$.fee[0].amount", rule: "rule price×qty=amount"},
		"fund + self one cent off":        {code: "GYU102", prepare: fee(set(base, "fund_pay", "15.01")), field: "$.fee[0].fund_pay", rule: "rule fund+self=amount"},
		"zero quantity":                   {code: "GYU102", prepare: fee(set(base, "qty", "0", "amount", "0", "fund_pay", "0", "self_pay", "0")), field: "$.fee[0].qty", rule: "rule positive-quantity"},
		"negative quantity":               {code: "GYU102", prepare: fee(set(base, "qty", "-2", "amount", "-20.00", "fund_pay", "-15.00", "self_pay", "-5.00")), field: "$.fee[0].qty", rule: "rule positive-quantity"},
		"negative price":                  {code: "GYU102", prepare: fee(set(base, "price", "-10", "amount", "-20.00", "fund_pay", "-20.00", "self_pay", "0")), field: "$.fee[0].price", rule: "rule non-negative-price"},
		"negative self-paid part":         {code: "GYU102", prepare: fee(set(base, "fund_pay", "25.00", "self_pay", "-5.00")), field: "$.fee[0].fund_pay", rule: "rule non-negative-amount"},
		"zero price, zero amount":         {code: "GYU102", prepare: fee(set(base, "price", "0", "amount", "0", "fund_pay", "0", "self_pay", "0")), ok: true},
		// Amounts as the HIS may write them: strings or numbers, one or
		// trailing decimals are the same amount; anything else is refused
		// by the schema with the field's path, and nothing is sent.
		"amounts as strings":          {code: "GYU102", prepare: fee(with(base, "price", "10.00", "qty", "2", "amount", "20.00", "fund_pay", "15.00", "self_pay", "5.00")), ok: true},
		"12.3 and 12.30":              {code: "GYU102", prepare: fee(set(base, "price", "12.3", "qty", "1", "amount", "12.3", "fund_pay", "12.30", "self_pay", "0")), ok: true},
		"amount with 3 decimals":      {code: "GYU102", prepare: fee(set(base, "amount", "20.001", "fund_pay", "15.001")), field: "$.fee[0].amount", rule: "after the decimal point"},
		"thousands separator":         {code: "GYU102", prepare: fee(with(base, "amount", "1,020.00")), field: "$.fee[0].amount", rule: "must be a number"},
		"full-width digits":           {code: "GYU102", prepare: fee(with(base, "amount", "２０.００")), field: "$.fee[0].amount", rule: "must be a number"},
		"amount beyond decimal(16,2)": {code: "GYU102", prepare: fee(set(base, "price", "1000000000", "qty", "100000", "amount", "100000000000000.00", "fund_pay", "100000000000000.00", "self_pay", "0")), field: "$.fee[0].amount", rule: "too large"},
		"detail_no twice in a call":   {code: "GYU102", prepare: fee(base, line("0001", "1", "1", "0")), field: "$.fee[1].detail_no", rule: "rule unique-detail-no"},
		"detail_no uploaded before": {code: "GYU102", prepare: func(c *chain) map[string]any {
			v, _ := c.stay("ZY0201")
			return fees(v, "ZY0201", line("0001", "1", "1", "0"))
		}, field: "$.fee[0].detail_no", rule: "rule unique-detail-no"},
		// A revoked line's number is free: the corrected line goes under it.
		"detail_no of a revoked line": {code: "GYU102", prepare: func(c *chain) map[string]any {
			v, _ := c.stay("ZY0201")
			c.mustOK(c.send("GYR001", map[string]any{"ykc700": v, "revoke_reason": "明细有误", "revoke_time": stampT(admitDay.Add(2 * time.Hour)), "aae011": "王五"}))
			return fees(v, "ZY0201", line("0001", "1", "1", "0"))
		}, ok: true},
		"detail_no revoked, then uploaded again": {code: "GYU102", prepare: func(c *chain) map[string]any {
			v, _ := c.stay("ZY0201")
			c.mustOK(c.send("GYR001", map[string]any{"ykc700": v, "revoke_reason": "明细有误", "revoke_time": stampT(admitDay.Add(2 * time.Hour)), "aae011": "王五"}))
			c.mustOK(c.send("GYU102", fees(v, "ZY0201", line("0001", "1", "1", "0"))))
			return fees(v, "ZY0201", line("0001", "2", "1", "0"))
		}, field: "$.fee[0].detail_no", rule: "rule unique-detail-no"},
		"detail_no of another revoked line only": {code: "GYU102", prepare: func(c *chain) map[string]any {
			v, _ := c.stay("ZY0201")
			c.mustOK(c.send("GYR001", map[string]any{"ykc700": v, "details": []any{map[string]any{"detail_no": "0002"}},
				"revoke_reason": "明细有误", "revoke_time": stampT(admitDay.Add(2 * time.Hour)), "aae011": "王五"}))
			return fees(v, "ZY0201", line("0001", "1", "1", "0"))
		}, field: "$.fee[0].detail_no", rule: "rule unique-detail-no"},
		"500 lines":           {code: "GYU102", prepare: fee(many[:500]...), ok: true},
		"501 lines":           {code: "GYU102", prepare: fee(many...), field: "$.fee", rule: ""},
		"admission not known": {code: "GYU102", prepare: func(c *chain) map[string]any { return fees("JZNOSUCH", "ZY0201", base) }, field: "$.ykc700", rule: "rule admission-uploaded"},
		"admission revoked": {code: "GYU102", prepare: func(c *chain) map[string]any {
			v := c.admit("ZY0201")
			c.mustOK(c.send("GYR002", map[string]any{"ykc700": v, "revoke_reason": "登记有误", "revoke_time": stampT(admitDay.Add(time.Hour)), "aae011": "王五"}))
			return fees(v, "ZY0201", base)
		}, field: "$.ykc700", rule: "rule admission-uploaded"},
		"visit settled": {code: "GYU102", prepare: func(c *chain) map[string]any {
			v, _ := c.settle("ZY0201")
			return fees(v, "ZY0201", line("0009", "1", "1", "0"))
		}, field: "$.ykc700", rule: "already settled"},
		"another inpatient number": {code: "GYU102", prepare: func(c *chain) map[string]any { return fees(c.admit("ZY0201"), "ZY0299", base) }, field: "$.akc190", rule: "rule visit-number"},
	})
}

func TestRulesGYU103(t *testing.T) {
	t.Parallel()
	settlement := func(mut ...any) func(c *chain) map[string]any {
		return func(c *chain) map[string]any {
			v, lines := c.stay("ZY0301")
			return with(c.settlementOf(v, "ZY0301", lines), mut...)
		}
	}
	// The default stay: 20.00 (15.00 + 5.00) and 37.50 (37.50 + 0).
	runRuleCases(t, map[string]ruleCase{
		"valid":                          {code: "GYU103", prepare: settlement(), ok: true},
		"total one cent over":            {code: "GYU103", prepare: settlement("akc264", json.Number("57.51")), field: "$.akc264", rule: "rule settlement=Σdetails"},
		"total one cent under":           {code: "GYU103", prepare: settlement("akc264", json.Number("57.49")), field: "$.akc264", rule: "rule settlement=Σdetails"},
		"fund 5000, self 7000":           {code: "GYU103", prepare: settlement("akc264", json.Number("100"), "fund_pay", json.Number("5000"), "self_pay", json.Number("7000")), field: "$.fund_pay", rule: "rule settlement=Σdetails"},
		"self-paid one cent off":         {code: "GYU103", prepare: settlement("self_pay", json.Number("5.01")), field: "$.self_pay", rule: "rule settlement=Σdetails"},
		"full_own_pay over self_pay":     {code: "GYU103", prepare: settlement("full_own_pay", json.Number("5.01")), field: "$.full_own_pay", rule: "rule full-own-pay≤self-pay"},
		"full_own_pay equal to self_pay": {code: "GYU103", prepare: settlement("full_own_pay", json.Number("5.00")), ok: true},
		"discharge before admission":     {code: "GYU103", prepare: settlement("akc194", "2025-04-30 23:59:59"), field: "$.akc194", rule: "rule discharge-after-admission"},
		"settled before admission":       {code: "GYU103", prepare: settlement("settle_time", "2025-04-30 23:59:59"), field: "$.settle_time", rule: "rule settle-after-admission"},
		"no fee details": {code: "GYU103", prepare: func(c *chain) map[string]any {
			v := c.admit("ZY0301")
			return c.settlementOf(v, "ZY0301", []map[string]any{line("0001", "1", "1", "0")})
		}, field: "$.ykc700", rule: "rule all-details-uploaded"},
		"revoked details still counted": {code: "GYU103", prepare: func(c *chain) map[string]any {
			v, lines := c.stay("ZY0301")
			c.mustOK(c.send("GYR001", map[string]any{"ykc700": v, "details": []any{map[string]any{"detail_no": "0002"}},
				"revoke_reason": "明细有误", "revoke_time": stampT(admitDay.Add(2 * time.Hour)), "aae011": "王五"}))
			return c.settlementOf(v, "ZY0301", lines)
		}, field: "$.akc264", rule: "rule settlement=Σdetails"},
		"revoked details left out": {code: "GYU103", prepare: func(c *chain) map[string]any {
			v, lines := c.stay("ZY0301")
			c.mustOK(c.send("GYR001", map[string]any{"ykc700": v, "details": []any{map[string]any{"detail_no": "0002"}},
				"revoke_reason": "明细有误", "revoke_time": stampT(admitDay.Add(2 * time.Hour)), "aae011": "王五"}))
			return c.settlementOf(v, "ZY0301", lines[:1])
		}, ok: true},
		"fee details in flight": {code: "GYU103", prepare: func(c *chain) map[string]any {
			v, lines := c.stay("ZY0301")
			h := hostFor(c.host, testSite)
			if err := c.impl.inFlight(t.Context(), h, v, "m-lost-gyu102", true); err != nil {
				t.Fatal(err)
			}
			return c.settlementOf(v, "ZY0301", lines)
		}, field: "$.ykc700", rule: "rule all-details-uploaded"},
		"settled twice": {code: "GYU103", prepare: func(c *chain) map[string]any {
			v, lines := c.stay("ZY0301")
			c.mustOK(c.send("GYU103", c.settlementOf(v, "ZY0301", lines)))
			return c.settlementOf(v, "ZY0301", lines)
		}, field: "$.ykc700", rule: "already settled"},
		"rehabilitation plan on a medical stay": {code: "GYU103", prepare: func(c *chain) map[string]any {
			ids := c.uploadAttachments(1)
			v, lines := c.stay("ZY0301")
			return with(c.settlementOf(v, "ZY0301", lines), "rehab_plan_id", ids[0])
		}, field: "$.rehab_plan_id", rule: "rule rehab-plan"},
		"rehabilitation plan on a rehabilitation stay": {code: "GYU103", prepare: func(c *chain) map[string]any {
			v := c.mustOK(c.send("GYU101", with(c.admission("ZY0301"), "aka130", "2")))["ykc700"].(string)
			plan := c.uploadPlan(v)
			lines := []map[string]any{line("0001", "100", "1", "0")}
			c.mustOK(c.send("GYU102", fees(v, "ZY0301", lines...)))
			return with(c.settlementOf(v, "ZY0301", lines), "rehab_plan_id", plan)
		}, ok: true},
		"a filing's certificate as the rehabilitation plan": {code: "GYU103", prepare: func(c *chain) map[string]any {
			ids := c.uploadAttachments(1) // 01, biz_type 1
			v := c.mustOK(c.send("GYU101", with(c.admission("ZY0301"), "aka130", "2")))["ykc700"].(string)
			lines := []map[string]any{line("0001", "100", "1", "0")}
			c.mustOK(c.send("GYU102", fees(v, "ZY0301", lines...)))
			return with(c.settlementOf(v, "ZY0301", lines), "rehab_plan_id", ids[0])
		}, field: "$.rehab_plan_id", rule: "not a rehabilitation plan (07)"},
		"another stay's rehabilitation plan": {code: "GYU103", prepare: func(c *chain) map[string]any {
			other := c.mustOK(c.send("GYU101", with(c.admission("ZY0309"), "aka130", "2")))["ykc700"].(string)
			plan := c.uploadPlan(other)
			v := c.mustOK(c.send("GYU101", with(c.admission("ZY0301"), "aka130", "2")))["ykc700"].(string)
			lines := []map[string]any{line("0001", "100", "1", "0")}
			c.mustOK(c.send("GYU102", fees(v, "ZY0301", lines...)))
			return with(c.settlementOf(v, "ZY0301", lines), "rehab_plan_id", plan)
		}, field: "$.rehab_plan_id", rule: "not for this stay"},
		"rehabilitation plan revoked with its settlement (GYR003)": {code: "GYU103", prepare: func(c *chain) map[string]any {
			lines := []map[string]any{line("0001", "100", "1", "0")}
			v := c.mustOK(c.send("GYU101", with(c.admission("ZY0301"), "aka130", "2")))["ykc700"].(string)
			ids := []string{c.uploadPlan(v)}
			c.mustOK(c.send("GYU102", fees(v, "ZY0301", lines...)))
			s := c.mustOK(c.send("GYU103", with(c.settlementOf(v, "ZY0301", lines), "rehab_plan_id", ids[0])))["settle_no"].(string)
			c.mustOK(c.send("GYR003", map[string]any{"settle_no": s, "ykc700": v, "akb020": hospital, "revoke_reason": "结算有误",
				"revoke_time": stampT(admitDay.Add(100 * time.Hour)), "aae011": "王五"}))
			// The stay again, under a new inpatient number, with the plan
			// the revocation took away.
			v = c.mustOK(c.send("GYU101", with(c.admission("ZY0302"), "aka130", "2")))["ykc700"].(string)
			c.mustOK(c.send("GYU102", fees(v, "ZY0302", lines...)))
			return with(c.settlementOf(v, "ZY0302", lines), "rehab_plan_id", ids[0])
		}, field: "$.rehab_plan_id", rule: "rule rehab-plan"},
		"rehabilitation plan not uploaded": {code: "GYU103", prepare: func(c *chain) map[string]any {
			v := c.mustOK(c.send("GYU101", with(c.admission("ZY0301"), "aka130", "2")))["ykc700"].(string)
			lines := []map[string]any{line("0001", "100", "1", "0")}
			c.mustOK(c.send("GYU102", fees(v, "ZY0301", lines...)))
			return with(c.settlementOf(v, "ZY0301", lines), "rehab_plan_id", "FJNOSUCH")
		}, field: "$.rehab_plan_id", rule: "rule rehab-plan"},
	})
}

// deviceSettlement is a valid GYU303 input: 2 × 4000.00 + 500.00.
func (c *chain) deviceSettlement(mut ...any) map[string]any {
	f := c.device
	in := map[string]any{
		"aac002": f["aac002"], "aac003": f["aac003"], "aac043": "01", "aac044": f["aac044"], "filing_no": f["filing_no"],
		"injury_cert_no": f["injury_cert_no"], "aab301": f["aab301"], "akb020": deviceInst, "config_date": "2025-05-10", "config_type": "1",
		"items": []any{
			map[string]any{"detail_no": "0001", "device_code": "FZ0101", "device_name": "假肢", "qty": json.Number("2"), "price": json.Number("4000"), "amount": json.Number("8000.00")},
			map[string]any{"detail_no": "0002", "device_code": "FZ0201", "device_name": "接受腔", "qty": json.Number("1"), "price": json.Number("500"), "amount": json.Number("500.00")},
		},
		"aac142": json.Number("8500.00"), "fund_pay": json.Number("8000.00"), "self_pay": json.Number("500.00"),
		"settle_time": "2025-05-10 15:00:00", "aae011": "王五", "aae036": "2025-05-10 15:00:00",
	}
	return with(in, mut...)
}

func TestRulesGYU303(t *testing.T) {
	t.Parallel()
	dev := func(mut ...any) func(c *chain) map[string]any {
		return func(c *chain) map[string]any { return c.deviceSettlement(mut...) }
	}
	item := func(c *chain, i int, kv ...any) map[string]any {
		in := c.deviceSettlement()
		items := in["items"].([]any)
		items[i] = with(items[i].(map[string]any), kv...)
		return in
	}
	runRuleCases(t, map[string]ruleCase{
		"valid":                     {code: "GYU303", prepare: dev(), ok: true},
		"total one cent over items": {code: "GYU303", prepare: dev("aac142", json.Number("8500.01"), "fund_pay", json.Number("8000.01")), field: "$.aac142", rule: "rule settlement=Σitems"},
		"fund + self one cent off":  {code: "GYU303", prepare: dev("self_pay", json.Number("500.01")), field: "$.fund_pay", rule: "rule fund+self=total"},
		"item amount one cent off": {code: "GYU303", prepare: func(c *chain) map[string]any {
			return item(c, 0, "amount", json.Number("8000.01"))
		}, field: "$.items[0].amount", rule: "rule price×qty=amount"},
		"item zero quantity": {code: "GYU303", prepare: func(c *chain) map[string]any {
			return item(c, 1, "qty", json.Number("0"), "amount", json.Number("0"))
		}, field: "$.items[1].qty", rule: "rule positive-quantity"},
		// Free devices (price 0, as a line of GYU102 may be): the settlement
		// is 0 and the simulator takes it; only negative amounts are refused.
		"every device free, total 0": {code: "GYU303", prepare: func(c *chain) map[string]any {
			in := c.deviceSettlement("aac142", json.Number("0.00"), "fund_pay", json.Number("0.00"), "self_pay", json.Number("0.00"))
			items := in["items"].([]any)
			for i := range items {
				items[i] = with(items[i].(map[string]any), "price", json.Number("0"), "amount", json.Number("0.00"))
			}
			return in
		}, ok: true},
		"negative fund_pay": {code: "GYU303", prepare: dev("fund_pay", json.Number("-1.00"), "self_pay", json.Number("8501.00")), field: "$.aac142", rule: "rule non-negative-amount"},
		"not a device filing": {code: "GYU303", prepare: func(c *chain) map[string]any {
			return c.deviceSettlement("filing_no", c.filing["filing_no"], "aac002", c.filing["aac002"], "aac003", c.filing["aac003"], "aac044", c.filing["aac044"])
		}, field: "$.filing_no", rule: "rule "},
		"not a device institution":    {code: "GYU303", prepare: dev("akb020", hospital), field: "$.akb020", rule: "rule institution-kind"},
		"configured after the filing": {code: "GYU303", prepare: dev("config_date", "2027-01-01", "settle_time", "2027-01-01 10:00:00"), field: "$.filing_no", rule: "rule approved-filing"},
	})
}

func revokeT(h int) string { return stampT(admitDay.Add(time.Duration(h) * time.Hour)) }

func TestRulesRevocations(t *testing.T) {
	t.Parallel()
	gyr001 := func(v string, nos ...string) map[string]any {
		m := map[string]any{"ykc700": v, "revoke_reason": "明细有误", "revoke_time": revokeT(3), "aae011": "王五"}
		if len(nos) > 0 {
			var l []any
			for _, n := range nos {
				l = append(l, map[string]any{"detail_no": n})
			}
			m["details"] = l
		}
		return m
	}
	gyr002 := func(v string) map[string]any {
		return map[string]any{"ykc700": v, "revoke_reason": "登记有误", "revoke_time": revokeT(3), "aae011": "王五"}
	}
	gyr003 := func(v, s string) map[string]any {
		m := map[string]any{"settle_no": s, "akb020": hospital, "revoke_reason": "结算有误", "revoke_time": revokeT(100), "aae011": "王五"}
		if v != "" {
			m["ykc700"] = v
		}
		return m
	}
	gyr004 := func(nos ...string) map[string]any {
		var l []any
		for _, n := range nos {
			l = append(l, map[string]any{"deduct_no": n})
		}
		return map[string]any{"deductions": l, "revoke_time": stampT(admitDay.Add(11 * 24 * time.Hour)), "aae011": "王五"}
	}
	runRuleCases(t, map[string]ruleCase{
		"GYR001 all details":    {code: "GYR001", prepare: func(c *chain) map[string]any { v, _ := c.stay("ZY0401"); return gyr001(v) }, ok: true},
		"GYR001 one detail":     {code: "GYR001", prepare: func(c *chain) map[string]any { v, _ := c.stay("ZY0401"); return gyr001(v, "0002") }, ok: true},
		"GYR001 unknown detail": {code: "GYR001", prepare: func(c *chain) map[string]any { v, _ := c.stay("ZY0401"); return gyr001(v, "0003") }, field: "$.details[0].detail_no", rule: "rule details-exist"},
		"GYR001 detail twice":   {code: "GYR001", prepare: func(c *chain) map[string]any { v, _ := c.stay("ZY0401"); return gyr001(v, "0001", "0001") }, field: "$.details[1].detail_no", rule: "rule details-exist"},
		"GYR001 a detail uploaded again": {code: "GYR001", prepare: func(c *chain) map[string]any {
			v, _ := c.stay("ZY0401")
			c.mustOK(c.send("GYR001", gyr001(v, "0001")))
			c.mustOK(c.handle("z-again", "GYU102", fees(v, "ZY0401", line("0001", "10.00", "3", "5.00")), false))
			return gyr001(v, "0001")
		}, ok: true},
		"GYR001 no details": {code: "GYR001", prepare: func(c *chain) map[string]any { return gyr001(c.admit("ZY0401")) }, field: "$.ykc700", rule: "rule details-exist"},
		"GYR001 already revoked": {code: "GYR001", prepare: func(c *chain) map[string]any {
			v, _ := c.stay("ZY0401")
			c.mustOK(c.send("GYR001", gyr001(v, "0001")))
			return gyr001(v, "0001")
		}, field: "$.details[0].detail_no", rule: "rule details-exist"},
		"GYR001 all details, an upload in flight": {code: "GYR001", prepare: func(c *chain) map[string]any {
			v, _ := c.stay("ZY0401")
			if err := c.impl.inFlight(t.Context(), hostFor(c.host, testSite), v, "m-lost-gyu102", true); err != nil {
				t.Fatal(err)
			}
			return gyr001(v)
		}, field: "$.ykc700", rule: "rule details-known"},
		"GYR001 listed details, an upload in flight": {code: "GYR001", prepare: func(c *chain) map[string]any {
			v, _ := c.stay("ZY0401")
			if err := c.impl.inFlight(t.Context(), hostFor(c.host, testSite), v, "m-lost-gyu102", true); err != nil {
				t.Fatal(err)
			}
			return gyr001(v, "0001", "0002")
		}, ok: true},
		"GYR001 settled":      {code: "GYR001", prepare: func(c *chain) map[string]any { v, _ := c.settle("ZY0401"); return gyr001(v) }, field: "$.ykc700", rule: "rule not-settled"},
		"GYR002 no details":   {code: "GYR002", prepare: func(c *chain) map[string]any { return gyr002(c.admit("ZY0402")) }, ok: true},
		"GYR002 with details": {code: "GYR002", prepare: func(c *chain) map[string]any { v, _ := c.stay("ZY0402"); return gyr002(v) }, field: "$.ykc700", rule: "rule no-valid-details"},
		"GYR002 details all revoked": {code: "GYR002", prepare: func(c *chain) map[string]any {
			v, _ := c.stay("ZY0402")
			c.mustOK(c.send("GYR001", gyr001(v)))
			return gyr002(v)
		}, ok: true},
		"GYR002 twice": {code: "GYR002", prepare: func(c *chain) map[string]any {
			v := c.admit("ZY0402")
			c.mustOK(c.send("GYR002", gyr002(v)))
			return gyr002(v)
		}, field: "$.ykc700", rule: "was revoked"},
		"GYR002 settled":       {code: "GYR002", prepare: func(c *chain) map[string]any { v, _ := c.settle("ZY0402"); return gyr002(v) }, field: "$.ykc700", rule: "already settled"},
		"GYR002 unknown visit": {code: "GYR002", prepare: func(c *chain) map[string]any { return gyr002("JZNOSUCH") }, field: "$.ykc700", rule: "rule admission-uploaded"},
		"GYR003 valid":         {code: "GYR003", prepare: func(c *chain) map[string]any { v, s := c.settle("ZY0403"); return gyr003(v, s) }, ok: true},
		"GYR003 unknown":       {code: "GYR003", prepare: func(c *chain) map[string]any { return gyr003("", "JSNOSUCH") }, field: "$.settle_no", rule: "rule settlement-uploaded"},
		"GYR003 wrong visit":   {code: "GYR003", prepare: func(c *chain) map[string]any { _, s := c.settle("ZY0403"); return gyr003("JZOTHER", s) }, field: "$.ykc700", rule: "rule settlement-visit"},
		"GYR003 before settled": {code: "GYR003", prepare: func(c *chain) map[string]any {
			v, s := c.settle("ZY0403")
			return with(gyr003(v, s), "revoke_time", revokeT(1))
		}, field: "$.revoke_time", rule: "rule revoke-after-settle"},
		"GYR003 twice": {code: "GYR003", prepare: func(c *chain) map[string]any {
			v, s := c.settle("ZY0403")
			c.mustOK(c.send("GYR003", gyr003(v, s)))
			return gyr003(v, s)
		}, field: "$.settle_no", rule: "rule settlement-uploaded"},
		"GYR003 device settlement": {code: "GYR003", prepare: func(c *chain) map[string]any {
			s := c.mustOK(c.send("GYU303", c.deviceSettlement()))["settle_no"].(string)
			return with(gyr003("", s), "akb020", deviceInst, "revoke_time", "2025-05-11 09:00:00")
		}, ok: true},
		"GYR004 valid": {code: "GYR004", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0404")
			c.mustOK(c.send("GYU004", deductions(deduction("KK0401", s, "1.00"))))
			return gyr004("KK0401")
		}, ok: true},
		"GYR004 unknown": {code: "GYR004", prepare: func(c *chain) map[string]any { return gyr004("KKNOSUCH") }, field: "$.deductions[0].deduct_no", rule: "rule deduction-uploaded"},
		"GYR004 listed twice": {code: "GYR004", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0404")
			c.mustOK(c.send("GYU004", deductions(deduction("KK0401", s, "1.00"))))
			return gyr004("KK0401", "KK0401")
		}, field: "$.deductions[1].deduct_no", rule: "rule deduction-uploaded"},
		"GYR004 twice": {code: "GYR004", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0404")
			c.mustOK(c.send("GYU004", deductions(deduction("KK0401", s, "1.00"))))
			c.mustOK(c.send("GYR004", gyr004("KK0401")))
			return gyr004("KK0401")
		}, field: "$.deductions[0].deduct_no", rule: "rule deduction-uploaded"},
	})
}

func TestRulesGYU004(t *testing.T) {
	t.Parallel()
	// The default stay's settlement: fund-paid 52.50 (15.00 + 37.50).
	one := func(amount string) func(c *chain) map[string]any {
		return func(c *chain) map[string]any {
			_, s := c.settle("ZY0501")
			return deductions(deduction("KK0501", s, amount))
		}
	}
	runRuleCases(t, map[string]ruleCase{
		"one cent":                {code: "GYU004", prepare: one("0.01"), ok: true},
		"exactly the fund-paid":   {code: "GYU004", prepare: one("52.50"), ok: true},
		"zero":                    {code: "GYU004", prepare: one("0"), field: "$.deductions[0].deduct_amount", rule: "rule deduction>0"},
		"negative":                {code: "GYU004", prepare: one("-1.00"), field: "$.deductions[0].deduct_amount", rule: "rule deduction>0"},
		"one cent over fund-paid": {code: "GYU004", prepare: one("52.51"), field: "$.deductions[0].deduct_amount", rule: "rule deduction≤fund-paid"},
		"over-long deduct_no": {code: "GYU004", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0501")
			return deductions(deduction(strings.Repeat("K", 31), s, "1.00"))
		}, field: "$.deductions[0].deduct_no", rule: ""},
		"together over fund-paid": {code: "GYU004", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0501")
			c.mustOK(c.send("GYU004", deductions(deduction("KK0501", s, "50.00"))))
			return deductions(deduction("KK0502", s, "2.00"), deduction("KK0503", s, "0.51"))
		}, field: "$.deductions[1].deduct_amount", rule: "rule deduction≤fund-paid"},
		"room again after a revocation": {code: "GYU004", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0501")
			c.mustOK(c.send("GYU004", deductions(deduction("KK0501", s, "50.00"))))
			c.mustOK(c.send("GYR004", map[string]any{"deductions": []any{map[string]any{"deduct_no": "KK0501"}}, "revoke_time": stampT(admitDay.Add(11 * 24 * time.Hour)), "aae011": "王五"}))
			return deductions(deduction("KK0502", s, "52.50"))
		}, ok: true},
		"deduct_no used": {code: "GYU004", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0501")
			c.mustOK(c.send("GYU004", deductions(deduction("KK0501", s, "1.00"))))
			return deductions(deduction("KK0501", s, "1.00"))
		}, field: "$.deductions[0].deduct_no", rule: "rule unique-deduct-no"},
		"unknown settlement": {code: "GYU004", prepare: func(c *chain) map[string]any { return deductions(deduction("KK0501", "JSNOSUCH", "1.00")) }, field: "$.deductions[0].settle_no", rule: "rule settlement-uploaded"},
		"revoked settlement": {code: "GYU004", prepare: func(c *chain) map[string]any {
			v, s := c.settle("ZY0501")
			c.mustOK(c.send("GYR003", map[string]any{"settle_no": s, "ykc700": v, "akb020": hospital, "revoke_reason": "x", "revoke_time": revokeT(100), "aae011": "王五"}))
			return deductions(deduction("KK0501", s, "1.00"))
		}, field: "$.deductions[0].settle_no", rule: "rule settlement-uploaded"},
		"another institution": {code: "GYU004", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0501")
			return deductions(with(deduction("KK0501", s, "1.00"), "akb020", rehabInst))
		}, field: "$.deductions[0].akb020", rule: "rule settlement-institution"},
		// A deduction audits an uploaded settlement: not dated before it
		// (the national system refuses it: E8010). The settlement is at
		// admitDay + 72h.
		"at the settlement's time": {code: "GYU004", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0501")
			return deductions(with(deduction("KK0501", s, "1.00"), "deduct_time", stampT(admitDay.Add(72*time.Hour))))
		}, ok: true},
		"a second before the settlement": {code: "GYU004", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0501")
			return deductions(with(deduction("KK0501", s, "1.00"), "deduct_time", stampT(admitDay.Add(72*time.Hour-time.Second))))
		}, field: "$.deductions[0].deduct_time", rule: "rule deduct-after-settle"},
		// ykc700 is optional; given, it is the settlement's visit (the
		// national system refuses another: E8001).
		"the settlement's visit": {code: "GYU004", prepare: func(c *chain) map[string]any {
			v, s := c.settle("ZY0501")
			return deductions(with(deduction("KK0501", s, "1.00"), "ykc700", v))
		}, ok: true},
		"another visit": {code: "GYU004", prepare: func(c *chain) map[string]any {
			other, _ := c.settle("ZY0502")
			_, s := c.settle("ZY0501")
			return deductions(with(deduction("KK0501", s, "1.00"), "ykc700", other))
		}, field: "$.deductions[0].ykc700", rule: "rule settlement-visit"},
		"a visit on a device settlement": {code: "GYU004", prepare: func(c *chain) map[string]any {
			v, _ := c.settle("ZY0502")
			out := c.mustOK(c.send("GYU303", c.deviceSettlement()))
			return deductions(with(deduction("KK0501", out["settle_no"].(string), "1.00"), "akb020", deviceInst, "ykc700", v))
		}, field: "$.deductions[0].ykc700", rule: "rule settlement-visit"},
		"institution of another province": {code: "GYU004", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0501")
			st := instState{Type: "1", Valid: "1", AAB299: "440300"}
			if err := putJSON(t.Context(), hostFor(c.host, testSite), "inst/"+hospital, st); err != nil {
				t.Fatal(err)
			}
			return deductions(deduction("KK0501", s, "1.00"))
		}, field: "$.deductions[0].akb020", rule: "rule institution-in-province"},
	})
}

func TestRulesGYU003(t *testing.T) {
	t.Parallel()
	month := func(mut func(c *chain, m map[string]any)) func(c *chain) map[string]any {
		return func(c *chain) map[string]any {
			_, s := c.settle("ZY0601")
			c.mustOK(c.send("GYU004", deductions(deduction("KK0601", s, "2.50"))))
			m := c.monthly(hospital, "202505")
			if mut != nil {
				mut(c, m)
			}
			return m
		}
	}
	runRuleCases(t, map[string]ruleCase{
		"valid": {code: "GYU003", prepare: month(nil), ok: true},
		// The same month sent again under a new message id (a platform
		// that lost the reply) is answered ok from the earlier message
		// (TestMonthSentAgainUnderNewID); other content is refused.
		"twice for the month, other items": {code: "GYU003", prepare: month(func(c *chain, m map[string]any) {
			c.mustOK(c.send("GYU003", m))
			m["items"] = m["items"].([]any)[:1]
		}), field: "$.settle_month", rule: "rule once-per-month"},
		"fund_pay one cent off":                   {code: "GYU003", prepare: month(func(_ *chain, m map[string]any) { m["fund_pay"] = json.Number("52.51") }), field: "$.fund_pay", rule: "rule month-amount=Σitems"},
		"month_fund_pay not net of the deduction": {code: "GYU003", prepare: month(func(_ *chain, m map[string]any) { m["month_fund_pay"] = json.Number("52.50") }), field: "$.month_fund_pay", rule: "rule month-amount=Σitems"},
		"item amount one cent off": {code: "GYU003", prepare: month(func(_ *chain, m map[string]any) {
			it := m["items"].([]any)[0].(map[string]any)
			it["amount"] = json.Number("52.49")
			m["fund_pay"], m["month_fund_pay"] = json.Number("52.49"), json.Number("49.99")
		}), field: "$.items[0].amount", rule: "rule month-items"},
		"an item missing": {code: "GYU003", prepare: month(func(_ *chain, m map[string]any) {
			m["items"] = m["items"].([]any)[:1]
			m["deduct_amount"], m["month_fund_pay"] = json.Number("0.00"), json.Number("52.50")
		}), field: "$.items", rule: "rule month-items"},
		// Each item names its record's settlement (the national system
		// refuses another: E8006).
		"a deduction item naming another settlement": {code: "GYU003", prepare: func(c *chain) map[string]any {
			_, other := c.settle("ZY0602")
			_, s := c.settle("ZY0601")
			c.mustOK(c.send("GYU004", deductions(deduction("KK0601", s, "2.50"))))
			m := c.monthly(hospital, "202505")
			for _, x := range m["items"].([]any) {
				if it := x.(map[string]any); it["item_type"] == itemDeduction {
					it["settle_no"] = other
				}
			}
			return m
		}, field: "$.items[2].settle_no", rule: "rule month-items: deduction KK0601"},
		"an item of another month": {code: "GYU003", prepare: month(func(_ *chain, m map[string]any) {
			m["items"] = append(m["items"].([]any), map[string]any{"item_type": "3", "ref_no": "KKOTHER", "settle_no": "JSX", "amount": json.Number("0.00"), "biz_time": "2025-06-01 00:00:00"})
		}), field: "$.items[2].ref_no", rule: "rule month-items"},
		// An item's total_amount and self_pay are optional, but the header's
		// sums are the month's settlements', not those of what the items
		// happen to carry.
		"items without total_amount, header total 0": {code: "GYU003", prepare: month(func(_ *chain, m map[string]any) {
			delete(m["items"].([]any)[0].(map[string]any), "total_amount")
			m["total_amount"] = json.Number("0.00")
		}), field: "$.total_amount", rule: "rule month-amount=Σitems"},
		"items without self_pay, header self_pay 0": {code: "GYU003", prepare: month(func(_ *chain, m map[string]any) {
			delete(m["items"].([]any)[0].(map[string]any), "self_pay")
			m["self_pay"] = json.Number("0.00")
		}), field: "$.self_pay", rule: "rule month-amount=Σitems"},
		"items without total_amount and self_pay": {code: "GYU003", prepare: month(func(_ *chain, m map[string]any) {
			delete(m["items"].([]any)[0].(map[string]any), "total_amount")
			delete(m["items"].([]any)[0].(map[string]any), "self_pay")
		}), ok: true},
		"settlement-revocation item with a wrong total_amount": {code: "GYU003", prepare: func(c *chain) map[string]any {
			c.settle("ZY0602")
			v, s := c.settle("ZY0601")
			c.mustOK(c.send("GYR003", map[string]any{"settle_no": s, "ykc700": v, "akb020": hospital, "revoke_reason": "x", "revoke_time": revokeT(100), "aae011": "王五"}))
			m := c.monthly(hospital, "202505")
			for _, x := range m["items"].([]any) {
				if it := x.(map[string]any); it["item_type"] == itemSettleRevoke {
					it["total_amount"] = json.Number("1.00")
				}
			}
			return m
		}, field: "", rule: "rule month-items: settlement"},
		"month 13":         {code: "GYU003", prepare: month(func(_ *chain, m map[string]any) { m["settle_month"] = "202513" }), field: "$.settle_month", rule: "rule month-format"},
		"person count off": {code: "GYU003", prepare: month(func(_ *chain, m map[string]any) { m["person_count"] = 2 }), field: "$.person_count", rule: "rule person-count"},
		"person count zero": {code: "GYU003", prepare: func(c *chain) map[string]any {
			v, s := c.settle("ZY0601")
			c.mustOK(c.send("GYR003", map[string]any{"settle_no": s, "ykc700": v, "akb020": hospital, "revoke_reason": "x", "revoke_time": revokeT(100), "aae011": "王五"}))
			return c.monthly(hospital, "202505")
		}, field: "$.person_count", rule: "rule person-count>0"},
	})
}

func TestRulesDownloadsAndInstitutions(t *testing.T) {
	t.Parallel()
	runRuleCases(t, map[string]ruleCase{
		"GYD102 before the admission was downloaded": {code: "GYD102", prepare: func(c *chain) map[string]any {
			return map[string]any{"akb020": hospital, "akc190": "ZY0701"}
		}, field: "$.akc190", rule: "rule admission-downloaded"},
		"GYU009 not approved": {code: "GYU009", prepare: func(c *chain) map[string]any {
			return with(institution("H35020309999"), "audit_status", "0")
		}, field: "$.audit_status", rule: "rule approved-institution"},
		"GYU009 approved": {code: "GYU009", prepare: func(c *chain) map[string]any {
			return with(institution("H35020309999"), "audit_status", "1")
		}, ok: true},
		"GYU009 messages not a source": {code: "GYU009", opts: []envOption{withSettings(setInstSource, "file")},
			prepare: func(c *chain) map[string]any { return institution("H35020309999") }, field: "$", rule: "institutionsFile"},
	})
}

// TestChainDownloads: the settlement chain's downloads run the workflow
// (events, GYU008), GYD102 follows GYD101, a GYD401 revocation is applied
// locally and the stay's complete details are downloaded again, likewise
// GYD404 for deductions; GYD104 needs no feedback.
func TestChainDownloads(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	v, lines := c.stay("ZY0901")
	// GYD102 before GYD101: refused locally.
	if r := c.send("GYD102", map[string]any{"akb020": hospital, "akc190": "ZY0901"}); r.Status != sdk.StatusInvalid {
		t.Fatalf("GYD102 before GYD101: %s", r.Status)
	}
	c.mustOK(c.send("GYD101", map[string]any{}))
	if n := len(c.events("workinjury.admission.downloaded")); n != 1 {
		t.Fatalf("%d admission events", n)
	}
	c.mustOK(c.send("GYD102", map[string]any{"akb020": hospital, "akc190": "ZY0901"}))
	if n := len(c.events("workinjury.fee_detail.downloaded")); n != len(lines) {
		t.Fatalf("%d fee-detail events, want %d", n, len(lines))
	}
	h := hostFor(c.host, testSite)
	var det map[string]bool
	if _, err := getJSON(t.Context(), h, "dldet/"+v, &det); err != nil || len(det) != 2 || det["0001"] {
		t.Fatalf("downloaded details %v %v", det, err)
	}
	// Revoke one detail; GYD401 revokes it locally and downloads the rest again.
	c.mustOK(c.send("GYR001", map[string]any{"ykc700": v, "details": []any{map[string]any{"detail_no": "0001"}},
		"revoke_reason": "明细有误", "revoke_time": revokeT(3), "aae011": "王五"}))
	r := c.mustOK(c.send("GYD401", map[string]any{}))
	if fu, _ := r["follow_ups"].([]any); len(fu) != 1 {
		t.Fatalf("GYD401 summary %v: want one follow-up GYD102", r)
	}
	if _, err := getJSON(t.Context(), h, "dldet/"+v, &det); err != nil || !det["0001"] || det["0002"] {
		t.Fatalf("after GYD401: %v", det)
	}
	if n := len(c.events("workinjury.fee_detail_revocation.downloaded")); n != 1 {
		t.Fatalf("%d revocation events", n)
	}
	if n := len(c.events("workinjury.fee_detail.downloaded")); n <= len(lines) {
		t.Fatalf("%d fee-detail events: the complete re-download delivered nothing", n)
	}
	if entries, _ := h.Scan(t.Context(), "redl/", 10); len(entries) != 0 {
		t.Fatalf("re-download still queued: %v", entries)
	}
	// Every acknowledged batch was fed back once.
	for _, code := range []string{"GYD101", "GYD102", "GYD401"} {
		for _, b := range c.sim.Batches(code) {
			if b.Records > 0 && (!b.Acked || b.Feedbacks != 1) {
				t.Fatalf("%s batch %+v", code, b)
			}
		}
	}

	// Deductions: GYD004, then GYD404 revokes locally and re-downloads.
	c.mustOK(c.send("GYU103", c.settlementOf(v, "ZY0901", lines[1:])))
	var s string
	for _, x := range c.sim.Settlements(fmt.Sprint(c.filing["aac002"])) {
		s = x.SettleNo
	}
	c.mustOK(c.send("GYU004", deductions(deduction("KK0901", s, "1.00"), deduction("KK0902", s, "2.00"))))
	c.mustOK(c.send("GYD004", map[string]any{}))
	c.mustOK(c.send("GYR004", map[string]any{"deductions": []any{map[string]any{"deduct_no": "KK0901"}}, "revoke_time": stampT(admitDay.Add(11 * 24 * time.Hour)), "aae011": "王五"}))
	r = c.mustOK(c.send("GYD404", map[string]any{}))
	if fu, _ := r["follow_ups"].([]any); len(fu) != 1 {
		t.Fatalf("GYD404 summary %v", r)
	}
	var d dlDeduction
	if _, err := getJSON(t.Context(), h, "dldeduct/KK0901", &d); err != nil || !d.Revoked {
		t.Fatalf("KK0901 not revoked locally: %+v", d)
	}
	// GYD104: one person's settlements, no batch, nothing to acknowledge.
	out := c.mustOK(c.send("GYD104", map[string]any{"aac002": c.filing["aac002"]}))
	if out["record_count"] == nil {
		t.Fatalf("GYD104 %v", out)
	}
	if c.journaled("GYU008") == 0 {
		t.Fatal("no feedback at all")
	}
}

// TestLateUpload: past occurredAt + 30 minutes an upload still goes, with a
// late warning, one event and retryable failures.
func TestLateUpload(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	send := func(id string, occurred time.Time, recovering bool) *sdk.HandleResponse {
		b, _ := json.Marshal(institution("H35020306666"))
		r, err := c.p.Handle(t.Context(), &sdk.HandleRequest{Site: testSite, Type: Name + ".GYU009", MessageID: id, Key: id,
			Format: "json", Payload: b, Attempt: 1, Recovering: recovering, OccurredAt: occurred, Deadline: occurred.Add(30 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// In time: no warning.
	if r := send("in-time", time.Now().Add(-29*time.Minute), false); r.Status != sdk.StatusOK || hasField(r, "", "late") {
		t.Fatalf("in time: %s %s", r.Status, r.Diagnostics)
	}
	// Late and the national system down: failed, retryable, flagged, one event.
	c.sim.Inject(wisim.Fault{Code: "GYU009", Kind: wisim.Fault5xx, Times: 2})
	occurred := time.Now().Add(-31 * time.Minute)
	for i := range 2 {
		r := send("late", occurred, i > 0)
		if r.Status != sdk.StatusFailed || !r.Retryable {
			t.Fatalf("late attempt %d: %s retryable=%v", i, r.Status, r.Retryable)
		}
		late := false
		for _, d := range r.Diagnostics {
			late = late || (d.Rule == "late" && d.Severity == sdk.SeverityWarning)
		}
		if !late {
			t.Fatalf("no late warning: %s", r.Diagnostics)
		}
	}
	r := send("late", occurred, true)
	if r.Status != sdk.StatusOK {
		t.Fatalf("late upload finally: %s %s", r.Status, r.Diagnostics)
	}
	if n := len(c.events("workinjury.upload.late")); n != 1 {
		t.Fatalf("%d late events, want 1", n)
	}
}

// TestFeedbackRetriedWithinTheRun: a GYU008 that gets no answer is retried
// with backoff inside the same run (held to the 30-minute rule).
func TestFeedbackRetriedWithinTheRun(t *testing.T) {
	t.Parallel()
	c := newChain(t, withSettings(setFeedbackBackoff, "50ms"))
	c.stay("ZY1001")
	c.sim.Inject(wisim.Fault{Code: "GYU008", Kind: wisim.Fault5xx, Times: 2})
	c.mustOK(c.send("GYD101", map[string]any{}))
	b := nonEmpty(c.sim.Batches("GYD101"))
	if len(b) != 1 || !b[0].Acked || b[0].Feedbacks != 1 {
		t.Fatalf("batches %+v: the feedback should have been retried and accepted in the same run", b)
	}
}

// TestFeedbackLate: past the deadline the feedback is flagged late (event,
// alert) and still retried; nothing is given up.
func TestFeedbackLate(t *testing.T) {
	t.Parallel()
	// Every reading of the adapter's clock is a second later than the one
	// before, so the feedback is always past its 1 ms deadline when it fails.
	var ticks atomic.Int64
	start := time.Now()
	stepping := func() time.Time { return start.Add(time.Duration(ticks.Add(1)) * time.Second) }
	c := newChain(t, withSettings(setUploadDeadline, "1ms"), withClock(stepping))
	c.stay("ZY1101")
	c.sim.Inject(wisim.Fault{Code: "GYU008", Kind: wisim.Fault5xx, Times: 1})
	r := c.send("GYD101", map[string]any{})
	if r.Status != sdk.StatusFailed || !r.Retryable {
		t.Fatalf("first run: %s retryable=%v %s", r.Status, r.Retryable, r.Diagnostics)
	}
	// With a 1 ms deadline every feedback is late, the chain's own
	// GYD009 download included: count those of GYD101.
	lateOf := func(code string) (n int) {
		for _, ev := range c.events("workinjury.feedback.late") {
			if ev.Headers["workinjury-download-code"] == code {
				n++
			}
		}
		return n
	}
	if n := lateOf("GYD101"); n != 1 {
		t.Fatalf("%d late-feedback events of GYD101, want 1", n)
	}
	c.mustOK(c.send("GYD101", map[string]any{}))
	b := nonEmpty(c.sim.Batches("GYD101"))
	if len(b) != 1 || !b[0].Acked || b[0].Feedbacks != 1 {
		t.Fatalf("batches %+v", b)
	}
	if n := lateOf("GYD101"); n != 1 {
		t.Fatalf("%d late-feedback events of GYD101 after the retry, want 1 (once per batch)", n)
	}
}

// TestFeedbackLateBeforeFeedback: a batch held up before its feedback
// (an attachment that cannot be fetched yet) past the deadline is flagged
// late as well, not only a feedback that fails.
func TestFeedbackLateBeforeFeedback(t *testing.T) {
	t.Parallel()
	var ticks atomic.Int64
	start := time.Now()
	stepping := func() time.Time { return start.Add(time.Duration(ticks.Add(1)) * time.Second) }
	e := newEnv(t, withSeed(func(s *wisim.Server) { s.Seed(1, 0) }), withSettings(setUploadDeadline, "1ms"), withClock(stepping))
	e.sim.Inject(wisim.Fault{Code: "GYD054", Kind: wisim.Fault5xx, Times: 1})
	if r := e.runJob(JobFilingApplications); !r.Diagnostics.HasError() {
		t.Fatalf("first run: %s, want it stopped at the attachment", r.Summary)
	}
	if n := len(e.events("workinjury.feedback.late")); n != 1 {
		t.Fatalf("%d late-feedback events after a run held up past the deadline, want 1", n)
	}
	if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() {
		t.Fatalf("second run: %s %s", r.Summary, r.Diagnostics)
	}
	b := nonEmpty(e.sim.Batches("GYD001"))
	if len(b) != 1 || !b[0].Acked {
		t.Fatalf("batches %+v", b)
	}
	if n := len(e.events("workinjury.feedback.late")); n != 1 {
		t.Fatalf("%d late-feedback events, want 1 (once per batch)", n)
	}
}

// TestEveryChainDownloadIsAcknowledged: each incremental download of the
// chain publishes its records and acknowledges the batch with GYU008.
func TestEveryChainDownloadIsAcknowledged(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	_, s := c.settle("ZY1201")
	c.mustOK(c.send("GYU004", deductions(deduction("KK1201", s, "1.00"))))
	v2 := c.admit("ZY1202")
	c.mustOK(c.send("GYR002", map[string]any{"ykc700": v2, "revoke_reason": "登记有误", "revoke_time": revokeT(2), "aae011": "王五"}))
	v3, s3 := c.settle("ZY1203")
	c.mustOK(c.send("GYR003", map[string]any{"settle_no": s3, "ykc700": v3, "akb020": hospital, "revoke_reason": "结算有误", "revoke_time": revokeT(100), "aae011": "王五"}))
	c.mustOK(c.send("GYU003", c.monthly(hospital, "202505")))
	for code, event := range map[string]string{
		"GYD103": "workinjury.settlement.downloaded",
		"GYD004": "workinjury.deduction.downloaded",
		"GYD402": "workinjury.admission_revocation.downloaded",
		"GYD403": "workinjury.settlement_revocation.downloaded",
		"GYD003": "workinjury.monthly_settlement.downloaded",
		"GYD005": "workinjury.clearing.downloaded",
	} {
		c.mustOK(c.send(code, map[string]any{}))
		if len(c.events(event)) == 0 {
			t.Errorf("%s: no %s event", code, event)
		}
		b := nonEmpty(c.sim.Batches(code))
		if len(b) == 0 {
			t.Errorf("%s: no batch handed out", code)
		}
		for _, x := range b {
			if !x.Acked || x.Feedbacks != 1 {
				t.Errorf("%s batch %+v not acknowledged once", code, x)
			}
		}
	}
}

// TestGYU004ShortInstitutionRegion: an institution whose region
// (aab299, schema maxLength 6 and no minimum) came in one character long
// gets a clear precondition error on a deduction, not a panic that kills
// the plugin on every redelivery.
func TestGYU004ShortInstitutionRegion(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	_, s := c.settle("ZY0502")
	inst := wisim.SampleInstitution(hospital, "厦门市第一示例医院", "1", "3")
	delete(inst, "update_time")
	c.mustOK(c.send("GYU009", inst))
	before := len(c.sim.Received("GYU004"))
	c.wantInvalid(t, c.send("GYU004", deductions(deduction("KK0504", s, "1.00"))), "GYU004", before, "$.deductions[0].akb020", "rule institution-in-province")
}

// TestCompleteRedownloadPastOneBatch: after a fee-detail revocation
// (GYD401) the visit's valid details are downloaded again completely, even
// when they take more than one batch; the queued re-download is dropped
// only once the national system has nothing more.
func TestCompleteRedownloadPastOneBatch(t *testing.T) {
	t.Parallel()
	c := newChain(t, withSim(func(cfg *wisim.Config) { cfg.BatchSize = 1 }))
	v, _ := c.stay("ZY0911", line("0001", "10.00", "1", "0"), line("0002", "20.00", "1", "0"), line("0003", "30.00", "1", "0"))
	c.mustOK(c.send("GYD101", map[string]any{}))
	for range 3 {
		c.mustOK(c.send("GYD102", map[string]any{"akb020": hospital, "akc190": "ZY0911"}))
	}
	if n := len(c.events("workinjury.fee_detail.downloaded")); n != 3 {
		t.Fatalf("%d fee-detail events before the revocation, want 3", n)
	}
	c.mustOK(c.send("GYR001", map[string]any{"ykc700": v, "details": []any{map[string]any{"detail_no": "0001"}},
		"revoke_reason": "明细有误", "revoke_time": revokeT(3), "aae011": "王五"}))
	c.mustOK(c.send("GYD401", map[string]any{}))
	delivered := map[string]int{}
	for _, ev := range c.events("workinjury.fee_detail.downloaded") {
		delivered[ev.Key]++
	}
	if delivered["0001"] != 1 || delivered["0002"] != 2 || delivered["0003"] != 2 {
		t.Fatalf("deliveries per detail %v, want 0001 once and 0002, 0003 again by the complete re-download", delivered)
	}
	if entries, _ := hostFor(c.host, testSite).Scan(t.Context(), "redl/", 10); len(entries) != 0 {
		t.Fatalf("re-download still queued: %d entries", len(entries))
	}
}

// TestChangedRecordGetsANewEventID: a record the national system hands out
// again because it changed (a settlement revoked after its download) is
// published under a new event id, so downstream deduplication by id does
// not drop the change; a re-publish of the same batch keeps its id
// (TestDownloadResumesAfterCrash).
func TestChangedRecordGetsANewEventID(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	v, s := c.settle("ZY0921")
	c.mustOK(c.send("GYD103", map[string]any{}))
	c.mustOK(c.send("GYR003", map[string]any{"settle_no": s, "ykc700": v, "akb020": hospital, "revoke_reason": "x", "revoke_time": revokeT(100), "aae011": "王五"}))
	c.mustOK(c.send("GYD103", map[string]any{}))
	ids := map[string]bool{}
	for _, ev := range c.events("workinjury.settlement.downloaded") {
		if ev.Key == s {
			ids[ev.ID] = true
		}
	}
	if len(ids) != 2 {
		t.Fatalf("settlement %s published under %d distinct event id(s), want 2 (before and after its revocation)", s, len(ids))
	}
}

// TestReplyLackingVisitIsNotUsable: a GYU101 success whose signed answer
// lacks ykc700 (the visit the national system assigned) is not stored as
// a usable outcome: the message fails, naming the field, the inpatient
// number stays claimed by it (the national system holds the admission),
// nothing is resent, and a replay reconciles with GYD053 and completes.
func TestReplyLackingVisitIsNotUsable(t *testing.T) {
	t.Parallel()
	// The success code is signed (canonical target): the answer stands
	// without a GYD053 confirmation, which would bring the complete output.
	c := newChain(t, withSettings(setSignTarget, "canonical"))
	c.sim.Inject(wisim.Fault{Code: "GYU101", Kind: wisim.FaultOmit, Omit: []string{"ykc700"}})
	r := c.handle("adm-1", "GYU101", c.admission("ZY-OMIT-1"), false)
	if r.Status != sdk.StatusFailed || r.Retryable || !strings.Contains(r.Diagnostics.String(), "ykc700") {
		t.Fatalf("reply without ykc700: %s retryable=%v %s; want failed, not retryable, naming ykc700", r.Status, r.Retryable, r.Diagnostics)
	}
	h := hostFor(c.host, testSite)
	var cl claimState
	if ver, _ := getJSON(t.Context(), h, "adm/"+hospital+"/ZY-OMIT-1", &cl); ver == 0 || cl.Done || cl.MessageID != "adm-1" {
		t.Fatalf("claim %+v (version %d); want it held by adm-1, not done", cl, ver)
	}
	var rec sentRecord
	if ver, _ := getJSON(t.Context(), h, "msg/adm-1", &rec); ver == 0 || rec.Done || rec.Serial == "" {
		t.Fatalf("sent record %+v; want the call recorded, not done", rec)
	}
	out := c.mustOK(c.handle("adm-1", "GYU101", c.admission("ZY-OMIT-1"), true))
	v, _ := out["ykc700"].(string)
	var vs visitState
	if ver, _ := getJSON(t.Context(), h, "visit/"+v, &vs); v == "" || ver == 0 {
		t.Fatalf("replay: visit %q not recorded", v)
	}
	if n := len(c.sim.Received("GYU101")); n != 1 {
		t.Fatalf("GYU101 sent %d times, want 1", n)
	}
}

// TestReplyErrorsOnlyTheAssignedNumber: an accepted upload's answer must
// carry the number its effects key on, and nothing else of the
// reconstructed output schema is required of it — a refused application
// (GYU001) has no filing number, and a settlement answer without, say, its
// settle_time is still a settlement.
func TestReplyErrorsOnlyTheAssignedNumber(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code, output string
		bad          bool
	}{
		{"GYU101", `{"ykc700":"JZ1"}`, false},
		{"GYU101", `{}`, true},
		{"GYU101", `{"ykc700":""}`, true},
		{"GYU101", `[1]`, true},
		{"GYU103", `{"settle_no":"JS1"}`, false},
		{"GYU103", `{"fund_pay":"1.00","self_pay":"0.00"}`, true},
		{"GYU303", `{}`, true},
		{"GYU003", `{"month_settle_no":"YJ1"}`, false},
		{"GYU003", `{}`, true},
		{"GYU006", `{}`, true},
		{"GYU001", `{}`, false},
		{"GYU102", `{}`, false},
	} {
		if got := replyErrors(tc.code, nil, json.RawMessage(tc.output)); (len(got) > 0) != tc.bad {
			t.Errorf("replyErrors(%s, %s) = %v; want an error: %v", tc.code, tc.output, got, tc.bad)
		}
	}
}
