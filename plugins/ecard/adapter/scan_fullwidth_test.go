package adapter

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// fullWidth returns s with its printable ASCII characters in their
// full-width forms (A → Ａ, 2 → ２), as a keyboard-wedge scanner types
// them while the Chinese input method is in full-width mode (全角).
func fullWidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r > ' ' && r <= '~' {
			return r + 0xFEE0
		}
		return r
	}, s)
}

// TestScanFullWidth: a USB (keyboard-wedge) scanner types what it reads as
// key strokes, so with the PC's Chinese input method in full-width mode
// (全角) every letter and digit arrives in its full-width form. The code's
// alphabet, card numbers and ID numbers are ASCII, so such a text is read
// as the ASCII text it stands for, and the authentication decides as for
// any text. Before, every such scan answered not-ecard, "无法识别的码".
func TestScanFullWidth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo, q := e.issue(nil)
	e.ok(OpLink, map[string]string{"cardNo": cardNo, "tempCardNo": "99000123"}, nil)
	testCases := map[string]struct {
		text                  string
		wantStatus            sdk.Status
		wantResult, wantLooks string
	}{
		"QR code":                          {text: fullWidth(q.Text) + "\r\n", wantStatus: sdk.StatusOK, wantResult: ResultOK},
		"QR code, ideographic space":       {text: "\u3000" + fullWidth(q.Text) + "\u3000", wantStatus: sdk.StatusOK, wantResult: ResultOK},
		"QR code, lower case (Caps Lock)":  {text: fullWidth(strings.ToLower(q.Text)), wantStatus: sdk.StatusOK, wantResult: ResultOK},
		"QR code, one character changed":   {text: fullWidth(q.Text[:len(q.Text)-1] + flip(q.Text[len(q.Text)-1:])), wantStatus: sdk.StatusInvalid, wantResult: ResultTampered},
		"linked temporary card":            {text: fullWidth("99000123"), wantStatus: sdk.StatusOK, wantResult: ResultTemporaryCard},
		"e-card number without its code":   {text: fullWidth(cardNo), wantStatus: sdk.StatusInvalid, wantResult: ResultNotECard, wantLooks: lookECardNumber},
		"resident ID number of the holder": {text: fullWidth(testResidentID), wantStatus: sdk.StatusInvalid, wantResult: ResultNotECard, wantLooks: KindResidentID},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			status, rule, m := e.scan(tc.text)
			if status != tc.wantStatus || m["result"] != tc.wantResult || (tc.wantLooks != "" && m["looksLike"] != tc.wantLooks) {
				t.Fatalf("scan of %q: status %s, rule %q, payload %v; want %s, result %q, looksLike %q", tc.text, status, rule, m, tc.wantStatus, tc.wantResult, tc.wantLooks)
			}
			if tc.wantResult == ResultOK || tc.wantLooks == KindResidentID || tc.wantLooks == lookECardNumber || tc.wantResult == ResultTemporaryCard {
				if m["cardNo"] != cardNo {
					t.Errorf("scan of %q names card %v, want %s", tc.text, m["cardNo"], cardNo)
				}
			}
		})
	}
}

// flip returns another base32 character than c.
func flip(c string) string {
	if c == "A" {
		return "B"
	}
	return "A"
}
