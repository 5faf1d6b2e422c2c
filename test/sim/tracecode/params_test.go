package tracecode

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRequiredParamsRefuseBlank: the platform's non-empty check of a
// document number (billNo) or a code refuses a value of white space alone
// (ASCII spaces, full-width spaces U+3000, tabs and line breaks, a
// zero-width space) as it refuses "": PARAM_INVALID naming the parameter,
// and an upload so refused keeps nothing, not even when its processing
// fails. A value with characters besides white space is looked up.
func TestRequiredParamsRefuseBlank(t *testing.T) {
	t.Parallel()
	const good = "81234560000000000011"
	s := New(Options{Seed: 1})
	ops := map[string]struct {
		h     func([]byte) (int, answer)
		body  func(v string) map[string]any
		label string
	}{
		"upload": {s.upload, func(v string) map[string]any {
			return map[string]any{"billNo": v, "billType": "102", "billTime": "2026-11-26 10:00:00",
				"lines": []any{map[string]any{"lineNo": 1, "traceCodes": []any{map[string]any{"code": good}}}}}
		}, "单据号(billNo)"},
		"bill status":    {s.billStatus, func(v string) map[string]any { return map[string]any{"billNo": v} }, "单据号(billNo)"},
		"bill codes":     {s.billCodes, func(v string) map[string]any { return map[string]any{"billNo": v} }, "单据号(billNo)"},
		"bill smallest":  {s.billSmallest, func(v string) map[string]any { return map[string]any{"billNo": v} }, "单据号(billNo)"},
		"code smallest":  {s.smallest, func(v string) map[string]any { return map[string]any{"code": v} }, "追溯码(code)"},
		"missing billNo": {s.billStatus, func(string) map[string]any { return map[string]any{} }, "单据号(billNo)不能为空"},
	}
	values := map[string]struct {
		v     string
		blank bool // refused as white space alone, not as ""
	}{
		"empty":            {"", false},
		"ASCII spaces":     {"   ", true},
		"full-width space": {"\u3000", true},
		"tabs and CRLF":    {"\t\r\n", true},
		"zero-width space": {"\u200b", true},
	}
	for op, o := range ops {
		for vn, val := range values {
			body, err := json.Marshal(o.body(val.v))
			if err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			_, ans := o.h(body)
			if op == "upload" {
				s.failProcessing(body)
			}
			s.mu.Unlock()
			if ans.Code != "PARAM_INVALID" || !strings.Contains(ans.Message, o.label) {
				t.Errorf("%s, %s: answer %s %q, want PARAM_INVALID naming %s", op, vn, ans.Code, ans.Message, o.label)
			}
			if blank := strings.Contains(ans.Message, "只有空白字符"); blank != (val.blank && op != "missing billNo") {
				t.Errorf("%s, %s: message %q; says white space alone: %v", op, vn, ans.Message, blank)
			}
			if _, stored := s.Uploaded(val.v); stored {
				t.Errorf("%s, %s: an upload under the refused document number was kept", op, vn)
			}
		}
	}
	// A number with more than white space in it is a number: looked up.
	for _, h := range []func([]byte) (int, answer){s.billStatus, s.billCodes, s.billSmallest} {
		s.mu.Lock()
		_, ans := h([]byte(`{"billNo": "\u3000IN-404 "}`))
		s.mu.Unlock()
		if ans.Code != "NOT_FOUND" {
			t.Errorf("a document number with content: answer %s %q, want NOT_FOUND", ans.Code, ans.Message)
		}
	}
}
