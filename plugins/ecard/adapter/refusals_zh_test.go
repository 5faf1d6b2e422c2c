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

// TestCardNumberRefusalsLeadInChinese: a card number the card's state
// refuses, typed at the print page (ecard.qrcode), the look-up page
// (ecard.get), the link or a correction page, is refused in Chinese first:
// the field, 卡号, and what is wrong (查无此电子卡, 临时卡号, 已注销), the
// English after it. Before, these refusals were English only ("card … is
// unknown"), though a mistyped card number is the print page's commonest
// refusal.
func TestCardNumberRefusalsLeadInChinese(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	revoked := e.register(person(1)).CardNo
	e.ok(OpRevoke, map[string]any{"cardNo": revoked, "reason": "test"}, nil)
	// A card number with one digit mistyped.
	unknown := []byte(e.register(person(2)).CardNo)
	unknown[len(unknown)-2] = '0' + (unknown[len(unknown)-2]-'0'+1)%10
	tests := map[string]struct {
		op      string
		payload map[string]any
		words   []string
	}{
		"print, unknown card":                {OpQRCode, map[string]any{"cardNo": string(unknown)}, []string{"卡号", "查无此电子卡"}},
		"print, temporary card":              {OpQRCode, map[string]any{"cardNo": "99000123"}, []string{"卡号", "临时卡号"}},
		"print, revoked card":                {OpQRCode, map[string]any{"cardNo": revoked}, []string{"卡号", "已注销"}},
		"look up, unknown card":              {OpGet, map[string]any{"cardNo": string(unknown)}, []string{"卡号", "查无此电子卡"}},
		"look up, temporary card not linked": {OpGet, map[string]any{"cardNo": "99000999"}, []string{"卡号", "未关联电子卡"}},
		"link, temporary card as the card":   {OpLink, map[string]any{"cardNo": "99000123", "tempCardNo": "99000124"}, []string{"卡号", "临时卡号"}},
		"link, revoked card":                 {OpLink, map[string]any{"cardNo": revoked, "tempCardNo": "99000124"}, []string{"卡号", "已注销"}},
		"rename, revoked card":               {OpRename, map[string]any{"cardNo": revoked, "idNumber": person(1)["idNumber"], "name": "王五", "reason": "typo"}, []string{"卡号", "已注销"}},
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
				if d.Field != "$.cardNo" {
					continue
				}
				found = true
				if first, _ := utf8DecodeFirst(d.Summary); !han(first) {
					t.Errorf("the refusal %q does not start in Chinese", d.Summary)
				}
				for _, w := range tc.words {
					if !strings.Contains(d.Summary, w) {
						t.Errorf("the refusal %q does not say %q", d.Summary, w)
					}
				}
			}
			if !found {
				t.Errorf("no refusal on $.cardNo: %s", r.Diagnostics)
			}
		})
	}
}

// utf8DecodeFirst returns the first rune of s.
func utf8DecodeFirst(s string) (rune, bool) {
	for _, r := range s {
		return r, true
	}
	return 0, false
}
