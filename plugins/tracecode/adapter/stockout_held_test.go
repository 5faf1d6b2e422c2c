package adapter_test

import (
	"context"
	"errors"
	"fmt"
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

// heldItem is one item of tracecode.stockouts.held.
type heldItem struct {
	BillNo    string   `json:"billNo"`
	Status    string   `json:"status"`
	Since     string   `json:"since"`
	Reason    string   `json:"reason"`
	CodeCount int      `json:"codeCount"`
	Codes     []string `json:"codes"`
	MessageID string   `json:"messageId"`
}

// resolveReply is the reply of tracecode.stockout.resolve.
type resolveReply struct {
	BillNo    string `json:"billNo"`
	Outcome   string `json:"outcome"`
	DecidedBy string `json:"decidedBy"`
	Status    string `json:"status"`
	Message   string `json:"message"`
}

// held lists the stock-outs holding codes with an unknown outcome.
func (e *env) held() []heldItem {
	e.t.Helper()
	return must[struct {
		Items []heldItem `json:"items"`
	}](e.t, e.send(adapter.OpHeldList, map[string]any{}), sdk.StatusOK).Items
}

// runReconcile runs the stockout-reconcile job once.
func (e *env) runReconcile() (*sdk.RunJobResponse, error) {
	e.t.Helper()
	return e.plugin.RunJob(context.Background(), &sdk.RunJobRequest{Site: site, Job: adapter.JobStockOutReconcile, Now: e.clock.Now(), TraceID: "reconcile"})
}

// TestHeldStockOutResolvedByJob: a stock-out whose outcome is unknown
// and that nobody sends again (the host gave up on its message) held its
// codes for good. The stockout-reconcile job now asks the platform once
// the attempt is old enough: a document the platform has keeps its codes
// out (the simulator's own ledger took them out too), one it never
// received puts them back, so another document takes them. Until then,
// and while the platform cannot tell, the held list names the document,
// its codes and why.
func TestHeldStockOutResolvedByJob(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		fail      string // how the stock-out got no answer
		settings  map[string]string
		wait      time.Duration // time between the stock-out and the job
		statusErr bool          // the platform does not answer the job's status query
		kept      bool          // the stock-out happened (on the platform)
		resolved  bool          // the job resolved it
	}{
		"answered but the answer lost: kept":     {fail: tracecode.FailAfter, wait: 20 * time.Minute, kept: true, resolved: true},
		"never reached (dropped): released":      {fail: tracecode.FailDrop, wait: 20 * time.Minute, resolved: true},
		"never processed (HTTP 500): released":   {fail: tracecode.FailHTTP500, wait: 20 * time.Minute, resolved: true},
		"processing failed (status 4): released": {fail: tracecode.FailProcessing, wait: 20 * time.Minute, resolved: true},
		// The call given up on (the timeout) while the platform held it
		// unprocessed.
		"given up on during the call: released":    {fail: tracecode.FailHang, settings: map[string]string{"timeout": "1s"}, wait: 20 * time.Minute, resolved: true},
		"too recent: left alone":                   {fail: tracecode.FailDrop, wait: time.Minute},
		"platform silent on the query: still held": {fail: tracecode.FailAfter, wait: 20 * time.Minute, statusErr: true, kept: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(s map[string]string) {
				for k, v := range tc.settings {
					s[k] = v
				}
			})
			c1, c2 := drugCode("8100001", 801), drugCode("8100001", 802)
			must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-H", "102", line(1, "2", c1, c2))), sdk.StatusOK)
			e.sim.Fail("upload", tc.fail, 1)
			r := e.send(adapter.OpStockOutUpload, bill("CK-H1", "202", line(1, "2", c1, c2)))
			if r.Status != sdk.StatusFailed || !hasDiagText(r.Diagnostics, sdk.SeverityWarning, "$.billNo", "state", "CK-H1", "2 code(s)", c1, adapter.JobStockOutReconcile) {
				t.Fatalf("stock-out without an answer: %s %s; want failed, saying which codes it holds and what resolves them", r.Status, r.Diagnostics)
			}
			if u, on := e.sim.Uploaded("CK-H1"); (on && !u.Failed) != tc.kept {
				t.Fatalf("the simulator has CK-H1 processed: %v, want %v", on && !u.Failed, tc.kept)
			}
			hs := e.held()
			if len(hs) != 1 || hs[0].BillNo != "CK-H1" || hs[0].CodeCount != 2 || strings.Join(hs[0].Codes, ",") != c1+","+c2 || hs[0].Reason == "" {
				t.Fatalf("held list before the job = %+v, want CK-H1 with its 2 codes and why", hs)
			}
			e.clock.Add(tc.wait)
			if tc.statusErr {
				e.sim.Fail("billstatus", tracecode.FailHTTP500, 1)
			}
			// A run in which the platform answered no query is an error (the
			// host runs it again sooner) naming the document.
			if _, err := e.runReconcile(); (err != nil) != tc.statusErr || err != nil && !strings.Contains(err.Error(), "CK-H1") {
				t.Fatalf("run %s: %v; want an error naming CK-H1: %v", adapter.JobStockOutReconcile, err, tc.statusErr)
			}
			hs = e.held()
			if tc.resolved != (len(hs) == 0) {
				t.Fatalf("held list after the job = %+v; resolved want %v", hs, tc.resolved)
			}
			if tc.resolved {
				// A second run changes nothing.
				before := e.state("")
				if _, err := e.runReconcile(); err != nil {
					t.Fatalf("second run: %v", err)
				}
				if after := e.state(""); fmt.Sprint(after) != fmt.Sprint(before) {
					t.Errorf("a second run changed the state:\n%v\n%v", before, after)
				}
			}
			r = e.send(adapter.OpStockOutUpload, bill("CK-H2", "202", line(1, "2", c1, c2)))
			if tc.resolved && !tc.kept {
				must[uploadReply](t, r, sdk.StatusOK)
				if w := warnings(r); len(w) > 0 {
					t.Errorf("the codes were not put back as they were: %s", w[0].Message())
				}
				if u, ok := e.sim.Uploaded("CK-H2"); !ok || len(u.Codes) != 2 {
					t.Errorf("the platform has CK-H2 = %+v (%v)", u, ok)
				}
				return
			}
			if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[0].code", "state", c1, "CK-H1") {
				t.Fatalf("a second stock-out of held codes: %s %s; want invalid naming CK-H1", r.Status, r.Diagnostics)
			}
			if !tc.resolved && !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[0].code", "state", "outcome is unknown", adapter.CmdHeldResolve) {
				t.Errorf("the refusal does not say the holding document's outcome is unknown and how to resolve it: %s", r.Diagnostics)
			}
			if _, on := e.sim.Uploaded("CK-H2"); on {
				t.Errorf("CK-H2 reached the platform")
			}
		})
	}
}

// TestHeldStockOutResolvedByOperator: where the platform cannot tell,
// the operator resolves a held stock-out with tracecode.stockout.resolve,
// recorded with who, when and why; where the platform answers, its answer
// decides whatever the operator asked; an attempt too recent to be over,
// a document not held and a resolution without who or why are refused.
func TestHeldStockOutResolvedByOperator(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		fail       string // how the stock-out got no answer
		silent     bool   // the platform does not answer status queries
		outcome    string // what the operator asks
		by, reason string
		wait       time.Duration
		status     sdk.Status
		want       resolveReply // on ok
		releasedOK bool         // a second stock-out of the codes succeeds
	}{
		"platform silent, operator releases": {fail: tracecode.FailDrop, silent: true, outcome: "released", by: "李药师", reason: "checked on the platform's web page: CK-O1 is not there", wait: 20 * time.Minute,
			status: sdk.StatusOK, want: resolveReply{BillNo: "CK-O1", Outcome: "released", DecidedBy: "operator", Status: "released"}, releasedOK: true},
		"platform silent, operator keeps": {fail: tracecode.FailAfter, silent: true, outcome: "kept", by: "李药师", reason: "the patient took the drugs", wait: 20 * time.Minute,
			status: sdk.StatusOK, want: resolveReply{BillNo: "CK-O1", Outcome: "kept", DecidedBy: "operator", Status: "uploaded"}},
		"platform has it, operator asks release: platform decides": {fail: tracecode.FailAfter, outcome: "released", by: "李药师", reason: "guess", wait: 20 * time.Minute,
			status: sdk.StatusOK, want: resolveReply{BillNo: "CK-O1", Outcome: "kept", DecidedBy: "platform", Status: "uploaded"}},
		"platform never got it, operator asks keep: platform decides": {fail: tracecode.FailDrop, outcome: "kept", by: "李药师", reason: "guess", wait: 20 * time.Minute,
			status: sdk.StatusOK, want: resolveReply{BillNo: "CK-O1", Outcome: "released", DecidedBy: "platform", Status: "released"}, releasedOK: true},
		"too recent":      {fail: tracecode.FailDrop, silent: true, outcome: "released", by: "李药师", reason: "r", wait: time.Minute, status: sdk.StatusInvalid},
		"no operator":     {fail: tracecode.FailDrop, silent: true, outcome: "released", reason: "r", wait: 20 * time.Minute, status: sdk.StatusInvalid},
		"no reason":       {fail: tracecode.FailDrop, silent: true, outcome: "released", by: "李药师", wait: 20 * time.Minute, status: sdk.StatusInvalid},
		"unknown outcome": {fail: tracecode.FailDrop, silent: true, outcome: "maybe", by: "李药师", reason: "r", wait: 20 * time.Minute, status: sdk.StatusInvalid},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			c1 := drugCode("8100001", 901)
			must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-O", "102", line(1, "1", c1))), sdk.StatusOK)
			e.sim.Fail("upload", tc.fail, 1)
			if r := e.send(adapter.OpStockOutUpload, bill("CK-O1", "202", line(1, "1", c1))); r.Status != sdk.StatusFailed {
				t.Fatalf("stock-out: %s %s", r.Status, r.Diagnostics)
			}
			e.clock.Add(tc.wait)
			if tc.silent {
				e.sim.Fail("billstatus", tracecode.FailHTTP500, 5)
			}
			payload := map[string]any{"billNo": "CK-O1", "outcome": tc.outcome, "by": tc.by, "reason": tc.reason}
			r := e.sendID("resolve-1", adapter.OpHeldResolve, payload, false)
			got := must[resolveReply](t, r, tc.status)
			if tc.status != sdk.StatusOK {
				if len(e.held()) != 1 {
					t.Errorf("a refused resolution changed the held list: %+v", e.held())
				}
				return
			}
			got.Message = ""
			if got != tc.want {
				t.Errorf("reply = %+v, want %+v", got, tc.want)
			}
			// Delivered again, the message gets the same outcome.
			again := must[resolveReply](t, e.sendID("resolve-1", adapter.OpHeldResolve, payload, true), sdk.StatusOK)
			if again.Message = ""; again != tc.want {
				t.Errorf("redelivered: reply = %+v, want %+v", again, tc.want)
			}
			if hs := e.held(); len(hs) != 0 {
				t.Errorf("still held: %+v", hs)
			}
			r = e.send(adapter.OpStockOutUpload, bill("CK-O2", "202", line(1, "1", c1)))
			if tc.releasedOK {
				must[uploadReply](t, r, sdk.StatusOK)
			} else if r.Status != sdk.StatusInvalid {
				t.Errorf("a second stock-out of a kept code: %s %s", r.Status, r.Diagnostics)
			}
			// Recorded with who and why on the document (the export's
			// 状态说明 shows it).
			rec := ""
			for _, s := range e.state("log/doc/") {
				if strings.Contains(string(s.Value), `"docNo":"CK-O1"`) {
					rec = string(s.Value)
				}
			}
			if tc.want.DecidedBy == "operator" && (!strings.Contains(rec, tc.reason) || !strings.Contains(rec, tc.by)) {
				t.Errorf("the operator's resolution is not recorded on CK-O1 with who and why: %s", rec)
			}
		})
	}
}

// TestHeldStockOutRetriedAfterTheJob: the job released a stock-out the
// platform never received; the host's retry of that message then comes:
// it takes the codes again and sends the document, once, and the codes are
// out for good (another document is refused naming it). A retry after the
// job kept one is answered from the record, nothing sent.
func TestHeldStockOutRetriedAfterTheJob(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		fail    string
		uploads int // documents the platform received in all
	}{
		"released, then retried": {fail: tracecode.FailDrop, uploads: 2},
		"kept, then retried":     {fail: tracecode.FailAfter, uploads: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			c := drugCode("8100001", 851)
			must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-R", "102", line(1, "1", c))), sdk.StatusOK)
			e.sim.Fail("upload", tc.fail, 1)
			out := bill("CK-R1", "202", line(1, "1", c))
			if r := e.sendID("out-1", adapter.OpStockOutUpload, out, false); r.Status != sdk.StatusFailed {
				t.Fatalf("stock-out: %s %s", r.Status, r.Diagnostics)
			}
			e.clock.Add(20 * time.Minute)
			if _, err := e.runReconcile(); err != nil {
				t.Fatal(err)
			}
			must[uploadReply](t, e.sendID("out-1", adapter.OpStockOutUpload, out, false), sdk.StatusOK)
			if n := e.sim.Stats().Uploads; n != tc.uploads {
				t.Errorf("the platform received %d documents, want %d", n, tc.uploads)
			}
			if hs := e.held(); len(hs) != 0 {
				t.Errorf("still held: %+v", hs)
			}
			r := e.send(adapter.OpStockOutUpload, bill("CK-R2", "202", line(1, "1", c)))
			if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[0].code", "state", c, "CK-R1") {
				t.Fatalf("a second stock-out: %s %s; want invalid naming CK-R1", r.Status, r.Diagnostics)
			}
		})
	}
}

// stockWriteFailer serves a MemoryHost and, when armed, fails the next
// batched write of stock ledger entries: a release that stops halfway.
type stockWriteFailer struct {
	*sdktest.MemoryHost
	armed atomic.Bool
}

func (h *stockWriteFailer) WriteState(ctx context.Context, site string, writes []sdk.StateWrite) ([]int64, error) {
	if len(writes) > 0 && strings.HasPrefix(writes[0].Key, "stock/") && h.armed.CompareAndSwap(true, false) {
		return nil, errors.New("the store is unavailable (simulated)")
	}
	return h.MemoryHost.WriteState(ctx, site, writes)
}

// TestHeldStockOutReleaseThatStopped: the job's release of a stock-out the
// platform never received stops halfway (the store failed). While it may
// still be under way, a retry of the document waits (retried, nothing
// sent); after releaseLease either the retry goes on (it takes the codes
// and sends the document once) or the next run finishes the release.
func TestHeldStockOutReleaseThatStopped(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		retry    bool // the host retries the message after the lease; else the job runs again
		released bool // the codes end in stock
	}{
		"retried after the lease": {retry: true},
		"next run finishes it":    {released: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var fh *stockWriteFailer
			e := newEnvOn(t, nil, func(m *sdktest.MemoryHost) sdkhost.HostServer { fh = &stockWriteFailer{MemoryHost: m}; return fh })
			c := drugCode("8100001", 861)
			must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-L", "102", line(1, "1", c))), sdk.StatusOK)
			e.sim.Fail("upload", tracecode.FailDrop, 1)
			out := bill("CK-L1", "202", line(1, "1", c))
			if r := e.sendID("out-1", adapter.OpStockOutUpload, out, false); r.Status != sdk.StatusFailed {
				t.Fatalf("stock-out: %s %s", r.Status, r.Diagnostics)
			}
			e.clock.Add(20 * time.Minute)
			fh.armed.Store(true)
			if _, err := e.runReconcile(); err == nil || !strings.Contains(err.Error(), "CK-L1") {
				t.Fatalf("a run whose release failed: %v; want an error naming CK-L1", err)
			}
			r := e.sendID("out-1", adapter.OpStockOutUpload, out, false)
			if r.Status != sdk.StatusFailed || !r.Retryable || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.billNo", "state", "CK-L1", "put back") {
				t.Fatalf("a retry during the release: %s (retryable %v) %s; want a retryable failure saying the codes are being put back", r.Status, r.Retryable, r.Diagnostics)
			}
			if n := e.sim.Stats().Uploads; n != 1 {
				t.Fatalf("the platform received %d documents during the release, want 1 (the stock-in)", n)
			}
			e.clock.Add(11 * time.Minute)
			if tc.retry {
				must[uploadReply](t, e.sendID("out-1", adapter.OpStockOutUpload, out, false), sdk.StatusOK)
			} else if _, err := e.runReconcile(); err != nil {
				t.Fatal(err)
			}
			if hs := e.held(); len(hs) != 0 {
				t.Errorf("still held: %+v", hs)
			}
			r = e.send(adapter.OpStockOutUpload, bill("CK-L2", "202", line(1, "1", c)))
			if tc.released {
				must[uploadReply](t, r, sdk.StatusOK)
				return
			}
			if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[0].code", "state", c, "CK-L1") {
				t.Fatalf("a second stock-out: %s %s; want invalid naming CK-L1", r.Status, r.Diagnostics)
			}
		})
	}
}
