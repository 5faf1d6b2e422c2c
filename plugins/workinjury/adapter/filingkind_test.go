package adapter

import (
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestLocalFilingKindOfInstitution: an assistive-device filing
// (filing_type 3) is made at an assistive-device institution, and a
// treatment filing at a medical or rehabilitation one: GYU303 needs both
// the device filing and the device institution, GYU101 refuses a device
// institution, so a GYU006 mixing them gives a filing nothing can be done
// under. It is refused before it is sent when the institution is known
// here; a filing naming no institution goes out.
func TestLocalFilingKindOfInstitution(t *testing.T) {
	t.Parallel()
	insts := []struct{ akb020, name, typ string }{
		{"H44030000001", "深圳市示例医院", "1"}, {"K44030000002", "深圳市示例康复医院", "2"}, {"F44030000003", "深圳市示例辅具中心", "3"},
	}
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		for _, i := range insts {
			s.AddInstitution(wisim.SampleInstitution(i.akb020, i.name, i.typ, "440300"))
		}
	}))
	for _, i := range insts {
		e.mustOK(e.send("GYU009", map[string]any{"akb020": i.akb020, "akb021": i.name, "institution_type": i.typ, "aab299": "440300", "aae030": "2024-01-01", "valid_flag": "1"}))
	}
	ids := e.uploadAttachments(1)
	tests := []struct {
		name, filingType, akb020 string
		want                     string // field:rule, "" for ok
	}{
		{"device filing at a device institution", "3", "F44030000003", ""},
		{"device filing at a hospital", "3", "H44030000001", "$.akb020:consistency"},
		{"device filing at a rehabilitation institution", "3", "K44030000002", "$.akb020:consistency"},
		{"treatment filing at a device institution", "1", "F44030000003", "$.akb020:consistency"},
		{"transfer filing at a rehabilitation institution", "2", "K44030000002", ""},
		{"device filing without an institution", "3", "", ""},
	}
	for n, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := localFiling(61+n, ids...)
			f["filing_type"], f["akb020"] = tc.filingType, tc.akb020
			if tc.akb020 == "" {
				delete(f, "akb020")
				delete(f, "akb021")
			}
			before := len(e.sim.Received("GYU006"))
			r := e.send("GYU006", f)
			if tc.want == "" {
				if r.Status != sdk.StatusOK {
					t.Fatalf("status %s %v (external %+v), want ok", r.Status, fields(r), r.External)
				}
				return
			}
			if r.Status != sdk.StatusInvalid || !contains(fields(r), tc.want) {
				t.Fatalf("status %s %v (external %+v), want invalid with %s", r.Status, fields(r), r.External, tc.want)
			}
			if n := len(e.sim.Received("GYU006")); n != before {
				t.Fatalf("GYU006 reached the national system although invalid")
			}
		})
	}
}
