package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestSendMasksDeclaredPersonalFields: `medgate send` prints a reply with
// the values of the fields its plugin declares personal for the operation
// masked (the schema's output field holder_nm, the work list's
// Column.Personal patient_nm: keys medgate's list does not know), an
// undeclared field as it is, and, revealed, every value as it is.
func TestSendMasksDeclaredPersonalFields(t *testing.T) {
	t.Parallel()
	logging.Declare("vendorz", &sdk.DescribeResponse{Name: "vendorz",
		Operations: []sdk.Operation{{Type: "vendorz.register", Schema: "vendorz/register"}},
		Schemas: map[string][]byte{"vendorz/register.yaml": []byte("code: register\nname: 登记\nsystem: vendorz\ndirection: query\nsource: the cli's tests\n" +
			"output:\n  - name: holder_nm\n    label: 持卡人\n    type: string\n    personal: true\n")},
		WorkLists:     []sdk.WorkList{{Name: "cards", Title: "cards", ListOperation: "vendorz.register"}},
		WorkListViews: []sdk.WorkListView{{List: "cards", Columns: []sdk.Column{{Field: "patient_nm", Title: "患者", Personal: true}}}},
	}, nil)
	raw, _ := json.Marshal(map[string]any{"id": "r-1", "requestId": "m-1", "site": "s1", "type": "vendorz.register", "status": "ok",
		"payload": map[string]any{"holder_nm": "诸葛孔明", "items": []map[string]string{{"patient_nm": "司马相如"}}, "nickname": "小明同学"}})
	tests := map[string]struct {
		reveal        bool
		hidden, shown []string
	}{
		"masked":   {hidden: []string{"诸葛孔明", "司马相如"}, shown: []string{`"holder_nm":"诸***"`, `"patient_nm":"司***"`, "小明同学"}},
		"revealed": {reveal: true, shown: []string{"诸葛孔明", "司马相如", "小明同学"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := string(shownRawReply(raw, tc.reveal))
			for _, h := range tc.hidden {
				if strings.Contains(out, h) {
					t.Errorf("medgate send prints %q, the value of a field the plugin declares personal: %s", h, out)
				}
			}
			for _, s := range tc.shown {
				if !strings.Contains(out, s) {
					t.Errorf("medgate send's output lacks %q: %s", s, out)
				}
			}
		})
	}
}
