package adapter

import (
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestChangeKeepsOneValidFiling: a filing change (GYU007) never leaves a
// person with two valid filings of one institution type (requirements
// item 5: 同一人员同一机构类型仅保留一条有效备案): moving a filing to an
// institution of a type the person has a valid filing of, or extending an
// ended filing while another of its type is valid, is refused before it
// is sent; the same changes without the other valid filing go out.
func TestChangeKeepsOneValidFiling(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddInstitution(wisim.SampleInstitution("H44030000001", "深圳市示例医院", "1", "440300"))
		s.AddInstitution(wisim.SampleInstitution("H44030000003", "深圳市示例第二医院", "1", "440300"))
		s.AddInstitution(wisim.SampleInstitution("K44030000002", "深圳市示例康复医院", "2", "440300"))
	}))
	for _, inst := range []struct{ akb020, name, typ string }{
		{"H44030000001", "深圳市示例医院", "1"}, {"H44030000003", "深圳市示例第二医院", "1"}, {"K44030000002", "深圳市示例康复医院", "2"},
	} {
		e.mustOK(e.send("GYU009", map[string]any{"akb020": inst.akb020, "akb021": inst.name, "institution_type": inst.typ, "aab299": "440300", "aae030": "2024-01-01", "valid_flag": "1"}))
	}
	ids := e.uploadAttachments(1)
	file := func(person int, akb020, until string) string {
		t.Helper()
		f := localFiling(person, ids...)
		f["akb020"], f["aae031"] = akb020, until
		return e.mustOK(e.send("GYU006", f))["filing_no"].(string)
	}
	change := func(no, ct string, kv ...string) map[string]any {
		m := map[string]any{"filing_no": no, "change_type": ct, "change_reason": "测试", "aae011": "王五", "aae036": "2025-04-01 09:30:00"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	// Person 41: a valid medical filing and a valid rehabilitation filing.
	file(41, "H44030000001", "2099-12-31")
	rehab41 := file(41, "K44030000002", "2099-12-31")
	// Person 42: an ended medical filing and a valid one after it.
	ended42 := file(42, "H44030000001", "2025-05-01")
	file(42, "H44030000003", "2099-12-31")
	// Person 43: only a valid rehabilitation filing; person 44: only an ended one.
	rehab43 := file(43, "K44030000002", "2099-12-31")
	ended44 := file(44, "H44030000001", "2025-05-01")
	tests := []struct {
		name string
		in   map[string]any
		want string // field:rule, "" for ok
	}{
		{"rehabilitation filing moved to a medical institution beside a valid medical filing", change(rehab41, "2", "akb020", "H44030000003"), "$.akb020:state"},
		{"ended filing extended beside a valid one", change(ended42, "1", "aae031", "2099-12-31"), "$.aae031:state"},
		{"rehabilitation filing moved to a medical institution", change(rehab43, "2", "akb020", "H44030000003"), ""},
		{"ended filing extended", change(ended44, "1", "aae031", "2099-12-31"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.sim.Received("GYU007"))
			r := e.send("GYU007", tc.in)
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
