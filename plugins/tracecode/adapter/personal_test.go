package adapter_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestInvalidReplyQuotesNoIDNumber: an ID number that a mapping put in
// the wrong place of a stock-in bill (the operator, who is a person;
// the lines) was quoted whole by the schema check in the invalid reply
// (the operator's "send it quoted, as \"350203198001011234\""; the
// lines' "got string \"350203198001011234\""). The reply names the field
// and says what is wrong; the operator's value is masked, the lines say
// what kind of value they got.
func TestInvalidReplyQuotesNoIDNumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const id = "350203198001011234"
	testCases := map[string]struct {
		field string
		value any
		want  string
	}{
		"operator sent as a number": {"operator", json.Number(id), "350***********1234"},
		"lines sent as a string":    {"lines", id, "got a string"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := bill("PI-"+tc.field, "102", line(1, "1", drugCode("8100001", 1)))
			b[tc.field] = tc.value
			r := e.send(adapter.OpStockInUpload, b)
			if r.Status != sdk.StatusInvalid {
				t.Fatalf("status %s, want invalid: %v", r.Status, r.Diagnostics)
			}
			reply, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(reply), id) {
				t.Errorf("the invalid reply carries the ID number: %s", reply)
			}
			if d := r.Diagnostics.String(); !strings.Contains(d, "$."+tc.field) || !strings.Contains(d, tc.want) {
				t.Errorf("the reply does not name $.%s with %q: %s", tc.field, tc.want, d)
			}
		})
	}
}
