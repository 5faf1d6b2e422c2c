package adapter_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

type miReply struct {
	BillNo string `json:"billNo"`
	Infno  string `json:"infno"`
	Status string `json:"status"`
	Lines  []struct {
		LineNo  int    `json:"lineNo"`
		MsgID   string `json:"msgid"`
		Status  string `json:"status"`
		Infcode int    `json:"infcode"`
		Codes   int    `json:"codes"`
	} `json:"lines"`
}

func TestMIUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := []string{drugCode("8100001", 11), drugCode("8100001", 12), drugCode("8100002", 13)}
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("MI1", "102", line(1, "2", c[0], c[1]), line(2, "1", c[2]))), sdk.StatusOK)

	out := must[miReply](t, e.send(adapter.OpMIUpload, map[string]string{"billNo": "MI1"}), sdk.StatusOK)
	if out.Status != "ok" || out.Infno != "3502" || len(out.Lines) != 2 || out.Lines[0].MsgID == "" || len(out.Lines[0].MsgID) != 30 {
		t.Fatalf("reply %+v", out)
	}
	recs := e.sim.HSARecords()
	r1, ok := recs["MI1-1"]
	if !ok || !slices.Equal(r1.TraceCodes, c[:2]) || r1.MedListCodg != "XJ01CAA040A001010100001" || r1.Cnt != "2" || r1.FixmedinsID != "YP0001" || r1.InvChgType != "101" {
		t.Errorf("3502 record of line 1: %+v", r1)
	}
	if r2 := recs["MI1-2"]; !slices.Equal(r2.TraceCodes, c[2:]) {
		t.Errorf("3502 record of line 2: %+v", r2)
	}
	// One upload record per document, for the export.
	logs := e.state("log/mi/")
	if len(logs) != 1 {
		t.Fatalf("%d upload records, want 1", len(logs))
	}
	var rec map[string]any
	_ = json.Unmarshal(logs[0].Value, &rec)
	if rec["docNo"] != "MI1" || rec["status"] != "ok" || rec["codes"] != 3.0 || len(rec["msgids"].([]any)) != 2 {
		t.Errorf("upload record %v", rec)
	}
	// Again: nothing is sent twice.
	again := must[miReply](t, e.send(adapter.OpMIUpload, map[string]string{"billNo": "MI1"}), sdk.StatusOK)
	if again.Status != "ok" || e.sim.Stats().Calls["hsa"] != 2 {
		t.Errorf("second upload %+v, %d national calls (want 2 in total)", again, e.sim.Stats().Calls["hsa"])
	}
	// The exchanges are journaled with their msgids.
	n := 0
	for _, x := range e.host.Exchanges() {
		if x.Exchange.Code == "3502" && x.Exchange.Serial != "" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d 3502 exchanges journaled with a msgid, want 2", n)
	}
	e.assertNoSecrets()
}

func TestMIUploadFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	doc := func(no string, serial int) {
		t.Helper()
		must[uploadReply](t, e.send(adapter.OpStockInUpload, bill(no, "102", line(1, "1", drugCode("8100003", serial)))), sdk.StatusOK)
	}
	// Refused by the platform.
	doc("F1", 1)
	e.sim.FailHSA("business", 1)
	r := e.send(adapter.OpMIUpload, map[string]string{"billNo": "F1"})
	if r.Status != sdk.StatusRejected || r.External == nil || r.External.Code != "-1" {
		t.Errorf("refused: %s %+v", r.Status, r.External)
	}
	// Unavailable: retried by the host.
	doc("F2", 2)
	e.sim.FailHSA("http500", 1)
	r = e.send(adapter.OpMIUpload, map[string]string{"billNo": "F2"})
	if r.Status != sdk.StatusFailed {
		t.Errorf("server error: %s", r.Status)
	}
	// Answer lost after the record was accepted: not resent automatically.
	doc("F3", 3)
	e.sim.FailHSA("lost-reply", 1)
	r = e.send(adapter.OpMIUpload, map[string]string{"billNo": "F3"})
	if r.Status != sdk.StatusFailed || r.Retryable || !hasDiag(r.Diagnostics, "", "state") {
		t.Fatalf("lost reply: %s retryable=%v %s", r.Status, r.Retryable, r.Diagnostics)
	}
	calls := e.sim.Stats().Calls["hsa"]
	r = e.send(adapter.OpMIUpload, map[string]string{"billNo": "F3"})
	if r.Status != sdk.StatusFailed || e.sim.Stats().Calls["hsa"] != calls {
		t.Errorf("an upload of unknown outcome was sent again without resend: %s", r.Status)
	}
	// Preconditions.
	testCases := map[string]struct {
		payload map[string]string
		field   string
	}{
		"missing number": {map[string]string{}, "$.billNo"},
		"not stored":     {map[string]string{"billNo": "NOPE"}, "$.billNo"},
		"bad source":     {map[string]string{"billNo": "F1", "source": "x"}, "$.source"},
	}
	for name, tc := range testCases {
		if r := e.send(adapter.OpMIUpload, tc.payload); r.Status != sdk.StatusInvalid || r.Diagnostics[0].Field != tc.field {
			t.Errorf("%s: %s %s", name, r.Status, r.Diagnostics)
		}
	}
	must[uploadReply](t, e.send(adapter.OpStockOutUpload, bill("OUT1", "202", line(1, "1", drugCode("8100003", 9)))), sdk.StatusOK)
	if r := e.send(adapter.OpMIUpload, map[string]string{"billNo": "OUT1"}); r.Status != sdk.StatusInvalid {
		t.Errorf("stock-out: %s", r.Status)
	}
}

func TestMIUploadDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s map[string]string) { s["miEnabled"] = "false" })
	r := e.send(adapter.OpMIUpload, map[string]string{"billNo": "X"})
	if r.Status != sdk.StatusInvalid || r.Diagnostics[0].Rule != "precondition" {
		t.Errorf("%s %s", r.Status, r.Diagnostics)
	}
}

// TestMIUploadNothingSentIsNotUnknown: a line that medgate's own checks
// stop before it is sent (here: its input is longer than the envelope
// allows) was left marked "sending" in the upload state, so every later
// upload of the document called it unknown and refused to send it
// without resend: true, although nothing had been sent.
func TestMIUploadNothingSentIsNotUnknown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s map[string]string) { s["miMaxInputChars"] = "400" })
	var codes []string
	for i := range 10 {
		codes = append(codes, drugCode("8100001", 500+i))
	}
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("MIV", "102", line(1, "10", codes...))), sdk.StatusOK)
	if r := e.send(adapter.OpMIUpload, map[string]string{"billNo": "MIV"}); r.Status != sdk.StatusInvalid {
		t.Fatalf("input over the limit: %s %s", r.Status, r.Diagnostics)
	}
	if n := e.sim.Stats().Calls["hsa"]; n != 0 {
		t.Fatalf("%d national calls, want none", n)
	}
	s := baseSettings(e.url, e.dir)
	s["miMaxInputChars"] = "0"
	if ds := e.configure(s); ds.HasError() {
		t.Fatal(ds)
	}
	out := must[miReply](t, e.send(adapter.OpMIUpload, map[string]string{"billNo": "MIV"}), sdk.StatusOK)
	if out.Status != "ok" || e.sim.Stats().Calls["hsa"] != 1 {
		t.Errorf("after the limit was raised: %+v, %d national calls", out, e.sim.Stats().Calls["hsa"])
	}
}
