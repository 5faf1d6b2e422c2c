package adapter

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestInvalidReplyMasksPersonalFieldsOnly: the schema check's messages in
// an invalid reply show the refused value of a personal field masked (a
// birth date in another layout was quoted whole: the masking of ID-like
// numbers does not see it) and the value of a field that is not personal
// as it is (a visit id sent as a number was masked like an ID number, so
// the reply no longer said which visit was wrong).
func TestInvalidReplyMasksPersonalFieldsOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	testCases := map[string]struct {
		field      string
		value      any
		leak, want string // leak must not be in the reply, want must
	}{
		"birth date in another layout": {"brdy", "1980/01/31", "1980/01/31", `"1***/**/*1"`},
		"ID number sent as a number":   {"certno", json.Number("350203198001011234"), "350203198001011234", "350***********1234"},
		"name sent as a number":        {"psn_name", json.Number("12345"), "12345", "1***5"},
		"visit id sent as a number":    {"fixmedins_mdtrt_id", json.Number("2025040100000123"), "", `send it quoted, as "2025040100000123"`},
		"address sent as a number":     {"addr", json.Number("5501"), "5501", "5***"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := visit("ZYPI", 1)
			v[tc.field] = tc.value
			r := e.must("selfpay.4202", "pi-"+tc.field, map[string]any{nodeMdtrt: v, nodeDiags: diagnoses()}, 1)
			wantStatus(t, r, sdk.StatusInvalid)
			reply, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if tc.leak != "" && strings.Contains(string(reply), tc.leak) {
				t.Errorf("the invalid reply carries %q: %s", tc.leak, reply)
			}
			if d := r.Diagnostics.String(); !strings.Contains(d, tc.field) || !strings.Contains(d, tc.want) {
				t.Errorf("the reply does not name %s with %s: %s", tc.field, tc.want, d)
			}
		})
	}
}
