package adapter_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestDraftRefusalsInChinese: the pharmacy staff read the refusals of the
// draft page's edits and of its Confirm button. Each says in Chinese what
// is wrong (the English follows for the integration team). Before, they
// were English only ("code … is already on line 1").
func TestDraftRefusalsInChinese(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		// changes returns the edit, given the draft; nil changes: confirm
		// a draft whose lines were all removed.
		changes func(d draftView) []any
		field   string
		words   []string
	}{
		"a line the draft has not": {changes: func(draftView) []any { return []any{map[string]any{"op": "setQty", "lineNo": 99, "qty": 1}} },
			field: "$.changes[0].lineNo", words: []string{"99"}},
		"a code already on the draft": {changes: func(d draftView) []any {
			return []any{map[string]any{"op": "addCodes", "lineNo": d.Lines[0].LineNo, "codes": []string{d.Lines[0].Codes[0]}}}
		}, field: "$.changes[0].codes[0]", words: []string{"追溯码", d0}},
		"a code not on the line": {changes: func(d draftView) []any {
			return []any{map[string]any{"op": "removeCodes", "lineNo": d.Lines[0].LineNo, "codes": []string{drugCode("8100009", 3)}}}
		}, field: "$.changes[0].codes[0]", words: []string{"追溯码"}},
		"not a trace code": {changes: func(d draftView) []any {
			return []any{map[string]any{"op": "addCodes", "lineNo": d.Lines[0].LineNo, "codes": []string{"abc"}}}
		}, field: "$.changes[0].codes[0]", words: []string{"追溯码"}},
		"a field that cannot be set": {changes: func(d draftView) []any {
			return []any{map[string]any{"op": "setField", "lineNo": d.Lines[0].LineNo, "field": "colour", "value": "red"}}
		}, field: "$.changes[0].field", words: []string{"字段"}},
		"nothing to acknowledge": {changes: func(d draftView) []any {
			return []any{map[string]any{"op": "ackPlatformChange"}}
		}, field: "$.changes[0].op", words: []string{"平台"}},
		"confirming a draft without lines": {field: "$.draftId", words: []string{"行"}},
	}
	han := func(r rune) bool { return unicode.Is(unicode.Han, r) }
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			id := fetchOne(t, e)
			d := getDraft(t, e, id)
			var r *sdk.HandleResponse
			if tc.changes == nil {
				var rm []any
				for _, l := range d.Lines {
					rm = append(rm, map[string]any{"op": "removeLine", "lineNo": l.LineNo})
				}
				must[map[string]any](t, e.send(adapter.OpDraftAdjust, map[string]any{"draftId": id, "by": "pharm01", "changes": rm}), sdk.StatusOK)
				r = e.send(adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "pharm01"})
			} else {
				r = e.send(adapter.OpDraftAdjust, map[string]any{"draftId": id, "by": "pharm01", "changes": tc.changes(d)})
			}
			if r.Status != sdk.StatusInvalid {
				t.Fatalf("status %s %s, want invalid on %s", r.Status, r.Diagnostics, tc.field)
			}
			words := tc.words
			if len(words) > 1 && words[1] == d0 {
				words = []string{words[0], d.Lines[0].Codes[0]}
			}
			found := false
			for _, dg := range r.Diagnostics {
				if dg.Field != tc.field {
					continue
				}
				found = true
				if !strings.ContainsFunc(dg.Summary, han) {
					t.Errorf("the refusal %q is not in Chinese", dg.Summary)
				}
				for _, w := range words {
					if !strings.Contains(dg.Summary+" "+dg.Detail, w) {
						t.Errorf("the refusal %q (%s) does not say %q", dg.Summary, dg.Detail, w)
					}
				}
			}
			if !found {
				t.Errorf("no refusal on %s: %s", tc.field, r.Diagnostics)
			}
		})
	}
}

// d0 stands for the draft's first code in a test's words.
const d0 = "<first code>"
