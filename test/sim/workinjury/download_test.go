package workinjury

import (
	"fmt"
	"sort"
	"testing"
	"time"
)

// ledgerScene fills a chain with one record for each download:
//
//	V1 (ZY1): lines D00001–D00003, D00003 revoked (GYD401), settled as S1
//	          with deduction K1, later revoked (GYD404)
//	V2 (ZY2): admitted, then revoked (GYD402)
//	V3 (ZY3): settled as S3, then revoked (GYD403)
type ledgerScene struct {
	c                  *chain
	v1, v2, v3, s1, s3 string
}

func newLedgerScene(t testing.TB) ledgerScene {
	c := newChain(t, func(cfg *Config) { cfg.BatchSize = MaxBatch })
	s := ledgerScene{c: c, v1: c.admit("ZY1")}
	upload(lines("D", 1, 3))(c, s.v1)
	c.must("GYR001", with(revokeTime(day0), "ykc700", s.v1, "details", []any{map[string]any{"detail_no": "D00003"}}))
	s.s1 = c.must("GYU103", SampleSettlement(s.v1, "ZY1", lines("D", 1, 2), day0.AddDate(0, 0, 9)))["settle_no"].(string)
	c.must("GYU004", deductions(deductionLine("K1", s.s1, "1.00", day0.AddDate(0, 0, 10))))
	c.must("GYR004", revokeDeductions("K1"))
	s.v2 = c.admit("ZY2")
	revokeAdmission(c, s.v2)
	s.v3, s.s3 = c.stay("ZY3", lines("E", 1, 1))
	c.must("GYR003", with(revokeTime(day0.AddDate(0, 0, 11)), "settle_no", s.s3, "akb020", hospital))
	return s
}

func ids(code string, out map[string]any) string {
	var l []string
	for _, r := range records(out) {
		l = append(l, fmt.Sprint(r[recordID[code]]))
	}
	sort.Strings(l)
	return fmt.Sprint(l)
}

// TestLedgerDownloads: every settlement-chain download hands out the
// ledger's records once, refuses to run while they are unacknowledged,
// and after GYU008 has nothing new.
func TestLedgerDownloads(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		code  string
		input func(s ledgerScene) map[string]any
		prep  func(s ledgerScene)
		want  func(s ledgerScene) []string
	}{
		"GYD101 admissions": {code: "GYD101", want: func(s ledgerScene) []string { return []string{s.v1, s.v2, s.v3} }},
		"GYD101 of another 参保地": {code: "GYD101", input: func(ledgerScene) map[string]any { return map[string]any{"aab301": "110000"} },
			want: func(ledgerScene) []string { return nil }},
		"GYD101 of the persons' 参保地": {code: "GYD101", input: func(ledgerScene) map[string]any { return map[string]any{"aab301": "440300"} },
			want: func(s ledgerScene) []string { return []string{s.v1, s.v2, s.v3} }},
		"GYD102 details of a stay, revoked ones flagged": {code: "GYD102",
			input: func(ledgerScene) map[string]any { return map[string]any{"akb020": hospital, "akc190": "ZY1"} },
			prep:  func(s ledgerScene) { s.c.ack("GYD101", s.c.must("GYD101", map[string]any{})) },
			want:  func(ledgerScene) []string { return []string{"D00001", "D00002", "D00003"} }},
		"GYD103 settlements": {code: "GYD103", want: func(s ledgerScene) []string { return []string{s.s1, s.s3} }},
		"GYD004 deductions":  {code: "GYD004", want: func(ledgerScene) []string { return []string{"K1"} }},
		"GYD004 of another settlement": {code: "GYD004", input: func(s ledgerScene) map[string]any { return map[string]any{"settle_no": s.s3} },
			want: func(ledgerScene) []string { return nil }},
		"GYD401 detail revocations":     {code: "GYD401", want: func(ledgerScene) []string { return []string{"1 revocation"} }},
		"GYD402 admission revocations":  {code: "GYD402", want: func(ledgerScene) []string { return []string{"1 revocation"} }},
		"GYD403 settlement revocations": {code: "GYD403", want: func(ledgerScene) []string { return []string{"1 revocation"} }},
		"GYD404 deduction revocations":  {code: "GYD404", want: func(ledgerScene) []string { return []string{"K1"} }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newLedgerScene(t)
			if tc.prep != nil {
				tc.prep(s)
			}
			in := map[string]any{}
			if tc.input != nil {
				in = tc.input(s)
			}
			out := s.c.must(tc.code, in)
			want := tc.want(s)
			got := ids(tc.code, out)
			if len(want) == 1 && want[0] == "1 revocation" {
				if rs := records(out); len(rs) != 1 || rs[0]["revoke_no"] == nil {
					t.Fatalf("%s = %v; want one revocation", tc.code, out)
				}
			} else if sort.Strings(want); got != fmt.Sprint(want) {
				t.Fatalf("%s handed out %s, want %v", tc.code, got, want)
			}
			if len(want) == 0 {
				return
			}
			if code, _ := s.c.call(tc.code, in); code != "E2001" {
				t.Fatalf("%s while unacknowledged answered %s, want E2001", tc.code, code)
			}
			s.c.ack(tc.code, out)
			if again := s.c.must(tc.code, in); len(records(again)) != 0 {
				t.Fatalf("%s after GYU008 handed out %s again", tc.code, ids(tc.code, again))
			}
			if errs := s.c.srv.OutputErrors(); len(errs) > 0 {
				t.Fatalf("answers break the output schema: %v", errs)
			}
		})
	}
}

// TestDetailDownloadNeedsAdmission: GYD102 of a stay whose admission GYD101
// has not handed out is refused; full_flag hands out the valid details
// again after they were acknowledged.
func TestDetailDownloadNeedsAdmission(t *testing.T) {
	t.Parallel()
	s := newLedgerScene(t)
	in := map[string]any{"akb020": hospital, "akc190": "ZY1"}
	if code, _ := s.c.call("GYD102", in); code != "E2005" {
		t.Fatalf("GYD102 before GYD101 answered %s, want E2005", code)
	}
	if code, _ := s.c.call("GYD102", map[string]any{"akb020": hospital, "akc190": "ZY9"}); code != "E2005" {
		t.Fatalf("GYD102 of an unknown stay answered %s, want E2005", code)
	}
	s.c.ack("GYD101", s.c.must("GYD101", map[string]any{}))
	s.c.ack("GYD102", s.c.must("GYD102", in))
	full := s.c.must("GYD102", with(in, "full_flag", "1"))
	if got := ids("GYD102", full); got != "[D00001 D00002]" {
		t.Fatalf("GYD102 full_flag gave %s, want the two valid details", got)
	}
}

// TestSettlementsOfAPerson: GYD104 answers every settlement of a person,
// revoked ones flagged, without a batch to acknowledge.
func TestSettlementsOfAPerson(t *testing.T) {
	t.Parallel()
	s := newLedgerScene(t)
	person := s.c.filing["aac002"]
	for range 2 {
		out := s.c.must("GYD104", map[string]any{"aac002": person})
		rs := records(out)
		if len(rs) != 2 || out["batch_no"] != nil {
			t.Fatalf("GYD104 = %v", out)
		}
		revoked := map[any]any{}
		for _, r := range rs {
			revoked[r["settle_no"]] = r["revoked"]
		}
		if revoked[s.s1] != "0" || revoked[s.s3] != "1" {
			t.Fatalf("GYD104 revoked flags %v", revoked)
		}
	}
	if out := s.c.must("GYD104", map[string]any{"aac002": "110101199001010000"}); len(records(out)) != 0 {
		t.Fatalf("GYD104 of a stranger = %v", out)
	}
	if out := s.c.must("GYD104", map[string]any{"aac002": person, "aae030": "2025-05-01"}); len(records(out)) != 0 {
		t.Fatalf("GYD104 from May = %v", out)
	}
	if code, _ := s.c.call("GYD104", map[string]any{"aac002": person, "aac003": "别人"}); code != "E2007" {
		t.Fatalf("GYD104 with another name answered %s, want E2007", code)
	}
}

// TestDeductionRedownload: after GYD404 the province re-downloads the
// settlement's valid deductions with full_flag; the ledger has each
// deduction and its revocation once.
func TestDeductionRedownload(t *testing.T) {
	t.Parallel()
	s := newLedgerScene(t)
	s.c.must("GYU004", deductions(deductionLine("K2", s.s1, "2.00", deductDay), deductionLine("K3", s.s1, "3.00", deductDay)))
	s.c.ack("GYD004", s.c.must("GYD004", map[string]any{}))
	s.c.ack("GYD404", s.c.must("GYD404", map[string]any{}))
	full := s.c.must("GYD004", map[string]any{"settle_no": s.s1, "full_flag": "1"})
	if got := ids("GYD004", full); got != "[K2 K3]" {
		t.Fatalf("GYD004 full_flag gave %s, want the valid K2 and K3", got)
	}
	for code, key := range map[string]string{"GYU004": "K1", "GYR004": "K1"} {
		if n := s.c.srv.Accepted(code, key); n != 1 {
			t.Errorf("%s %s is %d times in the ledger, want once", code, key, n)
		}
	}
	if d := s.c.srv.Deductions(s.s1); len(d) != 3 || !d[0].Revoked || d[1].Revoked {
		t.Fatalf("deductions of %s: %+v", s.s1, d)
	}
}

// TestLedgerDownloadRecovery: a settlement-chain download is listed by
// GYD008 while unacknowledged, handed out again after GYR005, and a record
// fed back as failed comes back in the next batch.
func TestLedgerDownloadRecovery(t *testing.T) {
	t.Parallel()
	s := newLedgerScene(t)
	out := s.c.must("GYD103", map[string]any{})
	batch := out["batch_no"]
	list := s.c.must("GYD008", map[string]any{"download_code": "GYD103"})
	if b, _ := list["batches"].([]any); len(b) != 1 || b[0].(map[string]any)["batch_no"] != batch {
		t.Fatalf("GYD008 = %v; want batch %v", list, batch)
	}
	if ans := s.c.must("GYR005", map[string]any{"download_code": "GYD103", "batch_no": batch, "reason": "本地入库失败"}); ans["accept_flag"] != "1" {
		t.Fatalf("GYR005 = %v", ans)
	}
	again := s.c.must("GYD103", map[string]any{})
	if again["batch_no"] != batch || ids("GYD103", again) != ids("GYD103", out) {
		t.Fatalf("after GYR005 got batch %v %s, want %v %s", again["batch_no"], ids("GYD103", again), batch, ids("GYD103", out))
	}
	fb := []any{map[string]any{"record_id": s.s1, "result_flag": "1"}, map[string]any{"record_id": s.s3, "result_flag": "0", "fail_reason": "入库失败"}}
	if code, _ := s.c.call("GYU008", map[string]any{"download_code": "GYD103", "batch_no": batch, "record_count": 1, "records": fb[:1]}); code != "E2004" {
		t.Fatalf("GYU008 missing a record answered %s, want E2004", code)
	}
	s.c.must("GYU008", map[string]any{"download_code": "GYD103", "batch_no": batch, "record_count": 2, "records": fb})
	if next := s.c.must("GYD103", map[string]any{}); ids("GYD103", next) != "["+s.s3+"]" {
		t.Fatalf("after feedback the next batch is %s, want the failed %s", ids("GYD103", next), s.s3)
	}
	if b := s.c.srv.Batches("GYD103"); len(b) < 1 || b[0].Deliveries != 2 || b[0].Feedbacks != 1 {
		t.Fatalf("batches %+v", b)
	}
}

// TestRedownloadByDatesCountsRecords: GYR005 by dates counts in its
// message the records it hands out again, each once: a record handed out
// in two acknowledged batches of the range (downloaded, asked for again,
// downloaded again) is one record, not two. Before, the answer said "4 条
// 记录将重新下发" of two applications, and a clerk checking the next
// download against it looked for records that never came.
func TestRedownloadByDatesCountsRecords(t *testing.T) {
	t.Parallel()
	c := newChain(t, nil)
	c.srv.AddApplication(SampleApplication("RD", 1, "350200"))
	c.srv.AddApplication(SampleApplication("RD", 2, "350200"))
	today := day(time.Now())
	again := func() string {
		t.Helper()
		ans := c.must("GYR005", map[string]any{"download_code": "GYD001", "aae030": today, "aae031": today, "reason": "本地入库失败"})
		if ans["accept_flag"] != "1" {
			t.Fatalf("GYR005 = %v", ans)
		}
		return str(ans, "message")
	}
	for round := 1; round <= 3; round++ {
		out := c.must("GYD001", map[string]any{"aab299": "350200"})
		if n := len(records(out)); n != 2 {
			t.Fatalf("round %d: GYD001 handed out %d records, want 2", round, n)
		}
		c.ack("GYD001", out)
		if msg := again(); msg != "2 条记录将重新下发" {
			t.Errorf("round %d: GYR005 answered %q, want 2 records", round, msg)
		}
	}
}
