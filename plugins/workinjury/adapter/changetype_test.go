package adapter

import (
	"encoding/json"
	"testing"
)

// TestChangeKeepsInstitutionType: an accepted GYU007 that names a new
// institution (change_type 2, or 3 with akb020) records the filing under
// the institution's type when this site knows it, and keeps the filing's
// own type when it does not: a change tells no filing type, so an
// assistive-device filing moved to a device institution not downloaded yet
// stays an assistive-device filing (GYU303 needs one), and the person's
// index of valid filings follows the type.
func TestChangeKeepsInstitutionType(t *testing.T) {
	t.Parallel()
	const person = "350203199001010066"
	tests := map[string]struct {
		filingType string // the filing's institution type before the change
		doc        map[string]any
		known      map[string]string // institutions known here: akb020 → type
		want       string
	}{
		"device filing to an unknown institution": {"3", map[string]any{"change_type": "2", "akb020": "F44039999999"}, nil, "3"},
		"rehabilitation filing to an unknown one": {"2", map[string]any{"change_type": "2", "akb020": "K44039999999"}, nil, "2"},
		"medical filing to a known rehabilitation institution": {"1", map[string]any{"change_type": "2", "akb020": "K44030000002"},
			map[string]string{"K44030000002": "2"}, "2"},
		"place changed with a known rehabilitation institution": {"1", map[string]any{"change_type": "3", "aab299": "310100", "akb020": "K31010000002"},
			map[string]string{"K31010000002": "2"}, "2"},
		"place changed without an institution": {"2", map[string]any{"change_type": "3", "aab299": "310100"}, nil, "2"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			c, err := e.impl.site(testSite)
			if err != nil {
				t.Fatal(err)
			}
			h := hostFor(e.host, testSite)
			ctx := t.Context()
			for akb020, typ := range tc.known {
				if err := putJSON(ctx, h, "inst/"+akb020, instState{Type: typ, Valid: "1"}); err != nil {
					t.Fatal(err)
				}
			}
			const no = "BACT00000001"
			if err := e.impl.putFiling(ctx, h, no, filingState{Status: filingApproved, Person: personKey(person), InstType: tc.filingType,
				AKB020: "H44030000001", AAB299: "440300", AAE030: "2025-01-01", AAE031: "2099-12-31"}); err != nil {
				t.Fatal(err)
			}
			doc := map[string]any{"filing_no": no, "change_reason": "测试", "aae011": "王五", "aae036": "2025-04-01 09:30:00"}
			for k, v := range tc.doc {
				doc[k] = v
			}
			if err := e.impl.apply(ctx, h, c, "m-change", "GYU007", doc, json.RawMessage(`{"change_no":"BG1"}`)); err != nil {
				t.Fatal(err)
			}
			var f filingState
			if _, err := getJSON(ctx, h, "filing/"+no, &f); err != nil {
				t.Fatal(err)
			}
			if f.InstType != tc.want {
				t.Errorf("filing recorded with institution type %q, want %q", f.InstType, tc.want)
			}
			if got, _, err := e.impl.validFiling(ctx, h, person, tc.want); err != nil || got != no {
				t.Errorf("person's valid filing of type %s = %q (%v), want %s", tc.want, got, err, no)
			}
			if tc.want != tc.filingType {
				if got, _, err := e.impl.validFiling(ctx, h, person, tc.filingType); err != nil || got != "" {
					t.Errorf("person's valid filing of the old type %s = %q (%v), want none", tc.filingType, got, err)
				}
			}
		})
	}
}
