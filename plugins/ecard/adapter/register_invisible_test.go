package adapter

import (
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestRegisterInvisibleCharacters: a name or document number pasted with
// an invisible format character (a spreadsheet's byte-order mark, a web
// page's zero-width space, a bidi control) is refused with its field and
// what to do, so the same person typed once with it and once without does
// not get two cards (an idType 99 number keys the person as it is), and no
// card keeps a name that shows other than it is.
func TestRegisterInvisibleCharacters(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		pasted, typed map[string]string
		field, rule   string
	}{
		"other document number with a zero-width space": {
			pasted: map[string]string{"name": "王五", "idType": "99", "idNumber": "军字第\u200b2046号", "phone": "13912345678"},
			typed:  map[string]string{"name": "王五", "idType": "99", "idNumber": "军字第2046号", "phone": "13912345678"},
			field:  "$.idNumber", rule: "format",
		},
		"other document number with a byte-order mark": {
			pasted: map[string]string{"name": "王五", "idType": "99", "idNumber": "\ufeffAB20461", "phone": "13912345678"},
			typed:  map[string]string{"name": "王五", "idType": "99", "idNumber": "AB20461", "phone": "13912345678"},
			field:  "$.idNumber", rule: "format",
		},
		"name with a byte-order mark": {
			pasted: map[string]string{"name": "\ufeff张三丰", "idType": "01", "idNumber": testResidentID, "phone": "13812345678"},
			typed:  map[string]string{"name": "张三丰", "idType": "01", "idNumber": testResidentID, "phone": "13812345678"},
			field:  "$.name", rule: "characters",
		},
		"name with a right-to-left override": {
			pasted: map[string]string{"name": "张\u202e丰三", "idType": "01", "idNumber": testResidentID, "phone": "13812345678"},
			typed:  map[string]string{"name": "张三丰", "idType": "01", "idNumber": testResidentID, "phone": "13812345678"},
			field:  "$.name", rule: "characters",
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			r := e.call(OpRegister, tc.pasted)
			if r.Status != sdk.StatusInvalid || len(r.Diagnostics) != 1 || r.Diagnostics[0].Field != tc.field || r.Diagnostics[0].Rule != tc.rule {
				t.Fatalf("pasted: status %s %s %s; want invalid, %s %s", r.Status, r.Payload, r.Diagnostics, tc.field, tc.rule)
			}
			if d := r.Diagnostics[0]; d.Detail == "" {
				t.Errorf("the refusal %s says not what to do", d.Summary)
			}
			if keys := e.keysWithPrefix(keyCard); len(keys) != 0 {
				t.Fatalf("cards after the refused registration: %v, want none", keys)
			}
			if r := e.call(OpRegister, tc.typed); r.Status != sdk.StatusOK {
				t.Fatalf("typed: status %s %s", r.Status, r.Diagnostics)
			}
		})
	}
}
