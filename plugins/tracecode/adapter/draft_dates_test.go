package adapter_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestDraftDatesInOrder: a draft edit (setField, addLine) that would leave
// a line produced after its expiry date, after the document's date or in
// the future is refused, in Chinese, saying what to fix; so is a date
// written otherwise than YYYY-MM-DD, with that hint (not Go's layout
// "2006-01-02"). Before, the draft accepted a production date after the
// document date. The simulator's draft is dated 2026-11-26 (the test
// clock's day); its first line was produced 2026-09-26 and expires
// 2028-09-25.
func TestDraftDatesInOrder(t *testing.T) {
	t.Parallel()
	addLine := func(produce, expiry string) map[string]any {
		return map[string]any{"op": "addLine", "line": map[string]any{"itemCode": "YP9999", "itemName": "赠品", "batchNo": "Z1",
			"produceDate": produce, "expiryDate": expiry, "qty": "1", "codes": []string{drugCode("8100009", 7)}}}
	}
	set := func(field, value string) map[string]any {
		return map[string]any{"op": "setField", "lineNo": 1, "field": field, "value": value}
	}
	tests := map[string]struct {
		changes []any
		// refused names the diagnostic's field and words its Chinese
		// message must hold; empty: the change is accepted.
		field string
		words []string
	}{
		"production date before the document date":  {changes: []any{set("produceDate", "2026-11-01")}},
		"production date on the document date":      {changes: []any{set("produceDate", "2026-11-26")}},
		"production date after the document date":   {changes: []any{set("produceDate", "2026-11-27")}, field: "$.changes[0].value", words: []string{"生产日期", "单据日期", "2026-11-26"}},
		"production date in the future":             {changes: []any{set("produceDate", "2027-01-05")}, field: "$.changes[0].value", words: []string{"生产日期"}},
		"production date after the expiry date":     {changes: []any{set("expiryDate", "2026-09-01")}, field: "$.changes[0].value", words: []string{"有效期", "生产日期", "2026-09-26"}},
		"production date as a Go layout is no hint": {changes: []any{set("produceDate", "26/11/2026")}, field: "$.changes[0].value", words: []string{"生产日期", "YYYY-MM-DD"}},
		"expiry date not a date":                    {changes: []any{set("expiryDate", "2028-13-01")}, field: "$.changes[0].value", words: []string{"有效期", "YYYY-MM-DD"}},
		"new line in order":                         {changes: []any{addLine("2026-01-01", "2028-01-31")}},
		"new line produced after the document date": {changes: []any{addLine("2026-12-01", "2028-01-31")}, field: "$.changes[0].line.produceDate", words: []string{"生产日期", "单据日期"}},
		"new line produced after it expires":        {changes: []any{addLine("2026-06-01", "2026-05-31")}, field: "$.changes[0].line.produceDate", words: []string{"生产日期", "有效期"}},
		"new line without production date":          {changes: []any{addLine("", "2028-01-31")}},
		"both dates set in one edit, in order":      {changes: []any{set("expiryDate", "2026-10-31"), set("produceDate", "2026-10-01")}},
		"both dates set in one edit, out of order":  {changes: []any{set("produceDate", "2026-10-01"), set("expiryDate", "2026-09-30")}, field: "$.changes[1].value", words: []string{"有效期", "2026-10-01"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			id := fetchOne(t, e)
			r := e.send(adapter.OpDraftAdjust, map[string]any{"draftId": id, "by": "pharm01", "reason": "核对", "changes": tc.changes})
			if tc.field == "" {
				must[map[string]any](t, r, sdk.StatusOK)
				return
			}
			if r.Status != sdk.StatusInvalid {
				t.Fatalf("status %s %s, want invalid on %s", r.Status, r.Diagnostics, tc.field)
			}
			var found bool
			for _, d := range r.Diagnostics {
				if d.Field != tc.field {
					continue
				}
				found = true
				msg := d.Summary + " " + d.Detail
				if !strings.ContainsFunc(msg, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
					t.Errorf("the refusal %q is not in Chinese", msg)
				}
				if strings.Contains(msg, "2006") {
					t.Errorf("the refusal %q shows Go's layout", msg)
				}
				for _, w := range tc.words {
					if !strings.Contains(msg, w) {
						t.Errorf("the refusal %q does not say %q", msg, w)
					}
				}
			}
			if !found {
				t.Errorf("no refusal on %s: %s", tc.field, r.Diagnostics)
			}
			if d := getDraft(t, e, id); len(d.Adjustments) != 0 {
				t.Errorf("a refused edit changed the draft: %d adjustments", len(d.Adjustments))
			}
		})
	}
}
