package adapter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
)

// asBeforeTheHeldIndex rewrites the state of stock-out docNo as the
// version before the held-stock-out index wrote it: the document in status
// (sending: the plugin stopped during the call; unknown: sent, no answer)
// with its codes out of stock, and no outheld entry.
func (e *env) asBeforeTheHeldIndex(docNo, status string) {
	e.t.Helper()
	ctx := context.Background()
	if err := e.host.Delete(ctx, site, "outheld/"+docNo); err != nil {
		e.t.Fatal(err)
	}
	for _, s := range e.state("log/doc/") {
		var rec map[string]any
		if err := json.Unmarshal(s.Value, &rec); err != nil {
			e.t.Fatal(err)
		}
		if rec["docNo"] != docNo {
			continue
		}
		if rec["direction"] != "out" || (rec["status"] != "unknown" && rec["status"] != "sending") {
			e.t.Fatalf("stock-out %s is %v %v, want a stock-out of unknown outcome", docNo, rec["direction"], rec["status"])
		}
		rec["status"] = status
		b, _ := json.Marshal(rec)
		if _, err := e.host.Put(ctx, site, s.Key, b); err != nil {
			e.t.Fatal(err)
		}
		return
	}
	e.t.Fatalf("no stored document %s", docNo)
}

// TestHeldStockOutFromBeforeTheIndex: a stock-out whose outcome was unknown
// before the held-stock-out index existed has no outheld entry. It held its
// codes silently: not listed by tracecode.stockouts.held, not reconciled by
// the stockout-reconcile job, only by a later attempt of the same document
// (which, the host having given up on the message, never comes). The job
// now finds such documents once (two instances running it at once find
// each once), so they are listed and resolved like the others.
func TestHeldStockOutFromBeforeTheIndex(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		fail   string // how the stock-out got no answer
		status string // as the earlier version left it
		kept   bool   // the platform has it
	}{
		"unknown, on the platform: kept":           {fail: tracecode.FailAfter, status: "unknown", kept: true},
		"unknown, not on the platform: released":   {fail: tracecode.FailDrop, status: "unknown"},
		"sending (stopped), on the platform: kept": {fail: tracecode.FailAfter, status: "sending", kept: true},
		"sending (stopped), never sent: released":  {fail: tracecode.FailDrop, status: "sending"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			second := secondInstance(t, e, e.host)
			// Other documents, so the held one is found among many.
			for i := range 30 {
				must[uploadReply](t, e.send(adapter.OpStockInUpload, bill(fmt.Sprintf("RK-P%02d", i), "102", line(1, "1", drugCode("8100002", 700+i)))), sdk.StatusOK)
			}
			c1, c2 := drugCode("8100001", 811), drugCode("8100001", 812)
			must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-P", "102", line(1, "2", c1, c2))), sdk.StatusOK)
			e.sim.Fail("upload", tc.fail, 1)
			if r := e.send(adapter.OpStockOutUpload, bill("CK-P1", "202", line(1, "2", c1, c2))); r.Status != sdk.StatusFailed {
				t.Fatalf("stock-out: %s %s", r.Status, r.Diagnostics)
			}
			e.asBeforeTheHeldIndex("CK-P1", tc.status)

			// The job runs on both instances at once; the attempt is too
			// recent to resolve, but it is listed now.
			e.clock.Add(time.Minute)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, p := range []sdk.Plugin{e.plugin, second} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = p.RunJob(context.Background(), &sdk.RunJobRequest{Site: site, Job: adapter.JobStockOutReconcile, Now: e.clock.Now(), TraceID: fmt.Sprintf("reconcile-%d", i)})
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("run %d of %s: %v", i, adapter.JobStockOutReconcile, err)
				}
			}
			hs := e.held()
			if len(hs) != 1 || hs[0].BillNo != "CK-P1" || hs[0].CodeCount != 2 || strings.Join(hs[0].Codes, ",") != c1+","+c2 || hs[0].Status != tc.status {
				t.Fatalf("held list after the job = %+v, want CK-P1 (%s) with its 2 codes", hs, tc.status)
			}

			// Old enough, the next run resolves it by the platform's answer.
			e.clock.Add(20 * time.Minute)
			if _, err := e.runReconcile(); err != nil {
				t.Fatalf("run %s: %v", adapter.JobStockOutReconcile, err)
			}
			if hs := e.held(); len(hs) != 0 {
				t.Fatalf("held list after the resolving run = %+v, want none", hs)
			}
			before := e.state("")
			if _, err := e.runReconcile(); err != nil {
				t.Fatalf("a later run: %v", err)
			}
			if after := e.state(""); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("a later run changed the state")
			}
			r := e.send(adapter.OpStockOutUpload, bill("CK-P2", "202", line(1, "2", c1, c2)))
			if !tc.kept {
				must[uploadReply](t, r, sdk.StatusOK)
				return
			}
			if r.Status != sdk.StatusInvalid || !hasDiagText(r.Diagnostics, sdk.SeverityError, "$.lines[0].traceCodes[0].code", "state", c1, "CK-P1") {
				t.Fatalf("a second stock-out of kept codes: %s %s; want invalid naming CK-P1", r.Status, r.Diagnostics)
			}
		})
	}
}
