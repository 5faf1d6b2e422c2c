package adapter

import (
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestAuditKeepsApplicationValidity: a filing approved with GYU001 is
// valid for the period of its application (GYD001's aae030 – aae031)
// unless the audit gives another; the national system records it so. An
// approval that gives none must not be recorded here as open-ended: once
// the application's period is over, the person may file again.
func TestAuditKeepsApplicationValidity(t *testing.T) {
	t.Parallel()
	app := wisim.SampleApplication("VAL", 1, "350200")
	app["aae030"], app["aae031"] = "2025-04-01", "2025-06-30" // over
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddInstitution(wisim.SampleInstitution("H35020300123", "厦门市第一示例医院", "1", "350200"))
		s.AddApplication(app)
	}))
	if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() || r.Processed != 1 {
		t.Fatalf("GYD001 job: %s, processed %d", r.Diagnostics, r.Processed)
	}
	e.mustOK(e.send("GYU001", map[string]any{"apply_no": app["apply_no"], "aac002": app["aac002"], "aac003": app["aac003"], "audit_result": "1",
		"audit_opinion": "同意", "auditor": "李四", "audit_time": "2025-04-01 09:30:00"}))
	ids := e.uploadAttachments(1)
	f := localFiling(71, ids...)
	f["aac002"], f["aac044"], f["aac003"] = app["aac002"], app["aac044"], app["aac003"]
	f["akb020"], f["akb021"], f["aab299"] = "H35020300123", "厦门市第一示例医院", "350200"
	r := e.send("GYU006", f)
	if r.Status != sdk.StatusOK {
		t.Fatalf("GYU006 after the approved filing ended: status %s %v (external %+v), want ok", r.Status, fields(r), r.External)
	}
}
