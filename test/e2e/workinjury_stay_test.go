package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestWorkInjuryStay runs a whole stay through real Kafka, the HIS side as
// HL7 v2 through the demo mappings: filing → admission → 1,200 fee lines in
// three batches → discharge settlement → deduction → monthly settlement →
// clearing download, checking every reply and the national system's ledger.
// Each step is also tried wrong (501 lines, a fen off, more than the fund
// paid, a wrong net amount, a second monthly settlement): refused before
// anything is sent.
func TestWorkInjuryStay(t *testing.T) {
	t.Parallel()
	e := startHIS(t)
	const akb020 = "H35020300123"
	// Filing: approved nationally, downloaded (GYD006), published and
	// acknowledged (GYU008).
	p := e.newPatient(hisSite, "STAY", 1, akb020, "1", "1")
	if typ, rec := e.eventWith("filing_no", p.filingNo); typ != "workinjury.filing.downloaded" || rec["aac002"] != p.aac002 {
		t.Fatalf("filing event %s %v", typ, rec)
	}
	if b := nonEmptyBatches(e.sim.Batches("GYD006")); len(b) != 1 || b[0].Feedbacks != 1 || b[0].IDs[0] != p.filingNo {
		t.Fatalf("national GYD006 batches %+v, want the filing's, acknowledged once", b)
	}
	admitted := time.Now().Add(-3 * time.Hour).Truncate(time.Second)

	ykc700 := e.admit(p, admitted)
	adm := e.sim.Admissions(akb020, p.inpatientNo)
	if len(adm) != 1 || adm[0].VisitNo != ykc700 || adm[0].FilingNo != p.filingNo || adm[0].AAC002 != p.aac002 || adm[0].State != wisim.VisitAdmitted {
		t.Fatalf("national admissions of %s: %+v, want one admitted visit %s on filing %s", p.inpatientNo, adm, ykc700, p.filingNo)
	}

	// GYU102 takes at most 500 lines: 501 are refused before anything is sent.
	before := e.sent("GYU102")
	over := feeLines(p, admitted.Add(time.Minute), 9001, 501)
	r := e.one(p.inpatientNo, e.hl7(e.id("fees501"), "GYU102", chargesHL7(p, ykc700, time.Now(), over)))
	refusedLocally(t, e, r, "GYU102", before, "batch")

	// 1,200 fee lines in three DFT^P03 of 400.
	lines := feeLines(p, admitted.Add(time.Minute), 1, 1200)
	start := time.Now()
	e.charge(p, ykc700, lines, 400)
	t.Logf("1,200 fee lines in three DFT^P03 of 400 through Kafka, mapped, checked and accepted in %s", time.Since(start).Round(time.Millisecond))
	s := totals(lines)
	details := e.sim.Details(ykc700)
	if len(details) != 1200 {
		t.Fatalf("the national ledger holds %d fee lines of %s, want 1200", len(details), ykc700)
	}
	seen := map[string]bool{}
	for i, d := range details {
		if d.Revoked || seen[d.DetailNo] || d.DetailNo != lines[i].no || int64(d.Amount) != lines[i].amountFen() || int64(d.Fund) != lines[i].amountFen()-lines[i].ownPayFen {
			t.Fatalf("national fee line %d: %+v, want %s amount %s fund %s, once", i, d, lines[i].no, fen(lines[i].amountFen()), fen(lines[i].amountFen()-lines[i].ownPayFen))
		}
		seen[d.DetailNo] = true
	}

	// A settlement one fen off the details is refused before it is sent.
	before = e.sent("GYU103")
	settledAt := time.Now().Truncate(time.Second)
	off := s
	off.fundFen--
	r = e.one(p.inpatientNo, e.hl7(e.id("discharge-off"), "GYU103", dischargeHL7(p, ykc700, admitted, settledAt, off)))
	refusedLocally(t, e, r, "GYU103", before, "amount", "consistency")

	// Discharge settlement (ADT^A03 → GYU103): the sums of the lines.
	settleNo := e.discharge(p, ykc700, admitted, settledAt, s)
	st, ok := e.sim.Settlement(settleNo)
	if !ok || st.VisitNo != ykc700 || int64(st.Total) != s.totalFen || int64(st.Fund) != s.fundFen || int64(st.Self) != s.totalFen-s.fundFen || st.Revoked {
		t.Fatalf("national settlement %s: %+v, want total %s fund %s on visit %s", settleNo, st, fen(s.totalFen), fen(s.fundFen), ykc700)
	}
	if a, _ := e.sim.Admission(ykc700); a.State != wisim.VisitSettled || a.SettleNo != settleNo {
		t.Fatalf("national admission after the settlement: %+v", a)
	}

	// Audit deduction (GYU004): more than the fund paid is refused locally.
	deductAt := settledAt
	deduction := func(no string, amountFen int64) map[string]any {
		return map[string]any{"deductions": []any{map[string]any{"deduct_no": no, "settle_no": settleNo, "akb020": akb020, "ykc700": ykc700,
			"aac002": p.aac002, "deduct_amount": fen(amountFen), "deduct_reason": "超目录范围用药", "deduct_time": stamp(deductAt)}},
			"aae011": "社保审核员", "aae036": stamp(deductAt)}
	}
	before = e.sent("GYU004")
	r = e.one(settleNo, e.raw(hisSite, e.id("deduct-over"), "GYU004", deduction("KKSTAY0000000", s.fundFen+1)))
	refusedLocally(t, e, r, "GYU004", before, "consistency", "range")
	const deductFen = 12050
	r = e.one(settleNo, e.raw(hisSite, e.id("deduct"), "GYU004", deduction("KKSTAY0000001", deductFen)))
	if out := expect(t, r, "ok"); fmt.Sprint(out["accepted_count"]) != "1" {
		t.Errorf("GYU004 accepted_count %v, want 1", out["accepted_count"])
	}
	if ds := e.sim.Deductions(settleNo); len(ds) != 1 || ds[0].DeductNo != "KKSTAY0000001" || int64(ds[0].Amount) != deductFen || ds[0].Revoked {
		t.Fatalf("national deductions on %s: %+v", settleNo, ds)
	}

	// Monthly settlement (GYU003): the settlement net of the deduction.
	month := settledAt.In(hisZone).Format("200601")
	monthly := map[string]any{
		"akb020": akb020, "akb021": "厦门市第一示例医院", "settle_month": month, "settle_count": 1, "revoke_count": 0, "person_count": 1,
		"total_amount": fen(s.totalFen), "fund_pay": fen(s.fundFen), "self_pay": fen(s.totalFen - s.fundFen), "revoke_amount": "0.00",
		"deduct_amount": fen(deductFen), "deduct_revoke_amount": "0.00", "month_fund_pay": fen(s.fundFen - deductFen),
		"items": []any{
			map[string]any{"item_type": "1", "ref_no": settleNo, "settle_no": settleNo, "aac002": p.aac002, "total_amount": fen(s.totalFen),
				"amount": fen(s.fundFen), "self_pay": fen(s.totalFen - s.fundFen), "biz_time": stamp(settledAt)},
			map[string]any{"item_type": "3", "ref_no": "KKSTAY0000001", "settle_no": settleNo, "amount": fen(deductFen), "biz_time": stamp(deductAt)},
		},
		"aae011": "王五", "aae036": stamp(time.Now()),
	}
	wrong := clone(monthly)
	wrong["month_fund_pay"] = fen(s.fundFen)
	before = e.sent("GYU003")
	r = e.one(akb020, e.raw(hisSite, e.id("monthly-wrong"), "GYU003", wrong))
	refusedLocally(t, e, r, "GYU003", before, "amount", "consistency")
	r = e.one(akb020, e.raw(hisSite, e.id("monthly"), "GYU003", monthly))
	out := expect(t, r, "ok")
	monthNo, _ := out["month_settle_no"].(string)
	ms := e.sim.Monthlies(akb020, "")
	if monthNo == "" || len(ms) != 1 || ms[0].MonthlyNo != monthNo {
		t.Fatalf("GYU003 %s; national monthly settlements %+v", r.Payload, ms)
	}
	// Once per institution and month: the same monthly settlement sent
	// again under a new id (a platform that lost the reply) gets the first
	// one's answer, nothing sent; other content is refused.
	before = e.sent("GYU003")
	r = e.one(akb020, e.raw(hisSite, e.id("monthly-again"), "GYU003", monthly))
	if again := expect(t, r, "ok"); again["month_settle_no"] != monthNo || e.sent("GYU003") != before {
		t.Fatalf("GYU003 sent again: %s after %d more national requests, want month_settle_no %s and none", r.Payload, e.sent("GYU003")-before, monthNo)
	}
	other := clone(monthly)
	other["items"] = monthly["items"].([]any)[:1]
	r = e.one(akb020, e.raw(hisSite, e.id("monthly-other"), "GYU003", other))
	refusedLocally(t, e, r, "GYU003", before, "state", "precondition")

	// Clearing download (GYD005): the national side confirmed the month's
	// payables and receivables; the one clearing record is published as an
	// event and acknowledged (GYU008).
	r = e.one("GYD005", e.raw(hisSite, e.id("clearing"), "GYD005", map[string]any{"clear_month": month}))
	var dl struct {
		Batches []struct {
			BatchNo     string `json:"batch_no"`
			RecordCount int    `json:"record_count"`
			Published   int    `json:"published"`
		} `json:"batches"`
	}
	if err := json.Unmarshal(r.Payload, &dl); err != nil || r.Status != "ok" || len(dl.Batches) != 1 || dl.Batches[0].RecordCount != 1 || dl.Batches[0].Published != 1 {
		t.Fatalf("GYD005: %s %s %+v, want one batch of one published record", r.Status, r.Payload, r.Errors)
	}
	batches := nonEmptyBatches(e.sim.Batches("GYD005"))
	if len(batches) != 1 || batches[0].No != dl.Batches[0].BatchNo || batches[0].Records != 1 || batches[0].Feedbacks != 1 || len(batches[0].IDs) != 1 {
		t.Fatalf("national GYD005 batches %+v, want batch %s of 1 record acknowledged once (GYU008)", batches, dl.Batches[0].BatchNo)
	}
	_, clearing := e.eventWith("clear_month", month)
	if clearing["aab301"] != p.insuredArea || clearing["aab299"] != "350200" || fmt.Sprint(clearing["clear_amount"]) != fen(s.fundFen-deductFen) ||
		fmt.Sprint(clearing["fund_pay"]) != fen(s.fundFen) || fmt.Sprint(clearing["deduct_amount"]) != fen(deductFen) || fmt.Sprint(clearing["person_count"]) != "1" {
		t.Fatalf("clearing event %v, want %s payable by %s to 350200: fund %s − deductions %s = %s", clearing, month, p.insuredArea, fen(s.fundFen), fen(deductFen), fen(s.fundFen-deductFen))
	}
	if months, _ := clearing["months"].([]any); len(months) != 1 || months[0].(map[string]any)["month_settle_no"] != monthNo {
		t.Errorf("clearing event months %v, want monthly settlement %s", clearing["months"], monthNo)
	}
	t.Logf("stay %s: visit %s, 1,200 lines, total %s, fund %s, settlement %s, deduction %s, monthly %s, clearing %v",
		p.inpatientNo, ykc700, fen(s.totalFen), fen(s.fundFen), settleNo, fen(deductFen), monthNo, clearing["clear_no"])
}

// TestWorkInjuryRevocations walks every revoke path and checks the
// national ledger and the site's own state after each; then the
// institution's monthly settlement nets the revoked settlement, the
// deduction and its revocation.
func TestWorkInjuryRevocations(t *testing.T) {
	t.Parallel()
	e := startHIS(t)
	const akb020 = "H35020300123"
	admitted := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	// The institution's month as the subtests make it, for GYU003.
	var month monthOf

	t.Run("fee details (GYR001), then the admission (GYR002)", func(t *testing.T) {
		e := e.with(t)
		p := e.newPatient(hisSite, "RVA", 2, akb020, "1", "1")
		ykc700 := e.admit(p, admitted)
		e.charge(p, ykc700, feeLines(p, admitted.Add(time.Minute), 1, 20), 20)

		before := e.sent("GYR002")
		r := e.one(p.inpatientNo, e.raw(hisSite, e.id("gyr002-early"), "GYR002", revokeInput(map[string]any{"ykc700": ykc700, "akc190": p.inpatientNo, "akb020": akb020})))
		refusedLocally(t, e, r, "GYR002", before, "state", "precondition")

		r = e.one(p.inpatientNo, e.raw(hisSite, e.id("gyr001"), "GYR001", revokeInput(map[string]any{"ykc700": ykc700, "akc190": p.inpatientNo})))
		if out := expect(t, r, "ok"); fmt.Sprint(out["revoked_count"]) != "20" {
			t.Errorf("GYR001 revoked_count %v, want 20", out["revoked_count"])
		}
		if a, _ := e.sim.Admission(ykc700); a.Details != 0 || a.RevokedDetails != 20 || a.State != wisim.VisitAdmitted {
			t.Fatalf("national admission after GYR001: %+v", a)
		}

		r = e.one(p.inpatientNo, e.raw(hisSite, e.id("gyr002"), "GYR002", revokeInput(map[string]any{"ykc700": ykc700, "akc190": p.inpatientNo, "akb020": akb020})))
		expect(t, r, "ok")
		if a, _ := e.sim.Admission(ykc700); a.State != wisim.VisitRevoked {
			t.Fatalf("national admission after GYR002: %+v", a)
		}
		// The revoked visit takes no more fee lines (refused locally); the
		// inpatient number can be admitted again.
		before = e.sent("GYU102")
		r = e.one(p.inpatientNo, e.hl7(e.id("fees-revoked"), "GYU102", chargesHL7(p, ykc700, time.Now(), feeLines(p, admitted, 100, 2))))
		refusedLocally(t, e, r, "GYU102", before, "state", "precondition")
		again := e.admit(p, admitted)
		if again == ykc700 || len(e.sim.Admissions(akb020, p.inpatientNo)) != 2 {
			t.Fatalf("re-admission: visit %s, national admissions %+v", again, e.sim.Admissions(akb020, p.inpatientNo))
		}
	})

	t.Run("settlement (GYR003) revokes the admission and its details", func(t *testing.T) {
		e := e.with(t)
		p := e.newPatient(hisSite, "RVB", 3, akb020, "1", "1")
		ykc700 := e.admit(p, admitted)
		lines := feeLines(p, admitted.Add(time.Minute), 1, 30)
		e.charge(p, ykc700, lines, 30)
		settledAt := time.Now().Truncate(time.Second)
		settleNo := e.discharge(p, ykc700, admitted, settledAt, totals(lines))
		month.settled(settleNo, p.aac002, totals(lines), settledAt)

		// Settled: its details cannot be revoked alone.
		before := e.sent("GYR001")
		r := e.one(p.inpatientNo, e.raw(hisSite, e.id("gyr001-settled"), "GYR001", revokeInput(map[string]any{"ykc700": ykc700})))
		refusedLocally(t, e, r, "GYR001", before, "state", "precondition")

		revocation := revokeInput(map[string]any{"settle_no": settleNo, "ykc700": ykc700, "akb020": akb020})
		r = e.one(p.inpatientNo, e.raw(hisSite, e.id("gyr003"), "GYR003", revocation))
		if out := expect(t, r, "ok"); out["admission_revoked"] != "1" {
			t.Errorf("GYR003 admission_revoked %v, want 1", out["admission_revoked"])
		}
		month.revoked(settleNo, p.aac002, totals(lines), revocation["revoke_time"].(string))
		st, _ := e.sim.Settlement(settleNo)
		a, _ := e.sim.Admission(ykc700)
		if !st.Revoked || a.State != wisim.VisitRevoked || a.Details != 0 || a.RevokedDetails != 30 {
			t.Fatalf("national ledger after GYR003: settlement %+v, admission %+v", st, a)
		}
		// Local state follows: a second revocation is refused locally.
		before = e.sent("GYR003")
		r = e.one(p.inpatientNo, e.raw(hisSite, e.id("gyr003-again"), "GYR003", revokeInput(map[string]any{"settle_no": settleNo, "ykc700": ykc700, "akb020": akb020})))
		refusedLocally(t, e, r, "GYR003", before, "state", "precondition")
	})

	t.Run("deduction (GYR004)", func(t *testing.T) {
		e := e.with(t)
		p := e.newPatient(hisSite, "RVC", 4, akb020, "1", "1")
		ykc700 := e.admit(p, admitted)
		lines := feeLines(p, admitted.Add(time.Minute), 1, 10)
		e.charge(p, ykc700, lines, 10)
		settledAt := time.Now().Truncate(time.Second)
		settleNo := e.discharge(p, ykc700, admitted, settledAt, totals(lines))
		month.settled(settleNo, p.aac002, totals(lines), settledAt)
		deductedAt := stamp(time.Now())
		r := e.one(settleNo, e.raw(hisSite, e.id("gyu004"), "GYU004", map[string]any{"deductions": []any{map[string]any{"deduct_no": "KKRVC0000001",
			"settle_no": settleNo, "akb020": akb020, "deduct_amount": "10.00", "deduct_reason": "重复收费", "deduct_time": deductedAt}},
			"aae011": "社保审核员", "aae036": stamp(time.Now())}))
		expect(t, r, "ok")
		month.deduction("3", "KKRVC0000001", settleNo, 1000, deductedAt)
		before := e.sent("GYR004")
		r = e.one(settleNo, e.raw(hisSite, e.id("gyr004-unknown"), "GYR004", map[string]any{"deductions": []any{map[string]any{"deduct_no": "KKNEVER000001"}},
			"revoke_time": stamp(time.Now()), "aae011": "社保审核员"}))
		refusedLocally(t, e, r, "GYR004", before, "state", "precondition")
		revokedAt := stamp(time.Now())
		r = e.one(settleNo, e.raw(hisSite, e.id("gyr004"), "GYR004", map[string]any{"deductions": []any{map[string]any{"deduct_no": "KKRVC0000001", "revoke_reason": "复核无误"}},
			"revoke_time": revokedAt, "aae011": "社保审核员"}))
		if out := expect(t, r, "ok"); fmt.Sprint(out["revoked_count"]) != "1" {
			t.Errorf("GYR004 revoked_count %v, want 1", out["revoked_count"])
		}
		month.deduction("4", "KKRVC0000001", settleNo, 1000, revokedAt)
		if ds := e.sim.Deductions(settleNo); len(ds) != 1 || !ds[0].Revoked {
			t.Fatalf("national deductions after GYR004: %+v", ds)
		}
	})

	t.Run("monthly settlement nets revocations and deductions (GYU003)", func(t *testing.T) {
		e := e.with(t)
		if len(month.items) != 5 {
			t.Fatalf("the month holds %d records, want 5 (two settlements, a revocation, a deduction and its revocation)", len(month.items))
		}
		in := month.input(akb020)
		// Leaving the revoked settlement out is refused before it is sent.
		short := clone(in)
		short["items"] = month.items[1:]
		before := e.sent("GYU003")
		r := e.one(akb020, e.raw(hisSite, e.id("gyu003-short"), "GYU003", short))
		refusedLocally(t, e, r, "GYU003", before, "consistency")
		r = e.one(akb020, e.raw(hisSite, e.id("gyu003"), "GYU003", in))
		no, _ := expect(t, r, "ok")["month_settle_no"].(string)
		ms := e.sim.Monthlies(akb020, "")
		if len(ms) != 1 || ms[0].MonthlyNo != no {
			t.Fatalf("national monthly settlements %+v, want %s", ms, no)
		}
		got := ms[0].Sums
		if got.SettleCount != 2 || got.RevokeCount != 1 || got.PersonCount != 1 || int64(got.RevokeAmount) != month.revokedFund ||
			int64(got.DeductAmount) != 1000 || int64(got.DeductRevokeAmount) != 1000 || int64(got.MonthFund) != month.fund-month.revokedFund {
			t.Fatalf("national monthly sums %+v, want 2 settlements − 1 revocation, fund %s − revoked %s, deduction 10.00 revoked", got, fen(month.fund), fen(month.revokedFund))
		}
	})
}

// TestWorkInjuryVariants: a rehabilitation stay at a rehabilitation
// institution with its rehabilitation plan, a stay sent as the platform's
// JSON instead of HL7 v2, an admission on a filing the
// site never downloaded, and an assistive-device settlement and its
// revocation.
func TestWorkInjuryVariants(t *testing.T) {
	t.Parallel()
	e := startHIS(t)

	t.Run("rehabilitation stay with its plan", func(t *testing.T) {
		e := e.with(t)
		const akb020 = "K35020300456"
		p := e.newPatient(rehabSite, "KF", 5, akb020, "1", "2")
		at := time.Now().Add(-time.Hour).Truncate(time.Second)
		in := map[string]any{
			"aac002": p.aac002, "aac003": p.aac003, "aac043": "01", "aac044": p.aac002, "filing_no": p.filingNo, "aab301": p.insuredArea,
			"aab299": "350200", "injury_cert_no": p.certNo, "akb020": akb020, "akb021": "厦门市示例康复医院", "aka130": "2", "akc190": p.inpatientNo,
			"ykc701": stamp(at), "akf001": "2101", "akc193": "Z50.101", "akc050": "骨折术后康复", "ake022": "林医生", "aae011": "王五", "aae036": stamp(at),
		}
		r := e.one(p.inpatientNo, e.raw(rehabSite, e.id("kf-gyu101"), "GYU101", in))
		ykc700, _ := expect(t, r, "ok")["ykc700"].(string)
		plan := "%PDF-1.4 康复方案 e2e"
		r = e.one(p.inpatientNo, e.raw(rehabSite, e.id("kf-gyu002"), "GYU002", map[string]any{"biz_type": "2", "biz_no": ykc700, "attachments": []any{map[string]any{
			"attachment_type": "07", "file_name": "康复方案.pdf", "file_format": "pdf", "file_size": len(plan), "file_content": base64.StdEncoding.EncodeToString([]byte(plan))}}}))
		var planID string
		if atts, _ := expect(t, r, "ok")["attachments"].([]any); len(atts) == 1 {
			planID, _ = atts[0].(map[string]any)["attachment_id"].(string)
		}
		if planID == "" {
			t.Fatalf("GYU002 without attachment_id: %s", r.Payload)
		}
		var fee []any
		var total, fund int64
		for i, l := range feeLines(p, at, 1, 12) {
			own := l.ownPayFen
			fee = append(fee, map[string]any{"detail_no": l.no, "fee_time": stamp(l.at), "catalog_type": "2", "ake001": "340100001", "ake005": l.item,
				"ake006": "康复训练" + strconv.Itoa(i), "fee_category": "05", "qty": l.qty, "price": fen(l.priceFen), "amount": fen(l.amountFen()),
				"fund_pay": fen(l.amountFen() - own), "self_pay": fen(own), "akf001": "2101", "ake022": "林医生"})
			total += l.amountFen()
			fund += l.amountFen() - own
		}
		r = e.one(p.inpatientNo, e.raw(rehabSite, e.id("kf-gyu102"), "GYU102", map[string]any{"ykc700": ykc700, "akc190": p.inpatientNo, "fee": fee}))
		expect(t, r, "ok")
		settle := map[string]any{"ykc700": ykc700, "akc190": p.inpatientNo, "akc194": stamp(time.Now()), "dscg_way": "1",
			"diagnoses": []any{map[string]any{"diag_code": "Z50.101", "diag_name": "骨折术后康复", "main_flag": "1"}}, "days": 1,
			"akc264": fen(total), "fund_pay": fen(fund), "self_pay": fen(total - fund), "settle_time": stamp(time.Now()),
			"rehab_plan_id": planID, "aae011": "王五", "aae036": stamp(time.Now())}
		bad := clone(settle)
		bad["rehab_plan_id"] = "FJNOSUCHPLAN"
		before := e.sent("GYU103")
		r = e.one(p.inpatientNo, e.raw(rehabSite, e.id("kf-gyu103-noplan"), "GYU103", bad))
		refusedLocally(t, e, r, "GYU103", before, "precondition")
		r = e.one(p.inpatientNo, e.raw(rehabSite, e.id("kf-gyu103"), "GYU103", settle))
		settleNo, _ := expect(t, r, "ok")["settle_no"].(string)
		st, ok := e.sim.Settlement(settleNo)
		if !ok || st.AKB020 != akb020 || int64(st.Total) != total || st.Record["rehab_plan_id"] != planID {
			t.Fatalf("national rehabilitation settlement %s: %+v", settleNo, st)
		}
	})

	t.Run("a stay in the platform's JSON through the demo JSON mappings", func(t *testing.T) {
		e := e.with(t)
		p := e.newPatient(hisSite, "JS", 11, "H35020300123", "1", "1")
		admitted := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
		rfc := func(t time.Time) string { return t.In(hisZone).Format(time.RFC3339) }
		platform := func(id, code string, payload map[string]any) harness.Request {
			r := e.raw(hisSite, id, code, payload)
			r.Format = "json" // the site's own JSON: mapped by demo/json/workinjury.<code>
			return r
		}
		operator := map[string]any{"name": "王五", "time": rfc(time.Now())}
		r := e.one(p.inpatientNo, platform(e.id("json-admit"), "GYU101", map[string]any{
			"patient": map[string]any{"name": p.aac003, "idType": "01", "idNumber": p.aac002, "socialSecurityNo": p.aac002},
			"injury":  map[string]any{"filingNo": p.filingNo, "certificateNo": p.certNo, "insuredArea": p.insuredArea, "treatType": "1"},
			"visit": map[string]any{"inpatientNo": p.inpatientNo, "admittedAt": rfc(admitted), "department": map[string]any{"code": "GK01"},
				"doctor": map[string]any{"code": "110350200000123", "name": "陈医生"}},
			"diagnoses": []any{map[string]any{"code": "S82.201", "name": "胫骨平台骨折", "type": "admission", "main": true}},
			"operator":  operator,
		}))
		ykc700, _ := expect(t, r, "ok")["ykc700"].(string)
		lines := feeLines(p, admitted.Add(time.Minute), 1, 25)
		var charges []any
		for _, l := range lines {
			it := map[string]any{"code": l.item, "name": l.name, "class": l.class}
			charges = append(charges, map[string]any{"id": l.no, "kind": "charge", "time": rfc(l.at), "item": it, "qty": l.qty,
				"price": json.Number(fen(l.priceFen)), "amount": json.Number(fen(l.amountFen())), "fundPay": json.Number(fen(l.amountFen() - l.ownPayFen)),
				"department": map[string]any{"code": "GK01"}, "doctor": map[string]any{"code": "110350200000123", "name": "陈医生"}})
		}
		charges = append(charges, map[string]any{"id": "PAY-1", "kind": "payment", "time": rfc(admitted), "item": map[string]any{"code": "PAY01", "name": "预交金"}, "amount": 1000})
		visit := map[string]any{"inpatientNo": p.inpatientNo, "insuranceVisitNo": ykc700}
		r = e.one(p.inpatientNo, platform(e.id("json-fees"), "GYU102", map[string]any{"visit": visit, "charges": charges}))
		if out := expect(t, r, "ok"); fmt.Sprint(out["accepted_count"]) != "25" {
			t.Errorf("GYU102 accepted_count %v, want 25 (the payment is no fee line)", out["accepted_count"])
		}
		s := totals(lines)
		discharged := time.Now().Truncate(time.Second)
		r = e.one(p.inpatientNo, platform(e.id("json-discharge"), "GYU103", map[string]any{
			"visit": map[string]any{"inpatientNo": p.inpatientNo, "insuranceVisitNo": ykc700, "admittedAt": rfc(admitted), "dischargedAt": rfc(discharged),
				"department": map[string]any{"code": "GK01"}, "disposition": "home"},
			"diagnoses":  []any{map[string]any{"code": "S82.201", "name": "胫骨平台骨折", "type": "discharge", "main": true}},
			"settlement": map[string]any{"total": json.Number(fen(s.totalFen)), "fundPay": json.Number(fen(s.fundFen)), "settledAt": rfc(discharged)},
			"operator":   operator,
		}))
		settleNo, _ := expect(t, r, "ok")["settle_no"].(string)
		if st, ok := e.sim.Settlement(settleNo); !ok || st.VisitNo != ykc700 || int64(st.Total) != s.totalFen || int64(st.Fund) != s.fundFen || len(e.sim.Details(ykc700)) != 25 {
			t.Fatalf("national settlement %s: %+v (%d lines), want total %s fund %s over 25 lines", settleNo, st, len(e.sim.Details(ykc700)), fen(s.totalFen), fen(s.fundFen))
		}
	})

	t.Run("a filing the site never downloaded is verified with GYD051", func(t *testing.T) {
		e := e.with(t)
		admitted := time.Now().Add(-time.Hour).Truncate(time.Second)
		// Known nationally only: verified, then admitted.
		p := e.nationalPatient("NL", 9, "H35020300123", "1", "1")
		ykc700 := e.admit(p, admitted)
		if !e.sim.Seen(func(q wisim.Request) bool { return q.Code == "GYD051" && q.Input["aac002"] == p.aac002 }) {
			t.Error("no GYD051 verification of the filing before the admission")
		}
		if a, ok := e.sim.Admission(ykc700); !ok || a.FilingNo != p.filingNo {
			t.Fatalf("national admission %s: %+v", ykc700, a)
		}
		// Known nowhere: GYD051 says so and nothing is sent.
		q := person("NONE", 10, "1")
		before := e.sent("GYU101")
		r := e.one(q.inpatientNo, e.hl7(e.id("admit-nofiling"), "GYU101", admitHL7(q, admitted)))
		refusedLocally(t, e, r, "GYU101", before, "GYD051")
	})

	t.Run("assistive device settlement and its revocation", func(t *testing.T) {
		e := e.with(t)
		const akb020 = "F35020300789"
		p := e.newPatient(hisSite, "FJ", 6, akb020, "3", "")
		now := time.Now().Truncate(time.Second)
		device := func(fundFen, selfFen int64) map[string]any {
			return map[string]any{"aac002": p.aac002, "aac003": p.aac003, "aac043": "01", "aac044": p.aac002, "filing_no": p.filingNo,
				"injury_cert_no": p.certNo, "aab301": p.insuredArea, "akb020": akb020, "akb021": "厦门市示例辅助器具配置中心",
				"config_date": now.In(hisZone).Format("2006-01-02"), "config_type": "1",
				"items": []any{
					map[string]any{"detail_no": "0001", "device_code": "FZ0101", "device_name": "小腿假肢", "qty": 1, "price": "8500", "amount": "8500.00"},
					map[string]any{"detail_no": "0002", "device_code": "FZ0203", "device_name": "假肢袜", "qty": 4, "price": "37.5", "amount": "150.00"},
				},
				"aac142": "8650.00", "fund_pay": fen(fundFen), "self_pay": fen(selfFen), "settle_time": stamp(now), "aae011": "王五", "aae036": stamp(now)}
		}
		before := e.sent("GYU303")
		r := e.one(p.aac002, e.raw(hisSite, e.id("gyu303-off"), "GYU303", device(860000, 4999)))
		refusedLocally(t, e, r, "GYU303", before, "amount", "consistency")
		r = e.one(p.aac002, e.raw(hisSite, e.id("gyu303"), "GYU303", device(860000, 5000)))
		settleNo, _ := expect(t, r, "ok")["settle_no"].(string)
		st, ok := e.sim.Settlement(settleNo)
		if !ok || !st.Device || int64(st.Total) != 865000 || int64(st.Fund) != 860000 {
			t.Fatalf("national device settlement %s: %+v", settleNo, st)
		}
		r = e.one(p.aac002, e.raw(hisSite, e.id("gyr003-device"), "GYR003", revokeInput(map[string]any{"settle_no": settleNo, "akb020": akb020})))
		if out := expect(t, r, "ok"); out["admission_revoked"] != "0" {
			t.Errorf("GYR003 of a device settlement: admission_revoked %v, want 0", out["admission_revoked"])
		}
		if st, _ := e.sim.Settlement(settleNo); !st.Revoked {
			t.Fatalf("national device settlement after GYR003: %+v", st)
		}
	})
}

// monthOf collects an institution's records of one month (settlements,
// settlement revocations, deductions, deduction revocations) as GYU003
// items, with the header sums.
type monthOf struct {
	items                     []any
	settles, revokes          int
	total, fund, self         int64
	revokedFund               int64
	deducted, deductedRevoked int64
}

func (m *monthOf) settled(settleNo, aac002 string, s settlement, at time.Time) {
	m.items = append(m.items, map[string]any{"item_type": "1", "ref_no": settleNo, "settle_no": settleNo, "aac002": aac002,
		"total_amount": fen(s.totalFen), "amount": fen(s.fundFen), "self_pay": fen(s.totalFen - s.fundFen), "biz_time": stamp(at)})
	m.settles++
	m.total += s.totalFen
	m.fund += s.fundFen
	m.self += s.totalFen - s.fundFen
}

func (m *monthOf) revoked(settleNo, aac002 string, s settlement, at string) {
	m.items = append(m.items, map[string]any{"item_type": "2", "ref_no": settleNo, "settle_no": settleNo, "aac002": aac002,
		"total_amount": fen(s.totalFen), "amount": fen(s.fundFen), "self_pay": fen(s.totalFen - s.fundFen), "biz_time": at})
	m.revokes++
	m.revokedFund += s.fundFen
}

// deduction adds a deduction (type 3) or its revocation (type 4).
func (m *monthOf) deduction(typ, deductNo, settleNo string, amountFen int64, at string) {
	m.items = append(m.items, map[string]any{"item_type": typ, "ref_no": deductNo, "settle_no": settleNo, "amount": fen(amountFen), "biz_time": at})
	if typ == "3" {
		m.deducted += amountFen
	} else {
		m.deductedRevoked += amountFen
	}
}

// input is the GYU003 of the month for institution akb020.
func (m *monthOf) input(akb020 string) map[string]any {
	return map[string]any{
		"akb020": akb020, "settle_month": time.Now().In(hisZone).Format("200601"), "settle_count": m.settles, "revoke_count": m.revokes,
		"person_count": m.settles - m.revokes, "total_amount": fen(m.total), "fund_pay": fen(m.fund), "self_pay": fen(m.self),
		"revoke_amount": fen(m.revokedFund), "deduct_amount": fen(m.deducted), "deduct_revoke_amount": fen(m.deductedRevoked),
		"month_fund_pay": fen(m.fund - m.revokedFund - m.deducted + m.deductedRevoked), "items": m.items,
		"aae011": "王五", "aae036": stamp(time.Now()),
	}
}
