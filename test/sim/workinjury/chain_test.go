package workinjury

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/medgate/medgate/plugins/smenvelope"
	"github.com/medgate/medgate/schemas"
	"github.com/medgate/medgate/test/sim/simspec"
)

// The settlement chain's rules, each at its boundaries, through the same
// envelope the adapter uses.

const (
	hospital = "H35020300123" // medical institution, Xiamen
	rehab    = "K35020300456" // rehabilitation institution, Xiamen
	devices  = "F35020300789" // assistive-device institution, Xiamen
	outside  = "H44030000001" // medical institution, Shenzhen (another province)
)

// day0 is the chain's admission time (2025-04-01 10:00 CST).
var day0 = time.Date(2025, 4, 1, 10, 0, 0, 0, cst)

// chain is a simulator with institutions and an approved filing.
type chain struct {
	*client
	filing map[string]any
}

func newChain(t testing.TB, mutate func(*Config)) *chain {
	t.Helper()
	c := newClient(t, mutate)
	c.srv.AddInstitution(SampleInstitution(hospital, "厦门市第一示例医院", "1", "350200"))
	c.srv.AddInstitution(SampleInstitution(rehab, "厦门市示例康复医院", "2", "350200"))
	c.srv.AddInstitution(SampleInstitution(devices, "厦门市示例辅助器具配置中心", "3", "350200"))
	c.srv.AddInstitution(SampleInstitution(outside, "深圳市示例医院", "1", "440300"))
	f := SampleFiling("CH", 1, "350200")
	f["akb020"] = ""
	c.srv.AddFiling(f)
	return &chain{client: c, filing: f}
}

// must sends a transaction that has to succeed.
func (c *chain) must(code string, in map[string]any) map[string]any {
	c.t.Helper()
	got, out := c.call(code, in)
	if got != "0" {
		c.t.Fatalf("%s answered %s; want success (input %v)", code, got, in)
	}
	return out
}

// admit uploads an admission at hospital and returns its visit number.
func (c *chain) admit(akc190 string) string {
	c.t.Helper()
	return c.must("GYU101", SampleAdmission(c.filing, hospital, akc190, day0))["ykc700"].(string)
}

// lines returns n fee lines of 2 × 10.00 (fund 15.00, self 5.00) numbered
// from first.
func lines(prefix string, first, n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = SampleFeeLine(fmt.Sprintf("%s%05d", prefix, first+i), "10.00", "2", "5.00", day0.Add(time.Hour))
	}
	return out
}

func anys(ls []map[string]any) []any {
	out := make([]any, len(ls))
	for i, l := range ls {
		out[i] = l
	}
	return out
}

// stay admits, uploads ls and settles; it returns visit and settlement.
func (c *chain) stay(akc190 string, ls []map[string]any) (string, string) {
	c.t.Helper()
	v := c.admit(akc190)
	c.must("GYU102", map[string]any{"ykc700": v, "akc190": akc190, "fee": anys(ls)})
	st := c.must("GYU103", SampleSettlement(v, akc190, ls, day0.AddDate(0, 0, 9)))
	return v, st["settle_no"].(string)
}

func with(m map[string]any, kv ...any) map[string]any {
	m = maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// TestAdmissionRules: GYU101 needs an approved, valid filing of the
// person, an admission time inside it, a valid agreement, and a visit
// number not used at the institution.
func TestAdmissionRules(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		setup func(c *chain) map[string]any
		want  string
	}{
		"valid": {func(c *chain) map[string]any { return SampleAdmission(c.filing, hospital, "ZY1", day0) }, "0"},
		"unknown filing": {func(c *chain) map[string]any {
			return with(SampleAdmission(c.filing, hospital, "ZY1", day0), "filing_no", "BANOSUCH")
		}, "E6001"},
		"filing refused": {func(c *chain) map[string]any {
			c.srv.AddFiling(with(c.filing, "filing_status", "2"))
			return SampleAdmission(c.filing, hospital, "ZY1", day0)
		}, "E6001"},
		"filing terminated": {func(c *chain) map[string]any {
			c.srv.AddFiling(with(c.filing, "filing_status", "4"))
			return SampleAdmission(c.filing, hospital, "ZY1", day0)
		}, "E6001"},
		"another person's filing": {func(c *chain) map[string]any {
			return with(SampleAdmission(c.filing, hospital, "ZY1", day0), "aac002", "440302198001019999")
		}, "E6005"},
		"one second before validity": {func(c *chain) map[string]any {
			return SampleAdmission(c.filing, hospital, "ZY1", time.Date(2024, 12, 31, 23, 59, 59, 0, cst))
		}, "E6002"},
		"first day of validity": {func(c *chain) map[string]any {
			return SampleAdmission(c.filing, hospital, "ZY1", time.Date(2025, 1, 1, 0, 0, 0, 0, cst))
		}, "0"},
		"last day of validity": {func(c *chain) map[string]any {
			return SampleAdmission(c.filing, hospital, "ZY1", time.Date(2026, 12, 31, 23, 59, 59, 0, cst))
		}, "0"},
		"day after validity": {func(c *chain) map[string]any {
			return SampleAdmission(c.filing, hospital, "ZY1", time.Date(2027, 1, 1, 0, 0, 0, 0, cst))
		}, "E6002"},
		"unknown institution": {func(c *chain) map[string]any {
			return SampleAdmission(c.filing, "H35029999999", "ZY1", day0)
		}, "E6003"},
		"agreement invalid": {func(c *chain) map[string]any {
			c.srv.AddInstitution(with(SampleInstitution(hospital, "厦门市第一示例医院", "1", "350200"), "valid_flag", "0"))
			return SampleAdmission(c.filing, hospital, "ZY1", day0)
		}, "E6003"},
		"agreement ended the day before": {func(c *chain) map[string]any {
			c.srv.AddInstitution(with(SampleInstitution(hospital, "厦门市第一示例医院", "1", "350200"), "aae031", "2025-03-31"))
			return SampleAdmission(c.filing, hospital, "ZY1", day0)
		}, "E6003"},
		"agreement ends that day": {func(c *chain) map[string]any {
			c.srv.AddInstitution(with(SampleInstitution(hospital, "厦门市第一示例医院", "1", "350200"), "aae031", "2025-04-01"))
			return SampleAdmission(c.filing, hospital, "ZY1", day0)
		}, "0"},
		"assistive-device institution": {func(c *chain) map[string]any {
			return SampleAdmission(c.filing, devices, "ZY1", day0)
		}, "E6003"},
		"rehabilitation institution": {func(c *chain) map[string]any {
			return with(SampleAdmission(c.filing, rehab, "KF1", day0), "aka130", "2")
		}, "0"},
		"filing for another institution": {func(c *chain) map[string]any {
			c.filing = with(c.filing, "akb020", rehab)
			c.srv.AddFiling(c.filing)
			return SampleAdmission(c.filing, hospital, "ZY1", day0)
		}, "E6005"},
		"institution outside the place of treatment": {func(c *chain) map[string]any {
			return SampleAdmission(c.filing, outside, "ZY1", day0)
		}, "E6005"},
		"visit number used": {func(c *chain) map[string]any {
			c.admit("ZY1")
			return SampleAdmission(c.filing, hospital, "ZY1", day0)
		}, "E6004"},
		"visit number used at another institution": {func(c *chain) map[string]any {
			c.must("GYU101", with(SampleAdmission(c.filing, rehab, "ZY1", day0), "aka130", "2"))
			return SampleAdmission(c.filing, hospital, "ZY1", day0)
		}, "0"},
		"visit number of a revoked admission": {func(c *chain) map[string]any {
			v := c.admit("ZY1")
			c.must("GYR002", map[string]any{"ykc700": v, "revoke_reason": "登记错误", "revoke_time": stamp(day0), "aae011": "王五"})
			return SampleAdmission(c.filing, hospital, "ZY1", day0)
		}, "0"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, nil)
			in := tc.setup(c)
			before := len(c.srv.Admissions(str(in, "akb020"), str(in, "akc190")))
			got, out := c.call("GYU101", in)
			if got != tc.want {
				t.Fatalf("GYU101 answered %s, want %s", got, tc.want)
			}
			after := c.srv.Admissions(str(in, "akb020"), str(in, "akc190"))
			if tc.want != "0" {
				if len(after) != before {
					t.Fatalf("a refused admission is in the ledger: %+v", after)
				}
				return
			}
			last := after[len(after)-1]
			if len(after) != before+1 || last.VisitNo != out["ykc700"] || last.State != VisitAdmitted {
				t.Fatalf("ledger after an accepted admission: %+v (answer %v)", after, out)
			}
		})
	}
}

// TestFeeRules: GYU102 needs an open admission; per line price × qty =
// amount to the fen and fund + self = amount, in exact decimals; serials
// unique per visit.
func TestFeeRules(t *testing.T) {
	t.Parallel()
	line := func(price, qty, amount, fund, self string) map[string]any {
		l := SampleFeeLine("D1", "1", "1", "0", day0)
		for k, v := range map[string]string{"price": price, "qty": qty, "amount": amount, "fund_pay": fund, "self_pay": self} {
			l[k] = json.Number(v)
		}
		return l
	}
	tests := map[string]struct {
		lines []map[string]any
		prep  func(c *chain, v string)
		visit string // "" = the admitted visit
		want  string
	}{
		"exact":                        {lines: []map[string]any{line("10.00", "2", "20.00", "15.00", "5.00")}, want: "0"},
		"amount one fen high":          {lines: []map[string]any{line("10.00", "2", "20.01", "15.01", "5.00")}, want: "E6104"},
		"amount one fen low":           {lines: []map[string]any{line("10.00", "2", "19.99", "14.99", "5.00")}, want: "E6104"},
		"product rounds to the fen":    {lines: []map[string]any{line("3.333333", "3", "10.00", "10.00", "0")}, want: "0"},
		"half a fen rounds up":         {lines: []map[string]any{line("0.125", "1", "0.13", "0.13", "0")}, want: "0"},
		"half a fen rounded down":      {lines: []map[string]any{line("0.125", "1", "0.12", "0.12", "0")}, want: "0"},
		"over half a fen off":          {lines: []map[string]any{line("0.1251", "1", "0.12", "0.12", "0")}, want: "E6104"},
		"float trap 0.1 × 3":           {lines: []map[string]any{line("0.1", "3", "0.30", "0.20", "0.10")}, want: "0"},
		"fund + self one fen short":    {lines: []map[string]any{line("10.00", "2", "20.00", "15.00", "4.99")}, want: "E6105"},
		"fund + self one fen over":     {lines: []map[string]any{line("10.00", "2", "20.00", "15.01", "5.00")}, want: "E6105"},
		"negative price":               {lines: []map[string]any{line("-10.00", "2", "-20.00", "-20.00", "0")}, want: "E6108"},
		"zero quantity":                {lines: []map[string]any{line("10.00", "0", "0", "0", "0")}, want: "E6108"},
		"negative quantity":            {lines: []map[string]any{line("10.00", "-1", "-10.00", "-10.00", "0")}, want: "E6108"},
		"negative self-paid":           {lines: []map[string]any{line("10.00", "2", "20.00", "21.00", "-1.00")}, want: "E6108"},
		"negative amount":              {lines: []map[string]any{line("0", "1", "-0.01", "0", "-0.01")}, want: "E6108"},
		"zero price":                   {lines: []map[string]any{line("0", "1", "0", "0", "0")}, want: "0"},
		"three decimal places":         {lines: []map[string]any{line("10.00", "2", "20.001", "15.001", "5.00")}, want: "E1001"},
		"serial twice in one call":     {lines: append(lines("D", 1, 2), lines("D", 1, 1)...), want: "E6106"},
		"500 lines":                    {lines: lines("D", 1, 500), want: "0"},
		"501 lines":                    {lines: lines("D", 1, 501), want: "E1001"},
		"serial of an earlier upload":  {lines: lines("D", 2, 1), prep: upload(lines("D", 1, 2)), want: "E6106"},
		"serial of a revoked line":     {lines: lines("D", 1, 1), prep: revokeAll(lines("D", 1, 1)), want: "0"},
		"serial revoked, then reused":  {lines: lines("D", 1, 1), prep: both(revokeAll(lines("D", 1, 1)), upload(lines("D", 1, 1))), want: "E6106"},
		"serial of a line kept":        {lines: lines("D", 1, 1), prep: revokeOne(lines("D", 1, 2), "D00002"), want: "E6106"},
		"new serial after a revoke":    {lines: lines("D", 2, 1), prep: revokeAll(lines("D", 1, 1)), want: "0"},
		"serial of a refused upload":   {lines: lines("D", 1, 2), prep: refused(append(lines("D", 1, 2), line("10.00", "2", "20.01", "15.01", "5.00"))), want: "0"},
		"unknown visit":                {lines: lines("D", 1, 1), visit: "JZNOSUCH", want: "E6101"},
		"revoked admission":            {lines: lines("D", 1, 1), prep: revokeAdmission, want: "E6102"},
		"settled visit":                {lines: lines("D", 9, 1), prep: settle(lines("D", 1, 1)), want: "E6103"},
		"inpatient number of another":  {lines: lines("D", 1, 1), prep: func(c *chain, v string) { c.admit("ZY2") }, visit: "ZY2", want: "E6101"},
		"one cent off at line 500":     {lines: append(lines("D", 1, 499), line("10.00", "2", "20.01", "15.01", "5.00")), want: "E6104"},
		"amount off at the first line": {lines: append([]map[string]any{line("10.00", "2", "21.00", "16.00", "5.00")}, lines("D", 2, 3)...), want: "E6104"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, nil)
			v := c.admit("ZY1")
			if tc.prep != nil {
				tc.prep(c, v)
			}
			before := c.srv.Details(v)
			in := map[string]any{"ykc700": v, "akc190": "ZY1", "fee": anys(tc.lines)}
			switch tc.visit {
			case "":
			case "ZY2":
				in["akc190"] = "ZY2"
			default:
				in["ykc700"] = tc.visit
			}
			got, out := c.call("GYU102", in)
			if got != tc.want {
				t.Fatalf("GYU102 answered %s, want %s", got, tc.want)
			}
			after := c.srv.Details(v)
			if tc.want != "0" {
				if len(after) != len(before) {
					t.Fatalf("a refused upload changed the ledger: %d lines, then %d", len(before), len(after))
				}
				return
			}
			if len(after) != len(before)+len(tc.lines) || fmt.Sprint(out["accepted_count"]) != fmt.Sprint(len(tc.lines)) {
				t.Fatalf("ledger has %d lines after %d + %d; answer %v", len(after), len(before), len(tc.lines), out["accepted_count"])
			}
		})
	}
}

// refused sends a GYU102 of ls that must be refused: its serials stay free.
func refused(ls []map[string]any) func(c *chain, v string) {
	return func(c *chain, v string) {
		if got, _ := c.call("GYU102", map[string]any{"ykc700": v, "akc190": "ZY1", "fee": anys(ls)}); got == "0" {
			c.t.Fatalf("the GYU102 to be refused was accepted")
		}
	}
}

func upload(ls []map[string]any) func(c *chain, v string) {
	return func(c *chain, v string) {
		c.must("GYU102", map[string]any{"ykc700": v, "akc190": "ZY1", "fee": anys(ls)})
	}
}

func revokeAll(ls []map[string]any) func(c *chain, v string) {
	return func(c *chain, v string) {
		upload(ls)(c, v)
		c.must("GYR001", map[string]any{"ykc700": v, "revoke_reason": "明细错误", "revoke_time": stamp(day0), "aae011": "王五"})
	}
}

// revokeOne uploads ls, then revokes the line no only.
func revokeOne(ls []map[string]any, no string) func(c *chain, v string) {
	return func(c *chain, v string) {
		upload(ls)(c, v)
		c.must("GYR001", map[string]any{"ykc700": v, "details": []any{map[string]any{"detail_no": no}},
			"revoke_reason": "明细错误", "revoke_time": stamp(day0), "aae011": "王五"})
	}
}

// both runs a, then b.
func both(a, b func(c *chain, v string)) func(c *chain, v string) {
	return func(c *chain, v string) { a(c, v); b(c, v) }
}

// TestRevokedSerialCorrected: a line revoked with GYR001 and uploaded
// again, corrected, under its own serial is the stay's line from then on:
// the settlement sums count the corrected line and not the revoked one,
// and a GYR001 naming the serial revokes the corrected line.
func TestRevokedSerialCorrected(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		revokeAgain bool
		total       string // akc264 of the settlement
		want        string
	}{
		"settled with the corrected line": {total: "50.00", want: "0"},
		"settled with the revoked line":   {total: "40.00", want: "E6202"},
		"corrected line revoked as well":  {revokeAgain: true, total: "20.00", want: "0"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, nil)
			v := c.admit("ZY1")
			ls := lines("D", 1, 2) // 20.00 each, 5.00 self-paid
			revokeOne(ls, "D00001")(c, v)
			fixed := SampleFeeLine("D00001", "10.00", "3", "5.00", day0.Add(time.Hour))
			upload([]map[string]any{fixed})(c, v)
			kept := []map[string]any{fixed, ls[1]}
			if tc.revokeAgain {
				c.must("GYR001", map[string]any{"ykc700": v, "details": []any{map[string]any{"detail_no": "D00001"}},
					"revoke_reason": "明细错误", "revoke_time": stamp(day0), "aae011": "王五"})
				kept = ls[1:]
			}
			in := SampleSettlement(v, "ZY1", kept, day0.AddDate(0, 0, 9))
			in["akc264"] = json.Number(tc.total)
			if tc.total != "50.00" && !tc.revokeAgain {
				in["fund_pay"] = json.Number("30.00")
			}
			if got, _ := c.call("GYU103", in); got != tc.want {
				t.Fatalf("GYU103 answered %s, want %s", got, tc.want)
			}
		})
	}
}

func revokeAdmission(c *chain, v string) {
	c.must("GYR002", map[string]any{"ykc700": v, "revoke_reason": "登记错误", "revoke_time": stamp(day0), "aae011": "王五"})
}

func settle(ls []map[string]any) func(c *chain, v string) {
	return func(c *chain, v string) {
		upload(ls)(c, v)
		c.must("GYU103", SampleSettlement(v, "ZY1", ls, day0.AddDate(0, 0, 9)))
	}
}

// TestSettlementRules: GYU103 totals equal the sums of the visit's
// details not revoked, to the fen; the visit must be open and have details.
func TestSettlementRules(t *testing.T) {
	t.Parallel()
	three := lines("D", 1, 3) // 60.00 = 45.00 + 15.00
	tests := map[string]struct {
		prep   func(c *chain, v string)
		change map[string]string
		want   string
	}{
		"sums of the details":                   {prep: upload(three), want: "0"},
		"total one fen high":                    {prep: upload(three), change: map[string]string{"akc264": "60.01"}, want: "E6202"},
		"fund one fen low":                      {prep: upload(three), change: map[string]string{"fund_pay": "44.99"}, want: "E6202"},
		"self one fen high":                     {prep: upload(three), change: map[string]string{"self_pay": "15.01"}, want: "E6202"},
		"issue example 100/5000":                {prep: upload(three), change: map[string]string{"akc264": "100", "fund_pay": "5000", "self_pay": "7000"}, want: "E6202"},
		"no details":                            {want: "E6203"},
		"all details revoked":                   {prep: revokeAll(three), want: "E6203"},
		"settled twice":                         {prep: settle(three), want: "E6103"},
		"admission revoked":                     {prep: revokeAdmission, want: "E6102"},
		"rehabilitation plan of a medical stay": {prep: upload(three), change: map[string]string{"rehab_plan_id": "FJNOSUCH"}, want: "E6204"},
		"full own pay above self-paid":          {prep: upload(three), change: map[string]string{"full_own_pay": "15.01"}, want: "E6202"},
		"full own pay all of self-paid":         {prep: upload(three), change: map[string]string{"full_own_pay": "15.00"}, want: "0"},
		"discharge before admission":            {prep: upload(three), change: map[string]string{"akc194": "2025-04-01 09:59:59"}, want: "E6205"},
		"discharge at admission":                {prep: upload(three), change: map[string]string{"akc194": "2025-04-01 10:00:00"}, want: "0"},
		"settled before admission":              {prep: upload(three), change: map[string]string{"settle_time": "2025-03-31 10:30:00"}, want: "E6206"},
		"settled at admission":                  {prep: upload(three), change: map[string]string{"settle_time": "2025-04-01 10:00:00"}, want: "0"},
		"sums after a partial revoke": {prep: func(c *chain, v string) {
			upload(lines("D", 1, 4))(c, v)
			c.must("GYR001", map[string]any{"ykc700": v, "details": []any{map[string]any{"detail_no": "D00004"}}, "revoke_reason": "错", "revoke_time": stamp(day0), "aae011": "王五"})
		}, want: "0"},
		"sums counting a revoked line": {prep: func(c *chain, v string) {
			upload(lines("D", 1, 4))(c, v)
			c.must("GYR001", map[string]any{"ykc700": v, "details": []any{map[string]any{"detail_no": "D00004"}}, "revoke_reason": "错", "revoke_time": stamp(day0), "aae011": "王五"})
		}, change: map[string]string{"akc264": "80.00", "fund_pay": "60.00", "self_pay": "20.00"}, want: "E6202"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, nil)
			v := c.admit("ZY1")
			if tc.prep != nil {
				tc.prep(c, v)
			}
			in := SampleSettlement(v, "ZY1", three, day0.AddDate(0, 0, 9))
			for k, x := range tc.change {
				if k == "rehab_plan_id" || k == "akc194" || k == "settle_time" {
					in[k] = x
					continue
				}
				in[k] = json.Number(x)
			}
			before, _ := c.srv.Admission(v)
			got, out := c.call("GYU103", in)
			if got != tc.want {
				t.Fatalf("GYU103 answered %s, want %s", got, tc.want)
			}
			after, _ := c.srv.Admission(v)
			if tc.want != "0" {
				if after.State != before.State || after.SettleNo != before.SettleNo {
					t.Fatalf("a refused settlement changed the visit: %+v → %+v", before, after)
				}
				return
			}
			st, ok := c.srv.Settlement(out["settle_no"].(string))
			if !ok || after.State != VisitSettled || st.Total != after.Amount || st.Fund != after.Fund || st.Self != after.Self || st.Total != 6000 {
				t.Fatalf("settlement %+v for visit %+v", st, after)
			}
		})
	}
}

// TestEveryCodeHasHandler: the simulator answers each of the 39 schemas
// with its own handler, never with a schema example.
func TestEveryCodeHasHandler(t *testing.T) {
	t.Parallel()
	for _, sc := range schemas.Embedded().List("workinjury") {
		if handlers[sc.Code] == nil {
			t.Errorf("%s has a schema but no handler in the simulator", sc.Code)
		}
	}
	if len(handlers) != 39 {
		t.Errorf("%d handlers, want 39", len(handlers))
	}
}

// TestFullStay: filing → admission → 1,200 fee lines in 3 calls →
// settlement → deduction → monthly settlement → clearing download, each
// record once in the ledger.
func TestFullStay(t *testing.T) {
	t.Parallel()
	c := newChain(t, func(cfg *Config) { cfg.BatchSize = MaxBatch })
	v := c.admit("ZY1")
	var all []map[string]any
	for b := range 3 {
		ls := make([]map[string]any, 400)
		for i := range ls {
			n := b*400 + i + 1
			ls[i] = SampleFeeLine(fmt.Sprintf("L%05d", n), fmt.Sprintf("%d.%02d", n%97, n%100), fmt.Sprint(1+n%3), fmt.Sprintf("0.%02d", n%50), day0.Add(time.Duration(n)*time.Minute))
		}
		c.must("GYU102", map[string]any{"ykc700": v, "akc190": "ZY1", "fee": anys(ls)})
		all = append(all, ls...)
	}
	settled := day0.AddDate(0, 0, 9)
	st := c.must("GYU103", SampleSettlement(v, "ZY1", all, settled))["settle_no"].(string)
	c.must("GYU004", deductions(deductionLine("K1", st, "10.00", settled)))
	a, _ := c.srv.Admission(v)
	s, _ := c.srv.Settlement(st)
	if a.Details != 1200 || s.Total != a.Amount || s.Fund != a.Fund || s.Deducted != 1000 {
		t.Fatalf("admission %+v, settlement %+v", a, s)
	}
	item := func(typ, ref string, amount Money, extra ...any) any {
		return with(map[string]any{"item_type": typ, "ref_no": ref, "settle_no": st, "amount": amount.Number(), "biz_time": stamp(settled)}, extra...)
	}
	c.must("GYU003", map[string]any{
		"akb020": hospital, "settle_month": "202504", "settle_count": 1, "revoke_count": 0, "person_count": 1,
		"total_amount": s.Total.Number(), "fund_pay": s.Fund.Number(), "self_pay": s.Self.Number(), "revoke_amount": "0.00",
		"deduct_amount": "10.00", "deduct_revoke_amount": "0", "month_fund_pay": (s.Fund - 1000).Number(),
		"items":  []any{item("1", st, s.Fund, "total_amount", s.Total.Number(), "self_pay", s.Self.Number()), item("3", "K1", 1000)},
		"aae011": "王五", "aae036": stamp(settled),
	})
	out := c.must("GYD005", map[string]any{"clear_month": "202504"})
	if rs := records(out); len(rs) != 1 || rs[0]["clear_amount"] != (s.Fund-1000).Number() {
		t.Fatalf("GYD005 = %v", out)
	}
	for code, key := range map[string]string{"GYU101": hospital + "/ZY1", "GYU103": v, "GYU003": hospital + "/202504"} {
		if n := c.srv.Accepted(code, key); n != 1 {
			t.Errorf("%s %s in the ledger %d times, want once", code, key, n)
		}
	}
	if n := c.srv.Accepted("GYU102", v); n != 3 {
		t.Errorf("%d GYU102 calls in the ledger, want 3", n)
	}
}

// TestRehabilitationPlan: a rehabilitation stay may attach a plan uploaded
// with GYU002.
func TestRehabilitationPlan(t *testing.T) {
	t.Parallel()
	c := newChain(t, nil)
	v := c.must("GYU101", with(SampleAdmission(c.filing, rehab, "KF1", day0), "aka130", "2"))["ykc700"].(string)
	ls := lines("R", 1, 2)
	c.must("GYU102", map[string]any{"ykc700": v, "akc190": "KF1", "fee": anys(ls)})
	content := "%PDF-1.4 plan"
	att := c.must("GYU002", map[string]any{"biz_type": "2", "biz_no": v, "attachments": []any{map[string]any{"attachment_type": "07",
		"file_name": "康复方案.pdf", "file_format": "pdf", "file_size": len(content), "file_content": base64.StdEncoding.EncodeToString([]byte(content))}}})
	id := att["attachments"].([]any)[0].(map[string]any)["attachment_id"].(string)
	in := SampleSettlement(v, "KF1", ls, day0.AddDate(0, 0, 20))
	if code, _ := c.call("GYU103", with(in, "rehab_plan_id", "FJNOSUCH")); code != "E6204" {
		t.Fatalf("GYU103 with an unknown plan answered %s, want E6204", code)
	}
	st := c.must("GYU103", with(in, "rehab_plan_id", id))["settle_no"].(string)

	// GYR003 revokes the settlement's attachments with it (requirement
	// 18): the plan cannot serve the next settlement of a new stay.
	c.must("GYR003", with(revokeTime(day0.AddDate(0, 0, 21)), "settle_no", st, "akb020", rehab))
	if code, _ := c.call("GYD054", map[string]any{"attachment_id": id}); code != "E4001" {
		t.Fatalf("GYD054 of the plan revoked by GYR003 answered %s, want E4001 (附件ID有效)", code)
	}
	v2 := c.must("GYU101", with(SampleAdmission(c.filing, rehab, "KF2", day0.AddDate(0, 0, 22)), "aka130", "2"))["ykc700"].(string)
	ls2 := lines("R2", 1, 2)
	c.must("GYU102", map[string]any{"ykc700": v2, "akc190": "KF2", "fee": anys(ls2)})
	if code, _ := c.call("GYU103", with(SampleSettlement(v2, "KF2", ls2, day0.AddDate(0, 0, 30)), "rehab_plan_id", id)); code != "E6204" {
		t.Fatalf("GYU103 with the plan revoked by GYR003 answered %s, want E6204", code)
	}
}

// TestFilingVerification: GYD051 answers from the filing ledger.
func TestFilingVerification(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		change map[string]any
		prep   func(c *chain)
		valid  string
	}{
		"valid":                        {valid: "1"},
		"admission scene":              {change: map[string]any{"scene": "1"}, valid: "1"},
		"device scene, medical filing": {change: map[string]any{"scene": "3"}, valid: "0"},
		"the filing named":             {change: map[string]any{"filing_no": "BACH00000001"}, valid: "1"},
		"another filing named":         {change: map[string]any{"filing_no": "BANOSUCH"}, valid: "0"},
		"another person":               {change: map[string]any{"aac002": "110101199001010000"}, valid: "0"},
		"another name":                 {change: map[string]any{"aac003": "别人"}, valid: "0"},
		"day before validity":          {change: map[string]any{"visit_date": "2024-12-31"}, valid: "0"},
		"last day of validity":         {change: map[string]any{"visit_date": "2026-12-31"}, valid: "1"},
		"institution elsewhere":        {change: map[string]any{"akb020": outside}, valid: "0"},
		"filing terminated":            {prep: func(c *chain) { c.srv.AddFiling(with(c.filing, "filing_status", "4")) }, valid: "0"},
		"filing changed (still valid)": {prep: func(c *chain) { c.srv.AddFiling(with(c.filing, "filing_status", "3")) }, valid: "1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, nil)
			if tc.prep != nil {
				tc.prep(c)
			}
			in := map[string]any{"aac002": c.filing["aac002"], "aac003": c.filing["aac003"], "akb020": hospital, "visit_date": "2025-04-01"}
			for k, v := range tc.change {
				in[k] = v
			}
			out := c.must("GYD051", in)
			if out["filing_valid"] != tc.valid {
				t.Fatalf("GYD051 = %v; want filing_valid %s", out, tc.valid)
			}
			if tc.valid == "1" && out["filing_no"] != c.filing["filing_no"] {
				t.Fatalf("GYD051 named filing %v, want %v", out["filing_no"], c.filing["filing_no"])
			}
		})
	}
}

// BenchmarkFeeUpload500 measures one 500-line GYU102 through the
// simulator, envelope included (each iteration is a new stay).
func BenchmarkFeeUpload500(b *testing.B) {
	c := newChain(b, func(cfg *Config) { cfg.BatchSize = MaxBatch })
	ls := anys(lines("B", 1, 500))
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		akc190 := fmt.Sprintf("BZ%d", i)
		v := c.admit(akc190)
		b.StartTimer()
		c.must("GYU102", map[string]any{"ykc700": v, "akc190": akc190, "fee": ls})
	}
}

// TestLineLimitWithoutSchemaLimit: the simulator keeps the 1–500 line rule
// of GYU102 itself when a site's schema drops the batch limit and the
// minimum.
func TestLineLimitWithoutSchemaLimit(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../../schemas/workinjury/GYU102.yaml")
	mustNil(t, err)
	loose := raw
	for _, drop := range []string{"batchLimit: 500\n", "batchField: fee\n", "    minItems: 1\n"} {
		if !bytes.Contains(loose, []byte(drop)) {
			t.Fatalf("GYU102.yaml no longer has %q; update this test", drop)
		}
		loose = bytes.Replace(loose, []byte(drop), nil, 1)
	}
	base, err := simspec.RepoFiles()
	mustNil(t, err)
	set := simspec.Overlay(base, fstest.MapFS{"workinjury/GYU102.yaml": {Data: loose}})
	for n, want := range map[int]string{0: "E6107", 1: "0", 500: "0", 501: "E6107"} {
		c := newChain(t, func(cfg *Config) { cfg.Spec = set })
		v := c.admit("ZY1")
		if got, _ := c.call("GYU102", map[string]any{"ykc700": v, "akc190": "ZY1", "fee": anys(lines("D", 1, n))}); got != want {
			t.Errorf("%d lines: %s, want %s", n, got, want)
		}
	}
}

// FuzzApply: any input to any transaction, on a simulator holding a stay,
// gets an answer or a refusal, never a panic, and never an answer outside
// the output schema.
func FuzzApply(f *testing.F) {
	list := schemas.Embedded().List("workinjury")
	for i, sc := range list {
		b, err := json.Marshal(sc.ExampleInput())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	f.Fuzz(func(t *testing.T, code uint8, input []byte) {
		c := newChain(t, nil)
		apply := func(code string, in map[string]any) map[string]any {
			out, err := c.srv.Apply(code, in)
			mustNil(t, err)
			return out
		}
		v := apply("GYU101", SampleAdmission(c.filing, hospital, "ZY1", day0))["ykc700"].(string)
		ls := lines("D", 1, 2)
		apply("GYU102", map[string]any{"ykc700": v, "akc190": "ZY1", "fee": anys(ls)})
		st := apply("GYU103", SampleSettlement(v, "ZY1", ls, day0))["settle_no"].(string)
		apply("GYU004", deductions(deductionLine("K1", st, "1.00", deductDay)))
		dec := json.NewDecoder(bytes.NewReader(input))
		dec.UseNumber()
		var in map[string]any
		if dec.Decode(&in) != nil || in == nil {
			return
		}
		// Point some inputs at the stay's records.
		for k, x := range map[string]string{"ykc700": v, "settle_no": st} {
			if s, ok := in[k].(string); ok && s == "" {
				in[k] = x
			}
		}
		_, _ = c.srv.Apply(list[int(code)%len(list)].Code, in)
	})
}

// TestAmountTolerance: Config.AmountTolerance widens the price × qty rule
// by whole fen.
func TestAmountTolerance(t *testing.T) {
	t.Parallel()
	for tol, want := range map[Money]map[string]string{0: {"20.01": "E6104", "20.00": "0"}, 1: {"20.01": "0", "20.02": "E6104"}} {
		for amount, code := range want {
			c := newChain(t, func(cfg *Config) { cfg.AmountTolerance = tol })
			v := c.admit("ZY1")
			l := SampleFeeLine("D1", "10.00", "2", "0", day0)
			l["amount"], l["fund_pay"] = json.Number(amount), json.Number(amount)
			if got, _ := c.call("GYU102", map[string]any{"ykc700": v, "akc190": "ZY1", "fee": []any{l}}); got != code {
				t.Errorf("tolerance %d fen, amount %s for 2 × 10.00: %s, want %s", tol, amount, got, code)
			}
		}
	}
}

// TestLostReplyKeepsOneAdmission: an admission processed but whose reply
// is lost stays in the ledger once: a resend is refused (E6004) and GYD053
// on the first serial returns the visit number.
func TestLostReplyKeepsOneAdmission(t *testing.T) {
	t.Parallel()
	c := newChain(t, nil)
	c.srv.Inject(Fault{Code: "GYU101", Kind: FaultLostReply})
	in := SampleAdmission(c.filing, hospital, "ZY1", day0)
	plain, _ := json.Marshal(in)
	env, err := smenvelope.Seal(c.opts, c.keys, map[string]string{"infno": "GYU101", "msgid": "LOST1"}, plain)
	mustNil(t, err)
	body, _ := json.Marshal(env)
	rec := httptest.NewRecorder()
	c.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
	if rec.Code != http.StatusBadGateway {
		t.Fatalf("lost reply: HTTP %d, want 502", rec.Code)
	}
	if got, _ := c.call("GYU101", in); got != "E6004" {
		t.Fatalf("resent admission answered %s, want E6004", got)
	}
	out := c.must("GYD053", map[string]any{"orig_code": "GYU101", "orig_msg_id": "LOST1"})
	adm := c.srv.Admissions(hospital, "ZY1")
	if out["trans_status"] != "1" || len(adm) != 1 || !strings.Contains(fmt.Sprint(out["orig_output"]), adm[0].VisitNo) {
		t.Fatalf("GYD053 = %v; admissions %+v", out, adm)
	}
	if n := c.srv.Accepted("GYU101", hospital+"/ZY1"); n != 1 {
		t.Fatalf("GYU101 accepted %d times", n)
	}
}

// TestRehabilitationPlanIsThisStays: the plan a GYU103 names must be a
// rehabilitation plan (attachment type 07) uploaded for this stay (biz_type
// 2, biz_no its ykc700): a 工伤认定决定书, or the plan of another stay, is
// refused and nothing is settled.
func TestRehabilitationPlanIsThisStays(t *testing.T) {
	t.Parallel()
	upload := func(c *chain, bizType, bizNo, typ string) string {
		content := "%PDF-1.4 " + typ
		out := c.must("GYU002", map[string]any{"biz_type": bizType, "biz_no": bizNo, "attachments": []any{map[string]any{"attachment_type": typ,
			"file_name": "附件.pdf", "file_format": "pdf", "file_size": len(content), "file_content": base64.StdEncoding.EncodeToString([]byte(content))}}})
		return out["attachments"].([]any)[0].(map[string]any)["attachment_id"].(string)
	}
	for name, tc := range map[string]struct {
		plan func(c *chain, v, other string) string
		want string
	}{
		"this stay's plan":        {func(c *chain, v, _ string) string { return upload(c, "2", v, "07") }, "0"},
		"an injury certificate":   {func(c *chain, v, _ string) string { return upload(c, "2", v, "01") }, "E6204"},
		"a filing's attachment":   {func(c *chain, v, _ string) string { return upload(c, "1", v, "07") }, "E6204"},
		"another stay's plan":     {func(c *chain, _, other string) string { return upload(c, "2", other, "07") }, "E6204"},
		"a plan of no known stay": {func(c *chain, _, _ string) string { return upload(c, "2", "LOCAL0001", "07") }, "E6204"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, nil)
			v := c.must("GYU101", with(SampleAdmission(c.filing, rehab, "KF1", day0), "aka130", "2"))["ykc700"].(string)
			ls := lines("R", 1, 2)
			c.must("GYU102", map[string]any{"ykc700": v, "akc190": "KF1", "fee": anys(ls)})
			other := c.must("GYU101", with(SampleAdmission(c.filing, rehab, "KF2", day0), "aka130", "2"))["ykc700"].(string)
			code, _ := c.call("GYU103", with(SampleSettlement(v, "KF1", ls, day0.AddDate(0, 0, 20)), "rehab_plan_id", tc.plan(c, v, other)))
			if code != tc.want {
				t.Fatalf("GYU103 answered %s, want %s", code, tc.want)
			}
			if settled := c.srv.Accepted("GYU103", v) == 1; settled != (tc.want == "0") {
				t.Fatalf("settled = %v after %s", settled, code)
			}
		})
	}
}

// TestSettlementSumsBeyondInt64: the details of a stay may add up to more
// fen than an int64 holds (1845 lines near the largest amount
// decimal(16,2) allows). No settlement amount can equal such a sum, so the
// settlement is refused; the sum must not wrap round to a small amount
// that a settlement of 100.00 would match.
func TestSettlementSumsBeyondInt64(t *testing.T) {
	t.Parallel()
	c := newChain(t, nil)
	v := c.admit("ZY1")
	// 1844 × 99999999999900.00 + 67440737280016.16 = 2^64 fen + 100.00.
	ls := make([]map[string]any, 0, 1845)
	for i := range 1844 {
		ls = append(ls, SampleFeeLine(fmt.Sprintf("D%05d", i+1), "9999999999.99", "10000", "0", day0.Add(time.Hour)))
	}
	ls = append(ls, SampleFeeLine("D01845", "6744073728.001616", "10000", "0", day0.Add(time.Hour)))
	if got := ls[len(ls)-1]["amount"]; got != json.Number("67440737280016.16") {
		t.Fatalf("last line amount %v", got)
	}
	for i := 0; i < len(ls); i += maxLines {
		c.must("GYU102", map[string]any{"ykc700": v, "akc190": "ZY1", "fee": anys(ls[i:min(i+maxLines, len(ls))])})
	}
	in := SampleSettlement(v, "ZY1", ls[:1], day0.AddDate(0, 0, 9))
	in["akc264"], in["fund_pay"], in["self_pay"] = json.Number("100.00"), json.Number("100.00"), json.Number("0.00")
	if got, _ := c.call("GYU103", in); got != "E6202" {
		t.Fatalf("GYU103 of 100.00 for details of 2^64 fen + 100.00 answered %s, want E6202", got)
	}
	if a, _ := c.srv.Admission(v); a.State != VisitAdmitted {
		t.Fatalf("a refused settlement changed the visit: %+v", a)
	}
}
