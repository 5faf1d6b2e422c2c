package adapter_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestDraftConfirmRefusesACaseWhoseUnitWasReceived: a draft listing a case
// (a parent code) one of whose units another receipt received, and that has
// not left stock since, would put that unit in HIS's stock twice: once on
// its own, once inside the case. Before, confirmation looked only up from
// each code (the ledger keeps each code's parent), never down, and the
// case was confirmed and published. A unit that left stock since is not
// in stock twice, and the case is confirmed.
func TestDraftConfirmRefusesACaseWhoseUnitWasReceived(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		unitLeft bool // the unit received on its own left stock before
		refused  bool
	}{
		"the unit is in stock: refused":    {refused: true},
		"the unit left stock: confirmable": {unitLeft: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			out := must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}), sdk.StatusOK)
			if len(out.Drafts) < 2 {
				t.Fatalf("%d drafts, want at least 2", len(out.Drafts))
			}
			da, db := getDraft(t, e, out.Drafts[0]), getDraft(t, e, out.Drafts[1])
			caseCode := db.Lines[0].Codes[0]
			units := e.sim.SmallestOf(caseCode)
			if len(units) < 2 {
				t.Fatalf("draft %s's first code %s is not a case", db.ID, caseCode)
			}
			unit := units[len(units)-1]
			// Draft a receives one unit of draft b's case on its own.
			last := da.Lines[len(da.Lines)-1].LineNo
			must[map[string]any](t, e.send(adapter.OpDraftAdjust, map[string]any{"draftId": da.ID, "by": "pharm01", "reason": "补录", "changes": []any{
				map[string]any{"op": "addCodes", "lineNo": last, "codes": []string{unit}},
			}}), sdk.StatusOK)
			ra := must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": da.ID, "by": "pharm01"}), sdk.StatusOK)
			receiptA, _ := ra["receiptNo"].(string)
			if tc.unitLeft {
				must[uploadReply](t, e.send(adapter.OpStockOutUpload, bill("CK-U1", "202", line(1, "1", unit))), sdk.StatusOK)
			}
			r := e.send(adapter.OpDraftConfirm, map[string]any{"draftId": db.ID, "by": "pharm01"})
			if !tc.refused {
				if r.Status != sdk.StatusOK {
					t.Fatalf("confirming draft %s, whose case's unit %s left stock: %s %s; want ok", db.ID, unit, r.Status, r.Diagnostics)
				}
				return
			}
			if r.Status != sdk.StatusInvalid {
				t.Fatalf("confirming draft %s, whose case %s holds unit %s that receipt %s received: %s %s; want invalid", db.ID, caseCode, unit, receiptA, r.Status, r.Diagnostics)
			}
			for _, w := range []string{caseCode, unit, receiptA, "removeCodes"} {
				if !strings.Contains(r.Diagnostics.String(), w) {
					t.Errorf("the refusal does not say %q: %s", w, r.Diagnostics)
				}
			}
			if !hasDiag(r.Diagnostics, "$.lines[0].codes[0]", "precondition") {
				t.Errorf("the refusal is not at the case's path $.lines[0].codes[0]: %s", r.Diagnostics)
			}
			if n := len(e.events(adapter.EventReceipt)); n != 1 {
				t.Errorf("%d receipts published, want 1 (draft a's)", n)
			}
		})
	}
}

// receiptBarrier holds each confirmation at its receipt number (it has
// read the ledger by then) until both confirmations got there, or a
// deadline passed: the two read the ledger before either records its
// receipt.
type receiptBarrier struct {
	*sdktest.MemoryHost
	mu      sync.Mutex
	arrived int
	both    chan struct{}
}

func (b *receiptBarrier) NextSequence(ctx context.Context, site, name string) (int64, error) {
	if name == "receipt" {
		b.mu.Lock()
		b.arrived++
		if b.arrived == 2 {
			close(b.both)
		}
		b.mu.Unlock()
		select {
		case <-b.both:
		case <-time.After(5 * time.Second):
		}
	}
	return b.MemoryHost.NextSequence(ctx, site, name)
}

// TestConcurrentConfirmationsReceiveACodeOnce: two drafts sharing a code,
// confirmed at the same moment (each read the stock ledger before the other
// recorded its receipt), were both confirmed and both published, so the
// code was received twice. Exactly one is confirmed now; the other is
// refused naming the code and the receipt that has it.
func TestConcurrentConfirmationsReceiveACodeOnce(t *testing.T) {
	t.Parallel()
	var bh *receiptBarrier
	e := newEnvOn(t, nil, func(m *sdktest.MemoryHost) sdkhost.HostServer {
		bh = &receiptBarrier{MemoryHost: m, both: make(chan struct{})}
		return bh
	})
	out := must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}), sdk.StatusOK)
	if len(out.Drafts) < 2 {
		t.Fatalf("%d drafts, want at least 2", len(out.Drafts))
	}
	da, db := getDraft(t, e, out.Drafts[0]), getDraft(t, e, out.Drafts[1])
	shared := da.Lines[0].Codes[0]
	last := db.Lines[len(db.Lines)-1].LineNo
	must[map[string]any](t, e.send(adapter.OpDraftAdjust, map[string]any{"draftId": db.ID, "by": "pharm01", "reason": "补录", "changes": []any{
		map[string]any{"op": "addCodes", "lineNo": last, "codes": []string{shared}},
	}}), sdk.StatusOK)
	ids := []string{da.ID, db.ID}
	res := make([]*sdk.HandleResponse, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := []byte(`{"draftId":"` + id + `","by":"pharm0` + string(rune('1'+i)) + `"}`)
			res[i], errs[i] = e.plugin.Handle(context.Background(), &sdk.HandleRequest{Site: site, Type: adapter.OpDraftConfirm, MessageID: "confirm-" + id,
				Key: "confirm-" + id, Format: "json", Payload: body, Attempt: 1})
		}()
	}
	wg.Wait()
	var okN, refused int
	for i := range ids {
		if errs[i] != nil {
			t.Fatalf("confirm %s: %v", ids[i], errs[i])
		}
		switch res[i].Status {
		case sdk.StatusOK:
			okN++
		case sdk.StatusInvalid:
			refused++
			if s := res[i].Diagnostics.String(); !strings.Contains(s, shared) || !strings.Contains(s, "receipt") {
				t.Errorf("the refusal of %s does not name code %s and the receipt: %s", ids[i], shared, s)
			}
		default:
			t.Errorf("confirm %s: %s %s", ids[i], res[i].Status, res[i].Diagnostics)
		}
	}
	if okN != 1 || refused != 1 {
		t.Fatalf("%d confirmed, %d refused; want exactly one of two drafts sharing code %s confirmed", okN, refused, shared)
	}
	if n := len(e.events(adapter.EventReceipt)); n != 1 {
		t.Errorf("%d receipts published, want 1", n)
	}
}
