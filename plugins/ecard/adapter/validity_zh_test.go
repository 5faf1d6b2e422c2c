package adapter

import (
	"strings"
	"testing"
	"unicode"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestValidityRefusedInChinese: the cashier types the QR code's validity
// on the desk and print forms. A validity that is not a duration, or is
// shorter than a second or longer than 90 days, is refused in Chinese with
// examples of what to type. Before, the refusal was English and asked for
// "Go syntax".
func TestValidityRefusedInChinese(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	reg := e.register(map[string]string{"name": "张三丰", "idType": "01", "idNumber": "11010519491231002X", "phone": "13812345678"})
	tests := map[string]struct {
		op      string
		payload map[string]any
	}{
		"desk, three days in words": {OpDesk, map[string]any{"name": "李四", "idType": "01", "idNumber": "11010519491231002X", "phone": "13812345678", "validity": "3天"}},
		"desk, a year":              {OpDesk, map[string]any{"name": "李四", "idType": "01", "idNumber": "11010519491231002X", "phone": "13812345678", "validity": "8760h"}},
		"print, three days":         {OpQRCode, map[string]any{"cardNo": reg.CardNo, "validity": "3d"}},
		"print, a year":             {OpQRCode, map[string]any{"cardNo": reg.CardNo, "validity": "8760h"}},
		"print, zero":               {OpQRCode, map[string]any{"cardNo": reg.CardNo, "validity": "0s"}},
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
				if d.Field != "$.validity" {
					continue
				}
				found = true
				msg := d.Summary + " " + d.Detail
				for _, w := range []string{"二维码有效期", "72h", "90 天"} {
					if !strings.Contains(msg, w) {
						t.Errorf("the refusal %q does not say %q", msg, w)
					}
				}
				if !strings.ContainsFunc(d.Summary, han) {
					t.Errorf("the refusal's summary %q is not in Chinese", d.Summary)
				}
				if strings.Contains(msg, "Go syntax") {
					t.Errorf("the refusal %q asks for Go syntax", msg)
				}
			}
			if !found {
				t.Errorf("no refusal on $.validity: %s", r.Diagnostics)
			}
		})
	}
}
