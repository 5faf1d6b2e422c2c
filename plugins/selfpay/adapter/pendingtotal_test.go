package adapter

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestImportPendingTotals checks that a pending list's 医疗总费用 is held
// against the total medgate uploaded for the visit (ZY1: two lines,
// 22.00) and, with -verify, the one the platform holds: a row reported
// uploaded whose total the list gives otherwise says so and what to do,
// its status unchanged; totals equal as decimals, however the list
// writes them, say nothing.
func TestImportPendingTotals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	wantStatus(t, e.must(OpUpload, "pt-up", upload("ZY1", 2), 1), sdk.StatusOK)
	tests := map[string]struct {
		listed   string
		verify   bool
		differs  bool
		platform bool // the reason names the platform's total
	}{
		"same":                      {listed: "22.00"},
		"same without decimals":     {listed: "22"},
		"same with a currency sign": {listed: "￥22.0"},
		"same with a separator":     {listed: "\"0,022.00\""},
		"no total in the list":      {listed: ""},
		"other":                     {listed: "33.00", differs: true},
		"other by a fen":            {listed: "22.01", differs: true},
		"other, verified":           {listed: "33.00", verify: true, differs: true, platform: true},
		"same, verified":            {listed: "22.00", verify: true},
		"not a number":              {listed: "待定"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			list := "医药机构就诊ID,身份证号,医疗总费用\nZY1," + testCert + "," + tc.listed + "\n"
			r := e.must(OpImportPending, "pt-"+name, map[string]any{"filename": "p.csv", "content": base64.StdEncoding.EncodeToString([]byte(list)), "verify": tc.verify}, 1)
			wantStatus(t, r, sdk.StatusOK)
			got := payloadOf(t, r)["patients"].([]any)[0].(map[string]any)
			reason := fmt.Sprint(got["reason"])
			if got["status"] != statusUploaded {
				t.Errorf("status %v, want uploaded (the upload did complete): %v", got["status"], got)
			}
			if tc.differs != strings.Contains(reason, "22.00") || tc.differs && !strings.Contains(reason, "reupload") {
				t.Errorf("reason %q: want the uploaded total 22.00 and what to do named %v", reason, tc.differs)
			}
			if tc.differs && got["uploadedSumamt"] != "22.00" || !tc.differs && got["uploadedSumamt"] != nil {
				t.Errorf("uploadedSumamt %v, want 22.00 only when the list differs", got["uploadedSumamt"])
			}
			if tc.platform != strings.Contains(reason, "4208") {
				t.Errorf("reason %q: want the platform's total named %v", reason, tc.platform)
			}
		})
	}
}
