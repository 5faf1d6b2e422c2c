package adapter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
)

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFaultHost is a memory host whose writes (Put, CompareAndSet,
// WriteState) fail once when fail says so.
type writeFaultHost struct {
	*sdktest.MemoryHost
	mu   sync.Mutex
	fail func(key string, value []byte) bool
}

func (h *writeFaultHost) failing(key string, value []byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil && h.fail(key, value) {
		h.fail = nil
		return true
	}
	return false
}

func (h *writeFaultHost) Put(ctx context.Context, site, key string, value []byte) (int64, error) {
	if h.failing(key, value) {
		return 0, errors.New("injected: state store unavailable")
	}
	return h.MemoryHost.Put(ctx, site, key, value)
}

func (h *writeFaultHost) CompareAndSet(ctx context.Context, site, key string, expect int64, value []byte) (int64, error) {
	if h.failing(key, value) {
		return 0, errors.New("injected: state store unavailable")
	}
	return h.MemoryHost.CompareAndSet(ctx, site, key, expect, value)
}

func (h *writeFaultHost) WriteState(ctx context.Context, site string, writes []sdk.StateWrite) ([]int64, error) {
	for _, w := range writes {
		if h.failing(w.Key, w.Value) {
			return nil, errors.New("injected: state store unavailable")
		}
	}
	return h.MemoryHost.WriteState(ctx, site, writes)
}

// newWriteFaultEnv is newEnv on a writeFaultHost.
func newWriteFaultEnv(t *testing.T) (*env, *writeFaultHost) {
	t.Helper()
	return newWriteFaultEnvLog(t, io.Discard)
}

// newWriteFaultEnvLog is newWriteFaultEnv with the plugin's log written
// to logs.
func newWriteFaultEnvLog(t *testing.T, logs io.Writer) (*env, *writeFaultHost) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, cst)}
	sim := tracecode.New(tracecode.Options{AppID: "app-1", AppSecret: appSecret, OrgCode: "H35020300001", TokenTTL: time.Hour, Seed: 42, Now: clk.Now})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	host := &writeFaultHost{MemoryHost: sdktest.NewMemoryHost()}
	a := adapter.New(adapter.WithClock(clk.Now), adapter.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	e := &env{t: t, sim: sim, url: srv.URL, host: host.MemoryHost, plugin: sdktest.Connect(t, a, host), clock: clk, dir: t.TempDir()}
	s := baseSettings(srv.URL, e.dir)
	s["fetchSmallest"] = "false"
	if ds := e.configure(s); ds.HasError() {
		t.Fatal(ds)
	}
	return e, host
}

// TestDraftReservedReceiptKeepsStaleChecks: the receipt number reserved on
// a draft by a failed confirmation changes the draft's version but not the
// draft, so a change made against the version staff reviewed still
// stands; a real change after it makes that version stale again, and the
// confirmation made against it is refused. The receipt keeps the reserved
// number throughout.
func TestDraftReservedReceiptKeepsStaleChecks(t *testing.T) {
	t.Parallel()
	e, host := newWriteFaultEnv(t)
	id := fetchOne(t, e)
	d := getDraft(t, e, id)
	host.mu.Lock()
	host.fail = func(k string, _ []byte) bool { return strings.HasPrefix(k, "receiptpending/") }
	host.mu.Unlock()
	payload := mustJSON(t, map[string]any{"draftId": id, "by": "x", "expectedVersion": d.Version})
	r, err := e.plugin.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: adapter.OpDraftConfirm, MessageID: "c-1", Format: "json", Payload: payload, Attempt: 1})
	if err == nil && r.Status == sdk.StatusOK {
		t.Fatal("the confirmation succeeded despite the fault")
	}
	adjust := map[string]any{"draftId": id, "by": "x", "expectedVersion": d.Version, "changes": []any{
		map[string]any{"op": "setQty", "lineNo": d.Lines[0].LineNo, "qty": "1"}}}
	must[map[string]any](t, e.send(adapter.OpDraftAdjust, adjust), sdk.StatusOK)
	for _, tc := range []struct {
		what, op string
		payload  map[string]any
	}{
		{"an adjustment", adapter.OpDraftAdjust, adjust},
		{"a confirmation", adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "x", "expectedVersion": d.Version}},
	} {
		if r := e.send(tc.op, tc.payload); r.Status != sdk.StatusInvalid || !hasDiag(r.Diagnostics, "$.expectedVersion", "state") {
			t.Errorf("%s against the version before an adjustment: %s %s, want invalid at $.expectedVersion", tc.what, r.Status, r.Diagnostics)
		}
	}
	now := getDraft(t, e, id)
	got := must[struct{ ReceiptNo string }](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "x", "expectedVersion": now.Version}), sdk.StatusOK)
	if got.ReceiptNo != "CG20261126000001" {
		t.Errorf("receipt %s, want CG20261126000001 (the number reserved by the failed confirmation)", got.ReceiptNo)
	}
}

// TestDraftConfirmRetryKeepsReceiptNumber: a confirmation that fails after
// it numbered the receipt (a store write failing mid-way) and is retried,
// by the host (same message) or by staff (a new one, against the version
// they reviewed), must give the receipt the number the first attempt
// took: pharmacies audit receipts by number, and the retry used to take
// the next one, leaving CG…000001 unused. The next draft confirmed then
// gets the next number, with no gap.
func TestDraftConfirmRetryKeepsReceiptNumber(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		fail   func(key string, value []byte) bool
		sameID bool
	}{
		{"stock ledger write fails, host retries", func(k string, _ []byte) bool { return strings.HasPrefix(k, "stock/") }, true},
		{"confirmation mark fails, host retries", func(k string, _ []byte) bool { return strings.HasPrefix(k, "receiptpending/") }, true},
		{"confirmed draft write fails, host retries", func(k string, v []byte) bool {
			return strings.HasPrefix(k, "draft/") && bytes.Contains(v, []byte(`"status":"confirmed"`))
		}, true},
		{"confirmed draft write fails, staff confirm again", func(k string, v []byte) bool {
			return strings.HasPrefix(k, "draft/") && bytes.Contains(v, []byte(`"status":"confirmed"`))
		}, false},
		{"stock ledger write fails, staff confirm again", func(k string, _ []byte) bool { return strings.HasPrefix(k, "stock/") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, host := newWriteFaultEnv(t)
			out := must[fetchReply](t, e.send(adapter.OpStockInFetch, map[string]string{"beginDate": "2026-11-26", "endDate": "2026-11-26"}), sdk.StatusOK)
			if len(out.Drafts) < 2 {
				t.Fatalf("%d drafts fetched, want at least 2", len(out.Drafts))
			}
			id := out.Drafts[0]
			reviewed := getDraft(t, e, id).Version
			host.mu.Lock()
			host.fail = tc.fail
			host.mu.Unlock()
			payload := map[string]any{"draftId": id, "by": "pharm02", "expectedVersion": reviewed}
			r, err := e.plugin.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: adapter.OpDraftConfirm, MessageID: "c-1", Format: "json", Payload: mustJSON(t, payload), Attempt: 1})
			if err == nil && r.Status == sdk.StatusOK {
				t.Fatal("the confirmation succeeded despite the fault")
			}
			host.mu.Lock()
			if host.fail != nil {
				t.Fatal("the fault was never hit")
			}
			host.mu.Unlock()
			var got struct{ ReceiptNo string }
			if tc.sameID {
				got = must[struct{ ReceiptNo string }](t, e.sendID("c-1", adapter.OpDraftConfirm, payload, true), sdk.StatusOK)
			} else {
				got = must[struct{ ReceiptNo string }](t, e.send(adapter.OpDraftConfirm, payload), sdk.StatusOK)
			}
			if got.ReceiptNo != "CG20261126000001" {
				t.Errorf("the retried confirmation numbered the receipt %s, want CG20261126000001 (the number its first attempt took)", got.ReceiptNo)
			}
			next := must[struct{ ReceiptNo string }](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": out.Drafts[1], "by": "pharm02"}), sdk.StatusOK)
			if next.ReceiptNo != "CG20261126000002" {
				t.Errorf("the next draft's receipt is %s, want CG20261126000002", next.ReceiptNo)
			}
			if n := len(e.events(adapter.EventReceipt)); n != 2 {
				t.Errorf("%d receipt events, want 2", n)
			}
		})
	}
}
