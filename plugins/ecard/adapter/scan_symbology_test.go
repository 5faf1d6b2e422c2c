package adapter

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestScanSymbologyIdentifier: a scanner set to transmit the AIM
// symbology identifier (ISO/IEC 15424) types "]Q1" before a QR code and
// "]C0" before a Code 128 barcode. Such a scan is read as what follows the
// identifier: the code scans as the card it is, a temporary card as that
// card, and a code altered after the identifier is still refused. Before,
// every such scan answered not-ecard, "无法识别的码", 请重新扫描, which
// scanning again could not change.
func TestScanSymbologyIdentifier(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo, q := e.issue(nil)
	e.ok(OpLink, map[string]string{"cardNo": cardNo, "tempCardNo": "99000123"}, nil)
	testCases := map[string]struct {
		text                  string
		wantStatus            sdk.Status
		wantResult, wantLooks string
	}{
		"QR code":                         {text: "]Q1" + q.Text + "\r\n", wantStatus: sdk.StatusOK, wantResult: ResultOK},
		"QR code, model 2 with ECI (]Q2)": {text: "]Q2" + q.Text, wantStatus: sdk.StatusOK, wantResult: ResultOK},
		"QR code, full width (全角)":        {text: fullWidth("]Q1" + q.Text), wantStatus: sdk.StatusOK, wantResult: ResultOK},
		"QR code, lower case (Caps Lock)": {text: "]q1" + strings.ToLower(q.Text), wantStatus: sdk.StatusOK, wantResult: ResultOK},
		"QR code, one character changed":  {text: "]Q1" + q.Text[:len(q.Text)-1] + flip(q.Text[len(q.Text)-1:]), wantStatus: sdk.StatusInvalid, wantResult: ResultTampered},
		"linked temporary card, Code 128": {text: "]C0" + "99000123", wantStatus: sdk.StatusOK, wantResult: ResultTemporaryCard},
		"e-card number without its code":  {text: "]C0" + cardNo, wantStatus: sdk.StatusInvalid, wantResult: ResultNotECard, wantLooks: lookECardNumber},
		"the identifier alone":            {text: "]Q1", wantStatus: sdk.StatusInvalid, wantResult: ResultNotECard},
		"a bracket that is no identifier": {text: "]" + q.Text, wantStatus: sdk.StatusInvalid, wantResult: ResultNotECard},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			status, rule, m := e.scan(tc.text)
			if status != tc.wantStatus || m["result"] != tc.wantResult || (tc.wantLooks != "" && m["looksLike"] != tc.wantLooks) {
				t.Fatalf("scan of %q: status %s, rule %q, payload %v; want %s, result %q, looksLike %q", tc.text, status, rule, m, tc.wantStatus, tc.wantResult, tc.wantLooks)
			}
			if tc.wantResult == ResultOK || tc.wantResult == ResultTemporaryCard || tc.wantLooks == lookECardNumber {
				if m["cardNo"] != cardNo {
					t.Errorf("scan of %q names card %v, want %s", tc.text, m["cardNo"], cardNo)
				}
			}
		})
	}
}
