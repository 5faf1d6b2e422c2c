package adapter_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
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

// TestUploadDuplicateOfAFailedDocumentIsNotSuccess: the platform holds a
// document number whose processing failed (status 4). Sending the
// document again, the platform answers "duplicate", and that was recorded
// as uploaded although the platform never processed it. A duplicate
// answer is now checked against the document's status first.
func TestUploadDuplicateOfAFailedDocumentIsNotSuccess(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, cst)}
	sim := tracecode.New(tracecode.Options{AppID: "app-1", AppSecret: appSecret, OrgCode: "H35020300001", TokenTTL: time.Hour, Seed: 42, Now: clk.Now})
	var mu sync.Mutex
	failed := map[string]bool{} // documents the platform failed to process
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/bill/status") {
			sim.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var q struct{ BillNo string }
		_ = json.Unmarshal(body, &q)
		mu.Lock()
		bad := failed[q.BillNo]
		mu.Unlock()
		rec := httptest.NewRecorder()
		r.Body = io.NopCloser(bytes.NewReader(body))
		sim.ServeHTTP(rec, r)
		out := rec.Body.Bytes()
		if bad {
			out = bytes.Replace(out, []byte(`"status":"3"`), []byte(`"status":"4"`), 1)
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	a := adapter.New(adapter.WithClock(clk.Now), adapter.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	host := sdktest.NewMemoryHost()
	e := &env{t: t, sim: sim, url: srv.URL, host: host, plugin: sdktest.Connect(t, a, host), clock: clk, dir: t.TempDir()}
	if ds := e.configure(baseSettings(srv.URL, e.dir)); ds.HasError() {
		t.Fatal(ds)
	}
	doc := bill("FD1", "102", line(1, "1", drugCode("8100003", 7)))
	// The platform receives the document, fails to process it, and the
	// answer is lost.
	mu.Lock()
	failed["FD1"] = true
	mu.Unlock()
	sim.Fail("upload", tracecode.FailAfter, 1)
	if r := e.send(adapter.OpStockInUpload, doc); r.Status != sdk.StatusFailed {
		t.Fatalf("lost answer: %s %s", r.Status, r.Diagnostics)
	}
	// Reconciled: the platform has it, failed.
	if r := e.send(adapter.OpStockInUpload, doc); r.Status != sdk.StatusRejected {
		t.Fatalf("reconciled as failed: %s %s", r.Status, r.Diagnostics)
	}
	// Staff send it again: the platform says duplicate; that is not success.
	r := e.send(adapter.OpStockInUpload, doc)
	if r.Status != sdk.StatusRejected || !strings.Contains(r.Diagnostics.String(), "new document number") {
		t.Fatalf("resending a document the platform failed: %s %s %s", r.Status, r.Diagnostics, r.Payload)
	}
	var rec map[string]any
	_ = json.Unmarshal(e.state("log/doc/")[0].Value, &rec)
	if rec["status"] != "rejected" {
		t.Errorf("stored status %v, want rejected", rec["status"])
	}
	// A duplicate of a document the platform processed is still success:
	// another medgate (its own store) uploaded it first.
	ok := bill("FD2", "102", line(1, "1", drugCode("8100003", 8)))
	must[uploadReply](t, e.send(adapter.OpStockInUpload, ok), sdk.StatusOK)
	host2 := sdktest.NewMemoryHost()
	a2 := adapter.New(adapter.WithClock(clk.Now), adapter.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	e2 := &env{t: t, sim: sim, url: srv.URL, host: host2, plugin: sdktest.Connect(t, a2, host2), clock: clk, dir: t.TempDir()}
	if ds := e2.configure(baseSettings(srv.URL, e2.dir)); ds.HasError() {
		t.Fatal(ds)
	}
	if out := must[uploadReply](t, e2.send(adapter.OpStockInUpload, ok), sdk.StatusOK); !out.Duplicate {
		t.Errorf("a document the platform processed, sent again: %+v, want duplicate (success)", out)
	}
}
