package adapter_test

import (
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
)

// TestHeldResolveRefusalsInChinese: pharmacy staff press 已出库 or 未出库
// on the held stock-outs work list. A press refused (too soon after the
// attempt, a document not held or not there, no reason given) or
// overruled by the platform's answer says so in Chinese, the English
// after. Before, each was English only.
func TestHeldResolveRefusalsInChinese(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		billNo, reason string
		wait           time.Duration
		silent         bool
		status         sdk.Status
		words          []string
	}{
		"too soon":             {billNo: "CK-Z1", reason: "r", wait: time.Minute, silent: true, status: sdk.StatusInvalid, words: []string{"CK-Z1", "稍后"}},
		"no such document":     {billNo: "CK-NONE", reason: "r", wait: 20 * time.Minute, silent: true, status: sdk.StatusInvalid, words: []string{"CK-NONE"}},
		"no reason":            {billNo: "CK-Z1", wait: 20 * time.Minute, silent: true, status: sdk.StatusInvalid, words: []string{"原因"}},
		"the platform decides": {billNo: "CK-Z1", reason: "guess", wait: 20 * time.Minute, status: sdk.StatusOK, words: []string{"平台", "CK-Z1"}},
	}
	han := func(r rune) bool { return unicode.Is(unicode.Han, r) }
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			c1 := drugCode("8100001", 911)
			must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-Z", "102", line(1, "1", c1))), sdk.StatusOK)
			e.sim.Fail("upload", tracecode.FailAfter, 1)
			if r := e.send(adapter.OpStockOutUpload, bill("CK-Z1", "202", line(1, "1", c1))); r.Status != sdk.StatusFailed {
				t.Fatalf("stock-out: %s %s", r.Status, r.Diagnostics)
			}
			e.clock.Add(tc.wait)
			if tc.silent {
				e.sim.Fail("billstatus", tracecode.FailHTTP500, 5)
			}
			// The operator asks "released"; the platform has the document.
			r := e.send(adapter.OpHeldResolve, map[string]any{"billNo": tc.billNo, "outcome": "released", "by": "李药师", "reason": tc.reason})
			if r.Status != tc.status {
				t.Fatalf("status %s %s, want %s", r.Status, r.Diagnostics, tc.status)
			}
			if len(r.Diagnostics) == 0 {
				t.Fatalf("no refusal or warning: %s", r.Diagnostics)
			}
			for _, d := range r.Diagnostics {
				if !strings.ContainsFunc(d.Summary, han) {
					t.Errorf("%s: %q is not in Chinese", d.Field, d.Summary)
				}
			}
			all := r.Diagnostics.String()
			for _, w := range tc.words {
				if !strings.Contains(all, w) {
					t.Errorf("%s does not say %q", all, w)
				}
			}
		})
	}
}
