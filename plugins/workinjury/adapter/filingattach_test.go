package adapter

import (
	"fmt"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestLocalFilingNeedsInjuryCertificate: GYU006 is uploaded after its
// files (requirements item 5: 上传前需先调用附件上传接口提交工伤认定书等资料): the
// 工伤认定决定书 (attachment_type 01) is among them, and every file was
// uploaded for a filing (biz_type 1), not for a stay or a device
// configuration. Anything else is refused before it is sent.
func TestLocalFilingNeedsInjuryCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddInstitution(wisim.SampleInstitution("H44030000001", "深圳市示例医院", "1", "440300"))
	}))
	upload := func(bizType, attType string) string {
		t.Helper()
		content := "%PDF-1.4 " + bizType + attType
		out := e.mustOK(e.send("GYU002", map[string]any{"biz_type": bizType, "biz_no": "LOCAL" + bizType + attType, "attachments": []any{map[string]any{
			"attachment_type": attType, "file_name": "f" + attType + ".pdf", "file_format": "pdf", "file_size": len(content), "file_content": b64(content)}}}))
		return out["attachments"].([]any)[0].(map[string]any)["attachment_id"].(string)
	}
	cert, residence := upload("1", "01"), upload("1", "04")
	stayCert, plan := upload("2", "01"), upload("2", "07")
	type att struct{ id, typ string }
	tests := map[string]struct {
		person int
		atts   []att
		want   string // field:rule, "" for ok
	}{
		"certificate and residence proof": {31, []att{{cert, "01"}, {residence, "04"}}, ""},
		"no injury certificate":           {32, []att{{residence, "04"}}, "$.attachments:precondition"},
		"certificate uploaded for a stay": {33, []att{{stayCert, "01"}}, "$.attachments[0].attachment_id:consistency"},
		"a stay's plan beside it":         {34, []att{{cert, "01"}, {plan, "07"}}, "$.attachments[1].attachment_id:consistency"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := localFiling(tc.person)
			var list []any
			for _, a := range tc.atts {
				list = append(list, map[string]any{"attachment_id": a.id, "attachment_type": a.typ})
			}
			f["attachments"] = list
			before := len(e.sim.Received("GYU006"))
			r := e.send("GYU006", f)
			if tc.want == "" {
				e.mustOK(r)
				return
			}
			if r.Status != sdk.StatusInvalid || !contains(fields(r), tc.want) {
				t.Fatalf("status %s %v (external %+v), want invalid with %s", r.Status, fields(r), r.External, tc.want)
			}
			for _, d := range r.Diagnostics {
				if d.Message() == "" {
					t.Errorf("error %s without a message", d.Field)
				}
			}
			if n := len(e.sim.Received("GYU006")); n != before {
				t.Fatalf("GYU006 reached the national system although invalid (%s)", fmt.Sprint(fields(r)))
			}
		})
	}
}
