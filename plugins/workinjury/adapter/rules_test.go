package adapter

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestInvalidNeverSent: the validator and the business rules run before
// anything is sent; every error is reported with its path; the simulator
// never sees the message.
func TestInvalidNeverSent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	long := strings.Repeat("长", 51)
	missing := localFiling(1, "FJ0001")
	delete(missing, "aac002")
	delete(missing, "aae011")
	missing["aac003"] = long
	elevenFiles := attachmentUpload(11)
	badSize := attachmentUpload(1)
	badSize["attachments"].([]any)[0].(map[string]any)["file_size"] = 999
	cases := map[string]struct {
		code    string
		payload any
		want    []string // field:rule
	}{
		"GYU006 missing and over-length":        {"GYU006", missing, []string{"$.aac002:required", "$.aae011:required", "$.aac003:length", "$.attachments[0].attachment_id:precondition"}},
		"GYU006 other province":                 {"GYU006", func() map[string]any { m := localFiling(2); m["aab301"] = "440300"; return m }(), []string{"$.aab301:precondition", "$.attachments:required"}},
		"GYU006 dates reversed":                 {"GYU006", func() map[string]any { m := localFiling(3); m["aae031"] = "2020-01-01"; return m }(), []string{"$.aae031:consistency"}},
		"GYU002 eleven files":                   {"GYU002", elevenFiles, []string{"$.attachments:batch"}},
		"GYU002 size mismatch":                  {"GYU002", badSize, []string{"$.attachments[0].file_size:consistency"}},
		"GYU001 refusal without opinion":        {"GYU001", map[string]any{"apply_no": "SQX1", "aac002": "1", "aac003": "张三", "audit_result": "2", "auditor": "李四", "audit_time": "2025-04-01 09:30:00"}, []string{"$.audit_opinion:required", "$.apply_no:precondition"}},
		"GYU007 change institution without one": {"GYU007", map[string]any{"filing_no": "BA1", "change_type": "2", "change_reason": "转院", "aae011": "王五", "aae036": "2025-04-01 09:30:00"}, []string{"$.akb020:required"}},
		"GYU007 change place without one":       {"GYU007", map[string]any{"filing_no": "BA1", "change_type": "3", "change_reason": "迁居", "aae011": "王五", "aae036": "2025-04-01 09:30:00"}, []string{"$.aab299:required"}},
		"GYU008 counts":                         {"GYU008", map[string]any{"download_code": "GYD001", "batch_no": "B1", "record_count": 2, "records": []any{map[string]any{"record_id": "r1", "result_flag": "0"}}}, []string{"$.record_count:consistency", "$.records[0].fail_reason:required"}},
		"GYR005 nothing to re-download":         {"GYR005", map[string]any{"download_code": "GYD001", "reason": "丢失"}, []string{"$.batch_no:required"}},
		// White space alone is no value (非空校验), also where a rule makes a field required.
		"GYU001 refusal with a blank opinion": {"GYU001", map[string]any{"apply_no": "SQX1", "aac002": "1", "aac003": "张三", "audit_result": "2", "audit_opinion": "\u3000 ", "auditor": "李四", "audit_time": "2025-04-01 09:30:00"}, []string{"$.audit_opinion:required"}},
		"GYU007 blank new institution":        {"GYU007", map[string]any{"filing_no": "BA1", "change_type": "2", "akb020": "\u00a0", "change_reason": "转院", "aae011": "王五", "aae036": "2025-04-01 09:30:00"}, []string{"$.akb020:required"}},
		"GYU008 blank fail_reason":            {"GYU008", map[string]any{"download_code": "GYD001", "batch_no": "B1", "record_count": 1, "records": []any{map[string]any{"record_id": "r1", "result_flag": "0", "fail_reason": " \u200b"}}}, []string{"$.records[0].fail_reason:required"}},
		"GYR005 blank batch":                  {"GYR005", map[string]any{"download_code": "GYD001", "batch_no": " ", "reason": "丢失"}, []string{"$.batch_no:required"}},
		"GYD053 unknown transaction code":     {"GYD053", map[string]any{"orig_code": "GYX999", "orig_msg_id": "35020020250401093000000001"}, []string{"$.orig_code:enum"}},
		"enum and type":                       {"GYD051", map[string]any{"aac002": 123, "aac003": "张三", "aac043": "77", "akb020": "H1", "visit_date": "2025/04/01"}, []string{"$.aac002:type", "$.aac043:enum", "$.visit_date:format"}},
		"unknown field":                       {"GYU000", map[string]any{"echo_txt": "x"}, []string{"$.echo_txt:unknown"}},
		"not an object":                       {"GYU000", []any{1, 2}, []string{"$:type"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			id := "inv-" + strings.ReplaceAll(name, " ", "-")
			r := e.handle(id, tc.code, tc.payload, false)
			if r.Status != sdk.StatusInvalid {
				t.Fatalf("status %s, want invalid: %s", r.Status, r.Diagnostics)
			}
			got := fields(r)
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing error %s; got %v", w, got)
				}
			}
			for _, d := range r.Diagnostics {
				if d.Message() == "" {
					t.Errorf("error %s without a message", d.Field)
				}
			}
		})
	}
	if n := len(e.sim.Received("")); n != 0 {
		t.Fatalf("the simulator received %d requests for invalid messages", n)
	}
	if n := len(e.host.Exchanges()); n != 0 {
		t.Fatalf("%d exchanges journaled for invalid messages", n)
	}
}

// TestFilingApplications: GYD001 downloads applications with their
// attachments; GYU001 audits only downloaded, not yet audited ones.
func TestFilingApplications(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddInstitution(wisim.SampleInstitution("H35020300123", "厦门市第一示例医院", "1", "350200"))
		for i := 1; i <= 3; i++ {
			s.AddApplication(wisim.SampleApplication("APP", i, "350200"), wisim.SampleAttachment(fmt.Sprintf("FJAPP%d", i)))
		}
		s.AddApplication(wisim.SampleApplication("APP", 9, "440300")) // treated elsewhere: not ours
	}))
	r := e.runJob(JobFilingApplications)
	if r.Diagnostics.HasError() || r.Processed != 3 {
		t.Fatalf("GYD001 job: %s, processed %d", r.Diagnostics, r.Processed)
	}
	evs := e.events("workinjury.filing_application.downloaded")
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3", len(evs))
	}
	if !strings.Contains(string(evs[0].Payload), `"file_content"`) || !strings.Contains(string(evs[0].Payload), `"sha256"`) {
		t.Fatalf("event without its attachment: %s", evs[0].Payload)
	}
	if b := e.sim.Batches("GYD001"); len(b) != 1 || b[0].Feedbacks != 1 || b[0].Records != 3 {
		t.Fatalf("batches %+v: want one acknowledged batch of 3", b)
	}
	audit := func(no, result, opinion string) map[string]any {
		// The applicant of application SQAPP0000000i is the sample's person i.
		app := wisim.SampleApplication("APP", int(no[len(no)-1]-'0'), "350200")
		m := map[string]any{"apply_no": no, "aac002": app["aac002"], "aac003": app["aac003"], "audit_result": result,
			"auditor": "李四", "audit_time": "2025-04-01 09:30:00", "aae030": "2025-04-01", "aae031": "2026-12-31"}
		if opinion != "" {
			m["audit_opinion"] = opinion
		}
		return m
	}
	out := e.mustOK(e.send("GYU001", audit("SQAPP00000001", "1", "同意")))
	if out["filing_no"] == "" {
		t.Fatalf("no filing_no: %v", out)
	}
	if r := e.send("GYU001", audit("SQAPP00000001", "1", "同意")); r.Status != sdk.StatusInvalid || !hasField(r, "$.apply_no", "state") {
		t.Fatalf("second audit: %s %v", r.Status, fields(r))
	}
	if r := e.send("GYU001", audit("SQAPP00000009", "1", "同意")); r.Status != sdk.StatusInvalid || !hasField(r, "$.apply_no", "precondition") {
		t.Fatalf("audit of an application not downloaded: %s %v", r.Status, fields(r))
	}
	if r := e.send("GYU001", audit("SQAPP00000002", "2", "")); r.Status != sdk.StatusInvalid || !hasField(r, "$.audit_opinion", "required") {
		t.Fatalf("refusal without opinion: %s %v", r.Status, fields(r))
	}
	e.mustOK(e.send("GYU001", audit("SQAPP00000002", "2", "材料不全")))
	if n := e.sim.Accepted("GYU001", "SQAPP00000001") + e.sim.Accepted("GYU001", "SQAPP00000002"); n != 2 {
		t.Fatalf("simulator accepted %d audits, want 2", n)
	}
}

// TestLocalFilingRules: GYU002 then GYU006; one valid filing per person
// per institution type; GYU007 changes; a terminated filing never becomes
// valid again.
func TestLocalFilingRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddInstitution(wisim.SampleInstitution("H44030000001", "深圳市示例医院", "1", "440300"))
		s.AddInstitution(wisim.SampleInstitution("K44030000002", "深圳市示例康复医院", "2", "440300"))
		s.AddInstitution(wisim.SampleInstitution("H31010000003", "上海市示例医院", "1", "310100"))
		// A valid filing the national system knows and this site does not.
		f := wisim.SampleFiling("NAT", 1, "440300")
		f["aac002"] = "35020319900101007" + "7"
		f["akb020"] = "H44030000001"
		s.AddFiling(f)
		// A terminated filing this site never saw.
		dead := wisim.SampleFiling("NAT", 2, "440300")
		dead["filing_status"] = "4"
		s.AddFiling(dead)
	}))
	ids := e.uploadAttachments(2)
	out := e.mustOK(e.handle("gyu006-first", "GYU006", localFiling(1, ids...), false))
	filingNo := out["filing_no"].(string)
	// The host lost the outcome and delivers the message again: the stored
	// outcome, not a rule violation against the filing it created itself.
	again := e.mustOK(e.handle("gyu006-first", "GYU006", localFiling(1, ids...), true))
	if again["filing_no"] != filingNo {
		t.Fatalf("redelivery answered %v, want filing %s", again, filingNo)
	}
	if n := e.sim.Accepted("GYU006", filingNo); n != 1 {
		t.Fatalf("simulator ledger has %d GYU006 for %s", n, filingNo)
	}
	// The same person, same institution type – known here: an institution
	// not known here may be of another type, and is left to the national
	// system (TestUnknownInstitutionTypeIsNotGuessed) – refused before
	// sending.
	e.mustOK(e.send("GYU009", map[string]any{"akb020": "H44030000001", "akb021": "深圳市示例医院", "institution_type": "1", "aab299": "440300", "aae030": "2024-01-01", "valid_flag": "1"}))
	if r := e.send("GYU006", localFiling(1, ids...)); r.Status != sdk.StatusInvalid || !hasField(r, "$.aac002", "state") {
		t.Fatalf("second filing of the same type: %s %v", r.Status, fields(r))
	}
	// Another institution type (rehabilitation) is allowed.
	rehab := localFiling(1, ids...)
	rehab["akb020"], rehab["filing_type"] = "K44030000002", "1"
	e.runJob(JobFilings) // nothing to download; keeps the run quiet
	if r := e.send("GYU009", map[string]any{"akb020": "K44030000002", "akb021": "深圳市示例康复医院", "institution_type": "2", "aab299": "440300", "aae030": "2024-01-01", "valid_flag": "1"}); r.Status != sdk.StatusOK {
		t.Fatalf("GYU009: %s %s", r.Status, r.Diagnostics)
	}
	e.mustOK(e.send("GYU006", rehab))
	// The national system knows a filing this site does not: rejected there.
	r := e.send("GYU006", localFiling(7, ids...))
	if r.Status != sdk.StatusRejected || r.External == nil || r.External.Code != "E3001" {
		t.Fatalf("filing the national system refuses: %s %+v", r.Status, r.External)
	}
	change := func(ct string, kv ...string) map[string]any {
		m := map[string]any{"filing_no": filingNo, "change_type": ct, "change_reason": "测试", "aae011": "王五", "aae036": "2025-04-01 09:30:00"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	e.mustOK(e.send("GYU007", change("3", "aab299", "310100", "akb020", "H31010000003", "akb021", "上海市示例医院")))
	e.mustOK(e.send("GYU007", change("1", "aae031", "2099-06-30")))
	e.mustOK(e.send("GYU007", change("5")))
	if st, _ := e.sim.FilingStatus(filingNo); st != "4" {
		t.Fatalf("national status after termination = %s, want 4", st)
	}
	for _, ct := range []string{"1", "2", "3", "5"} {
		r := e.send("GYU007", change(ct, "aae031", "2099-12-31", "akb020", "H44030000001", "aab299", "440300"))
		if r.Status != sdk.StatusInvalid || !hasField(r, "$.change_type", "state") {
			t.Fatalf("change %s of a terminated filing: %s %v", ct, r.Status, fields(r))
		}
	}
	e.mustOK(e.send("GYU007", change("4", "aae005", "13911112222")))
	// With the filing terminated the person may file again.
	e.mustOK(e.send("GYU006", localFiling(1, ids...)))
	// The national system enforces the invalid-to-valid rule too, for
	// filings this site never saw.
	r = e.send("GYU007", map[string]any{"filing_no": "BANAT00000002", "change_type": "1", "aae031": "2099-12-31", "change_reason": "测试", "aae011": "王五", "aae036": "2025-04-01 09:30:00"})
	if r.Status != sdk.StatusRejected || r.External.Code != "E3005" {
		t.Fatalf("extension of a filing terminated nationally: %s %+v", r.Status, r.External)
	}
	if errs := e.sim.OutputErrors(); len(errs) > 0 {
		t.Fatalf("simulator answers broke the schema: %v", errs)
	}
}

// TestQueriesAndCards covers GYD051, GYD052, GYD055, GYU010 and GYD009.
func TestQueriesAndCards(t *testing.T) {
	t.Parallel()
	card := wisim.DemoCard()
	e := newEnv(t, withSeed(func(s *wisim.Server) { s.Seed(0, 2) }))
	out := e.mustOK(e.send("GYD051", map[string]any{"aac002": "440302198001010011", "aac003": "测试备案人1", "akb020": "H35020300123", "visit_date": "2025-05-01"}))
	if out["filing_valid"] != "1" || out["filing_no"] != "BADEMO00000001" {
		t.Fatalf("GYD051 = %v", out)
	}
	out = e.mustOK(e.send("GYD051", map[string]any{"aac002": "440302198001010011", "aac003": "测试备案人1", "akb020": "H35020300123", "visit_date": "2030-05-01"}))
	if out["filing_valid"] != "0" {
		t.Fatalf("GYD051 after the filing ended = %v", out)
	}
	out = e.mustOK(e.send("GYD052", map[string]any{"aaz500": card.AAZ500, "card_id": card.CardID, "aab301": card.AAB301, "aac002": card.AAC002, "aac003": card.AAC003, "akb020": "H35020300123", "aae036": "2025-04-01 09:30:00"}))
	if out["auth_result"] != "1" {
		t.Fatalf("GYD052 = %v", out)
	}
	out = e.mustOK(e.send("GYD052", map[string]any{"aaz500": card.AAZ500, "card_id": card.CardID, "aab301": card.AAB301, "aac002": card.AAC002, "aac003": "别人", "akb020": "H35020300123", "aae036": "2025-04-01 09:30:00"}))
	if out["auth_result"] != "0" {
		t.Fatalf("GYD052 with another name = %v", out)
	}
	random := "0123456789ABCDEF"
	out = e.mustOK(e.send("GYD055", map[string]any{"aaz500": card.AAZ500, "card_id": card.CardID, "aab301": card.AAB301, "random_hex": random,
		"internal_auth_data": wisim.InternalAuthData(card.Secret, random), "akb020": "H35020300123"}))
	if out["auth_result"] != "1" || out["external_auth_data"] != wisim.ExternalAuthData(card.Secret, random) {
		t.Fatalf("GYD055 = %v", out)
	}
	out = e.mustOK(e.send("GYU010", map[string]any{"qr_code": "QR-DEMO-0001", "akb020": "H35020300123", "aae036": "2025-04-01 09:30:00"}))
	if out["aac002"] != card.AAC002 || out["essc_no"] == "" {
		t.Fatalf("GYU010 = %v", out)
	}
	if r := e.send("GYU010", map[string]any{"qr_code": "QR-UNKNOWN", "akb020": "H35020300123", "aae036": "2025-04-01 09:30:00"}); r.Status != sdk.StatusRejected || r.External.Code != "E5001" {
		t.Fatalf("unknown QR: %s %+v", r.Status, r.External)
	}
	// GYD009 with filters: only rehabilitation institutions.
	out = e.mustOK(e.send("GYD009", map[string]any{"aab299": "350200", "institution_type": "2"}))
	recs, _ := out["records"].([]any)
	if len(recs) != 1 || recs[0].(map[string]any)["akb020"] != "K35020300456" {
		t.Fatalf("GYD009 filtered = %v", out)
	}
	if n := len(e.events("workinjury.institution.downloaded")); n != 1 {
		t.Fatalf("%d institution events, want 1", n)
	}
}

// TestLocalFilingAttachmentType: GYU006 refers to its attachments by the
// id GYU002 gave them and says what each is; a type other than the one
// the file was uploaded as is refused before anything is sent.
func TestLocalFilingAttachmentType(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddInstitution(wisim.SampleInstitution("H44030000001", "深圳市示例医院", "1", "440300"))
	}))
	ids := e.uploadAttachments(2) // both uploaded as 01 (工伤认定决定书)
	for _, tc := range []struct {
		name   string
		person int // a person of their own: one valid filing per person
		types  []string
		ok     bool
	}{
		{"types as uploaded", 3, []string{"01", "01"}, true},
		{"second declared as another type", 4, []string{"01", "07"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := localFiling(tc.person, ids...)
			for i, x := range f["attachments"].([]any) {
				x.(map[string]any)["attachment_type"] = tc.types[i]
			}
			before := len(e.sim.Received("GYU006"))
			r := e.send("GYU006", f)
			if tc.ok {
				e.mustOK(r)
				return
			}
			if r.Status != sdk.StatusInvalid || !hasField(r, "$.attachments[1].attachment_type", "consistency") {
				t.Fatalf("status %s %v, want invalid at $.attachments[1].attachment_type", r.Status, fields(r))
			}
			if n := len(e.sim.Received("GYU006")); n != before {
				t.Fatalf("GYU006 reached the simulator although invalid")
			}
		})
	}
}

// TestAttachmentTypeByFileName: the type GYU002 remembers for an
// attachment is that of the input the answer's entry names by file name,
// whatever order the answer lists them in (GYU006 checks it).
func TestAttachmentTypeByFileName(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, err := e.impl.site(testSite)
	if err != nil {
		t.Fatal(err)
	}
	h := hostFor(e.host, testSite)
	doc := map[string]any{"biz_type": "1", "biz_no": "LOCAL0001", "attachments": []any{
		map[string]any{"attachment_type": "01", "file_name": "认定书.pdf"},
		map[string]any{"attachment_type": "07", "file_name": "方案.pdf"},
	}}
	// The answer lists the files the other way round.
	out := json.RawMessage(`{"attachments":[{"file_name":"方案.pdf","attachment_id":"FJ2"},{"file_name":"认定书.pdf","attachment_id":"FJ1"}]}`)
	if err := e.impl.apply(t.Context(), h, c, "m-gyu002", "GYU002", doc, out); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"FJ1": "01", "FJ2": "07"} {
		var st attachmentState
		if _, err := getJSON(t.Context(), h, "att/"+id, &st); err != nil || st.Type != want {
			t.Errorf("attachment %s remembered as type %q (%v), want %s", id, st.Type, err, want)
		}
	}
}

// TestLocalFilingRevokedAttachment: an attachment revoked with its
// settlement (GYR003) cannot back a local filing.
func TestLocalFilingRevokedAttachment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddInstitution(wisim.SampleInstitution("H44030000001", "深圳市示例医院", "1", "440300"))
	}))
	ids := e.uploadAttachments(1)
	h := hostFor(e.host, testSite)
	if err := update(t.Context(), h, "att/"+ids[0], func(a *attachmentState, _ bool) error { a.Revoked = true; return nil }); err != nil {
		t.Fatal(err)
	}
	r := e.send("GYU006", localFiling(5, ids...))
	if r.Status != sdk.StatusInvalid || !hasField(r, "$.attachments[0].attachment_id", "state") {
		t.Fatalf("status %s %v, want invalid at $.attachments[0].attachment_id", r.Status, fields(r))
	}
	if n := len(e.sim.Received("GYU006")); n != 0 {
		t.Fatalf("GYU006 reached the simulator although invalid")
	}
}
