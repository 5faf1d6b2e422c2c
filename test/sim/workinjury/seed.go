package workinjury

import (
	"encoding/json"
	"fmt"
	"math/big"
	"time"
)

// Seeding helpers for tests: records made by the national side or another
// province, and valid inputs for the settlement chain.

// BusinessError is a refusal of Apply: the simulator's error code and
// message, as a GYD053 query would report them.
type BusinessError struct{ Code, Message string }

func (e *BusinessError) Error() string { return e.Code + " " + e.Message }

// Apply runs one transaction inside the simulator, without an envelope,
// as the national side or another province's system would (for example
// an admission at an out-of-province institution, so that it is
// downloaded with GYD101). Input is checked against the schema and the
// same business rules as over HTTP, and an accepted change is in the
// ledger under a generated serial. A refusal is a *BusinessError.
func (s *Server) Apply(code string, input map[string]any) (map[string]any, error) {
	return s.ApplyAs("", code, input)
}

// ApplyAs is Apply as the institution whose envelopes name sender as their
// sender code, without an envelope: the download queues are per sender, so
// a GYU008, GYD008 or GYR005 made this way acts on that sender's batches
// (for example a batch acknowledged out of band, straight at the national
// system).
func (s *Server) ApplyAs(sender, code string, input map[string]any) (map[string]any, error) {
	sc, ok := s.spec.Tx("workinjury", code)
	if !ok {
		return nil, fmt.Errorf("apply %s: no such transaction in the schemas", code)
	}
	s.mu.Lock()
	s.seq++
	serial := fmt.Sprintf("SIMAPPLY%08d", s.seq)
	s.mu.Unlock()
	out, _, be := s.processJSON(sc, code, serial, sender, input, s.cfg.Now())
	if be != nil {
		return nil, &BusinessError{Code: be.code, Message: be.msg}
	}
	return out, nil
}

// SampleAdmission returns a valid GYU101 input for a person's filing (a
// GYD006 record such as SampleFiling's) at institution akb020, inpatient
// number akc190, admitted at at.
func SampleAdmission(filing map[string]any, akb020, akc190 string, at time.Time) map[string]any {
	in := map[string]any{
		"filing_no": str(filing, "filing_no"), "aab301": str(filing, "aab301"), "aab299": str(filing, "aab299"),
		"injury_cert_no": str(filing, "injury_cert_no"), "akb020": akb020, "aka130": "1", "akc190": akc190,
		"ykc701": stamp(at), "akf001": "0301", "akc193": "S82.201", "akc050": "胫骨平台骨折", "ake022": "陈医生",
		"aae011": "王五", "aae036": stamp(at),
	}
	for _, k := range []string{"aac002", "aac003", "aac043", "aac044"} {
		in[k] = str(filing, k)
	}
	return in
}

// SampleFeeLine returns a GYU102 fee line: amount = price × qty rounded to
// the fen, self_pay as given and fund_pay the rest. price and qty are
// decimal texts ("12.5", "3").
func SampleFeeLine(detailNo, price, qty, selfPay string, at time.Time) map[string]any {
	p, _ := parseRat(price)
	q, _ := parseRat(qty)
	amount, _ := roundCents(new(big.Rat).Mul(p, q))
	self, _ := ParseMoney(selfPay)
	return map[string]any{
		"detail_no": detailNo, "fee_time": stamp(at), "catalog_type": "1", "ake001": "YP0001", "ake005": "H0001",
		"ake006": "头孢呋辛钠注射剂", "fee_category": "01", "qty": json.Number(qty), "price": json.Number(price),
		"amount": amount.Number(), "fund_pay": (amount - self).Number(), "self_pay": self.Number(), "akf001": "0301", "ake022": "陈医生",
	}
}

// SampleSettlement returns a GYU103 input for visit ykc700 whose totals are
// the sums of lines (GYU102 lines such as SampleFeeLine's).
func SampleSettlement(ykc700, akc190 string, lines []map[string]any, at time.Time) map[string]any {
	var total, fund, self Money
	for _, l := range lines {
		a, _ := moneyField(l, "amount")
		f, _ := moneyField(l, "fund_pay")
		p, _ := moneyField(l, "self_pay")
		total, fund, self = total+a, fund+f, self+p
	}
	return map[string]any{
		"ykc700": ykc700, "akc190": akc190, "akc194": stamp(at), "dscg_way": "1",
		"diagnoses": []any{map[string]any{"diag_code": "S82.201", "diag_name": "胫骨平台骨折", "main_flag": "1"}},
		"days":      10, "akc264": total.Number(), "fund_pay": fund.Number(), "self_pay": self.Number(),
		"settle_time": stamp(at), "aae011": "王五", "aae036": stamp(at),
	}
}

// SampleDeviceFiling returns an approved assistive-device filing (filing
// type 3, a GYD006 record) number i at device institution akb020 in
// region.
func SampleDeviceFiling(prefix string, i int, region, akb020 string) map[string]any {
	f := SampleFiling(prefix, i, region)
	f["filing_type"], f["akb020"], f["akb021"] = "3", akb020, "辅助器具配置机构"
	return f
}

// SampleDeviceSettlement returns a valid GYU303 input for a device filing
// at device institution akb020, configured and settled at at: two items
// numbered by the date (FZyyyymmdd1, FZyyyymmdd2), 1200.00 + 2 × 150.50 =
// 1501.00, fund 1400.00, self-paid 101.00.
func SampleDeviceSettlement(filing map[string]any, akb020 string, at time.Time) map[string]any {
	item := func(no, price, qty, amount string) map[string]any {
		return map[string]any{"detail_no": no, "device_code": "FZ0101", "device_name": "小腿假肢", "qty": json.Number(qty),
			"price": json.Number(price), "amount": json.Number(amount)}
	}
	return map[string]any{
		"aac002": str(filing, "aac002"), "aac003": str(filing, "aac003"), "aac043": "01", "aac044": str(filing, "aac044"),
		"filing_no": str(filing, "filing_no"), "injury_cert_no": str(filing, "injury_cert_no"), "aab301": str(filing, "aab301"),
		"akb020": akb020, "config_date": day(at), "config_type": "1",
		"items":  []any{item("FZ"+at.Format("20060102")+"1", "1200.00", "1", "1200.00"), item("FZ"+at.Format("20060102")+"2", "150.50", "2", "301.00")},
		"aac142": json.Number("1501.00"), "fund_pay": json.Number("1400.00"), "self_pay": json.Number("101.00"),
		"settle_time": stamp(at), "aae011": "王五", "aae036": stamp(at),
	}
}
