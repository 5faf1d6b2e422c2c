package adapter

import (
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestAuditKeepsOneValidFiling: a person keeps one valid filing per
// institution type (requirements item 5: 同一人员同一机构类型仅保留一条有效备案),
// whichever channel it came through. Approving (GYU001) a second
// application of a person whose valid filing of that type this site knows
// is refused before it is sent; refusing it, or approving one for another
// institution type, goes out.
func TestAuditKeepsOneValidFiling(t *testing.T) {
	t.Parallel()
	first := wisim.SampleApplication("DUP", 1, "350200") // filing_type 2 at H35020300123 (type 1)
	second := func(i int, kv ...string) map[string]any {
		a := wisim.SampleApplication("DUP", i, "350200")
		a["aac002"], a["aac044"], a["aac003"] = first["aac002"], first["aac044"], first["aac003"]
		for j := 0; j+1 < len(kv); j += 2 {
			a[kv[j]] = kv[j+1]
		}
		return a
	}
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddInstitution(wisim.SampleInstitution("H35020300123", "厦门市第一示例医院", "1", "350200"))
		s.AddInstitution(wisim.SampleInstitution("F35020300789", "厦门市示例辅具中心", "3", "350200"))
		s.AddApplication(first)
		s.AddApplication(second(2))
		s.AddApplication(second(3))
		s.AddApplication(second(4, "filing_type", "3", "akb020", "F35020300789", "akb021", "厦门市示例辅具中心"))
	}))
	// The applications' institution is known here: the type of one not
	// known here is not guessed (TestUnknownInstitutionTypeIsNotGuessedOnApproval).
	e.mustOK(e.send("GYU009", map[string]any{"akb020": "H35020300123", "akb021": "厦门市第一示例医院", "institution_type": "1", "aab299": "350200", "aae030": "2024-01-01", "valid_flag": "1"}))
	if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() || r.Processed != 4 {
		t.Fatalf("GYD001 job: %s, processed %d", r.Diagnostics, r.Processed)
	}
	audit := func(no, result string) map[string]any {
		return map[string]any{"apply_no": no, "aac002": first["aac002"], "aac003": first["aac003"], "audit_result": result, "audit_opinion": "意见",
			"auditor": "李四", "audit_time": "2025-04-01 09:30:00", "aae030": "2025-04-01", "aae031": "2099-12-31"}
	}
	e.mustOK(e.send("GYU001", audit("SQDUP00000001", "1")))
	tests := []struct {
		name string
		in   map[string]any
		want string // field:rule, "" for ok
	}{
		{"a second filing of the same type approved", audit("SQDUP00000002", "1"), "$.aac002:state"},
		{"a second filing of the same type refused", audit("SQDUP00000003", "2"), ""},
		{"a device filing approved", audit("SQDUP00000004", "1"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.sim.Received("GYU001"))
			r := e.send("GYU001", tc.in)
			if tc.want == "" {
				if r.Status != sdk.StatusOK {
					t.Fatalf("status %s %v (external %+v), want ok", r.Status, fields(r), r.External)
				}
				return
			}
			if r.Status != sdk.StatusInvalid || !contains(fields(r), tc.want) {
				t.Fatalf("status %s %v (external %+v), want invalid with %s", r.Status, fields(r), r.External, tc.want)
			}
			if n := len(e.sim.Received("GYU001")); n != before {
				t.Fatalf("GYU001 reached the national system although invalid")
			}
		})
	}
}
