package adapter_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestDateRefusalsInChinese: the export form's dates (and the stock-in
// fetch's) are typed by pharmacy staff. A date they mistype, a range
// backwards, or an export starting after today (the test clock's day is
// 2026-11-26) is refused in Chinese, asking for YYYY-MM-DD. Before, the
// refusal was English and hinted Go's layout, "write the first day as
// 2006-01-02", and an export of days still to come was written, empty.
func TestDateRefusalsInChinese(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		op      string
		payload map[string]string
		field   string
		words   []string
	}{
		"export first day mistyped":  {adapter.OpExport, map[string]string{"from": "2026/11/01"}, "$.from", []string{"开始日期", "YYYY-MM-DD"}},
		"export last day mistyped":   {adapter.OpExport, map[string]string{"from": "2026-11-01", "to": "11-30"}, "$.to", []string{"结束日期", "YYYY-MM-DD"}},
		"export range backwards":     {adapter.OpExport, map[string]string{"from": "2026-11-20", "to": "2026-11-01"}, "$.to", []string{"结束日期", "开始日期"}},
		"export starting tomorrow":   {adapter.OpExport, map[string]string{"from": "2026-11-27"}, "$.from", []string{"开始日期", "2026-11-26"}},
		"fetch begin date mistyped":  {adapter.OpStockInFetch, map[string]string{"beginDate": "20261126", "endDate": "2026-11-26"}, "$.beginDate", []string{"YYYY-MM-DD"}},
		"fetch end date mistyped":    {adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "26.11.2026"}, "$.endDate", []string{"YYYY-MM-DD"}},
		"export today is accepted":   {adapter.OpExport, map[string]string{"from": "2026-11-26"}, "", nil},
		"export a past day accepted": {adapter.OpExport, map[string]string{"from": "2026-11-01", "to": "2026-11-02"}, "", nil},
	}
	han := func(r rune) bool { return unicode.Is(unicode.Han, r) }
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			r := e.send(tc.op, tc.payload)
			if tc.field == "" {
				if r.Status != sdk.StatusOK {
					t.Fatalf("status %s %s, want ok", r.Status, r.Diagnostics)
				}
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
		})
	}
}
