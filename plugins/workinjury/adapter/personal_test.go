package adapter

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/schemas"
)

// TestInvalidReplyQuotesNoPersonalData: the schema check's messages, the
// Summary of an invalid reply's diagnostics, quoted the value they
// refused: an ID or phone number sent as a JSON number ("send it quoted,
// as \"350203198001011234\""), a birth date in another layout. The reply
// is published, stored and shown on the console; it names the field and
// shows the value masked.
func TestInvalidReplyQuotesNoPersonalData(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	testCases := map[string]struct {
		code, field string
		value       any
		leak, want  string
	}{
		"GYU101 ID number sent as a number":   {"GYU101", "aac002", json.Number("350203198001011234"), "350203198001011234", "350***********1234"},
		"GYU006 ID number sent as a number":   {"GYU006", "aac044", json.Number("350203198001011234"), "350203198001011234", "350***********1234"},
		"GYU006 phone sent as a number":       {"GYU006", "aae005", json.Number("13912345678"), "13912345678", "139****5678"},
		"GYU006 birth date in another layout": {"GYU006", "aac006", "1985/07/15", "1985/07/15", "1***/**/*5"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc, ok := schemas.Embedded().Get(Name, tc.code)
			if !ok {
				t.Fatalf("no schema %s", tc.code)
			}
			doc := sc.ExampleInput()
			doc[tc.field] = tc.value
			r := e.send(tc.code, doc)
			if r.Status != sdk.StatusInvalid {
				t.Fatalf("status %s, want invalid: %v", r.Status, r.Diagnostics)
			}
			reply, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(reply), tc.leak) {
				t.Errorf("the invalid reply carries %q: %s", tc.leak, reply)
			}
			if d := r.Diagnostics.String(); !strings.Contains(d, "$."+tc.field) || !strings.Contains(d, tc.want) {
				t.Errorf("the reply does not name $.%s with the value masked as %s: %s", tc.field, tc.want, d)
			}
		})
	}
}
