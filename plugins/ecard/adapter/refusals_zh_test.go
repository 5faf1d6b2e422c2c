package adapter

import (
	"strings"
	"testing"
	"unicode"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestDeskRefusalsLeadInChinese: the cashier reads the desk and print
// forms' refusals. Each names, in Chinese, the field to fix and what is
// wrong with it (the English detail follows for the integration team).
// Before, every identity and card-number refusal was English only.
func TestDeskRefusalsLeadInChinese(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	person := func(edit func(map[string]any)) map[string]any {
		p := map[string]any{"name": "张三丰", "idType": "01", "idNumber": "11010519491231002X", "phone": "13812345678"}
		edit(p)
		return p
	}
	tests := map[string]struct {
		op      string
		payload map[string]any
		field   string
		words   []string
	}{
		"no name":               {OpDesk, person(func(p map[string]any) { delete(p, "name") }), "$.name", []string{"姓名", "必填"}},
		"unknown document":      {OpDesk, person(func(p map[string]any) { p["idType"] = "05" }), "$.idType", []string{"证件类型"}},
		"ID number check digit": {OpDesk, person(func(p map[string]any) { p["idNumber"] = "110105194912310021" }), "$.idNumber", []string{"证件号码"}},
		"short phone":           {OpDesk, person(func(p map[string]any) { p["phone"] = "1381234" }), "$.phone", []string{"手机号"}},
		"no phone":              {OpRegister, person(func(p map[string]any) { delete(p, "phone") }), "$.phone", []string{"手机号", "必填"}},
		"print without card":    {OpQRCode, map[string]any{}, "$.cardNo", []string{"卡号", "必填"}},
		"print, card mistyped":  {OpQRCode, map[string]any{"cardNo": "88/01"}, "$.cardNo", []string{"卡号", "格式"}},
	}
	han := func(r rune) bool { return unicode.Is(unicode.Han, r) }
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := e.call(tc.op, tc.payload)
			if r.Status != sdk.StatusInvalid {
				t.Fatalf("status %s %s, want invalid", r.Status, r.Diagnostics)
			}
			found := false
			for _, d := range r.Diagnostics {
				if d.Field != tc.field {
					continue
				}
				found = true
				if !strings.ContainsFunc(d.Summary, han) {
					t.Errorf("the refusal %q is not in Chinese", d.Summary)
				}
				for _, w := range tc.words {
					if !strings.Contains(d.Summary+" "+d.Detail, w) {
						t.Errorf("the refusal %q (%s) does not say %q", d.Summary, d.Detail, w)
					}
				}
			}
			if !found {
				t.Errorf("no refusal on %s: %s", tc.field, r.Diagnostics)
			}
		})
	}
}
