package adapter_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
)

// asPendingBeforeTheRelease rewrites the state of stock-out docNo, whose
// attempt holds its codes, as versions before 46dc3c3 left a stock-out
// that was not sent (the platform unreachable, no token): status pending,
// its codes still out of stock under it, and no outheld entry.
func (e *env) asPendingBeforeTheRelease(docNo string) {
	e.t.Helper()
	e.asBeforeTheHeldIndex(docNo, "unknown")
	for _, s := range e.state("log/doc/") {
		var rec map[string]any
		if err := json.Unmarshal(s.Value, &rec); err != nil {
			e.t.Fatal(err)
		}
		if rec["docNo"] != docNo {
			continue
		}
		rec["status"] = "pending"
		rec["statusText"] = "upload: trace-code platform unavailable: dial tcp 127.0.0.1:1: connect: connection refused; check baseUrl and the network"
		b, _ := json.Marshal(rec)
		if _, err := e.host.Put(context.Background(), site, s.Key, b); err != nil {
			e.t.Fatal(err)
		}
		return
	}
}

// TestPendingStockOutFromBeforeTheRelease: versions before 46dc3c3 kept
// the codes of a stock-out that was never sent (status pending) out of
// stock. Nothing listed such a document nor released its codes: the held
// index and its recovery know only unknown and sending, so unless the
// same document was sent again its codes stayed out for good, refusing
// every later stock-out of them. The stockout-reconcile job now finds
// them (also on a site whose recovery was done by the version before),
// lists them, and asks the platform: on it, they stay out; not on it,
// they go back in stock; the platform silent, they stay listed.
func TestPendingStockOutFromBeforeTheRelease(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		fail         string // how the attempt went (on the platform or not)
		recoveryDone bool   // the version before finished the held recovery
		silent       bool   // the platform does not answer status queries
		kept         bool
	}{
		"not on the platform: released":                       {fail: tracecode.FailDrop},
		"not on the platform, recovery done before: released": {fail: tracecode.FailDrop, recoveryDone: true},
		"on the platform: kept":                               {fail: tracecode.FailAfter, kept: true},
		"platform silent: listed, still held":                 {fail: tracecode.FailDrop, silent: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			c1, c2 := drugCode("8100001", 821), drugCode("8100001", 822)
			must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-Q", "102", line(1, "2", c1, c2))), sdk.StatusOK)
			e.sim.Fail("upload", tc.fail, 1)
			if r := e.send(adapter.OpStockOutUpload, bill("CK-Q1", "202", line(1, "2", c1, c2))); r.Status != sdk.StatusFailed {
				t.Fatalf("stock-out: %s %s", r.Status, r.Diagnostics)
			}
			e.asPendingBeforeTheRelease("CK-Q1")
			if tc.recoveryDone {
				if _, err := e.host.Put(context.Background(), site, "recovery/outheld", []byte(`{"after":"docidx/up/RK-Q","done":true,"documents":2,"runs":1}`)); err != nil {
					t.Fatal(err)
				}
			}
			e.clock.Add(20 * time.Minute)
			if tc.silent {
				e.sim.Fail("billstatus", tracecode.FailHTTP500, 5)
			}
			if _, err := e.runReconcile(); (err != nil) != tc.silent {
				t.Fatalf("run %s: %v", adapter.JobStockOutReconcile, err)
			}
			hs := e.held()
			if tc.silent {
				if len(hs) != 1 || hs[0].BillNo != "CK-Q1" || hs[0].Status != "pending" || hs[0].CodeCount != 2 || hs[0].Reason == "" {
					t.Fatalf("held list = %+v, want CK-Q1 (pending) with its 2 codes and why", hs)
				}
				r := e.send(adapter.OpStockOutUpload, bill("CK-Q2", "202", line(1, "2", c1, c2)))
				if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[0].code", "state", c1, "CK-Q1", "outcome is unknown", adapter.CmdHeldResolve) {
					t.Fatalf("a stock-out of its codes: %s %s; want invalid naming CK-Q1 and how to resolve it", r.Status, r.Diagnostics)
				}
				return
			}
			if len(hs) != 0 {
				t.Fatalf("held list after the job = %+v, want none", hs)
			}
			r := e.send(adapter.OpStockOutUpload, bill("CK-Q2", "202", line(1, "2", c1, c2)))
			if !tc.kept {
				must[uploadReply](t, r, sdk.StatusOK)
				if w := warnings(r); len(w) > 0 {
					t.Errorf("the codes were not put back as they were: %s", w[0].Message())
				}
				return
			}
			if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[0].code", "state", c1, "CK-Q1") {
				t.Fatalf("a stock-out of kept codes: %s %s; want invalid naming CK-Q1", r.Status, r.Diagnostics)
			}
		})
	}
}

// heldPutHook serves a MemoryHost and runs hook once, when the plugin
// records stock-out doc as holding its codes (an attempt of it has taken
// them and is about to send it).
type heldPutHook struct {
	*sdktest.MemoryHost
	doc  string
	hook atomic.Pointer[func()]
}

func (h *heldPutHook) Put(ctx context.Context, site, key string, value []byte) (int64, error) {
	if key == "outheld/"+h.doc {
		if f := h.hook.Swap(nil); f != nil {
			(*f)()
		}
	}
	return h.MemoryHost.Put(ctx, site, key, value)
}

// TestPendingStockOutRetryRacingTheJob: the host retries the message of a
// stock-out left pending by a version before 46dc3c3 while the
// stockout-reconcile job resolves it. The retry has taken the codes (its
// own already) and is about to send the document when the job runs: the
// job must not put them back (the document then reaches the platform with
// its codes in stock, so they could leave twice); the retry claimed the
// document first, so the job leaves it alone, the document is uploaded
// once and its codes are out (another stock-out of them is refused).
func TestPendingStockOutRetryRacingTheJob(t *testing.T) {
	t.Parallel()
	var hh *heldPutHook
	e := newEnvOn(t, nil, func(m *sdktest.MemoryHost) sdkhost.HostServer {
		hh = &heldPutHook{MemoryHost: m, doc: "CK-S1"}
		return hh
	})
	c1, c2 := drugCode("8100001", 831), drugCode("8100001", 832)
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-S", "102", line(1, "2", c1, c2))), sdk.StatusOK)
	e.sim.Fail("upload", tracecode.FailDrop, 1)
	out := bill("CK-S1", "202", line(1, "2", c1, c2))
	if r := e.sendID("out-1", adapter.OpStockOutUpload, out, false); r.Status != sdk.StatusFailed {
		t.Fatalf("stock-out: %s %s", r.Status, r.Diagnostics)
	}
	e.asPendingBeforeTheRelease("CK-S1")
	e.clock.Add(20 * time.Minute)
	var jobErr error
	ran := false
	run := func() {
		ran = true
		_, jobErr = e.runReconcile()
	}
	hh.hook.Store(&run)
	must[uploadReply](t, e.sendID("out-1", adapter.OpStockOutUpload, out, false), sdk.StatusOK)
	if !ran {
		t.Fatal("the job did not run during the retry")
	}
	if jobErr != nil {
		t.Fatalf("the job during the retry: %v", jobErr)
	}
	if u, ok := e.sim.Uploaded("CK-S1"); !ok || len(u.Codes) != 2 {
		t.Fatalf("the platform has CK-S1 = %+v (%v), want it with its 2 codes", u, ok)
	}
	// The job again, later: nothing to do.
	e.clock.Add(20 * time.Minute)
	if _, err := e.runReconcile(); err != nil {
		t.Fatal(err)
	}
	if hs := e.held(); len(hs) != 0 {
		t.Errorf("still held: %+v", hs)
	}
	for _, c := range []string{c1, c2} {
		got := ""
		for _, s := range e.state("stock/" + c) {
			got += string(s.Value)
		}
		if !strings.Contains(got, `"s":"out"`) || !strings.Contains(got, `"d":"CK-S1"`) {
			t.Errorf("code %s in the ledger: %s, want out with CK-S1", c, got)
		}
	}
	r := e.send(adapter.OpStockOutUpload, bill("CK-S2", "202", line(1, "2", c1, c2)))
	if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[0].code", "state", c1, "CK-S1") {
		t.Fatalf("codes stocked out twice: %s %s; want invalid naming CK-S1", r.Status, r.Diagnostics)
	}
}

// TestPendingStockOutCorrectedUnderItsNumber: a stock-out left pending by
// a version before 46dc3c3 (its codes kept out) is sent again under its
// number with other content, without one of its codes. The correction is
// uploaded; the code only the old attempt listed stayed out under the
// document for good, refusing its next stock-out. It now goes back in
// stock, as for an earlier attempt found not to be on the platform.
func TestPendingStockOutCorrectedUnderItsNumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c1, c2 := drugCode("8100001", 841), drugCode("8100001", 842)
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-T", "102", line(1, "2", c1, c2))), sdk.StatusOK)
	e.sim.Fail("upload", tracecode.FailDrop, 1)
	if r := e.send(adapter.OpStockOutUpload, bill("CK-T1", "202", line(1, "2", c1, c2))); r.Status != sdk.StatusFailed {
		t.Fatalf("stock-out: %s %s", r.Status, r.Diagnostics)
	}
	e.asPendingBeforeTheRelease("CK-T1")
	e.clock.Add(20 * time.Minute)
	must[uploadReply](t, e.send(adapter.OpStockOutUpload, bill("CK-T1", "202", line(1, "1", c1))), sdk.StatusOK)
	r := e.send(adapter.OpStockOutUpload, bill("CK-T2", "202", line(1, "1", c2)))
	must[uploadReply](t, r, sdk.StatusOK)
	if w := warnings(r); len(w) > 0 {
		t.Errorf("the code was not put back as it was: %s", w[0].Message())
	}
	r = e.send(adapter.OpStockOutUpload, bill("CK-T3", "202", line(1, "1", c1)))
	if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[0].code", "state", c1, "CK-T1") {
		t.Fatalf("a code the correction took: %s %s; want invalid naming CK-T1", r.Status, r.Diagnostics)
	}
}
