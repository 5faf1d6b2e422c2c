package adapter

import (
	"fmt"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestAuditOfTheApplicant: GYU001 uploads the audit result of one
// application downloaded with GYD001, so it names that application's
// applicant; a result under another person's number is refused before it
// is sent (the approved filing would otherwise be recorded here as that
// person's, and a later admission of theirs would skip its GYD051).
func TestAuditOfTheApplicant(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddInstitution(wisim.SampleInstitution("H35020300123", "厦门市第一示例医院", "1", "350200"))
		for i := 1; i <= 4; i++ {
			s.AddApplication(wisim.SampleApplication("AUP", i, "350200"), wisim.SampleAttachment(fmt.Sprintf("FJAUP%d", i)))
		}
	}))
	if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() || r.Processed != 4 {
		t.Fatalf("GYD001 job: %s, processed %d", r.Diagnostics, r.Processed)
	}
	person := func(i int) (string, string) {
		a := wisim.SampleApplication("AUP", i, "350200")
		return a["aac002"].(string), a["aac003"].(string)
	}
	audit := func(apply string, who int, result string) map[string]any {
		aac002, aac003 := person(who)
		return map[string]any{"apply_no": apply, "aac002": aac002, "aac003": aac003, "audit_result": result, "audit_opinion": "意见",
			"auditor": "李四", "audit_time": "2025-04-01 09:30:00", "aae030": "2025-04-01", "aae031": "2026-12-31"}
	}
	tests := map[string]struct {
		in   map[string]any
		want string // field:rule, "" for ok
	}{
		"the applicant approved":  {audit("SQAUP00000001", 1, "1"), ""},
		"another person approved": {audit("SQAUP00000002", 1, "1"), "$.aac002:consistency"},
		"another person refused":  {audit("SQAUP00000003", 2, "2"), "$.aac002:consistency"},
		"the applicant refused":   {audit("SQAUP00000003", 3, "2"), ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := len(e.sim.Received("GYU001"))
			r := e.send("GYU001", tc.in)
			if tc.want == "" {
				e.mustOK(r)
				return
			}
			if r.Status != sdk.StatusInvalid || !contains(fields(r), tc.want) {
				t.Fatalf("status %s %v (external %+v), want invalid with %s", r.Status, fields(r), r.External, tc.want)
			}
			for _, d := range r.Diagnostics {
				if contains([]string{d.Message()}, tc.in["aac002"].(string)) {
					t.Errorf("the error repeats the social security number: %s", d.Message())
				}
			}
			if n := len(e.sim.Received("GYU001")); n != before {
				t.Fatalf("GYU001 reached the national system although invalid")
			}
		})
	}
}
