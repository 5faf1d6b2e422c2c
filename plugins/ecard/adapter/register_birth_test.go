package adapter

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestRegisterRefusesFutureBirth: an ID number whose birth date is after
// today (the env's clock is 2026-11-26) passes the check character when
// the typo is in the date and the check character was recomputed, or the
// number is made up; ecard.register and ecard.desk refuse it instead of
// issuing a card, and a newborn registered on the day of birth gets one.
func TestRegisterRefusesFutureBirth(t *testing.T) {
	t.Parallel()
	// 11010520261127002 + check character 5: born 2026-11-27, tomorrow.
	tomorrow := map[string]string{"name": "王五", "idType": "01", "idNumber": "110105202611270025", "phone": "13812345678"}
	for _, op := range []string{OpRegister, OpDesk} {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			r := e.call(op, tomorrow)
			if diff := cmp.Diff([]diag{{Field: "$.idNumber", Rule: "birth_date", Error: true}}, diagsOf(r.Diagnostics)); diff != "" || r.Status != sdk.StatusInvalid {
				t.Errorf("%s of a person born tomorrow: status %s, diagnostics (-want +got):\n%s", op, r.Status, diff)
			}
			if keys := e.keysWithPrefix("card/"); len(keys) != 0 {
				t.Errorf("a card was stored: %v", keys)
			}
		})
	}
	t.Run("newborn today", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, testSettings())
		// 11010520261126002 + check character X: born 2026-11-26, today.
		baby := map[string]string{"name": "王宝宝", "idType": "02", "idNumber": "11010520261126002X", "phone": "13812345678", "birthDate": "2026-11-26"}
		if r := e.register(baby); !r.Created {
			t.Errorf("a newborn registered on the day of birth got %+v, want a new card", r)
		}
	})
}

// TestRegisterRefusesGarbledName: a name sent in GBK or GB 18030 instead
// of UTF-8 reaches the plugin with every character replaced by U+FFFD
// (the JSON decoder's replacement), and was registered, for good, under
// that garbled name; it is refused, so that the client fixes its encoding.
// A name with a character of a GB 18030 extension (𠮷, U+20BB7) and a
// middle dot registers.
func TestRegisterRefusesGarbledName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	gbk := []byte("{\"name\": \"\xd5\xc5\xc8\xfd\", \"idType\": \"03\", \"idNumber\": \"E12345678\", \"issuingCountry\": \"GBR\", \"phone\": \"13812345678\"}") // 张三 in GBK
	r := e.call(OpRegister, gbk)
	if diff := cmp.Diff([]diag{{Field: "$.name", Rule: "characters", Error: true}}, diagsOf(r.Diagnostics)); diff != "" || r.Status != sdk.StatusInvalid {
		t.Errorf("registration of a GBK name: status %s, diagnostics (-want +got):\n%s", r.Status, diff)
	}
	escaped := `{"name": "张\ufffd", "idType": "03", "idNumber": "E12345678", "issuingCountry": "GBR", "phone": "13812345678"}`
	if r := e.call(OpRegister, escaped); r.Status != sdk.StatusInvalid {
		t.Errorf("registration of a name with U+FFFD: status %s, want invalid", r.Status)
	}
	if keys := e.keysWithPrefix("card/"); len(keys) != 0 {
		t.Errorf("a card was stored: %v", keys)
	}
	if r := e.register(map[string]string{"name": "𠮷野·家", "idType": "03", "idNumber": "E12345678", "issuingCountry": "GBR", "phone": "13812345678"}); !r.Created {
		t.Errorf("a name with an extension-B character got %+v, want a new card", r)
	}
}
