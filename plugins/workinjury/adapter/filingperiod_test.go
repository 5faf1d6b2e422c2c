package adapter

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestFilingPeriodNeverEndsBeforeItStarts: a message that gives one end of
// a filing's period, the other being the record's, cannot make the period
// end before it starts: an extension (GYU007 change_type 1, which keeps
// the filing's start) to an end before the start, or an approval (GYU001)
// whose aae031 is before the application's aae030 (or aae030 after its
// aae031), would leave a filing that is never valid – every admission
// under it refused – where a mistyped year was meant. Such a message is
// invalid at the date given, naming the period, and is not sent; the same
// dates on the start's day go out.
func TestFilingPeriodNeverEndsBeforeItStarts(t *testing.T) {
	t.Parallel()
	app := wisim.SampleApplication("PER", 1, "350200") // 2025-04-01 – 2026-12-31
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddInstitution(wisim.SampleInstitution("H35020300123", "厦门市第一示例医院", "1", "350200"))
		s.AddApplication(app)
	}))
	if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() || r.Processed != 1 {
		t.Fatalf("GYD001 job: %s, processed %d", r.Diagnostics, r.Processed)
	}
	ids := e.uploadAttachments(1)
	filing := e.mustOK(e.send("GYU006", localFiling(81, ids...)))["filing_no"].(string) // 2025-04-01 – 2099-12-31
	approve := func(kv ...string) map[string]any {
		m := map[string]any{"apply_no": app["apply_no"], "aac002": app["aac002"], "aac003": app["aac003"], "audit_result": "1",
			"audit_opinion": "同意", "auditor": "李四", "audit_time": "2025-04-01 09:30:00"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	extend := func(until string) map[string]any {
		return map[string]any{"filing_no": filing, "change_type": "1", "aae031": until, "change_reason": "治疗周期延长", "aae011": "王五", "aae036": "2025-04-01 09:30:00"}
	}
	tests := []struct {
		name, code string
		in         map[string]any
		want       string // field of the error, "" for ok
	}{
		{"extension to an end before the filing's start", "GYU007", extend("2025-03-01"), "$.aae031"},
		{"approval ending before the application's start", "GYU001", approve("aae031", "2025-03-31"), "$.aae031"},
		{"approval starting after the application's end", "GYU001", approve("aae030", "2027-01-01"), "$.aae030"},
		{"extension to the filing's start", "GYU007", extend("2025-04-01"), ""},
		{"approval ending on the application's start", "GYU001", approve("aae031", "2025-04-01"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.sim.Received(tc.code))
			r := e.send(tc.code, tc.in)
			if tc.want == "" {
				if r.Status != sdk.StatusOK {
					t.Fatalf("status %s %v (external %+v), want ok", r.Status, fields(r), r.External)
				}
				return
			}
			if r.Status != sdk.StatusInvalid || !hasField(r, tc.want, "consistency") {
				t.Fatalf("status %s %v (external %+v), want invalid at %s", r.Status, fields(r), r.External, tc.want)
			}
			for _, d := range r.Diagnostics {
				if d.Field == tc.want && !strings.Contains(d.Message(), "before it starts") {
					t.Errorf("message %q does not say the period would end before it starts", d.Message())
				}
			}
			if n := len(e.sim.Received(tc.code)); n != before {
				t.Fatalf("%s reached the national system although invalid", tc.code)
			}
		})
	}
}
