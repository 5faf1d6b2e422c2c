package adapter

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestImportPendingVisitOfAnotherPerson: a row whose visit id medgate
// uploaded for another person (another ID number: the HIS sent the visit
// with the wrong patient, or the list names another visit) is not reported
// uploaded, since the list's patient was not; with verify, not as absent on
// the platform with "upload it again" either, which would send the same
// wrong patient. The report names what medgate uploaded, masked. A row with
// the uploaded person's number, or one whose number the list masks, is
// reported as before.
func TestImportPendingVisitOfAnotherPerson(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	wantStatus(t, e.must(OpUpload, "pp-up-1", upload("ZY1", 2), 1), sdk.StatusOK) // 张三, 350203198001011234
	list := "医药机构就诊ID,姓名,身份证号,入院时间,医疗总费用\n" +
		"ZY1,李四,350203199001011111,2025-03-25 10:00:00,\n" +
		"ZY1,张三,350203198001011234,2025-03-25 10:00:00,\n" +
		"ZY1,李*,350***********1111,2025-03-25 10:00:00,\n"
	for _, verify := range []bool{false, true} {
		t.Run(fmt.Sprint("verify=", verify), func(t *testing.T) {
			r := e.must(OpImportPending, fmt.Sprint("pp-imp-", verify), map[string]any{"filename": "pending.csv",
				"content": base64.StdEncoding.EncodeToString([]byte(list)), "verify": verify}, 1)
			wantStatus(t, r, sdk.StatusOK)
			pats := payloadOf(t, r)["patients"].([]any)
			other, same, masked := pats[0].(map[string]any), pats[1].(map[string]any), pats[2].(map[string]any)
			reason := fmt.Sprint(other["reason"])
			if other["status"] != "failed" || !strings.Contains(reason, "another person") || !strings.Contains(reason, "350***********1234") ||
				strings.Contains(reason, "upload it again;") || strings.Contains(reason, "has no such visit") {
				t.Errorf("the row of another person: %v", other)
			}
			if same["status"] != "uploaded" {
				t.Errorf("the row of the uploaded person: %v", same)
			}
			if masked["status"] != "uploaded" || strings.Contains(fmt.Sprint(masked["reason"]), "another person") {
				t.Errorf("the row with a masked number: %v", masked)
			}
			if s := fmt.Sprint(pats); strings.Contains(s, "350203198001011234") || strings.Contains(s, "350203199001011111") {
				t.Errorf("ID numbers unmasked: %s", s)
			}
		})
	}
}
