package adapter_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestDraftQtyCountable: a draft's quantity is counted in smallest
// packages. An edit setting it to 0, below 0, or to a fraction of a
// countable unit (盒, 支, 瓶, 粒 …, or no unit) is refused in Chinese
// saying what to fix; a measured unit (ml, g …) may take a fraction.
// Before, "2.5" boxes was accepted and the refusal of 0 was English.
func TestDraftQtyCountable(t *testing.T) {
	t.Parallel()
	setQty := func(q any) map[string]any { return map[string]any{"op": "setQty", "lineNo": 1, "qty": q} }
	setUnit := func(u string) map[string]any {
		return map[string]any{"op": "setField", "lineNo": 1, "field": "unit", "value": u}
	}
	addLine := func(qty, unit string) map[string]any {
		return map[string]any{"op": "addLine", "line": map[string]any{"itemCode": "YP9999", "itemName": "赠品", "batchNo": "Z1",
			"expiryDate": "2028-01-31", "qty": qty, "unit": unit, "codes": []string{drugCode("8100009", 9)}}}
	}
	tests := map[string]struct {
		changes []any
		field   string // empty: accepted
		words   []string
	}{
		"whole boxes":                {changes: []any{setUnit("盒"), setQty("7")}},
		"whole boxes as a number":    {changes: []any{setUnit("盒"), setQty(7)}},
		"half a box":                 {changes: []any{setUnit("盒"), setQty("2.5")}, field: "$.changes[1].qty", words: []string{"整数", "盒"}},
		"zero":                       {changes: []any{setQty("0")}, field: "$.changes[0].qty", words: []string{"大于 0"}},
		"below zero":                 {changes: []any{setQty("-3")}, field: "$.changes[0].qty", words: []string{"大于 0"}},
		"a fraction of millilitres":  {changes: []any{setUnit("ml"), setQty("2.5")}},
		"new line of whole boxes":    {changes: []any{addLine("3", "盒")}},
		"new line of half a box":     {changes: []any{addLine("1.5", "支")}, field: "$.changes[0].line.qty", words: []string{"整数", "支"}},
		"new line without unit, 1.5": {changes: []any{addLine("1.5", "")}, field: "$.changes[0].line.qty", words: []string{"整数"}},
		"new line in grams":          {changes: []any{addLine("0.5", "g")}},
		"new line of zero":           {changes: []any{addLine("0", "盒")}, field: "$.changes[0].line.qty", words: []string{"大于 0"}},
	}
	han := func(r rune) bool { return unicode.Is(unicode.Han, r) }
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			id := fetchOne(t, e)
			r := e.send(adapter.OpDraftAdjust, map[string]any{"draftId": id, "by": "pharm01", "reason": "清点", "changes": tc.changes})
			if tc.field == "" {
				must[map[string]any](t, r, sdk.StatusOK)
				return
			}
			if r.Status != sdk.StatusInvalid {
				t.Fatalf("status %s %s, want invalid on %s", r.Status, r.Diagnostics, tc.field)
			}
			found := false
			for _, d := range r.Diagnostics {
				if d.Field != tc.field {
					continue
				}
				found = true
				msg := d.Summary + " " + d.Detail
				if !strings.ContainsFunc(msg, han) {
					t.Errorf("the refusal %q is not in Chinese", msg)
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
		})
	}
}
