package adapter

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestInvalidReplyQuotesNoIDNumber: an invalid reply for a bad ID number
// (or a birth date that disagrees with it) is published, stored and
// shown on the console; it said what is wrong by quoting the birth date,
// the ID number's digits 7–14 ("digits 7–14 of the ID number
// (19801345) are not a valid birth date"; "give the birth date
// 2099-01-01"; "birth date 1980-01-30 does not match the ID number
// (1980-01-31)"). It names the field and what is wrong, and quotes
// neither the number nor a birth date.
func TestInvalidReplyQuotesNoIDNumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	person := func(id string, more ...string) map[string]any {
		p := map[string]any{"name": "王五", "idType": "01", "idNumber": id, "phone": "13812345678"}
		for i := 0; i+1 < len(more); i += 2 {
			p[more[i]] = more[i+1]
		}
		return p
	}
	testCases := map[string]struct {
		payload map[string]any
		field   string
		leaks   []string
	}{
		"check character wrong":          {person("350203198001311230"), "$.idNumber", []string{"350203198001311230"}},
		"digits 7–14 are no date":        {person("350203198013451238"), "$.idNumber", []string{"350203198013451238", "19801345"}},
		"digits 7–14 give a future date": {person("350203209901011231"), "$.idNumber", []string{"350203209901011231", "20990101", "2099-01-01"}},
		"ID number sent as a number": {map[string]any{"name": "王五", "idType": "01", "idNumber": json.Number("350203198001311238"), "phone": "13812345678"},
			"$.idNumber", []string{"350203198001311238"}},
		"birth date disagrees with the number": {person("350203198001311238", "birthDate", "1980-01-30"), "$.birthDate",
			[]string{"350203198001311238", "1980-01-30", "1980-01-31"}},
		"birth date in another layout": {person("350203198001311238", "birthDate", "1980/01/31"), "$.birthDate",
			[]string{"350203198001311238", "1980/01/31"}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := e.call(OpRegister, tc.payload)
			if r.Status != sdk.StatusInvalid {
				t.Fatalf("status %s, want invalid: %v", r.Status, r.Diagnostics)
			}
			if d := r.Diagnostics.String(); !strings.Contains(d, tc.field) {
				t.Errorf("the reply does not name %s: %s", tc.field, d)
			}
			reply, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			for _, leak := range tc.leaks {
				if strings.Contains(string(reply), leak) {
					t.Errorf("the invalid reply carries %q: %s", leak, reply)
				}
			}
		})
	}
}
