package adapter

import (
	"encoding/json"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestNumbersFullWidth: card and temporary-card numbers and validities
// typed while the Chinese input method is in full-width mode (全角) are read
// as the ASCII they stand for by every operation that takes them, as they
// are by ecard.register, ecard.desk's identity and ecard.scan. Before,
// ecard.qrcode (the console's print page, where the cashier types the card
// number), ecard.get, ecard.link and ecard.revoke refused such a number as
// "malformed: a number has 1-32 letters, digits, '-' or '_'", which the
// digits on screen seemed to be, and ecard.qrcode and ecard.desk refused a
// validity such as "７２ｈ"; a registration linked a full-width tempCardNo
// that ecard.link refused.
func TestNumbersFullWidth(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		typ     string
		payload func(cardNo string) map[string]any
		// want is checked on the reply decoded into a map.
		want map[string]any
	}{
		"ecard.qrcode: card number and validity (print page)": {
			typ: OpQRCode,
			payload: func(c string) map[string]any {
				return map[string]any{"cardNo": fullWidth(c), "validity": "７２ｈ", "printLabel": true}
			},
			want: map[string]any{"expiresAt": "2026-11-29T12:00:00Z"},
		},
		"ecard.get by card number": {
			typ:     OpGet,
			payload: func(c string) map[string]any { return map[string]any{"cardNo": fullWidth(c)} },
			want:    map[string]any{"status": "active"},
		},
		"ecard.get by temporary card": {
			typ:     OpGet,
			payload: func(string) map[string]any { return map[string]any{"tempCardNo": fullWidth("99000123")} },
			want:    map[string]any{"matchedTempCardNo": "99000123"},
		},
		"ecard.link: card and temporary card": {
			typ: OpLink,
			payload: func(c string) map[string]any {
				return map[string]any{"cardNo": fullWidth(c), "tempCardNo": fullWidth("99000456")}
			},
			want: map[string]any{"tempCardNo": "99000456", "alreadyLinked": false},
		},
		"ecard.revoke": {
			typ:     OpRevoke,
			payload: func(c string) map[string]any { return map[string]any{"cardNo": fullWidth(c), "reason": "测试 test"} },
			want:    map[string]any{"status": "revoked"},
		},
		"ecard.desk: validity": {
			typ: OpDesk,
			payload: func(string) map[string]any {
				return map[string]any{"name": "张三丰", "idType": "01", "idNumber": testResidentID, "phone": "13812345678", "validity": "４８ｈ"}
			},
			want: map[string]any{"created": false, "expiresAt": "2026-11-28T12:00:00Z"},
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			reg := zhang()
			reg["tempCardNo"] = "99000123"
			c := e.register(reg)
			r := e.call(tc.typ, tc.payload(c.CardNo))
			if r.Status != sdk.StatusOK {
				t.Fatalf("%s in full width: %s %s, want ok", tc.typ, r.Status, r.Diagnostics)
			}
			var got map[string]any
			if err := json.Unmarshal(r.Payload, &got); err != nil {
				t.Fatalf("decode reply %s: %v", r.Payload, err)
			}
			if got["cardNo"] != c.CardNo {
				t.Errorf("reply cardNo %v, want %s (in ASCII)", got["cardNo"], c.CardNo)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("reply %s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}
