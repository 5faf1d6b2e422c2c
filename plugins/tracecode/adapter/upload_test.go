package adapter_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
)

type uploadReply struct {
	BillNo     string `json:"billNo"`
	Status     string `json:"status"`
	Duplicate  bool   `json:"duplicate"`
	Reconciled bool   `json:"reconciled"`
	CodeCount  int    `json:"codeCount"`
}

func TestUploadValidation(t *testing.T) {
	t.Parallel()
	c1, c2 := drugCode("8100001", 1), drugCode("8100001", 2)
	testCases := map[string]struct {
		typ     string
		payload any
		field   string
		rule    string
	}{
		"missing bill number":      {adapter.OpStockInUpload, map[string]any{"billType": "102", "billTime": "2026-11-26 09:00:00", "operator": "x", "lines": []any{line(1, "1", c1)}}, "$.billNo", "required"},
		"stock-out type as input":  {adapter.OpStockInUpload, bill("V1", "202", line(1, "1", c1)), "$.billType", "enum"},
		"stock-in type as output":  {adapter.OpStockOutUpload, bill("V2", "102", line(1, "1", c1)), "$.billType", "enum"},
		"unknown bill type":        {adapter.OpStockInUpload, bill("V3", "101", line(1, "1", c1)), "$.billType", "enum"},
		"bad datetime":             {adapter.OpStockInUpload, map[string]any{"billNo": "V4", "billType": "102", "billTime": "26/11/2026", "operator": "x", "lines": []any{line(1, "1", c1)}}, "$.billTime", "format"},
		"code not starting with 8": {adapter.OpStockInUpload, bill("V5", "102", line(1, "1", "61000010000000011234")), "$.lines[0].traceCodes[0].code", "format"},
		"code too short":           {adapter.OpStockInUpload, bill("V6", "102", line(1, "1", "8100001000000001123")), "$.lines[0].traceCodes[0].code", "format"},
		"code twice":               {adapter.OpStockInUpload, bill("V7", "102", line(1, "2", c1, c2), line(2, "1", c1)), "$.lines[1].traceCodes[0].code", "precondition"},
		"line twice":               {adapter.OpStockInUpload, bill("V8", "102", line(1, "1", c1), line(1, "1", c2)), "$.lines[1].lineNo", "precondition"},
		"zero quantity":            {adapter.OpStockInUpload, bill("V9", "102", line(1, "0", c1)), "$.lines[0].qty", "amount"},
		"no codes":                 {adapter.OpStockInUpload, bill("V10", "102", line(1, "1")), "$.lines[0].traceCodes", "length"},
		"unknown field":            {adapter.OpStockInUpload, map[string]any{"billNo": "V11", "billType": "102", "billTime": "2026-11-26 09:00:00", "operator": "x", "lines": []any{line(1, "1", c1)}, "colour": "red"}, "$.colour", "unknown"},
		"not json":                 {adapter.OpStockInUpload, "{", "$", "type"},
		"gs1 when drugs only":      {adapter.OpStockInUpload, bill("V12", "102", line(1, "1", "(01)06901234567892(21)0001")), "$.lines[0].traceCodes[0].code", "format"},
	}
	e := newEnv(t, func(s map[string]string) { s["consumableCodes"] = "none" })
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			r := e.send(tc.typ, tc.payload)
			if r.Status != sdk.StatusInvalid || !hasDiag(r.Diagnostics, tc.field, tc.rule) {
				t.Fatalf("status %s, diagnostics:\n%s\nwant invalid at %s rule %s", r.Status, r.Diagnostics, tc.field, tc.rule)
			}
			for _, d := range r.Diagnostics {
				if d.Summary == "" {
					t.Errorf("diagnostic without a summary: %+v", d)
				}
			}
		})
	}
	if st := e.sim.Stats(); st.Calls["upload"] != 0 {
		t.Errorf("invalid documents reached the platform: %+v", st)
	}
}

func TestUploadAcceptsConsumablesAsConfigured(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil) // consumableCodes: gs1 (the default)
	r := e.send(adapter.OpStockInUpload, bill("G1", "102", line(1, "2", drugCode("8100001", 5), "(01)06901234567892(17)281231(21)0001")))
	out := must[uploadReply](t, r, sdk.StatusOK)
	if out.CodeCount != 2 {
		t.Errorf("codeCount = %d", out.CodeCount)
	}
}

func TestUploadIdempotentByDocumentNumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	doc := bill("RK1", "102", line(1, "2", drugCode("8100001", 1), drugCode("8100001", 2)))
	out := must[uploadReply](t, e.send(adapter.OpStockInUpload, doc), sdk.StatusOK)
	if out.Status != "uploaded" || out.Duplicate || out.CodeCount != 2 {
		t.Fatalf("first upload %+v", out)
	}
	// The same document again (a new message): success, nothing sent.
	again := must[uploadReply](t, e.send(adapter.OpStockInUpload, doc), sdk.StatusOK)
	if !again.Duplicate {
		t.Errorf("second upload %+v, want duplicate", again)
	}
	if st := e.sim.Stats(); st.Calls["upload"] != 1 {
		t.Errorf("platform upload calls = %d, want 1", st.Calls["upload"])
	}
	// Different content under the same number is refused.
	changed := bill("RK1", "102", line(1, "3", drugCode("8100001", 1), drugCode("8100001", 2), drugCode("8100001", 3)))
	r := e.send(adapter.OpStockInUpload, changed)
	if r.Status != sdk.StatusInvalid || !hasDiag(r.Diagnostics, "$.billNo", "state") {
		t.Errorf("changed content: %s %s", r.Status, r.Diagnostics)
	}
	// A document the platform already has from elsewhere: duplicate is success.
	other := bill("RK2", "102", line(1, "1", drugCode("8100001", 9)))
	must[uploadReply](t, e.send(adapter.OpStockInUpload, other), sdk.StatusOK)
	e.host.Delete(t.Context(), site, "docidx/up/RK2") // medgate forgets it
	dup := must[uploadReply](t, e.send(adapter.OpStockInUpload, other), sdk.StatusOK)
	if !dup.Duplicate || e.sim.Stats().Duplicates != 1 {
		t.Errorf("platform duplicate: %+v, sim %+v", dup, e.sim.Stats())
	}
	// The stored record and its code chunk.
	recs := e.state("log/doc/20261126/")
	if len(recs) != 3 {
		t.Fatalf("%d documents stored, want 3", len(recs))
	}
	var rec map[string]any
	_ = json.Unmarshal(recs[0].Value, &rec)
	if rec["docNo"] != "RK1" || rec["status"] != "uploaded" || rec["codeCount"] != 2.0 || rec["direction"] != "in" {
		t.Errorf("stored record %v", rec)
	}
	if n := len(e.state("codes/up/RK1/")); n != 1 {
		t.Errorf("%d code chunks, want 1", n)
	}
	// Journal: every platform call, with the document number as serial.
	n := 0
	for _, x := range e.host.Exchanges() {
		if x.Exchange.Code == "upload" {
			n++
			if x.Exchange.Serial == "" || x.Exchange.System != adapter.System {
				t.Errorf("journal entry %+v", x.Exchange)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d upload exchanges journaled, want 3", n)
	}
	e.assertNoSecrets()
}

func TestUploadPlatformOutcomes(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		kind      string
		status    sdk.Status
		retryable bool
		stored    string
	}{
		"business error": {tracecode.FailBusy, sdk.StatusRejected, false, "rejected"},
		"server error":   {tracecode.FailHTTP500, sdk.StatusFailed, true, "unknown"},
		"dropped":        {tracecode.FailDrop, sdk.StatusFailed, true, "unknown"},
		"token refused":  {tracecode.FailAuth, sdk.StatusOK, false, "uploaded"}, // refreshed once and retried
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.sim.Fail("upload", tc.kind, 1)
			r := e.send(adapter.OpStockInUpload, bill("F1", "102", line(1, "1", drugCode("8100002", 1))))
			if r.Status != tc.status || r.Retryable != tc.retryable {
				t.Fatalf("status %s retryable %v, want %s %v: %s", r.Status, r.Retryable, tc.status, tc.retryable, r.Diagnostics)
			}
			var rec map[string]any
			_ = json.Unmarshal(e.state("log/doc/")[0].Value, &rec)
			if rec["status"] != tc.stored {
				t.Errorf("stored status %v, want %s", rec["status"], tc.stored)
			}
			if tc.status == sdk.StatusRejected && (r.External == nil || r.External.Code != "SYS_BUSY") {
				t.Errorf("external = %+v", r.External)
			}
		})
	}
}

// TestUploadReconciledAfterUnknownOutcome: the platform processes the
// upload but the answer is lost; the retry finds the document on the
// platform by its number and does not send it again.
func TestUploadReconciledAfterUnknownOutcome(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	doc := bill("U1", "102", line(1, "1", drugCode("8100003", 1)))
	e.sim.Fail("upload", tracecode.FailAfter, 1)
	r := e.sendID("msg-u1", adapter.OpStockInUpload, doc, false)
	if r.Status != sdk.StatusFailed || !r.Retryable {
		t.Fatalf("first attempt: %s %s", r.Status, r.Diagnostics)
	}
	out := must[uploadReply](t, e.sendID("msg-u1", adapter.OpStockInUpload, doc, true), sdk.StatusOK)
	if !out.Reconciled {
		t.Errorf("retry %+v, want reconciled", out)
	}
	st := e.sim.Stats()
	if st.Uploads != 1 || st.Calls["upload"] != 1 || st.Calls["billstatus"] != 1 {
		t.Errorf("stats %+v: want one upload, one status query, no resend", st)
	}
	// Not processed at all (HTTP 500 before processing): the retry sends it.
	doc2 := bill("U2", "102", line(1, "1", drugCode("8100003", 2)))
	e.sim.Fail("upload", tracecode.FailHTTP500, 1)
	e.sendID("msg-u2", adapter.OpStockInUpload, doc2, false)
	out = must[uploadReply](t, e.sendID("msg-u2", adapter.OpStockInUpload, doc2, true), sdk.StatusOK)
	if out.Reconciled || out.Duplicate {
		t.Errorf("retry of an unprocessed upload %+v, want a fresh upload", out)
	}
	if st := e.sim.Stats(); st.Uploads != 2 {
		t.Errorf("uploads = %d, want 2", st.Uploads)
	}
}

func TestStockOutUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	out := must[uploadReply](t, e.send(adapter.OpStockOutUpload, bill("CK1", "202", line(1, "1", drugCode("8100004", 1)))), sdk.StatusOK)
	if out.Status != "uploaded" {
		t.Fatalf("%+v", out)
	}
	u, ok := e.sim.Uploaded("CK1")
	if !ok || u.BillType != "202" || len(u.Codes) != 1 {
		t.Errorf("platform has %+v", u)
	}
}

// TestUploadGarbledAnswerIsReconciled: the platform processes an upload
// but its answer (HTTP 200) cannot be read, e.g. a proxy's page. The
// outcome is unknown, so the next upload of that number must be
// reconciled by document number first. It was stored as "pending" (not
// sent), so a corrected document under the same number was sent and the
// platform's "duplicate" answer recorded it as uploaded, although the
// platform kept the first content.
func TestUploadGarbledAnswerIsReconciled(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, cst)}
	sim := tracecode.New(tracecode.Options{AppID: "app-1", AppSecret: appSecret, OrgCode: "H35020300001", TokenTTL: time.Hour, Seed: 42, Now: clk.Now})
	var garble atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/bill/upload") && garble.Add(-1) >= 0 {
			sim.ServeHTTP(httptest.NewRecorder(), r) // processed, answer replaced
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "<html>gateway</html>")
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	a := adapter.New(adapter.WithClock(clk.Now), adapter.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	host := sdktest.NewMemoryHost()
	e := &env{t: t, sim: sim, url: srv.URL, host: host, plugin: sdktest.Connect(t, a, host), clock: clk, dir: t.TempDir()}
	if ds := e.configure(baseSettings(srv.URL, e.dir)); ds.HasError() {
		t.Fatal(ds)
	}
	garble.Store(1)
	first := bill("GA1", "102", line(1, "1", drugCode("8100003", 1)))
	if r := e.sendID("msg-ga1", adapter.OpStockInUpload, first, false); r.Status != sdk.StatusFailed {
		t.Fatalf("garbled answer: %s %s", r.Status, r.Diagnostics)
	}
	// The same document again: found on the platform, not sent again.
	out := must[uploadReply](t, e.sendID("msg-ga1", adapter.OpStockInUpload, first, true), sdk.StatusOK)
	if !out.Reconciled {
		t.Errorf("retry %+v, want reconciled", out)
	}
	if st := sim.Stats(); st.Calls["upload"] != 1 || st.Calls["billstatus"] != 1 {
		t.Errorf("stats %+v: want one upload and one status query", st)
	}
	// A corrected document under a number whose first upload's outcome was
	// unknown, and which the platform has: refused, not recorded as uploaded.
	garble.Store(1)
	e.send(adapter.OpStockInUpload, bill("GA2", "102", line(1, "1", drugCode("8100003", 2))))
	r := e.send(adapter.OpStockInUpload, bill("GA2", "102", line(1, "2", drugCode("8100003", 2), drugCode("8100003", 3))))
	if r.Status != sdk.StatusInvalid || !hasDiag(r.Diagnostics, "$.billNo", "state") {
		t.Errorf("corrected document under the same number: %s %s %s", r.Status, r.Diagnostics, r.Payload)
	}
}
