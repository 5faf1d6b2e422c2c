package adapter_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
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
		Bchno   string `json:"bchno"`
		Status  string `json:"status"`
		Infcode int    `json:"infcode"`
		Codes   int    `json:"codes"`
	} `json:"lines"`
}

// bchno returns the batch number (fixmedins_bchno) the reply gives line
// lineNo ("" when it lists no such line).
func (r miReply) bchno(lineNo int) string {
	for _, l := range r.Lines {
		if l.LineNo == lineNo {
			return l.Bchno
		}
	}
	return ""
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

// TestMIUploadSignInResendRecordsNewMsgID: a line refused because the
// 9001 sign-in expired is sent once more by plugins/hsa after a new
// sign-in, under a new msgid. The upload state, the reply and the upload
// record kept the refused msgid, so when the resend's answer was lost staff
// were told to look up, on the medical-insurance side, a msgid that was
// never run instead of the one that may have arrived.
func TestMIUploadSignInResendRecordsNewMsgID(t *testing.T) {
	t.Parallel()
	const expired = 1001
	e := newEnv(t, func(s map[string]string) {
		s["miSignIn"], s["miSignInMac"], s["miSignInIp"] = "true", "00:16:3e:00:00:01", "10.0.0.8"
		s["miSignInExpiredCodes"] = strconv.Itoa(expired)
	})
	e.sim.RequireHSASignIn(expired)
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("SI1", "102", line(1, "1", drugCode("8100001", 601)))), sdk.StatusOK)
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("SI2", "102", line(1, "1", drugCode("8100002", 602)))), sdk.StatusOK)
	if out := must[miReply](t, e.send(adapter.OpMIUpload, map[string]string{"billNo": "SI1"}), sdk.StatusOK); out.Status != "ok" || e.sim.HSASignIns() != 1 {
		t.Fatalf("first upload: %+v after %d sign-ins, want ok after 1", out, e.sim.HSASignIns())
	}

	// The sign-in expires; the line is refused for it, sent again after a
	// new sign-in, accepted, and that answer is lost.
	e.sim.ExpireHSASignIns()
	e.sim.FailHSA("lost-reply", 1)
	r := e.send(adapter.OpMIUpload, map[string]string{"billNo": "SI2"})
	if r.Status != sdk.StatusFailed || r.Retryable || !hasDiag(r.Diagnostics, "", "state") {
		t.Fatalf("lost answer of the resend: %s retryable=%v %s", r.Status, r.Retryable, r.Diagnostics)
	}
	if n := e.sim.HSASignIns(); n != 2 {
		t.Fatalf("%d sign-ins, want 2 (the call was not refused for its sign-in and signed in again?)", n)
	}
	arrived := e.sim.HSARecords()["SI2-1"].MsgID
	if arrived == "" {
		t.Fatal("the resend did not reach the simulated platform")
	}
	var out miReply
	if err := json.Unmarshal(r.Payload, &out); err != nil {
		t.Fatalf("reply %s: %v", r.Payload, err)
	}
	if out.Status != "unknown" || len(out.Lines) != 1 || out.Lines[0].Status != "unknown" || out.Lines[0].MsgID != arrived {
		t.Errorf("reply %+v; want line 1 unknown with msgid %s (the one that arrived)", out, arrived)
	}
	var st struct {
		Lines map[string]struct {
			MsgID  string `json:"msgid"`
			Status string `json:"status"`
		} `json:"lines"`
	}
	found := false
	for _, en := range e.state("miidx/") {
		if strings.Contains(en.Key, "SI2") {
			found = true
			if err := json.Unmarshal(en.Value, &st); err != nil {
				t.Fatalf("state %s: %v", en.Value, err)
			}
		}
	}
	if l := st.Lines["1"]; !found || l.MsgID != arrived || l.Status != "unknown" {
		t.Errorf("upload state of line 1: %+v (found %v); want unknown with msgid %s", l, found, arrived)
	}
	var recs []struct {
		DocNo  string   `json:"docNo"`
		MsgIDs []string `json:"msgids"`
	}
	for _, en := range e.state("log/mi/") {
		var rec struct {
			DocNo  string   `json:"docNo"`
			MsgIDs []string `json:"msgids"`
		}
		_ = json.Unmarshal(en.Value, &rec)
		if rec.DocNo == "SI2" {
			recs = append(recs, rec)
		}
	}
	if len(recs) != 1 || !slices.Equal(recs[0].MsgIDs, []string{arrived}) {
		t.Errorf("upload records of SI2: %+v; want one naming %s", recs, arrived)
	}

	// The next upload reports the msgid that arrived, and sends nothing.
	calls := e.sim.Stats().Calls["hsa"]
	again := e.send(adapter.OpMIUpload, map[string]string{"billNo": "SI2"})
	var next miReply
	_ = json.Unmarshal(again.Payload, &next)
	if again.Status != sdk.StatusFailed || len(next.Lines) != 1 || next.Lines[0].MsgID != arrived || e.sim.Stats().Calls["hsa"] != calls {
		t.Errorf("upload again: %s %+v, %d calls; want unknown naming %s and no call", again.Status, next, e.sim.Stats().Calls["hsa"]-calls, arrived)
	}
}

// TestMIUploadSignInResendNotRecordedNotSent: when the new msgid of a
// call sent again after a new sign-in cannot be recorded, the call is not
// sent again (a resend nobody recorded could not be reconciled); the line
// is left to a later upload, which sends it and records the msgid that
// arrived.
func TestMIUploadSignInResendNotRecordedNotSent(t *testing.T) {
	t.Parallel()
	const expired = -2
	e, host := newFaultEnv(t)
	s := baseSettings(e.url, e.dir)
	s["fetchSmallest"] = "false"
	s["miSignIn"], s["miSignInMac"], s["miSignInIp"], s["miSignInExpiredCodes"] = "true", "00:16:3e:00:00:01", "10.0.0.8", strconv.Itoa(expired)
	if ds := e.configure(s); ds.HasError() {
		t.Fatal(ds)
	}
	e.sim.RequireHSASignIn(expired)
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("SN1", "102", line(1, "1", drugCode("8100001", 611)))), sdk.StatusOK)
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("SN2", "102", line(1, "1", drugCode("8100002", 612)))), sdk.StatusOK)
	must[miReply](t, e.send(adapter.OpMIUpload, map[string]string{"billNo": "SN1"}), sdk.StatusOK)
	e.sim.ExpireHSASignIns()

	// The first write of SN2's state (the line's msgid before the first
	// send) passes; the second (the resend's msgid) fails.
	writes := 0
	host.mu.Lock()
	host.casFail = func(key string) bool {
		if !strings.HasPrefix(key, "miidx/") || !strings.Contains(key, "SN2") {
			return false
		}
		writes++
		return writes == 2
	}
	host.mu.Unlock()
	calls := e.sim.Stats().Calls["hsa"]
	r := e.send(adapter.OpMIUpload, map[string]string{"billNo": "SN2"})
	if r.Status != sdk.StatusFailed || !r.Retryable || len(r.Diagnostics) == 0 || !strings.Contains(r.Diagnostics[0].Detail, "after a new sign-in") {
		t.Fatalf("resend msgid not recorded: %s retryable=%v %s", r.Status, r.Retryable, r.Diagnostics)
	}
	if _, ok := e.sim.HSARecords()["SN2-1"]; ok || e.sim.Stats().Calls["hsa"] != calls {
		t.Fatalf("the call was sent again although its msgid was not recorded (%d calls)", e.sim.Stats().Calls["hsa"]-calls)
	}
	host.mu.Lock()
	host.casFail = nil
	host.mu.Unlock()

	out := must[miReply](t, e.send(adapter.OpMIUpload, map[string]string{"billNo": "SN2"}), sdk.StatusOK)
	arrived := e.sim.HSARecords()["SN2-1"].MsgID
	if out.Status != "ok" || len(out.Lines) != 1 || arrived == "" || out.Lines[0].MsgID != arrived {
		t.Errorf("later upload: %+v; want ok naming %q (the msgid that arrived)", out, arrived)
	}
}
