package adapter

import (
	"fmt"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestFilingInstitutionChecks: a filing's institution lies in its place of
// treatment (aab299) and is of the kind its filing type needs, or every
// admission or settlement under it is refused. What can be checked here
// (institutions downloaded with GYD009 or uploaded with GYU009) is checked
// before anything is sent:
//   - a GYU007 that changes the place (change_type 3) and names no new
//     institution keeps the filing's institution: one known to be outside
//     the new place is refused, saying to name the new institution;
//   - a GYU006 naming an institution known to be outside its aab299 is
//     refused;
//   - an institution not known here cannot be checked: the upload goes out
//     (the national system checks it), and the reply says the check was
//     not made, naming the institution and the GYD009 download.
func TestFilingInstitutionChecks(t *testing.T) {
	t.Parallel()
	insts := []struct{ akb020, name, region string }{
		{"H44030000001", "深圳市示例医院", "440300"}, {"H31010000003", "上海市示例医院", "310100"},
	}
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		for _, i := range insts {
			s.AddInstitution(wisim.SampleInstitution(i.akb020, i.name, "1", i.region))
		}
	}))
	for _, i := range insts {
		e.mustOK(e.send("GYU009", map[string]any{"akb020": i.akb020, "akb021": i.name, "institution_type": "1", "aab299": i.region, "aae030": "2024-01-01", "valid_flag": "1"}))
	}
	const unknown = "H44030099999" // known neither here nor to the simulator
	ids := e.uploadAttachments(1)
	tests := []struct {
		name   string
		filing []string // GYU006 fields over localFiling (at H44030000001, 440300)
		change []string // GYU007 fields; none: the GYU006 is the subject
		want   string   // field:rule of an error, "" for ok
		warn   string   // an institution a warning must name as not checked
	}{
		{name: "place changed, no institution named, the old one elsewhere",
			change: []string{"change_type", "3", "aab299", "310100"}, want: "$.akb020:required"},
		{name: "place changed, no institution named, the old one not known here",
			filing: []string{"akb020", unknown}, change: []string{"change_type", "3", "aab299", "310100"}, warn: unknown},
		{name: "place changed to an institution not known here",
			change: []string{"change_type", "3", "aab299", "440300", "akb020", unknown}, warn: unknown},
		{name: "filing at an institution outside its place",
			filing: []string{"akb020", "H31010000003"}, want: "$.akb020:consistency"},
		{name: "filing at an institution not known here",
			filing: []string{"akb020", unknown}, warn: unknown},
		{name: "filing at a known institution in its place",
			filing: []string{}},
	}
	for n, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := localFiling(61+n, ids...)
			for i := 0; i+1 < len(tc.filing); i += 2 {
				f[tc.filing[i]] = tc.filing[i+1]
			}
			code, in := "GYU006", f
			if tc.change != nil {
				no := e.mustOK(e.send("GYU006", f))["filing_no"].(string)
				code, in = "GYU007", map[string]any{"filing_no": no, "change_reason": "测试", "aae011": "王五", "aae036": "2025-04-01 09:30:00"}
				for i := 0; i+1 < len(tc.change); i += 2 {
					in[tc.change[i]] = tc.change[i+1]
				}
			}
			before := len(e.sim.Received(code))
			r := e.send(code, in)
			if tc.want != "" {
				if r.Status != sdk.StatusInvalid || !contains(fields(r), tc.want) {
					t.Fatalf("status %s %v (external %+v), want invalid with %s", r.Status, fields(r), r.External, tc.want)
				}
				if n := len(e.sim.Received(code)); n != before {
					t.Fatalf("%s reached the national system although invalid", code)
				}
				if tc.change != nil && !strings.Contains(r.Diagnostics.String(), "akb020") {
					t.Fatalf("the refusal does not say to name the new institution (akb020): %s", r.Diagnostics)
				}
				return
			}
			if r.Status != sdk.StatusOK {
				t.Fatalf("status %s %v (external %+v), want ok", r.Status, fields(r), r.External)
			}
			var warned bool
			for _, d := range r.Diagnostics {
				if d.Severity == sdk.SeverityWarning && strings.Contains(d.Message(), tc.warn) && strings.Contains(d.Message(), "GYD009") {
					warned = true
				}
			}
			if tc.warn != "" && !warned {
				t.Fatalf("no warning that institution %s could not be checked (naming the GYD009 download): %s", tc.warn, r.Diagnostics)
			}
			if tc.warn == "" && len(r.Diagnostics) > 0 {
				t.Fatalf("diagnostics %s, want none for an institution known here", r.Diagnostics)
			}
		})
	}
}

// TestAuditInstitutionChecks: an approval (GYU001) makes a filing at the
// application's institution, or at the one the audit names: one known
// here to be outside the application's place of treatment is refused
// before it is sent; one not known here cannot be checked, and the reply
// says so, naming it and the GYD009 download.
func TestAuditInstitutionChecks(t *testing.T) {
	t.Parallel()
	const region = "350200"
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddInstitution(wisim.SampleInstitution("H35020300123", "厦门市第一示例医院", "1", region))
		s.AddInstitution(wisim.SampleInstitution("H35020300124", "厦门市第二示例医院", "1", region))
		s.AddInstitution(wisim.SampleInstitution("H31010000003", "上海市示例医院", "1", "310100"))
		for i := 1; i <= 3; i++ {
			s.AddApplication(wisim.SampleApplication("AIN", i, region), wisim.SampleAttachment(fmt.Sprintf("FJAIN%d", i)))
		}
	}))
	// The applications' institution (H35020300123) stays unknown here.
	for _, i := range []struct{ akb020, name, region string }{{"H35020300124", "厦门市第二示例医院", region}, {"H31010000003", "上海市示例医院", "310100"}} {
		e.mustOK(e.send("GYU009", map[string]any{"akb020": i.akb020, "akb021": i.name, "institution_type": "1", "aab299": i.region, "aae030": "2024-01-01", "valid_flag": "1"}))
	}
	if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() || r.Processed != 3 {
		t.Fatalf("GYD001 job: %s, processed %d", r.Diagnostics, r.Processed)
	}
	approve := func(i int, akb020 string) map[string]any {
		a := wisim.SampleApplication("AIN", i, region)
		in := map[string]any{"apply_no": a["apply_no"], "aac002": a["aac002"], "aac003": a["aac003"], "audit_result": "1",
			"auditor": "李四", "audit_time": "2025-04-01 09:30:00", "aae030": "2025-04-01", "aae031": "2026-12-31"}
		if akb020 != "" {
			in["akb020"] = akb020
		}
		return in
	}
	tests := []struct {
		name string
		in   map[string]any
		want string // field:rule of an error, "" for ok
		warn string // the institution a warning names as not checked
	}{
		{"at an institution outside the place", approve(1, "H31010000003"), "$.akb020:consistency", ""},
		{"at the application's institution, not known here", approve(2, ""), "", "H35020300123"},
		{"at a known institution in the place", approve(3, "H35020300124"), "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.sim.Received("GYU001"))
			r := e.send("GYU001", tc.in)
			if tc.want != "" {
				if r.Status != sdk.StatusInvalid || !contains(fields(r), tc.want) {
					t.Fatalf("status %s %v (external %+v), want invalid with %s", r.Status, fields(r), r.External, tc.want)
				}
				if n := len(e.sim.Received("GYU001")); n != before {
					t.Fatalf("GYU001 reached the national system although invalid")
				}
				return
			}
			e.mustOK(r)
			var warned bool
			for _, d := range r.Diagnostics {
				if d.Severity == sdk.SeverityWarning && strings.Contains(d.Message(), tc.warn) && strings.Contains(d.Message(), "GYD009") {
					warned = true
				}
			}
			if tc.warn != "" && !warned {
				t.Fatalf("no warning that institution %s could not be checked (naming the GYD009 download): %s", tc.warn, r.Diagnostics)
			}
			if tc.warn == "" && len(r.Diagnostics) > 0 {
				t.Fatalf("diagnostics %s, want none for an institution known here", r.Diagnostics)
			}
		})
	}
}
