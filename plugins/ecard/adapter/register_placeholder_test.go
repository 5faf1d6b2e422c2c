package adapter

import (
	"fmt"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestRegisterPlaceholderNumber: a patient without a document, entered
// with a placeholder instead of a number (无, 0, 000000), is refused, so
// that the next patient entered with the same placeholder does not get
// the first one's card and medical record.
func TestRegisterPlaceholderNumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	testCases := map[string]struct{ idType, idNumber string }{
		"other, 无":         {idType: "99", idNumber: "无"},
		"other, 不详":        {idType: "99", idNumber: "不详"},
		"other, dash":      {idType: "99", idNumber: "-"},
		"other, zero":      {idType: "99", idNumber: "0"},
		"other, zeros":     {idType: "99", idNumber: "000000"},
		"passport, zeros":  {idType: "03", idNumber: "00000"},
		"passport, XXXXXX": {idType: "03", idNumber: "XXXXXX"},
		"Taiwan, ones":     {idType: "07", idNumber: "11111111"},
	}
	i := 0
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			// Two patients, as a busy desk would enter them.
			for j := range 2 {
				i++
				p := map[string]string{"name": fmt.Sprintf("患者%d", i), "idType": tc.idType, "idNumber": tc.idNumber, "phone": fmt.Sprintf("139%08d", i)}
				if tc.idType == "03" {
					p["issuingCountry"] = "GBR"
				}
				r := e.call(OpRegister, p)
				if r.Status != sdk.StatusInvalid || len(r.Diagnostics) != 1 || r.Diagnostics[0].Field != "$.idNumber" || r.Diagnostics[0].Rule != "placeholder" {
					t.Fatalf("patient %d with %s %q: status %s %s %s; want invalid, $.idNumber placeholder", j+1, tc.idType, tc.idNumber, r.Status, r.Payload, r.Diagnostics)
				}
			}
		})
	}
	if keys := e.keysWithPrefix(keyPerson); len(keys) != 0 {
		t.Errorf("person keys after refused registrations: %v, want none", keys)
	}
}
