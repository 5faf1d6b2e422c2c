package sdk_test

import (
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestColumnShown: a value a column declares in Codes is shown as
// "meaning (shown)", the code as the host shows it (masked, formatted);
// any other value, and every value of a column without Codes, is shown as
// it is. An empty shown value stays empty (the host leaves it out).
func TestColumnShown(t *testing.T) {
	t.Parallel()
	scan := sdk.Column{Field: "result", Title: "结果 result", Codes: map[string]string{"expired": "二维码已过期 expired", "not-ecard": "不是电子卡 not an e-card"}}
	tests := map[string]struct {
		col          sdk.Column
		value, shown string
		want         string
	}{
		"declared":                {scan, "expired", "expired", "二维码已过期 expired (expired)"},
		"declared, shown masked":  {scan, "not-ecard", "not-***", "不是电子卡 not an e-card (not-***)"},
		"not declared":            {scan, "tampered", "tampered", "tampered"},
		"no codes (older plugin)": {sdk.Column{Field: "result"}, "expired", "expired", "expired"},
		"empty":                   {scan, "", "", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := tc.col.Shown(tc.value, tc.shown); got != tc.want {
				t.Errorf("Shown(%q, %q) = %q, want %q", tc.value, tc.shown, got, tc.want)
			}
		})
	}
}
