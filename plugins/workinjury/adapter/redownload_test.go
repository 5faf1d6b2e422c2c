package adapter

import (
	"testing"
)

// TestFeeRevocationOfAnAdmissionNotDownloaded: a fee-detail revocation
// (GYD401) of a stay whose admission this site never downloaded (GYD101)
// has no local details to replace, and GYD102 may not be asked for it
// (requirement 11: 前置校验（已下载入院登记信息）). The revocation is
// delivered and acknowledged, no complete re-download is queued, and
// later GYD401 runs do not fail on one.
func TestFeeRevocationOfAnAdmissionNotDownloaded(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	v, _ := c.stay("ZY0951")
	c.mustOK(c.send("GYR001", map[string]any{"ykc700": v, "details": []any{map[string]any{"detail_no": "0001"}},
		"revoke_reason": "明细有误", "revoke_time": revokeT(3), "aae011": "王五"}))
	for run := 1; run <= 2; run++ {
		r := c.mustOK(c.send("GYD401", map[string]any{}))
		if fu, _ := r["follow_ups"].([]any); len(fu) != 0 {
			t.Fatalf("run %d: GYD401 summary %v: no GYD102 may follow for an admission not downloaded here", run, r)
		}
	}
	if n := len(c.events("workinjury.fee_detail_revocation.downloaded")); n != 1 {
		t.Fatalf("%d revocation events, want 1", n)
	}
	if n := len(c.sim.Received("GYD102")); n != 0 {
		t.Fatalf("GYD102 sent %d time(s) for an admission never downloaded", n)
	}
	if entries, _ := hostFor(c.host, testSite).Scan(t.Context(), "redl/", 10); len(entries) != 0 {
		t.Fatalf("re-download queued: %v", entries)
	}
}
