package adapter

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// numberEndingIn returns the first number of rule whose check character
// is c, and the first whose check character is not.
func numberEndingIn(tb testing.TB, rule card.NumberRule, c byte) (with, without string) {
	tb.Helper()
	for seq := int64(0); with == "" || without == ""; seq++ {
		n, err := rule.Format(seq)
		if err != nil {
			tb.Fatalf("format sequence %d: %v", seq, err)
		}
		switch {
		case n[len(n)-1] == c && with == "":
			with = n
		case n[len(n)-1] != c && without == "":
			without = n
		}
	}
	return with, without
}

// TestScanLowerCaseCheckX: a cashier's scanner in lower-case mode (or
// Caps Lock inverting it) types an e-card number's check character X as x.
// The number rule keeps refusing x where a number is typed to be kept
// (registration's output is always X), but a scan reads it as the X it
// stands for, as it reads full-width input: nothing else could be meant,
// since no number of the rule ends in x, and the check character still has
// to match. Before, such a scan answered "unknown". Temporary-card numbers
// may hold letters whose case matters and are left as scanned.
func TestScanLowerCaseCheckX(t *testing.T) {
	t.Parallel()
	// The default rule: cardPrefix 8801, cardWidth 10, mod11-2.
	xNo, digitNo := numberEndingIn(t, card.NumberRule{Prefix: "8801", Width: 10, CheckDigit: card.CheckMod11_2}, 'X')
	wrongX := strings.ToLower(digitNo[:len(digitNo)-1]) + "x" // its check character is a digit
	mod11 := newEnv(t, testSettings())
	luhnSettings := testSettings()
	luhnSettings[setCardCheck] = card.CheckLuhn
	luhn := newEnv(t, luhnSettings)

	testCases := map[string]struct {
		e          *env
		text       string
		wantResult string
		wantLooks  string
		// wantNo is the cardNo (e-card number) or tempCardNo of the reply.
		wantNo string
	}{
		"upper-case X":                    {e: mod11, text: xNo, wantResult: ResultNotECard, wantLooks: lookECardNumber, wantNo: xNo},
		"lower-case x":                    {e: mod11, text: strings.ToLower(xNo), wantResult: ResultNotECard, wantLooks: lookECardNumber, wantNo: xNo},
		"lower-case x with CR/LF":         {e: mod11, text: strings.ToLower(xNo) + "\r\n", wantResult: ResultNotECard, wantLooks: lookECardNumber, wantNo: xNo},
		"full-width lower-case ｘ":         {e: mod11, text: fullWidth(strings.ToLower(xNo)), wantResult: ResultNotECard, wantLooks: lookECardNumber, wantNo: xNo},
		"lower-case x, wrong check":       {e: mod11, text: wrongX, wantResult: ResultNotECard, wantLooks: "unknown"},
		"upper-case X, wrong check":       {e: mod11, text: strings.ToUpper(wrongX), wantResult: ResultNotECard, wantLooks: "unknown"},
		"luhn site: x is no check":        {e: luhn, text: strings.ToLower(xNo), wantResult: ResultNotECard, wantLooks: "unknown"},
		"temporary card ending in x":      {e: mod11, text: "99000123x", wantResult: ResultTemporaryCard, wantLooks: ResultTemporaryCard, wantNo: "99000123x"},
		"temporary card ending in X":      {e: mod11, text: "99000123X", wantResult: ResultTemporaryCard, wantLooks: ResultTemporaryCard, wantNo: "99000123X"},
		"resident ID, lower-case x":       {e: mod11, text: strings.ToLower(testResidentID), wantResult: ResultNotECard, wantLooks: KindResidentID},
		"e-card number ending in a digit": {e: mod11, text: digitNo, wantResult: ResultNotECard, wantLooks: lookECardNumber, wantNo: digitNo},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			status, rule, m := tc.e.scan(tc.text)
			if status != sdk.StatusInvalid || rule != tc.wantResult || m["result"] != tc.wantResult || m["looksLike"] != tc.wantLooks {
				t.Fatalf("scan of %q: status %s, rule %q, payload %v; want invalid, result %q, looksLike %q", tc.text, status, rule, m, tc.wantResult, tc.wantLooks)
			}
			no := m["cardNo"]
			if tc.wantResult == ResultTemporaryCard {
				no = m["tempCardNo"]
			}
			if tc.wantNo != "" && no != tc.wantNo {
				t.Errorf("scan of %q names %v, want %s", tc.text, no, tc.wantNo)
			}
		})
	}
}
