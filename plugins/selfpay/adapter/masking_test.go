package adapter

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestInvalidReplyMasksIDNumbers: an ID or phone number sent as a JSON
// number instead of a string was refused (invalid) with a diagnostic
// saying how to send it, "send it quoted, as \"350203198001011234\"":
// the whole number in the reply, which the host publishes and stores.
// Numbers in the diagnostics of an invalid reply are masked as in the
// logs (350***********1234); the path, rule and fix stay.
func TestInvalidReplyMasksIDNumbers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const cert, tel = "350203198001011234", "13912345678"
	number := func(s string) json.Number { return json.Number(s) }
	withNumbers := func(id string) map[string]any {
		v := visit(id, 1)
		v["certno"], v["tel"] = number(cert), number(tel)
		return v
	}
	up := upload("ZYMK", 1)
	up[nodeMdtrt] = withNumbers("ZYMK")
	cases := map[string]struct {
		typ     string
		payload map[string]any
	}{
		"selfpay.upload": {OpUpload, up},
		"selfpay.4202":   {"selfpay.4202", map[string]any{nodeMdtrt: withNumbers("ZYMK2"), nodeDiags: diagnoses()}},
		"selfpay.4208":   {"selfpay.4208", map[string]any{"certno": number(cert), "page_num": 1, "page_size": 10}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.must(tc.typ, "mk-"+name, tc.payload, 1)
			wantStatus(t, r, sdk.StatusInvalid)
			d := r.Diagnostics.String()
			if !strings.Contains(d, "certno") {
				t.Fatalf("the reply does not name certno: %s", d)
			}
			if strings.Contains(d, cert) || strings.Contains(d, tel) {
				t.Errorf("the invalid reply carries an ID or phone number: %s", d)
			}
		})
	}
}
