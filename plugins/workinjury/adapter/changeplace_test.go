package adapter

import (
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestChangeKeepsInstitutionInPlace: a filing's institution is in the
// filing's place of treatment (aab299), or every admission there is
// refused. A GYU007 that changes the place (change_type 3) with a new
// institution known here to be elsewhere, or changes the institution
// (change_type 2) to one known here outside the filing's place, is refused
// before it is sent: change the place with its institution together.
func TestChangeKeepsInstitutionInPlace(t *testing.T) {
	t.Parallel()
	insts := []struct{ akb020, name, region string }{
		{"H44030000001", "深圳市示例医院", "440300"}, {"H44030000003", "深圳市示例第二医院", "440300"}, {"H31010000003", "上海市示例医院", "310100"},
	}
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		for _, i := range insts {
			s.AddInstitution(wisim.SampleInstitution(i.akb020, i.name, "1", i.region))
		}
	}))
	for _, i := range insts {
		e.mustOK(e.send("GYU009", map[string]any{"akb020": i.akb020, "akb021": i.name, "institution_type": "1", "aab299": i.region, "aae030": "2024-01-01", "valid_flag": "1"}))
	}
	ids := e.uploadAttachments(1)
	tests := []struct {
		name string
		kv   []string
		want string // field:rule, "" for ok
	}{
		{"place changed with an institution there", []string{"change_type", "3", "aab299", "310100", "akb020", "H31010000003"}, ""},
		{"place changed with an institution elsewhere", []string{"change_type", "3", "aab299", "310100", "akb020", "H44030000003"}, "$.akb020:consistency"},
		{"institution changed within the place", []string{"change_type", "2", "akb020", "H44030000003"}, ""},
		{"institution changed to another place", []string{"change_type", "2", "akb020", "H31010000003"}, "$.akb020:consistency"},
	}
	for n, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			no := e.mustOK(e.send("GYU006", localFiling(51+n, ids...)))["filing_no"].(string) // at H44030000001, 440300
			in := map[string]any{"filing_no": no, "change_reason": "测试", "aae011": "王五", "aae036": "2025-04-01 09:30:00"}
			for i := 0; i+1 < len(tc.kv); i += 2 {
				in[tc.kv[i]] = tc.kv[i+1]
			}
			before := len(e.sim.Received("GYU007"))
			r := e.send("GYU007", in)
			if tc.want == "" {
				if r.Status != sdk.StatusOK {
					t.Fatalf("status %s %v (external %+v), want ok", r.Status, fields(r), r.External)
				}
				return
			}
			if r.Status != sdk.StatusInvalid || !contains(fields(r), tc.want) {
				t.Fatalf("status %s %v (external %+v), want invalid with %s", r.Status, fields(r), r.External, tc.want)
			}
			if n := len(e.sim.Received("GYU007")); n != before {
				t.Fatalf("GYU007 reached the national system although invalid")
			}
		})
	}
}
