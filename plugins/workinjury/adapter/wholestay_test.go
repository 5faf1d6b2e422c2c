package adapter

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestWholeStayMoney runs a stay as a settlement clerk does, through the
// adapter against the simulator, and compares every figure with the
// simulator's own ledger at each step: admission, fee lines in several
// calls (amounts that float64 would not add exactly), a refund tried as
// negative lines (refused by both sides: a wrong line is revoked with
// GYR001), a line revoked and sent again corrected, settlement, its
// revocation (which revokes the admission and the lines too), the stay
// admitted again with corrected lines and settled again, and the month's
// settlement built from what the adapter recorded.
func TestWholeStayMoney(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	h := hostFor(c.host, testSite)
	const akc190 = "ZY0941"
	// stayMatches compares the valid lines the adapter counts for a
	// settlement with those the national system holds.
	stayMatches := func(step, v string) {
		t.Helper()
		info, ok := c.sim.Admission(v)
		if !ok {
			t.Fatalf("%s: the national system has no visit %s", step, v)
		}
		dm, err := (&lifecycle{ctx: t.Context(), h: h}).details(v)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var total, fund, self sumOf
		for _, d := range dm {
			if !d.Revoked {
				n++
				total.add(cents(d.Amount))
				fund.add(cents(d.Fund))
				self.add(cents(d.Self))
			}
		}
		if n != info.Details || money(total.rat()) != info.Amount.String() || money(fund.rat()) != info.Fund.String() || money(self.rat()) != info.Self.String() {
			t.Fatalf("%s: the adapter counts %d lines %s / %s / %s, the national system %d lines %s / %s / %s", step,
				n, money(total.rat()), money(fund.rat()), money(self.rat()), info.Details, info.Amount, info.Fund, info.Self)
		}
	}
	// settled sends a settlement and compares the reply and the adapter's
	// record with the national ledger.
	settled := func(step string, in map[string]any) string {
		t.Helper()
		r := c.send("GYU103", in)
		c.mustOK(r)
		// The amounts as the reply writes them, not as float64 reads them.
		d := json.NewDecoder(bytes.NewReader(r.Payload))
		d.UseNumber()
		var raw map[string]any
		if err := d.Decode(&raw); err != nil {
			t.Fatal(err)
		}
		no, _ := raw["settle_no"].(string)
		out := map[string]json.Number{}
		for _, k := range []string{"fund_pay", "self_pay"} {
			out[k], _ = raw[k].(json.Number)
		}
		ledger, ok := c.sim.Settlement(no)
		if !ok {
			t.Fatalf("%s: the national system has no settlement %s", step, no)
		}
		if out["fund_pay"].String() != ledger.Fund.String() || out["self_pay"].String() != ledger.Self.String() {
			t.Errorf("%s: the reply shows fund_pay %s self_pay %s, the ledger %s %s", step, out["fund_pay"], out["self_pay"], ledger.Fund, ledger.Self)
		}
		var s settleState
		if _, err := getJSON(t.Context(), h, "settle/"+no, &s); err != nil {
			t.Fatal(err)
		}
		if s.Total != ledger.Total.String() || s.Fund != ledger.Fund.String() || s.Self != ledger.Self.String() {
			t.Errorf("%s: the adapter recorded %s / %s / %s, the ledger %s / %s / %s", step, s.Total, s.Fund, s.Self, ledger.Total, ledger.Fund, ledger.Self)
		}
		return no
	}

	v := c.admit(akc190)
	first := []map[string]any{line("0001", "10.00", "2", "5.00"), line("0002", "12.5", "3", "0")}
	second := []map[string]any{line("0003", "0.1", "3", "0.10"), line("0004", "0.07", "3", "0"), line("0005", "0.333", "3", "0")}
	c.mustOK(c.send("GYU102", fees(v, akc190, first...)))
	stayMatches("first fee call", v)
	c.mustOK(c.send("GYU102", fees(v, akc190, second...)))
	stayMatches("second fee call", v)

	// A refund sent as negative lines: refused here, nothing sent, and
	// refused by the national system on its own.
	refund := line("0006", "12.5", "-1", "0")
	refund["amount"], refund["fund_pay"] = json.Number("-12.50"), json.Number("-12.50")
	before := len(c.sim.Received("GYU102"))
	c.wantInvalid(t, c.send("GYU102", fees(v, akc190, refund)), "GYU102", before, "$.fee[0].qty", "rule positive-quantity")
	if _, err := c.sim.Apply("GYU102", fees(v, akc190, refund)); err == nil {
		t.Fatal("the simulator took a negative line")
	}
	stayMatches("refund refused", v)

	// The refund done right: the line revoked, then sent again corrected.
	c.mustOK(c.send("GYR001", map[string]any{"ykc700": v, "details": []any{map[string]any{"detail_no": "0002"}},
		"revoke_reason": "退费", "revoke_time": stampT(admitDay.Add(2 * time.Hour)), "aae011": "王五"}))
	stayMatches("line revoked", v)
	corrected := line("0002", "12.5", "2", "0")
	c.mustOK(c.send("GYU102", fees(v, akc190, corrected)))
	stayMatches("line sent again", v)

	valid := []map[string]any{first[0], corrected, second[0], second[1], second[2]}
	settleNo := settled("settlement", c.settlementOf(v, akc190, valid))
	if info, _ := c.sim.Settlement(settleNo); info.Total.String() != "46.51" || info.Fund.String() != "41.41" {
		t.Fatalf("settlement %s / %s, want 46.51 = 20.00 + 25.00 + 0.30 + 0.21 + 1.00 (0.333 × 3), fund 41.41", info.Total, info.Fund)
	}

	c.mustOK(c.send("GYR003", map[string]any{"settle_no": settleNo, "ykc700": v, "akb020": hospital, "revoke_reason": "结算有误",
		"revoke_time": stampT(admitDay.Add(80 * time.Hour)), "aae011": "王五"}))
	if info, _ := c.sim.Admission(v); info.State != wisim.VisitRevoked || info.Details != 0 {
		t.Fatalf("after GYR003 the national system holds %+v, want the admission and its lines revoked", info)
	}
	stayMatches("settlement revoked", v)

	// Admitted again, the lines corrected (0005 dropped), settled again.
	v2 := c.admit(akc190)
	again := []map[string]any{first[0], corrected, second[0], second[1]}
	c.mustOK(c.send("GYU102", fees(v2, akc190, again[:2]...)))
	c.mustOK(c.send("GYU102", fees(v2, akc190, again[2:]...)))
	stayMatches("admitted again", v2)
	in := c.settlementOf(v2, akc190, again)
	in["akc194"], in["settle_time"] = stampT(admitDay.Add(90*time.Hour)), stampT(admitDay.Add(90*time.Hour))
	settled("settled again", in)

	// The month the adapter recorded is the month the national system
	// settles.
	r := c.send("GYU003", c.monthly(hospital, "202505"))
	if r.Status != sdk.StatusOK {
		t.Fatalf("GYU003 from the adapter's records: %s %s", r.Status, r.Diagnostics)
	}
	ms := c.sim.Monthlies(hospital, "")
	if len(ms) != 1 {
		t.Fatalf("monthlies %+v", ms)
	}
	if s := ms[0].Sums; s.SettleCount != 2 || s.RevokeCount != 1 || s.Fund.String() != "81.82" || s.RevokeAmount.String() != "41.41" || s.MonthFund.String() != "40.41" {
		t.Errorf("the national month %+v", s)
	}
}
