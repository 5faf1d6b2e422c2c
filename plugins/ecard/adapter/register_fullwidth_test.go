package adapter

import (
	"encoding/json"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestRegisterFullWidth: a cashier typing while the Chinese input method is
// in full-width mode (全角) enters digits and letters in their full-width
// forms (１３８…, ＧＢＲ, １９４９－１２－３１). The ID number was read as
// the ASCII it stands for, but the phone, the issuing state, the birth
// date, the gender and the guardian's fields were refused with a message
// (11 digits starting with 13–19, a 3-letter code) that the text on screen
// seemed to meet. They are read as ASCII now, and stored so: registering
// again in half-width finds the same card with no mismatch warning.
func TestRegisterFullWidth(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		full, half map[string]any
		wantPhone  string // as ecard.get shows it, masked
	}{
		"resident card: phone, birth date and gender": {
			full:      map[string]any{"name": "张三丰", "idType": "０１", "idNumber": fullWidth(testResidentID), "phone": fullWidth("13812345678"), "birthDate": fullWidth("1949-12-31"), "gender": "２"},
			half:      map[string]any{"name": "张三丰", "idType": "01", "idNumber": testResidentID, "phone": "13812345678", "birthDate": "1949-12-31", "gender": "2"},
			wantPhone: "138****5678",
		},
		"passport: issuing state and international phone": {
			full:      map[string]any{"name": "John Smith", "idType": "03", "idNumber": fullWidth("E12345678"), "issuingCountry": fullWidth("gbr"), "phone": fullWidth("+447911123456")},
			half:      map[string]any{"name": "John Smith", "idType": "03", "idNumber": "E12345678", "issuingCountry": "GBR", "phone": "+447911123456"},
			wantPhone: "+44******3456",
		},
		"newborn: guardian's number, phone and relation": {
			full: map[string]any{"name": "李梅之女", "gender": "2", "birthDate": fullWidth("2026-11-24"), "birthOrder": 1,
				"guardian": map[string]any{"name": "李梅", "idType": "01", "idNumber": fullWidth(testResidentID), "phone": "１３８１２３４５６７８\u3000", "relation": "５２"}},
			half: map[string]any{"name": "李梅之女", "gender": "2", "birthDate": "2026-11-24", "birthOrder": 1,
				"guardian": map[string]any{"name": "李梅", "idType": "01", "idNumber": testResidentID, "phone": "13812345678", "relation": "52"}},
			wantPhone: "138****5678",
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			r := e.call(OpRegister, tc.full)
			var first registerReply
			if r.Status != sdk.StatusOK || json.Unmarshal(r.Payload, &first) != nil || !first.Created {
				t.Fatalf("registration in full width: %s %s %s, want ok, created", r.Status, r.Payload, r.Diagnostics)
			}
			var got getReply
			e.ok(OpGet, map[string]string{"cardNo": first.CardNo}, &got)
			if got.Phone != tc.wantPhone {
				t.Errorf("stored phone (masked) %q, want %q", got.Phone, tc.wantPhone)
			}
			again := e.call(OpRegister, tc.half)
			var reply registerReply
			if again.Status != sdk.StatusOK || json.Unmarshal(again.Payload, &reply) != nil || reply.CardNo != first.CardNo || reply.Created || len(again.Diagnostics) != 0 {
				t.Errorf("registration in half width: %s %s %s, want card %s, not created, no warning", again.Status, again.Payload, again.Diagnostics, first.CardNo)
			}
		})
	}
}

// TestDeskFullWidth: the cashier's desk reads full-width codes and numbers
// as ecard.register does, and names the document type typed in full width.
func TestDeskFullWidth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	var got deskReply
	e.ok(OpDesk, map[string]string{"name": "张三丰", "idType": "０１", "idNumber": fullWidth(testResidentID), "phone": fullWidth("13812345678")}, &got)
	if !got.Created || got.IDTypeName != "居民身份证" || got.CardNo == "" {
		t.Errorf("desk in full width: created %v, idTypeName %q, card %q; want a new card, 居民身份证", got.Created, got.IDTypeName, got.CardNo)
	}
}
