package adapter

import (
	"fmt"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
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

// TestRefusedRedownloadRequest: a re-download request (GYR005) the national
// system does not accept (accept_flag 0 in its signed answer) is a refusal:
// the reply is rejected with the national message, as for every refused
// transaction, and a redelivery gets the same stored reply. An accepted one
// stays ok.
func TestRefusedRedownloadRequest(t *testing.T) {
	t.Parallel()
	for name, signTarget := range map[string]string{"plaintext (confirmed with GYD053)": "plaintext", "canonical": "canonical"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withSettings(setSignTarget, signTarget))
			in := map[string]any{"download_code": "GYD001", "batch_no": "D0000000000000000001", "reason": "本地入库失败"}
			for _, recovering := range []bool{false, true} {
				r := e.handle("gyr005-1", "GYR005", in, recovering)
				if r.Status != sdk.StatusRejected || r.External == nil || !strings.Contains(r.External.Message, "不存在或已确认") || r.External.MsgID == "" {
					t.Fatalf("refused GYR005 (redelivered %v): %s %+v %s, want rejected with the national message and serial", recovering, r.Status, r.External, r.Diagnostics)
				}
				if r.External.Code != "accept_flag=0" {
					t.Fatalf("refused GYR005: external code %q, want accept_flag=0", r.External.Code)
				}
			}
			if n := len(e.sim.Received("GYR005")); n != 1 {
				t.Fatalf("GYR005 sent %d times, want 1 (the redelivery gets the stored reply)", n)
			}
			// Accepted: a range holding an acknowledged batch.
			e.sim.AddApplication(wisim.SampleApplication("RD", 1, "350200"))
			e.mustOK(e.send("GYD001", map[string]any{}))
			out := e.mustOK(e.send("GYR005", map[string]any{"download_code": "GYD001", "aae030": "2000-01-01", "aae031": "2099-12-31", "reason": "本地数据丢失"}))
			if out["accept_flag"] != "1" {
				t.Fatalf("accepted GYR005: %v", out)
			}
		})
	}
}

// TestRefusedCompleteRedownload: a complete re-download (GYD102 after a
// GYD401) that the national system refuses no longer stays queued, and
// failing, for ever, nor holds back the re-downloads queued after it. Each
// refusal is reported in the GYD401 reply (ok: its own batch went fine) as
// a warning; the re-download is asked for again by the next GYD401 runs,
// and at the redownloadTries-th refusal it is dropped, with a warning
// saying so and one workinjury.redownload.dropped event.
func TestRefusedCompleteRedownload(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	v1, _ := c.stay("ZY0961")
	v2, _ := c.stay("ZY0962")
	c.mustOK(c.send("GYD101", map[string]any{}))
	for _, akc190 := range []string{"ZY0961", "ZY0962"} {
		c.mustOK(c.send("GYD102", map[string]any{"akb020": hospital, "akc190": akc190}))
	}
	for _, v := range []string{v1, v2} {
		c.mustOK(c.send("GYR001", map[string]any{"ykc700": v, "details": []any{map[string]any{"detail_no": "0001"}},
			"revoke_reason": "明细有误", "revoke_time": revokeT(3), "aae011": "王五"}))
	}
	c.sim.Inject(wisim.Fault{Code: "GYD102", Kind: wisim.FaultBusiness, Times: -1, ErrCode: "E9102", ErrMessage: "入院登记信息不存在",
		Match: func(in map[string]any) bool { return in["akc190"] == "ZY0961" }})
	h := hostFor(c.host, testSite)
	refusedKey := "redl/GYD102/" + hospital + "/ZY0961"
	for run := 1; run <= redownloadTries; run++ {
		r := c.send("GYD401", map[string]any{})
		out := c.mustOK(r)
		var warned bool
		for _, d := range r.Diagnostics {
			if d.Rule == "follow-up" && strings.Contains(d.Detail, "E9102") {
				warned = true
			}
		}
		refused, _ := out["refused_follow_ups"].([]any)
		if !warned || len(refused) != 1 {
			t.Fatalf("run %d: GYD401 reply %v %s: want one refused follow-up, reported as a warning", run, out, r.Diagnostics)
		}
		dropped := refused[0].(map[string]any)["dropped"] == true
		if want := run == redownloadTries; dropped != want {
			t.Fatalf("run %d: dropped %v, want %v: %v", run, dropped, want, refused[0])
		}
		entries, err := h.Scan(t.Context(), "redl/", 10)
		if err != nil {
			t.Fatal(err)
		}
		// The other visit's re-download ran in the first run despite
		// the refusal before it.
		if len(entries) != 1-btoi(dropped) || (len(entries) == 1 && entries[0].Key != refusedKey) {
			t.Fatalf("run %d: queued %v, want only %s until it is dropped", run, entries, refusedKey)
		}
	}
	if n := len(c.events("workinjury.redownload.dropped")); n != 1 {
		t.Fatalf("%d workinjury.redownload.dropped events, want 1", n)
	}
	if n := len(c.sim.Received("GYD102")); n < 2+redownloadTries+1 {
		t.Fatalf("GYD102 reached the simulator %d times: the other visit's re-download did not run", n)
	}
	// Dropped: a later GYD401 asks for it no more.
	before := len(c.sim.Received("GYD102"))
	c.mustOK(c.send("GYD401", map[string]any{}))
	if n := len(c.sim.Received("GYD102")); n != before {
		t.Fatalf("GYD102 asked for again after it was dropped")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestCompleteRedownloadAcrossRuns: a complete re-download after a
// fee-detail revocation (GYD401 → GYD102 full_flag 1) that needs more
// batches than one run fetches (maxBatchesPerRun) goes on where the
// previous run stopped, and each later batch of a run after the one
// before: every valid detail is delivered again once, and the queue
// empties. Started over at each run, it would hand out the first batch
// again and again and never complete.
func TestCompleteRedownloadAcrossRuns(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		maxBatches string
		details    int // the first one is revoked
	}{
		"one batch per run":   {"1", 3},
		"two batches a run":   {"2", 6},
		"three batches a run": {"3", 8},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, withSettings(setMaxBatches, tc.maxBatches), withSim(func(cfg *wisim.Config) { cfg.BatchSize = 1 }))
			var lines []map[string]any
			for i := 1; i <= tc.details; i++ {
				lines = append(lines, line(fmt.Sprintf("%04d", i), "10.00", "1", "0"))
			}
			v, _ := c.stay("ZY0961", lines...)
			c.mustOK(c.send("GYD101", map[string]any{}))
			for range tc.details {
				c.mustOK(c.send("GYD102", map[string]any{"akb020": hospital, "akc190": "ZY0961"}))
			}
			c.mustOK(c.send("GYR001", map[string]any{"ykc700": v, "details": []any{map[string]any{"detail_no": "0001"}},
				"revoke_reason": "明细有误", "revoke_time": revokeT(3), "aae011": "王五"}))
			queued := func() int {
				entries, err := hostFor(c.host, testSite).Scan(t.Context(), "redl/", 10)
				if err != nil {
					t.Fatal(err)
				}
				return len(entries)
			}
			for run := 1; run <= tc.details && (run == 1 || queued() > 0); run++ {
				c.mustOK(c.send("GYD401", map[string]any{}))
			}
			delivered := map[string]int{}
			for _, ev := range c.events("workinjury.fee_detail.downloaded") {
				delivered[ev.Key]++
			}
			for i := 1; i <= tc.details; i++ {
				no, want := fmt.Sprintf("%04d", i), 2
				if i == 1 {
					want = 1 // revoked: not in the complete re-download
				}
				if delivered[no] != want {
					t.Errorf("detail %s delivered %d times, want %d (all: %v)", no, delivered[no], want, delivered)
				}
			}
			if n := queued(); n != 0 {
				t.Errorf("the complete re-download is still queued (%d entries)", n)
			}
		})
	}
}

// TestRedownloadQueuedAgainMeanwhileStays: a complete re-download queued
// again while it runs (a newer revocation of the same stay, downloaded by
// another run) is not removed when the older one completes: the details
// it fetched predate that revocation, and the newer one's re-download is
// still to be made.
func TestRedownloadQueuedAgainMeanwhileStays(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	v, _ := c.stay("ZY0971", line("0001", "10.00", "1", "0"), line("0002", "20.00", "1", "0"))
	c.mustOK(c.send("GYD101", map[string]any{}))
	c.mustOK(c.send("GYD102", map[string]any{"akb020": hospital, "akc190": "ZY0971"}))
	c.mustOK(c.send("GYR001", map[string]any{"ykc700": v, "details": []any{map[string]any{"detail_no": "0001"}},
		"revoke_reason": "明细有误", "revoke_time": revokeT(3), "aae011": "王五"}))
	key := "redl/GYD102/" + hospital + "/ZY0971"
	h := hostFor(c.host, testSite)
	stored := 0
	c.impl.hook = func(p string) error {
		if p != "stored" {
			return nil
		}
		if stored++; stored == 2 { // the batch of the complete re-download
			// Another run downloads a newer revocation of the stay and
			// queues its complete re-download again.
			return putJSON(t.Context(), h, key, map[string]any{"akb020": hospital, "akc190": "ZY0971", "ykc700": v, "full_flag": "1"})
		}
		return nil
	}
	r := c.mustOK(c.send("GYD401", map[string]any{}))
	if fu, _ := r["follow_ups"].([]any); len(fu) != 1 {
		t.Fatalf("GYD401 summary %v: want one complete re-download", r)
	}
	var entry map[string]any
	if ver, err := getJSON(t.Context(), h, key, &entry); err != nil || ver == 0 {
		t.Fatalf("the complete re-download queued again meanwhile was removed (%v)", err)
	}
	c.impl.hook = nil
	c.mustOK(c.send("GYD401", map[string]any{}))
	if ver, err := getJSON(t.Context(), h, key, &entry); err != nil || ver != 0 {
		t.Fatalf("the re-download queued again is still queued after the next run (version %d, %v)", ver, err)
	}
	if n := len(c.sim.Received("GYD102")); n < 3 {
		t.Fatalf("GYD102 sent %d times; want the download of the stay, and a complete re-download for each queueing", n)
	}
}
