package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/medgate/medgate/plugins/sdk"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

// TestUploadPatient800Lines uploads one patient with 800 fee lines: 4204,
// then 4201A in batches of at most 50 lines and 40000 characters, 4202,
// 4203 cplt_flag=1. Every call is journaled with its own msgid.
func TestUploadPatient800Lines(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.must(OpUpload, "up-800", upload("ZY800", 800), 1)
	wantStatus(t, r, sdk.StatusOK)
	v := e.sim.Visit(testCode, "ZY800")
	if !v.Complete || len(v.Fees) != 800 || !v.VisitUploaded || v.Diagnoses != 1 {
		t.Fatalf("platform has %+v", v)
	}
	p := payloadOf(t, r)
	if p["status"] != "uploaded" || p["feeLines"] != float64(800) || p["batches"] != float64(16) || p["reconciled"] != false {
		t.Errorf("reply %v", p)
	}
	steps := p["steps"].([]any)
	if len(steps) != 19 { // 4204 + 16 × 4201A + 4202 + 4203
		t.Fatalf("%d steps", len(steps))
	}
	first := steps[0].(map[string]any)
	if first["infno"] != "4204" || first["outcome"] != outcomeTolerated || !strings.Contains(first["message"].(string), "nothing to delete") {
		t.Errorf("4204 before the first upload should be refused and tolerated: %v", first)
	}
	if r.External == nil || r.External.MsgID == "" || r.External.Code != "0" {
		t.Errorf("external %+v", r.External)
	}
	msgids := map[string]bool{}
	for _, x := range e.host.Exchanges() {
		if x.Exchange.Serial == "" || msgids[x.Exchange.Serial] || x.Exchange.MessageID != "up-800" || x.Exchange.System != "hsa" {
			t.Fatalf("journal entry %+v: msgid missing, repeated or not linked to the message", x.Exchange)
		}
		msgids[x.Exchange.Serial] = true
	}
	if len(msgids) != 19 {
		t.Errorf("%d journal entries, want 19", len(msgids))
	}
	// The same message again (a redelivery) returns the stored reply and
	// calls nothing.
	before := len(e.sim.Calls())
	again := e.must(OpUpload, "up-800", upload("ZY800", 800), 2)
	wantStatus(t, again, sdk.StatusOK)
	if n := len(e.sim.Calls()); n != before {
		t.Errorf("a redelivery made %d calls", n-before)
	}
}

func TestUploadBatchesBySize(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s map[string]string) { s["maxInputChars"] = "3000" })
	wantStatus(t, e.must(OpUpload, "up-size", upload("ZYSZ", 20), 1), sdk.StatusOK)
	n := 0
	for _, c := range e.sim.Calls() {
		if c.Infno == "4201A" {
			n++
		}
	}
	if n < 4 {
		t.Errorf("20 lines of ~560 characters under a 3000-character limit took %d calls", n)
	}
	if v := e.sim.Visit(testCode, "ZYSZ"); len(v.Fees) != 20 || !v.Complete {
		t.Errorf("platform has %+v", v)
	}
}

func TestUploadInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	testCases := map[string]struct {
		edit func(m map[string]any)
		want []string // "path rule"
	}{
		"schema": {edit: func(m map[string]any) {
			delete(m[nodeMdtrt].(map[string]any), "psn_name")
			m[nodeFees].([]any)[1].(map[string]any)["fee_ocur_time"] = "2025/03/26"
			m[nodeFees].([]any)[2].(map[string]any)["cnt"] = "1.23456"
		}, want: []string{"$.ownPayPatnMdtrtD.psn_name required", "$.fsiOwnpayPatnFeeListDDTO[1].fee_ocur_time format", "$.fsiOwnpayPatnFeeListDDTO[2].cnt type"}},
		"two patients": {edit: func(m map[string]any) {
			m[nodeFees].([]any)[2].(map[string]any)["fixmedins_mdtrt_id"] = "OTHER"
		}, want: []string{"$.fsiOwnpayPatnFeeListDDTO[2].fixmedins_mdtrt_id join"}},
		"other hospital": {edit: func(m map[string]any) {
			m[nodeMdtrt].(map[string]any)["fixmedins_code"] = "H99999999999"
		}, want: []string{"$.ownPayPatnMdtrtD.fixmedins_code precondition"}},
		"duplicate bkkp_sn": {edit: func(m map[string]any) {
			m[nodeFees].([]any)[2].(map[string]any)["bkkp_sn"] = "ZYBAD-0001"
		}, want: []string{"$.fsiOwnpayPatnFeeListDDTO[2].bkkp_sn unique"}},
		"line amount": {edit: func(m map[string]any) {
			m[nodeFees].([]any)[0].(map[string]any)["det_item_fee_sumamt"] = "12.00"
			m[nodeMdtrt].(map[string]any)["medfee_sumamt"] = "34.00"
		}, want: []string{"$.fsiOwnpayPatnFeeListDDTO[0].det_item_fee_sumamt amount"}},
		"line amount a cent off": {edit: func(m map[string]any) {
			m[nodeFees].([]any)[1].(map[string]any)["det_item_fee_sumamt"] = "11.01"
			m[nodeMdtrt].(map[string]any)["medfee_sumamt"] = "33.01"
		}, want: []string{"$.fsiOwnpayPatnFeeListDDTO[1].det_item_fee_sumamt amount"}},
		"total": {edit: func(m map[string]any) {
			m[nodeMdtrt].(map[string]any)["medfee_sumamt"] = "30.00"
		}, want: []string{"$.ownPayPatnMdtrtD.medfee_sumamt amount"}},
		"unknown field": {edit: func(m map[string]any) { m["extra"] = 1 }, want: []string{"$.extra unknown"}},
		"no fees":       {edit: func(m map[string]any) { m[nodeFees] = []any{} }, want: []string{"$.fsiOwnpayPatnFeeListDDTO length"}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			m := upload("ZYBAD", 3)
			tc.edit(m)
			r := e.must(OpUpload, "bad-"+name, m, 1)
			wantStatus(t, r, sdk.StatusInvalid)
			var got []string
			for _, d := range r.Diagnostics {
				got = append(got, d.Field+" "+d.Rule)
				if d.Message() == "" {
					t.Errorf("diagnostic without a message: %+v", d)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(strings.Join(got, "\n"), w) {
					t.Errorf("missing %q in %v", w, got)
				}
			}
		})
	}
	if n := len(e.sim.Calls()); n != 0 {
		t.Errorf("%d calls reached the platform for invalid input", n)
	}
}

// TestUploadResumesAfterCrash kills the plugin (its state writes fail from
// then on) at every point between the steps of an upload, then lets a new
// plugin process handle the redelivered message: it must finish with every
// fee line on the platform exactly once, and 4202 and the completion
// applied exactly once (reconciled instead of resent).
func TestUploadResumesAfterCrash(t *testing.T) {
	t.Parallel()
	probe := newEnv(t, func(s map[string]string) { s["batchSize"] = "2" })
	wantStatus(t, probe.must(OpUpload, "probe", upload("ZYP", 5), 1), sdk.StatusOK)
	// One write to start, two per call (in flight, then done), one for the
	// stored reply.
	writes := 2 + 2*len(probe.sim.Calls())
	var reconciled atomic.Int32
	t.Run("points", func(t *testing.T) {
		for after := 0; after < writes; after++ {
			crashAt(t, after, &reconciled)
		}
	})
	// Crashes right after a 4201A, 4202 or 4203 call must have been
	// settled by reconciliation, not by sending again.
	if reconciled.Load() < 4 {
		t.Errorf("only %d resumed uploads reconciled", reconciled.Load())
	}
}

func crashAt(t *testing.T, after int, reconciled *atomic.Int32) {
	t.Run(fmt.Sprintf("after %d writes", after), func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(s map[string]string) { s["batchSize"] = "2" })
		ch := &crashHost{MemoryHost: e.host, after: after}
		e.restart(ch)
		r, err := e.handle(OpUpload, "crash", upload("ZYC", 5), 1)
		if err == nil && r.Status == sdk.StatusOK {
			t.Fatalf("no crash happened")
		}
		e.restart(e.host) // a new process; the host redelivers
		r2 := e.must(OpUpload, "crash", upload("ZYC", 5), 2)
		wantStatus(t, r2, sdk.StatusOK)
		v := e.sim.Visit(testCode, "ZYC")
		if !v.Complete || len(v.Fees) != 5 {
			t.Fatalf("platform has %+v", v)
		}
		if n := e.sim.Count("4202", "ZYC"); n != 1 {
			t.Errorf("4202 applied %d times", n)
		}
		if n := completions(e.sim, "ZYC"); n != 1 {
			t.Errorf("4203 cplt_flag=1 applied %d times", n)
		}
		if payloadOf(t, r2)["reconciled"] == true {
			reconciled.Add(1)
		}
	})
}

// completions counts the applied 4203 calls of a visit.
func completions(sim *selfpaysim.Sim, id string) int {
	n := 0
	for _, c := range sim.Calls() {
		if c.Infno == "4203" && c.MdtrtID == id && c.Applied {
			n++
		}
	}
	return n
}

// TestUploadLostReply: the platform applies a call but the answer is lost.
// The next attempt reconciles (4207 for fee lines, 4208 for the visit and
// the completion) and does not send it again.
func TestUploadLostReply(t *testing.T) {
	t.Parallel()
	testCases := map[string]selfpaysim.Fault{
		"4201A batch 2": {Infno: "4201A", Mode: selfpaysim.FaultLostReply, After: 1},
		"4202":          {Infno: "4202", Mode: selfpaysim.FaultLostReply},
		"4203 complete": {Infno: "4203", Mode: selfpaysim.FaultLostReply},
		"4201A dropped": {Infno: "4201A", Mode: selfpaysim.FaultDrop, After: 1},
		"4202 HTTP 500": {Infno: "4202", Mode: selfpaysim.FaultHTTP500},
		"4204 lost":     {Infno: "4204", Mode: selfpaysim.FaultLostReply},
	}
	for name, f := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(s map[string]string) { s["batchSize"] = "2" })
			e.sim.Fail(f)
			r := e.must(OpUpload, "lost", upload("ZYL", 5), 1)
			wantStatus(t, r, sdk.StatusFailed)
			if !r.Retryable || r.Diagnostics[0].Rule != "transient" {
				t.Fatalf("response %+v", r)
			}
			r = e.must(OpUpload, "lost", upload("ZYL", 5), 2)
			wantStatus(t, r, sdk.StatusOK)
			v := e.sim.Visit(testCode, "ZYL")
			if !v.Complete || len(v.Fees) != 5 {
				t.Fatalf("platform has %+v", v)
			}
			if n := e.sim.Count("4202", "ZYL"); n != 1 {
				t.Errorf("4202 applied %d times", n)
			}
			if f.Mode == selfpaysim.FaultLostReply && f.Infno != "4204" && payloadOf(t, r)["reconciled"] != true {
				t.Errorf("reply does not say it reconciled: %s", r.Payload)
			}
		})
	}
}

func TestUploadRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.sim.Fail(selfpaysim.Fault{Infno: "4202", Mode: selfpaysim.FaultBusiness, Message: "人员证件号码校验失败"})
	r := e.must(OpUpload, "rej", upload("ZYR", 3), 1)
	wantStatus(t, r, sdk.StatusRejected)
	if r.External == nil || r.External.Code != "-1" || r.External.Message != "人员证件号码校验失败" || r.External.MsgID == "" {
		t.Errorf("external %+v", r.External)
	}
	if d := r.Diagnostics[0]; d.Rule != "external" || !strings.Contains(d.Message(), "4202") || !strings.Contains(d.Message(), "人员证件号码校验失败") {
		t.Errorf("diagnostic %+v", d)
	}
	calls := len(e.sim.Calls())
	again := e.must(OpUpload, "rej", upload("ZYR", 3), 2)
	wantStatus(t, again, sdk.StatusRejected)
	if len(e.sim.Calls()) != calls {
		t.Error("the rejected message was sent again")
	}
	// A corrected message (new id) succeeds: 4204 clears the earlier lines.
	wantStatus(t, e.must(OpUpload, "rej-2", upload("ZYR", 3), 1), sdk.StatusOK)
	if v := e.sim.Visit(testCode, "ZYR"); len(v.Fees) != 3 || !v.Complete {
		t.Errorf("platform has %+v", v)
	}
}

func TestUploadAgainNeedsReupload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	wantStatus(t, e.must(OpUpload, "u1", upload("ZYA", 2), 1), sdk.StatusOK)
	r := e.must(OpUpload, "u2", upload("ZYA", 3), 1)
	wantStatus(t, r, sdk.StatusInvalid)
	if r.Diagnostics[0].Rule != "state" || !strings.Contains(r.Diagnostics[0].Detail, "reupload") {
		t.Errorf("diagnostic %+v", r.Diagnostics[0])
	}
	m := upload("ZYA", 3)
	m["reupload"] = true
	wantStatus(t, e.must(OpUpload, "u3", m, 1), sdk.StatusOK)
	if v := e.sim.Visit(testCode, "ZYA"); len(v.Fees) != 3 || !v.Complete || v.MedfeeSumamt != "33.00" {
		t.Errorf("platform has %+v", v)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	wantStatus(t, e.must(OpUpload, "c-up", upload("ZYX", 4), 1), sdk.StatusOK)
	r := e.must(OpCancel, "c-1", map[string]any{"fixmedins_mdtrt_id": "ZYX"}, 1)
	wantStatus(t, r, sdk.StatusOK)
	if v := e.sim.Visit(testCode, "ZYX"); v.Complete || len(v.Fees) != 0 {
		t.Fatalf("platform has %+v", v)
	}
	if p := payloadOf(t, r); p["status"] != "cancelled" {
		t.Errorf("reply %v", p)
	}
	// Cancelling again: 4204 is refused (nothing left) but 4207 shows
	// there is nothing to delete, so it is done.
	wantStatus(t, e.must(OpCancel, "c-2", map[string]any{"fixmedins_mdtrt_id": "ZYX"}, 1), sdk.StatusOK)
	// A visit the platform never saw is refused at 4203.
	r = e.must(OpCancel, "c-3", map[string]any{"fixmedins_mdtrt_id": "NOPE"}, 1)
	wantStatus(t, r, sdk.StatusRejected)
	// Invalid input.
	r = e.must(OpCancel, "c-4", map[string]any{"fixmedins_mdtrt_id": strings.Repeat("9", 31), "x": 1}, 1)
	wantStatus(t, r, sdk.StatusInvalid)
	if len(r.Diagnostics) != 2 {
		t.Errorf("diagnostics %v", r.Diagnostics)
	}
}

func TestCancelLostReply(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	wantStatus(t, e.must(OpUpload, "cl-up", upload("ZYQ", 2), 1), sdk.StatusOK)
	e.sim.Fail(selfpaysim.Fault{Infno: "4204", Mode: selfpaysim.FaultLostReply})
	wantStatus(t, e.must(OpCancel, "cl", map[string]any{"fixmedins_mdtrt_id": "ZYQ"}, 1), sdk.StatusFailed)
	wantStatus(t, e.must(OpCancel, "cl", map[string]any{"fixmedins_mdtrt_id": "ZYQ"}, 2), sdk.StatusOK)
	if v := e.sim.Visit(testCode, "ZYQ"); v.Complete || len(v.Fees) != 0 {
		t.Fatalf("platform has %+v", v)
	}
}

// withoutCpltFlag serves the simulator but drops cpltFlag from the query
// records, as a platform answering a shorter 4208 record would.
func withoutCpltFlag(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var env map[string]any
		if json.Unmarshal(rec.Body.Bytes(), &env) == nil {
			if out, ok := env["output"].(map[string]any); ok {
				for _, it := range asList(out["data"]) {
					delete(it.(map[string]any), "cpltFlag")
				}
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_ = json.NewEncoder(w).Encode(env)
	})
}

// TestCancelOutcomeUnknown: a selfpay.cancel call whose outcome is unknown
// (answer lost, or connection dropped after sending) is reconciled before
// anything is resent: the 4203 cplt_flag=0 with 4208 (cpltFlag), the 4204
// with 4207 (details left). The 4203 was resent blindly; a visit 4208
// cannot find (medgate holds no record of it) is failed for staff, not
// resent and not deleted.
func TestCancelOutcomeUnknown(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		uploaded   bool // the visit went up with selfpay.upload (medgate stored it)
		fault      selfpaysim.Fault
		wantStatus sdk.Status
		second     [2]int // the 4203 and 4204 calls of the second attempt
		noFlag     bool   // 4208 answers without cpltFlag
		reconciled bool
	}{
		"4203 applied, answer lost: 4208 shows it open, not resent": {uploaded: true, fault: selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultLostReply}, wantStatus: sdk.StatusOK, second: [2]int{0, 1}, reconciled: true},
		"4203 never applied: 4208 shows it complete, sent again":    {uploaded: true, fault: selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultDrop}, wantStatus: sdk.StatusOK, second: [2]int{1, 1}},
		"4203 of a visit unknown to medgate: failed, not resent":    {uploaded: false, fault: selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultLostReply}, wantStatus: sdk.StatusFailed, second: [2]int{0, 0}},
		"4203 applied, 4208 shows no cpltFlag: failed, not resent":  {uploaded: true, noFlag: true, fault: selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultLostReply}, wantStatus: sdk.StatusFailed, second: [2]int{0, 0}},
		"4204 applied, answer lost: 4207 shows none, not resent":    {uploaded: true, fault: selfpaysim.Fault{Infno: "4204", Mode: selfpaysim.FaultLostReply}, wantStatus: sdk.StatusOK, second: [2]int{0, 0}, reconciled: true},
		"4204 never applied: 4207 shows details, sent again":        {uploaded: true, fault: selfpaysim.Fault{Infno: "4204", Mode: selfpaysim.FaultDrop}, wantStatus: sdk.StatusOK, second: [2]int{0, 1}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var wrap func(http.Handler) http.Handler
			if tc.noFlag {
				wrap = withoutCpltFlag
			}
			e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, wrap, nil)
			const id = "ZYCU"
			if tc.uploaded {
				wantStatus(t, e.must(OpUpload, "cu-up", upload(id, 2), 1), sdk.StatusOK)
			} else {
				wantStatus(t, e.must("selfpay.4201A", "cu-fees", map[string]any{nodeFees: []any{fee(id, 1), fee(id, 2)}}, 1), sdk.StatusOK)
				wantStatus(t, e.must("selfpay.4202", "cu-visit", map[string]any{nodeMdtrt: visit(id, 2), nodeDiags: diagnoses()}, 1), sdk.StatusOK)
				wantStatus(t, e.must("selfpay.4203", "cu-done", map[string]any{"fixmedins_mdtrt_id": id, "cplt_flag": "1"}, 1), sdk.StatusOK)
			}
			sent := func() map[string]int {
				n := map[string]int{}
				for _, c := range e.sim.Calls() {
					if c.MdtrtID == id {
						n[c.Infno]++
					}
				}
				return n
			}
			e.sim.Fail(tc.fault)
			cancel := map[string]any{"fixmedins_mdtrt_id": id}
			wantStatus(t, e.must(OpCancel, "cu", cancel, 1), sdk.StatusFailed)
			before := sent()
			r := e.must(OpCancel, "cu", cancel, 2)
			wantStatus(t, r, tc.wantStatus)
			after := sent()
			if got := [2]int{after["4203"] - before["4203"], after["4204"] - before["4204"]}; got != tc.second {
				t.Errorf("second attempt sent 4203, 4204: %v, want %v", got, tc.second)
			}
			v := e.sim.Visit(testCode, id)
			if tc.wantStatus == sdk.StatusFailed {
				if r.Retryable {
					t.Error("a withdrawal that cannot be reconciled is retryable")
				}
				if d := r.Diagnostics.String(); !strings.Contains(d, "selfpay.4208") || !strings.Contains(d, "new message id") {
					t.Errorf("the reply does not tell staff what to check: %s", d)
				}
				if len(v.Fees) != 2 {
					t.Errorf("details deleted after an unreconciled withdrawal: %+v", v)
				}
				return
			}
			if v.Complete || len(v.Fees) != 0 {
				t.Fatalf("platform has %+v", v)
			}
			if got := payloadOf(t, r)["reconciled"]; got != tc.reconciled {
				t.Errorf("reconciled %v, want %v (reply %s)", got, tc.reconciled, r.Payload)
			}
		})
	}
}

// TestReuploadOutcomeUnknown: the 4203 cplt_flag=0 and 4204 of a
// selfpay.upload with "reupload": true whose outcome is unknown (answer
// lost, or connection dropped after sending) are reconciled before
// anything is resent, as a cancel's are: the 4203 with 4208 (cpltFlag of
// the visit, searched by the upload's patient), the 4204 with 4207
// (details left). Both were resent blindly. A visit 4208 does not list, or
// lists without a cpltFlag of 0 or 1, is failed for staff: nothing is
// resent and no detail deleted.
func TestReuploadOutcomeUnknown(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		singles    bool // the visit went up by single 4201A/4202/4203 (medgate stored nothing)
		rename     bool // the re-upload corrects the patient's name
		recert     bool // the re-upload corrects the patient's ID number: 4208 by it does not list the visit
		noFlag     bool // 4208 answers without cpltFlag
		fault      selfpaysim.Fault
		wantStatus sdk.Status
		second     [2]int // the 4203 (withdrawal and completion) and 4204 calls of the second attempt
		reconciled bool
	}{
		"4203 applied, answer lost: 4208 shows it open, not resent":    {fault: selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultLostReply}, wantStatus: sdk.StatusOK, second: [2]int{1, 1}, reconciled: true},
		"4203 never applied: 4208 shows it complete, sent again":       {fault: selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultDrop}, wantStatus: sdk.StatusOK, second: [2]int{2, 1}},
		"4203 of a visit medgate never stored: 4208 by the patient":    {singles: true, fault: selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultLostReply}, wantStatus: sdk.StatusOK, second: [2]int{1, 1}, reconciled: true},
		"4203 applied, 4208 does not list the visit: failed, not sent": {recert: true, fault: selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultLostReply}, wantStatus: sdk.StatusFailed},
		"4203 applied, the name corrected: 4208 lists it, not resent":  {rename: true, fault: selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultLostReply}, wantStatus: sdk.StatusOK, second: [2]int{1, 1}, reconciled: true},
		"4203 never applied, the name corrected: sent again":           {rename: true, fault: selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultDrop}, wantStatus: sdk.StatusOK, second: [2]int{2, 1}},
		"4203 applied, 4208 shows no cpltFlag: failed, not resent":     {noFlag: true, fault: selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultLostReply}, wantStatus: sdk.StatusFailed},
		"4204 applied, answer lost: 4207 shows none, not resent":       {fault: selfpaysim.Fault{Infno: "4204", Mode: selfpaysim.FaultLostReply}, wantStatus: sdk.StatusOK, second: [2]int{1, 0}, reconciled: true},
		"4204 never applied: 4207 shows details, sent again":           {fault: selfpaysim.Fault{Infno: "4204", Mode: selfpaysim.FaultDrop}, wantStatus: sdk.StatusOK, second: [2]int{1, 1}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var wrap func(http.Handler) http.Handler
			if tc.noFlag {
				wrap = withoutCpltFlag
			}
			e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, wrap, nil)
			const id = "ZYRU"
			if tc.singles {
				wantStatus(t, e.must("selfpay.4201A", "ru-fees", map[string]any{nodeFees: []any{fee(id, 1), fee(id, 2)}}, 1), sdk.StatusOK)
				wantStatus(t, e.must("selfpay.4202", "ru-visit", map[string]any{nodeMdtrt: visit(id, 2), nodeDiags: diagnoses()}, 1), sdk.StatusOK)
				wantStatus(t, e.must("selfpay.4203", "ru-done", map[string]any{"fixmedins_mdtrt_id": id, "cplt_flag": "1"}, 1), sdk.StatusOK)
			} else {
				wantStatus(t, e.must(OpUpload, "ru-1", upload(id, 2), 1), sdk.StatusOK)
			}
			sent := func() map[string]int {
				n := map[string]int{}
				for _, c := range e.sim.Calls() {
					if c.MdtrtID == id {
						n[c.Infno]++
					}
				}
				return n
			}
			m := upload(id, 3)
			m["reupload"] = true
			if tc.rename {
				m[nodeMdtrt].(map[string]any)["psn_name"] = "张珊"
			}
			if tc.recert {
				m[nodeMdtrt].(map[string]any)["certno"] = "350203198001015678"
			}
			e.sim.Fail(tc.fault)
			wantStatus(t, e.must(OpUpload, "ru-2", m, 1), sdk.StatusFailed)
			before := sent()
			r := e.must(OpUpload, "ru-2", m, 2)
			wantStatus(t, r, tc.wantStatus)
			after := sent()
			if got := [2]int{after["4203"] - before["4203"], after["4204"] - before["4204"]}; got != tc.second {
				t.Errorf("second attempt sent 4203, 4204: %v, want %v", got, tc.second)
			}
			v := e.sim.Visit(testCode, id)
			if tc.wantStatus == sdk.StatusFailed {
				if r.Retryable {
					t.Error("a withdrawal that cannot be reconciled is retryable")
				}
				if d := r.Diagnostics.String(); !strings.Contains(d, "selfpay.4208") || !strings.Contains(d, "reupload") || !strings.Contains(d, "new message id") {
					t.Errorf("the reply does not tell staff what to check: %s", d)
				}
				if len(v.Fees) != 2 {
					t.Errorf("details deleted or uploaded after an unreconciled withdrawal: %+v", v)
				}
				pe, err := e.host.Get(context.Background(), testSite, patientKey(id))
				if err != nil {
					t.Fatal(err)
				}
				var p patientRecord
				if err := json.Unmarshal(pe.Value, &p); err != nil {
					t.Fatal(err)
				}
				if p.Status != statusFailed || strings.Contains(p.Reason, "medgate retries") {
					t.Errorf("the visit's record says %s: %s, for a failure medgate does not retry", p.Status, p.Reason)
				}
				return
			}
			if !v.Complete || len(v.Fees) != 3 {
				t.Fatalf("platform has %+v", v)
			}
			if tc.rename {
				q := e.must("selfpay.4208", "ru-q", map[string]any{"certno": testCert, "page_num": 1, "page_size": 10}, 1)
				if recs := asList(payloadOf(t, q)["records"]); len(recs) != 1 || recs[0].(map[string]any)["psnName"] != "张珊" {
					t.Errorf("the platform has the visit %v, want the corrected name 张珊", recs)
				}
			}
			if got := payloadOf(t, r)["reconciled"]; got != tc.reconciled {
				t.Errorf("reconciled %v, want %v (reply %s)", got, tc.reconciled, r.Payload)
			}
		})
	}
}

func TestPauseBeforeDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s map[string]string) { s["batchSize"] = "1" })
	e.sim.Fail(selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultDelay, Delay: 300 * time.Millisecond})
	e.restartWith(New(WithPauseMargin(2*time.Second)), e.host)
	r, err := e.handleWithin(OpUpload, "pause", upload("ZYW", 3), 1, 2100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, r, sdk.StatusFailed)
	if !r.Retryable || !strings.Contains(r.Diagnostics.String(), "paused") {
		t.Fatalf("response %+v", r)
	}
	wantStatus(t, e.must(OpUpload, "pause", upload("ZYW", 3), 2), sdk.StatusOK)
	if v := e.sim.Visit(testCode, "ZYW"); len(v.Fees) != 3 || !v.Complete {
		t.Fatalf("platform has %+v", v)
	}
}

// TestReuploadCorrectionNotLost: a re-upload that corrects the diagnoses
// (same total, end time and name) whose 4202 never reached the platform is
// not taken for done because the platform still shows the first upload's
// visit: the correction is sent.
func TestReuploadCorrectionNotLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	wantStatus(t, e.must(OpUpload, "rc-1", upload("ZYV", 2), 1), sdk.StatusOK)
	m := upload("ZYV", 2)
	m["reupload"] = true
	m[nodeDiags] = []any{map[string]any{"inout_diag_type": "2", "diag_type": "1", "maindiag_flag": "1", "diag_srt_no": "1", "diag_code": "J15.900", "diag_name": "细菌性肺炎"}}
	e.sim.Fail(selfpaysim.Fault{Infno: "4202", Mode: selfpaysim.FaultDrop})
	wantStatus(t, e.must(OpUpload, "rc-2", m, 1), sdk.StatusFailed)
	wantStatus(t, e.must(OpUpload, "rc-2", m, 2), sdk.StatusOK)
	if n := e.sim.Count("4202", "ZYV"); n != 2 {
		t.Errorf("4202 applied %d times, want 2 (the first upload and the correction)", n)
	}
	r := e.must("selfpay.4209", "rc-q", map[string]any{"fixmedins_mdtrt_id": "ZYV", "page_num": 1, "page_size": 10}, 1)
	if recs := payloadOf(t, r)["records"].([]any); len(recs) != 1 || recs[0].(map[string]any)["diagCode"] != "J15.900" {
		t.Errorf("the platform has the diagnoses %v", recs)
	}
}

// TestReuploadDiagnosisCorrectionNotLost: a re-upload that corrects only
// a diagnosis's text (its name, department, doctor or order, not its code,
// type or main flag), whose 4202 never reached the platform, is sent
// again: the reconciliation compares every field of the diagnoses that
// 4209 answers, so the earlier upload's diagnoses do not pass for it.
func TestReuploadDiagnosisCorrectionNotLost(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct{ field, value, record string }{
		"name":       {"diag_name", "社区获得性肺炎", "diagName"},
		"department": {"diag_dept", "呼吸内科", "diagDept"},
		"order":      {"diag_srt_no", "2", "diagSrtNo"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			wantStatus(t, e.must(OpUpload, "dc-1", upload("ZYW", 2), 1), sdk.StatusOK)
			m := upload("ZYW", 2)
			m["reupload"] = true
			d := diagnoses()[0].(map[string]any)
			d[tc.field] = tc.value
			m[nodeDiags] = []any{d}
			e.sim.Fail(selfpaysim.Fault{Infno: "4202", Mode: selfpaysim.FaultDrop})
			wantStatus(t, e.must(OpUpload, "dc-2", m, 1), sdk.StatusFailed)
			wantStatus(t, e.must(OpUpload, "dc-2", m, 2), sdk.StatusOK)
			if n := e.sim.Count("4202", "ZYW"); n != 2 {
				t.Errorf("4202 applied %d times, want 2 (the first upload and the correction)", n)
			}
			r := e.must("selfpay.4209", "dc-q", map[string]any{"fixmedins_mdtrt_id": "ZYW", "page_num": 1, "page_size": 10}, 1)
			if recs := asList(payloadOf(t, r)["records"]); len(recs) != 1 || recs[0].(map[string]any)[tc.record] != tc.value {
				t.Errorf("the platform has the diagnoses %v, want %s %q", recs, tc.record, tc.value)
			}
		})
	}
}

// TestReuploadAddedFieldNotLost: a re-upload that fills in a field of the
// visit the earlier upload left out, whose 4202 never reached the
// platform, is sent again: the earlier upload's 4208 record lacks the
// field, which 4208 answers, so it does not pass for the correction.
func TestReuploadAddedFieldNotLost(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct{ field, value, record string }{
		"bill number":    {"elec_billno_code", "00012345", "elecBillnoCode"},
		"discharge dept": {"dscg_dept_name", "呼吸内科", "dscgDeptName"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			wantStatus(t, e.must(OpUpload, "af-1", upload("ZYF", 2), 1), sdk.StatusOK)
			m := upload("ZYF", 2)
			m["reupload"] = true
			m[nodeMdtrt].(map[string]any)[tc.field] = tc.value
			e.sim.Fail(selfpaysim.Fault{Infno: "4202", Mode: selfpaysim.FaultDrop})
			wantStatus(t, e.must(OpUpload, "af-2", m, 1), sdk.StatusFailed)
			wantStatus(t, e.must(OpUpload, "af-2", m, 2), sdk.StatusOK)
			if n := e.sim.Count("4202", "ZYF"); n != 2 {
				t.Errorf("4202 applied %d times, want 2 (the first upload and the correction)", n)
			}
			r := e.must("selfpay.4208", "af-q", map[string]any{"certno": testCert, "page_num": 1, "page_size": 10}, 1)
			if recs := asList(payloadOf(t, r)["records"]); len(recs) != 1 || recs[0].(map[string]any)[tc.record] != tc.value {
				t.Errorf("the platform has the visit %v, want %s %q", recs, tc.record, tc.value)
			}
		})
	}
}

// TestUploadHugeNumbersAnsweredAtOnce: numbers far outside decimal(16,x)
// written with huge exponents are invalid, and the answer comes at once:
// the amount checks do not expand them into million-digit numbers.
func TestUploadHugeNumbersAnsweredAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	m := upload("ZYH", 20)
	for _, f := range m[nodeFees].([]any) {
		f.(map[string]any)["cnt"] = json.Number("1e999999")
		f.(map[string]any)["pric"] = json.Number("-1e999999")
	}
	start := time.Now()
	r := e.must(OpUpload, "huge", m, 1)
	wantStatus(t, r, sdk.StatusInvalid)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("an invalid upload took %v to answer", d)
	}
	if len(e.sim.Calls()) != 0 {
		t.Error("calls reached the platform")
	}
}

// TestLineAmountRounding: cnt × pric rounded to the cent either way (half
// up or half to even) is accepted.
func TestLineAmountRounding(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	m := upload("ZYRD", 2)
	for i, amt := range []string{"0.13", "0.12"} {
		f := m[nodeFees].([]any)[i].(map[string]any)
		f["cnt"], f["pric"], f["det_item_fee_sumamt"], f["fulamt_ownpay_amt"] = "1", "0.125", amt, amt
	}
	m[nodeMdtrt].(map[string]any)["medfee_sumamt"] = "0.25"
	wantStatus(t, e.must(OpUpload, "round", m, 1), sdk.StatusOK)
}

// TestSignInRefusedIsNotATolerated4204: the 4204 that clears a visit's old
// fee details before an upload may be refused (nothing to delete), but a
// refused 9001 sign-in before it is no such refusal: 4204 was never sent,
// the old details are still there, and the upload stops there.
func TestSignInRefusedIsNotATolerated4204(t *testing.T) {
	t.Parallel()
	e := newEnvSim(t, selfpaysim.Options{PaasID: testPaas, Token: testToken, RequireSignIn: true}, func(s map[string]string) {
		s["signIn"], s["signInMac"], s["signInIp"] = "true", "00:16:3e:00:00:01", "10.0.0.8"
	})
	// A first upload leaves its fee details on the platform.
	e.sim.Fail(selfpaysim.Fault{Infno: "4202", Mode: selfpaysim.FaultBusiness, Message: "诊断代码不存在"})
	wantStatus(t, e.must(OpUpload, "si-1", upload("ZYT", 3), 1), sdk.StatusRejected)
	// A new day's sign-in, refused once.
	if err := e.host.Delete(context.Background(), testSite, "hsa/signin/OP001"); err != nil {
		t.Fatal(err)
	}
	e.restart(e.host)
	e.sim.Fail(selfpaysim.Fault{Infno: "9001", Mode: selfpaysim.FaultBusiness, Message: "签到失败"})
	before := len(e.sim.Calls())
	r := e.must(OpUpload, "si-2", upload("ZYT", 3), 1)
	wantStatus(t, r, sdk.StatusRejected)
	if r.External == nil || r.External.Message != "签到失败" {
		t.Errorf("external %+v, want the 9001 refusal", r.External)
	}
	for _, c := range e.sim.Calls()[before:] {
		if c.Infno == "4201A" {
			t.Fatalf("4201A sent although the old details were not deleted: %+v", c)
		}
	}
	for _, s := range payloadOf(t, r)["steps"].([]any) {
		if s := s.(map[string]any); s["outcome"] == outcomeTolerated {
			t.Errorf("step %v tolerated", s)
		}
	}
}

// TestReconcileQueryRefused: when the query that reconciles a call whose
// answer was lost is itself refused (a business error on 4207/4208/4209),
// the call's outcome is still unknown: the attempt fails, retryable, and
// the next attempt reconciles again instead of the message being rejected.
func TestReconcileQueryRefused(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		lost, query string
		typ         string
		payload     func() map[string]any
	}{
		"upload 4201A, 4207 refused": {"4201A", "4207", OpUpload, func() map[string]any { return upload("ZYQ", 3) }},
		"upload 4202, 4208 refused":  {"4202", "4208", OpUpload, func() map[string]any { return upload("ZYQ", 3) }},
		"upload 4202, 4209 refused":  {"4202", "4209", OpUpload, func() map[string]any { return upload("ZYQ", 3) }},
		"upload 4203, 4208 refused":  {"4203", "4208", OpUpload, func() map[string]any { return upload("ZYQ", 3) }},
		"single 4201A, 4207 refused": {"4201A", "4207", "selfpay.4201A", func() map[string]any {
			return map[string]any{nodeFees: []any{fee("ZYQ", 1), fee("ZYQ", 2)}}
		}},
		"single 4202, 4208 refused": {"4202", "4208", "selfpay.4202", func() map[string]any {
			return map[string]any{nodeMdtrt: visit("ZYQ", 0), nodeDiags: diagnoses()}
		}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.sim.Fail(selfpaysim.Fault{Infno: tc.lost, Mode: selfpaysim.FaultLostReply})
			wantStatus(t, e.must(tc.typ, "q", tc.payload(), 1), sdk.StatusFailed)
			e.sim.Fail(selfpaysim.Fault{Infno: tc.query, Mode: selfpaysim.FaultBusiness, Message: "查询服务暂不可用"})
			r := e.must(tc.typ, "q", tc.payload(), 2)
			wantStatus(t, r, sdk.StatusFailed)
			if !r.Retryable || r.Diagnostics[0].Rule != "transient" {
				t.Fatalf("response %+v", r)
			}
			r = e.must(tc.typ, "q", tc.payload(), 3)
			wantStatus(t, r, sdk.StatusOK)
			if payloadOf(t, r)["reconciled"] != true {
				t.Errorf("reply does not say it reconciled: %s", r.Payload)
			}
			if n := e.sim.Count(tc.lost, "ZYQ"); tc.lost != "4201A" && n != 1 {
				t.Errorf("%s applied %d times", tc.lost, n)
			}
		})
	}
}

// TestUploadTooLongForOneCall: a fee line or a visit too long for one call
// (maxInputChars) is found before anything is sent, so the reply can say
// invalid; when the limit only bites after calls went out (the settings
// changed between attempts), the reply is not invalid, which would claim
// nothing was sent.
func TestUploadTooLongForOneCall(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("长", 500)
	testCases := map[string]struct {
		edit func(m map[string]any)
		want string
	}{
		"fee line": {func(m map[string]any) {
			f := m[nodeFees].([]any)[2].(map[string]any)
			f["memo"], f["prodname"] = long, long[:200*3]
		}, "$.fsiOwnpayPatnFeeListDDTO[2] length"},
		"visit": {func(m map[string]any) {
			m[nodeMdtrt].(map[string]any)["exp_content"] = strings.Repeat("长", 1200)
		}, "$.ownPayPatnMdtrtD length"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(s map[string]string) { s["maxInputChars"] = "1100"; s["batchSize"] = "1" })
			m := upload("ZYLONG", 3)
			tc.edit(m)
			r := e.must(OpUpload, "long", m, 1)
			wantStatus(t, r, sdk.StatusInvalid)
			var got []string
			for _, d := range r.Diagnostics {
				got = append(got, d.Field+" "+d.Rule)
			}
			if !strings.Contains(strings.Join(got, "\n"), tc.want) {
				t.Errorf("missing %q in %v", tc.want, got)
			}
			if n := len(e.sim.Calls()); n != 0 {
				t.Errorf("%d calls reached the platform before the invalid reply", n)
			}
		})
	}
	t.Run("settings changed after calls went out", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(s map[string]string) { s["batchSize"] = "2" })
		e.sim.Fail(selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultLostReply})
		wantStatus(t, e.must(OpUpload, "shrunk", upload("ZYSH", 5), 1), sdk.StatusFailed)
		e.settings["maxInputChars"] = "800" // one line fits, the next batch of two does not
		e.restart(e.host)
		r := e.must(OpUpload, "shrunk", upload("ZYSH", 5), 2)
		if r.Status == sdk.StatusInvalid {
			t.Fatalf("status invalid after calls went out: %v", r.Diagnostics)
		}
		wantStatus(t, r, sdk.StatusFailed)
		if n := len(payloadOf(t, r)["steps"].([]any)); n < 2 {
			t.Errorf("the reply lists %d steps; it should show what was sent: %s", n, r.Payload)
		}
		again := e.must(OpUpload, "shrunk", upload("ZYSH", 5), 3)
		if again.Status != r.Status {
			t.Errorf("redelivery answered %s, first %s", again.Status, r.Status)
		}
	})
}

// TestRecheckFailsAfterCallsWentOut: a message whose calls already
// reached the platform is handled again after the site's settings changed
// so that its input no longer passes medgate's checks (here the site's
// institution code). Answering invalid would say nothing was sent; the
// reply is failed, final, with the steps made, and nothing more is sent.
func TestRecheckFailsAfterCallsWentOut(t *testing.T) {
	t.Parallel()
	const id = "ZYRC"
	withCode := func(m map[string]any) map[string]any { m["fixmedins_code"] = testCode; return m }
	testCases := map[string]struct {
		typ     string
		fault   selfpaysim.Fault
		payload func() map[string]any
	}{
		"upload": {OpUpload, selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultLostReply, After: 1}, func() map[string]any {
			m := upload(id, 3)
			withCode(m[nodeMdtrt].(map[string]any))
			return m
		}},
		"single 4201A": {"selfpay.4201A", selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultLostReply}, func() map[string]any {
			return map[string]any{nodeFees: []any{withCode(fee(id, 1))}}
		}},
		"cancel": {OpCancel, selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultLostReply}, func() map[string]any {
			return withCode(map[string]any{"fixmedins_mdtrt_id": id})
		}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(s map[string]string) { s["batchSize"] = "1" })
			e.sim.Fail(tc.fault)
			wantStatus(t, e.must(tc.typ, "rc", tc.payload(), 1), sdk.StatusFailed)
			sent := len(e.sim.Calls())
			if sent == 0 {
				t.Fatal("no call reached the platform on the first attempt")
			}
			e.settings["fixmedinsCode"] = "H35020399999"
			e.restart(e.host)
			for attempt := 2; attempt <= 3; attempt++ {
				r := e.must(tc.typ, "rc", tc.payload(), attempt)
				if r.Status == sdk.StatusInvalid {
					t.Fatalf("attempt %d: status invalid after calls went out: %v", attempt, r.Diagnostics)
				}
				wantStatus(t, r, sdk.StatusFailed)
				if r.Retryable {
					t.Errorf("attempt %d: retryable; the input cannot pass before it changes", attempt)
				}
				var rules []string
				for _, d := range r.Diagnostics {
					rules = append(rules, d.Field+" "+d.Rule)
				}
				if all := strings.Join(rules, "\n"); !strings.Contains(all, "fixmedins_code precondition") || !strings.Contains(all, " state") {
					t.Errorf("attempt %d: diagnostics %q lack the failed check or the part-way state", attempt, all)
				}
			}
			if n := len(e.sim.Calls()); n != sent {
				t.Errorf("%d more calls reached the platform after the settings changed", n-sent)
			}
		})
	}
}

// TestUploadBatchesByEncryptedSize: with encType SM4 the envelope carries
// the input's ciphertext, longer than the JSON, and maxInputChars bounds
// that. Batches cut by the JSON's length went over the limit part-way
// through the upload; they are cut by the length sent, and a line whose
// ciphertext alone is too long is refused before anything is sent.
func TestUploadBatchesByEncryptedSize(t *testing.T) {
	t.Parallel()
	const key = "0123456789abcdeffedcba9876543210"
	sm4 := func(limit string) func(s map[string]string) {
		return func(s map[string]string) { s["encType"], s["sm4Key"], s["maxInputChars"] = "SM4", key, limit }
	}
	simOpts := selfpaysim.Options{PaasID: testPaas, Token: testToken, SM4Key: key}
	line, _ := json.Marshal(map[string]any{nodeFees: []any{fillCode(fee("ZYENC", 1))}})
	clear := utf8.RuneCount(line)

	t.Run("batches", func(t *testing.T) {
		t.Parallel()
		// Two lines fit in clear, not encrypted; one fits encrypted.
		e := newEnvSim(t, simOpts, sm4(strconv.Itoa(2*clear)))
		r := e.must(OpUpload, "enc", upload("ZYENC", 5), 1)
		wantStatus(t, r, sdk.StatusOK)
		if v := e.sim.Visit(testCode, "ZYENC"); len(v.Fees) != 5 || !v.Complete {
			t.Errorf("platform has %+v", v)
		}
	})
	t.Run("one line too long", func(t *testing.T) {
		t.Parallel()
		// The line fits in clear, not encrypted.
		e := newEnvSim(t, simOpts, sm4(strconv.Itoa(clear+20)))
		r := e.must(OpUpload, "enc-long", upload("ZYENC", 2), 1)
		wantStatus(t, r, sdk.StatusInvalid)
		if n := len(e.sim.Calls()); n != 0 {
			t.Errorf("%d calls reached the platform before the invalid reply", n)
		}
	})
}

// fillCode adds the institution's code and name, as the plugin does.
func fillCode(m map[string]any) map[string]any {
	m["fixmedins_code"], m["fixmedins_name"] = testCode, "厦门市示例医院"
	return m
}

// TestSignInExpired: the platform expires a sign_no before the day ends
// (the simulator's ExpireSignIns) and refuses calls carrying it. The
// sign-in was cached for the day, so every later call failed until the
// next day. A refusal with an infcode listed in signInExpiredCodes now
// drops it, signs in again and sends the refused call once more; other
// codes (and the default, none listed) are refusals as before.
func TestSignInExpired(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		codes      string // signInExpiredCodes
		wantStatus sdk.Status
		signIns    int
	}{
		"code listed: signs in again":     {codes: "-2", wantStatus: sdk.StatusOK, signIns: 2},
		"another code listed: rejected":   {codes: "-3, 1001", wantStatus: sdk.StatusRejected, signIns: 1},
		"none listed (default): rejected": {codes: "", wantStatus: sdk.StatusRejected, signIns: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnvSim(t, selfpaysim.Options{PaasID: testPaas, Token: testToken, RequireSignIn: true, SignInInfcode: -2}, func(s map[string]string) {
				s["signIn"], s["signInMac"], s["signInIp"] = "true", "00:16:3e:00:00:01", "10.0.0.8"
				s["signInExpiredCodes"] = tc.codes
			})
			wantStatus(t, e.must(OpUpload, "se-1", upload("ZYS1", 2), 1), sdk.StatusOK)
			e.sim.ExpireSignIns()
			r := e.must(OpUpload, "se-2", upload("ZYS2", 2), 1)
			wantStatus(t, r, tc.wantStatus)
			signIns, refused := 0, 0
			for _, c := range e.sim.Calls() {
				switch {
				case c.Infno == "9001" && c.Applied:
					signIns++
				case c.Infcode == -2:
					refused++
				}
			}
			if signIns != tc.signIns {
				t.Errorf("%d sign-ins, want %d", signIns, tc.signIns)
			}
			if tc.wantStatus != sdk.StatusOK {
				if r.External == nil || r.External.Code != "-2" {
					t.Errorf("external %+v, want the platform's refusal -2", r.External)
				}
				return
			}
			if refused != 1 {
				t.Errorf("%d calls refused for the expired sign-in, want 1 (then sent again once)", refused)
			}
			if v := e.sim.Visit(testCode, "ZYS2"); !v.Complete || len(v.Fees) != 2 {
				t.Errorf("platform has %+v", v)
			}
			// The new sign-in is kept: another message needs no 9001.
			wantStatus(t, e.must(OpUpload, "se-3", upload("ZYS3", 1), 1), sdk.StatusOK)
			if n := e.sim.Count("9001", ""); n != tc.signIns {
				t.Errorf("%d sign-ins after a third upload, want %d", n, tc.signIns)
			}
		})
	}
}

// TestSignInExpiredResendLost: a call refused for an expired sign-in goes
// out again with a new msgid; when that resend's answer is lost, the call
// in flight is the resend. The workflow recorded only the refused msgid,
// so its reconciliation (and the reply naming the call whose outcome is
// unknown) pointed staff at the refused exchange of the journal instead of
// the one that may have taken effect.
func TestSignInExpiredResendLost(t *testing.T) {
	t.Parallel()
	e := newEnvSim(t, selfpaysim.Options{PaasID: testPaas, Token: testToken, RequireSignIn: true, SignInInfcode: -2}, func(s map[string]string) {
		s["signIn"], s["signInMac"], s["signInIp"] = "true", "00:16:3e:00:00:01", "10.0.0.8"
		s["signInExpiredCodes"] = "-2"
	})
	wantStatus(t, e.must(OpUpload, "sl-1", upload("ZYL1", 2), 1), sdk.StatusOK)
	e.sim.ExpireSignIns()
	e.sim.Fail(selfpaysim.Fault{Infno: "4204", Mode: selfpaysim.FaultLostReply, Times: 1}) // the resend: the refusal comes before faults
	r := e.must(OpUpload, "sl-2", upload("ZYL2", 2), 1)
	wantStatus(t, r, sdk.StatusFailed)
	var refusedID, lostID string
	for _, c := range e.sim.Calls() {
		switch {
		case c.Infno == "4204" && c.Infcode == -2:
			refusedID = c.MsgID
		case c.Infno == "4204" && c.Fault == selfpaysim.FaultLostReply:
			lostID = c.MsgID
		}
	}
	if refusedID == "" || lostID == "" || refusedID == lostID {
		t.Fatalf("4204 refused as %q, lost as %q: want two msgids", refusedID, lostID)
	}
	if r.External == nil || r.External.MsgID != lostID {
		t.Errorf("first attempt names msgid %+v, want the lost resend %s", r.External, lostID)
	}
	r = e.must(OpUpload, "sl-2", upload("ZYL2", 2), 2)
	wantStatus(t, r, sdk.StatusOK)
	steps, _ := payloadOf(t, r)["steps"].([]any)
	found := false
	for _, s := range steps {
		m, _ := s.(map[string]any)
		if m["infno"] == "4204" && m["outcome"] == outcomeReconciled {
			found = true
			if m["msgid"] != lostID {
				t.Errorf("reconciled 4204 names msgid %v, want the resend %s (the refused one was %s)", m["msgid"], lostID, refusedID)
			}
		}
	}
	if !found {
		t.Errorf("no reconciled 4204 in %v", steps)
	}
	n := 0
	for _, c := range e.sim.Calls() {
		if c.Infno == "4204" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("4204 sent %d times, want 3 (ZYL1's; ZYL2's refused, then its lost resend, reconciled, not sent again)", n)
	}
}

// renamedBkkpSn answers 4207 records with their bkkp_sn under a name
// medgate does not read (the 4207 field list is not public).
func renamedBkkpSn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var env map[string]any
		if json.Unmarshal(rec.Body.Bytes(), &env) == nil {
			if out, ok := env["output"].(map[string]any); ok {
				for _, it := range asList(out["data"]) {
					if m := it.(map[string]any); m["bkkpSn"] != nil {
						m["bkkpSnNo"] = m["bkkpSn"]
						delete(m, "bkkpSn")
					}
				}
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_ = json.NewEncoder(w).Encode(env)
	})
}

// TestDetailsLeftUnreadable: 4207 lists the visit's details, but under a
// field name medgate does not read as bkkp_sn. Such records were skipped,
// so a 4204 whose outcome was unknown (or that was refused) counted as
// having deleted everything: the cancel ended ok with the details still on
// the platform. A valid record counts as a detail left whatever its fields.
func TestDetailsLeftUnreadable(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		fault selfpaysim.Fault
		want  sdk.Status
	}{
		"4204 outcome unknown: sent again": {fault: selfpaysim.Fault{Infno: "4204", Mode: selfpaysim.FaultDrop, Times: 1}, want: sdk.StatusOK},
		"4204 refused: details left":       {fault: selfpaysim.Fault{Infno: "4204", Mode: selfpaysim.FaultBusiness, Times: 1}, want: sdk.StatusRejected},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, renamedBkkpSn, nil)
			const id = "ZYDL"
			wantStatus(t, e.must(OpUpload, "dl-up", upload(id, 2), 1), sdk.StatusOK)
			e.sim.Fail(tc.fault)
			r := e.must(OpCancel, "dl-cancel", map[string]any{"fixmedins_mdtrt_id": id}, 1)
			if r.Status == sdk.StatusFailed && r.Retryable {
				r = e.must(OpCancel, "dl-cancel", map[string]any{"fixmedins_mdtrt_id": id}, 2)
			}
			if v := e.sim.Visit(testCode, id); r.Status == sdk.StatusOK && len(v.Fees) > 0 {
				t.Fatalf("cancel answered ok with details %v still on the platform", v.Fees)
			}
			wantStatus(t, r, tc.want)
		})
	}
}

// TestReconcileOnCappedPagesWithoutCounts: a platform that serves fewer
// records per page than asked (pageSize 100, it serves 2) and sends no
// record or page counts. A call whose answer was lost is reconciled from
// every page, not from the first short one: the 4201A lines 4207 lists
// past it, and the visit 4208 lists past it, are on the platform and are
// not sent again.
func TestReconcileOnCappedPagesWithoutCounts(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		earlier []string // visits of the same patient uploaded before (4208 lists them first)
		infno   string
	}{
		"4201A lost: lines on later 4207 pages": {infno: "4201A"},
		"4202 lost: visit on a later 4208 page": {earlier: []string{"ZYA1", "ZYA2"}, infno: "4202"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnvSim(t, selfpaysim.Options{PaasID: testPaas, Token: testToken, MaxPageSize: 2, NoPageCounts: true}, nil)
			for _, id := range tc.earlier {
				wantStatus(t, e.must(OpUpload, "up-"+id, upload(id, 1), 1), sdk.StatusOK)
			}
			const id = "ZYB"
			e.sim.Fail(selfpaysim.Fault{Infno: tc.infno, Mode: selfpaysim.FaultLostReply})
			wantStatus(t, e.must(OpUpload, "capped", upload(id, 5), 1), sdk.StatusFailed)
			sent := func() int {
				n := 0
				for _, c := range e.sim.Calls() {
					if c.Infno == tc.infno && c.MdtrtID == id {
						n++
					}
				}
				return n
			}
			before := sent()
			r := e.must(OpUpload, "capped", upload(id, 5), 2)
			wantStatus(t, r, sdk.StatusOK)
			if n := sent() - before; n != 0 {
				t.Errorf("%s sent %d more times after its answer was lost", tc.infno, n)
			}
			if v := e.sim.Visit(testCode, id); !v.Complete || len(v.Fees) != 5 {
				t.Fatalf("platform has %+v", v)
			}
			if n := e.sim.Count("4202", id); n != 1 {
				t.Errorf("4202 applied %d times", n)
			}
			if payloadOf(t, r)["reconciled"] != true {
				t.Errorf("reply does not say it reconciled: %s", r.Payload)
			}
		})
	}
}

// without4208Records serves the simulator but answers 4208 with no
// records, as a platform whose 4208 misses the visit (searched by fields
// it holds otherwise, or listed on a page not read) would.
func without4208Records(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var req struct {
			Infno string `json:"infno"`
		}
		if json.Unmarshal(body, &req) != nil || req.Infno != "4208" {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var env map[string]any
		if json.Unmarshal(rec.Body.Bytes(), &env) == nil {
			if out, ok := env["output"].(map[string]any); ok {
				out["data"], out["recordCounts"], out["pages"] = []any{}, 0, 0
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_ = json.NewEncoder(w).Encode(env)
	})
}

// TestUploadCompletionOutcomeUnknown: the completion (4203 cplt_flag=1) of
// a selfpay.upload whose outcome is unknown is settled with 4208 as a
// cancel's withdrawal is: cpltFlag 1, done; 0, sent again. A visit 4208
// does not list, or lists without a cpltFlag of 0 or 1, was completed
// again blindly; it is now failed for staff, not retryable, and nothing
// is resent.
func TestUploadCompletionOutcomeUnknown(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		wrap       func(http.Handler) http.Handler
		fault      string
		wantStatus sdk.Status
		wantResent bool
		reconciled bool
	}{
		"applied, answer lost: 4208 shows it complete, not resent": {fault: selfpaysim.FaultLostReply, wantStatus: sdk.StatusOK, reconciled: true},
		"never applied: 4208 shows it open, sent again":            {fault: selfpaysim.FaultDrop, wantStatus: sdk.StatusOK, wantResent: true},
		"applied, 4208 does not list the visit: failed, not sent":  {wrap: without4208Records, fault: selfpaysim.FaultLostReply, wantStatus: sdk.StatusFailed},
		"never applied, 4208 does not list it: failed, not sent":   {wrap: without4208Records, fault: selfpaysim.FaultDrop, wantStatus: sdk.StatusFailed},
		"applied, 4208 shows no cpltFlag: failed, not resent":      {wrap: withoutCpltFlag, fault: selfpaysim.FaultLostReply, wantStatus: sdk.StatusFailed},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, tc.wrap, nil)
			const id = "ZYCO"
			sent := func() int {
				n := 0
				for _, c := range e.sim.Calls() {
					if c.Infno == "4203" && c.MdtrtID == id {
						n++
					}
				}
				return n
			}
			e.sim.Fail(selfpaysim.Fault{Infno: "4203", Mode: tc.fault})
			wantStatus(t, e.must(OpUpload, "co", upload(id, 2), 1), sdk.StatusFailed)
			before := sent()
			r := e.must(OpUpload, "co", upload(id, 2), 2)
			wantStatus(t, r, tc.wantStatus)
			if resent := sent() > before; resent != tc.wantResent {
				t.Errorf("4203 sent again: %v, want %v", resent, tc.wantResent)
			}
			if tc.wantStatus == sdk.StatusOK {
				if v := e.sim.Visit(testCode, id); !v.Complete || len(v.Fees) != 2 {
					t.Fatalf("platform has %+v", v)
				}
				if got := payloadOf(t, r)["reconciled"]; got != tc.reconciled {
					t.Errorf("reconciled %v, want %v (reply %s)", got, tc.reconciled, r.Payload)
				}
				return
			}
			if r.Retryable {
				t.Error("a completion that cannot be reconciled is retryable")
			}
			if d := r.Diagnostics.String(); !strings.Contains(d, "cplt_flag=1") || !strings.Contains(d, "selfpay.4208") || !strings.Contains(d, "new message id") {
				t.Errorf("the reply does not tell staff what to check: %s", d)
			}
			pe, err := e.host.Get(context.Background(), testSite, patientKey(id))
			if err != nil {
				t.Fatal(err)
			}
			var p patientRecord
			if err := json.Unmarshal(pe.Value, &p); err != nil {
				t.Fatal(err)
			}
			if p.Status != statusFailed || strings.Contains(p.Reason, "medgate retries") {
				t.Errorf("the visit's record says %s: %s, for a failure medgate does not retry", p.Status, p.Reason)
			}
		})
	}
}

// TestSignInReplacedByAnotherInstance: two plugin instances over one host
// state. Once one of them has replaced the day's sign-in (its call was
// refused for an expired sign_no), the other sends the new sign_no from
// the state with its next call instead of the old one it keeps in memory:
// it is not refused for it first (which, with no signInExpiredCodes
// listed, would end its message rejected).
func TestSignInReplacedByAnotherInstance(t *testing.T) {
	t.Parallel()
	e := newEnvSim(t, selfpaysim.Options{PaasID: testPaas, Token: testToken, RequireSignIn: true, SignInInfcode: -2}, func(s map[string]string) {
		s["signIn"], s["signInMac"], s["signInIp"] = "true", "00:16:3e:00:00:01", "10.0.0.8"
		s["signInExpiredCodes"] = "-2"
	})
	a := e.plugin
	wantStatus(t, e.must(OpUpload, "a-1", upload("ZYA1", 1), 1), sdk.StatusOK)
	e.restart(e.host) // a second instance, sharing the state
	b := e.plugin
	wantStatus(t, e.must(OpUpload, "b-1", upload("ZYB1", 1), 1), sdk.StatusOK)
	e.sim.ExpireSignIns()
	wantStatus(t, e.must(OpUpload, "b-2", upload("ZYB2", 1), 1), sdk.StatusOK) // refused once, signs in again
	e.plugin = a
	wantStatus(t, e.must(OpUpload, "a-2", upload("ZYA2", 1), 1), sdk.StatusOK)
	e.plugin = b
	signIns, refused := 0, 0
	for _, c := range e.sim.Calls() {
		switch {
		case c.Infno == "9001" && c.Applied:
			signIns++
		case c.Infcode == -2:
			refused++
		}
	}
	if signIns != 2 {
		t.Errorf("%d sign-ins, want 2: the first, and the one replacing it for both instances", signIns)
	}
	if refused != 1 {
		t.Errorf("%d calls refused for the expired sign-in, want 1: the instance that replaced it; the other must use the replacement the state holds", refused)
	}
}

// reshaped4207 serves the simulator with edit applied to the output of
// its 4207 answers while on is set, as a platform answering a query
// malformed or in part would.
func reshaped4207(on *atomic.Bool, edit func(env map[string]any)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct {
				Infno string `json:"infno"`
			}
			if !on.Load() || json.Unmarshal(body, &req) != nil || req.Infno != "4207" {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var env map[string]any
			if json.Unmarshal(rec.Body.Bytes(), &env) == nil {
				edit(env)
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_ = json.NewEncoder(w).Encode(env)
		})
	}
}

// TestReconcileOnMalformedQueryAnswers: a re-upload correcting the fee
// lines (new bkkp_sn) whose 4204 never reached the platform is reconciled
// with 4207. A 4207 answered with infcode 0 but no output, a null output,
// or fewer records than its own count was read as "no details left": the
// 4204 counted as done and the corrected lines went up beside the old
// ones (five fee lines at the platform for three, the completion refused
// for the total). Such an answer settles nothing: the attempt fails,
// retryable, nothing is sent, and the next one, answered in full,
// finishes with the corrected lines alone.
func TestReconcileOnMalformedQueryAnswers(t *testing.T) {
	t.Parallel()
	cases := map[string]func(env map[string]any){
		"no output":                   func(env map[string]any) { delete(env, "output") },
		"output null":                 func(env map[string]any) { env["output"] = nil },
		"data empty, counts say more": func(env map[string]any) { env["output"].(map[string]any)["data"] = []any{} },
		"data null, counts say more":  func(env map[string]any) { env["output"].(map[string]any)["data"] = nil },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var on atomic.Bool
			e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, reshaped4207(&on, edit), nil)
			const id = "ZYMF"
			wantStatus(t, e.must(OpUpload, "mf-1", upload(id, 2), 1), sdk.StatusOK)
			m := upload(id, 3)
			m["reupload"] = true
			for i, f := range m[nodeFees].([]any) {
				f.(map[string]any)["bkkp_sn"] = fmt.Sprintf("%s-C-%04d", id, i+1)
			}
			e.sim.Fail(selfpaysim.Fault{Infno: "4204", Mode: selfpaysim.FaultDrop})
			wantStatus(t, e.must(OpUpload, "mf-2", m, 1), sdk.StatusFailed)
			on.Store(true)
			r := e.must(OpUpload, "mf-2", m, 2)
			if v := e.sim.Visit(testCode, id); len(v.Fees) != 2 {
				t.Fatalf("after a malformed 4207 answer the platform has the fee lines %v, want the 2 old ones untouched", v.Fees)
			}
			if r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("status %s (retryable %v), want failed and retryable: %v", r.Status, r.Retryable, r.Diagnostics)
			}
			if d := r.Diagnostics.String(); !strings.Contains(d, "4207") {
				t.Errorf("the reply does not name the query whose answer was malformed: %s", d)
			}
			on.Store(false)
			r = e.must(OpUpload, "mf-2", m, 3)
			wantStatus(t, r, sdk.StatusOK)
			if v := e.sim.Visit(testCode, id); !v.Complete || len(v.Fees) != 3 || v.Fees[0] != id+"-C-0001" {
				t.Fatalf("platform has %+v, want the 3 corrected lines alone", v)
			}
		})
	}
}

// TestReconcile4201AOnRecordsAsText: a 4201A batch applied whose answer
// was lost is reconciled with 4207. A 4207 answer listing its records as
// JSON text instead of objects was read as listing no line, so the batch
// was sent again, refused for its bkkp_sn already there, and the upload
// ended rejected though every line was on the platform. Such an answer
// settles nothing (failed, retryable, nothing sent); the next attempt,
// answered with records, finishes without sending a line twice.
func TestReconcile4201AOnRecordsAsText(t *testing.T) {
	t.Parallel()
	var on atomic.Bool
	asText := func(env map[string]any) {
		out := env["output"].(map[string]any)
		for i, rec := range asList(out["data"]) {
			b, _ := json.Marshal(rec)
			out["data"].([]any)[i] = string(b)
		}
	}
	e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, reshaped4207(&on, asText), nil)
	const id = "ZYRT"
	e.sim.Fail(selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultLostReply})
	wantStatus(t, e.must(OpUpload, "rt", upload(id, 3), 1), sdk.StatusFailed)
	on.Store(true)
	r := e.must(OpUpload, "rt", upload(id, 3), 2)
	if r.Status != sdk.StatusFailed || !r.Retryable {
		t.Fatalf("status %s (retryable %v), want failed and retryable: %v", r.Status, r.Retryable, r.Diagnostics)
	}
	on.Store(false)
	wantStatus(t, e.must(OpUpload, "rt", upload(id, 3), 3), sdk.StatusOK)
	if n := e.sim.Count("4201A", id); n != 1 {
		t.Errorf("4201A applied %d times, want once", n)
	}
	if v := e.sim.Visit(testCode, id); !v.Complete || len(v.Fees) != 3 {
		t.Errorf("platform has %+v", v)
	}
}

// TestSignInAcrossMidnightWithSkew: the platform's sign-in is daily (the
// simulator's SignInDaily: a sign_no is refused after the midnight, UTC+8
// on its clock, of the day it was issued), and medgate's clock is a few
// minutes off the platform's, within what the gateway allows. medgate
// kept a sign_no for the day of its own clock: ahead, it signed in just
// before the platform's midnight and sent that sign_no all the next day;
// behind, it sent the day before's after the platform's midnight. Each
// call was refused and, with no signInExpiredCodes listed (the default),
// the upload ended rejected. The sign-in now lasts until the end of the
// platform's day of its sign_time (as medgate's clock reads it then), and
// the next call signs in again.
func TestSignInAcrossMidnightWithSkew(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("UTC+8", 8*3600)
	cases := map[string]struct {
		start   time.Time     // the platform's clock at the first upload
		skew    time.Duration // medgate's clock minus the platform's
		advance time.Duration // both clocks, before the second upload
	}{
		"medgate 3 minutes ahead":  {time.Date(2025, 4, 1, 23, 58, 0, 0, zone), 3 * time.Minute, 5 * time.Minute},
		"medgate 3 minutes behind": {time.Date(2025, 4, 1, 23, 50, 0, 0, zone), -3 * time.Minute, 12 * time.Minute},
		"the same clock":           {time.Date(2025, 4, 1, 23, 58, 0, 0, zone), 0, 5 * time.Minute},
		"the same day":             {time.Date(2025, 4, 1, 10, 0, 0, 0, zone), 3 * time.Minute, 5 * time.Minute},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			now := tc.start
			platform := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			e := newEnvSim(t, selfpaysim.Options{PaasID: testPaas, Token: testToken, RequireSignIn: true, SignInDaily: true, Now: platform, MaxSkew: 100000 * time.Hour},
				func(s map[string]string) {
					s["signIn"], s["signInMac"], s["signInIp"] = "true", "00:16:3e:00:00:01", "10.0.0.8"
				})
			e.restartWith(New(WithPauseMargin(0), WithClock(func() time.Time { return platform().Add(tc.skew) })), e.host)
			wantStatus(t, e.must(OpUpload, "mn-1", upload("ZYMN1", 2), 1), sdk.StatusOK)
			mu.Lock()
			now = now.Add(tc.advance)
			mu.Unlock()
			wantStatus(t, e.must(OpUpload, "mn-2", upload("ZYMN2", 2), 1), sdk.StatusOK)
			if v := e.sim.Visit(testCode, "ZYMN2"); !v.Complete || len(v.Fees) != 2 {
				t.Errorf("platform has %+v", v)
			}
			for _, c := range e.sim.Calls() {
				if c.Infcode != 0 && strings.Contains(c.ErrMsg, "签到") {
					t.Errorf("%s (msgid %s) refused for its sign-in: %s", c.Infno, c.MsgID, c.ErrMsg)
				}
			}
		})
	}
}

// TestUploadReconcileLineOfOtherContent: a 4201A batch whose answer was
// lost is settled with 4207; a record under one of its bkkp_sn with
// another quantity and amount than the line sent is not that line (the
// batch took the rest): taken for it, the upload completed and answered
// ok over an amount it never sent. The line is sent again, and the
// platform's answer decides (here its refusal of the bkkp_sn it holds).
func TestUploadReconcileLineOfOtherContent(t *testing.T) {
	t.Parallel()
	const id = "ZYCU"
	var on atomic.Bool
	otherAmount := func(env map[string]any) {
		out, _ := env["output"].(map[string]any)
		for _, rec := range asList(out["data"]) {
			if m, _ := rec.(map[string]any); m != nil && m["bkkpSn"] == id+"-0002" {
				m["cnt"], m["detItemFeeSumamt"] = "3", "16.50"
			}
		}
	}
	e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, reshaped4207(&on, otherAmount), nil)
	e.sim.Fail(selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultLostReply})
	wantStatus(t, e.must(OpUpload, "cu", upload(id, 3), 1), sdk.StatusFailed)
	on.Store(true)
	r := e.must(OpUpload, "cu", upload(id, 3), 2)
	wantStatus(t, r, sdk.StatusRejected)
	if r.External == nil || !strings.Contains(r.External.Message, id+"-0002") {
		t.Errorf("external %+v, want the refusal of line %s-0002", r.External, id)
	}
	if v := e.sim.Visit(testCode, id); v.Complete {
		t.Errorf("the visit was completed: %+v", v)
	}
}

// TestUploadReconcileLineAnsweredWithoutValues: a 4207 record answering a
// field of the line null or empty (a platform leaving zero amounts out)
// tells nothing against the line sent: the batch whose answer was lost is
// settled as there, not sent again (which the platform would refuse, its
// bkkp_sn being there).
func TestUploadReconcileLineAnsweredWithoutValues(t *testing.T) {
	t.Parallel()
	const id = "ZYNV"
	var on atomic.Bool
	blanks := func(env map[string]any) {
		out, _ := env["output"].(map[string]any)
		for _, rec := range asList(out["data"]) {
			if m, _ := rec.(map[string]any); m != nil {
				m["overlmtSelfpay"], m["preselfpayAmt"], m["inscpAmt"], m["medListCodg"] = nil, "", nil, " "
			}
		}
	}
	e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, reshaped4207(&on, blanks), nil)
	e.sim.Fail(selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultLostReply})
	wantStatus(t, e.must(OpUpload, "nv", upload(id, 3), 1), sdk.StatusFailed)
	on.Store(true)
	wantStatus(t, e.must(OpUpload, "nv", upload(id, 3), 2), sdk.StatusOK)
	if n := e.sim.Count("4201A", id); n != 1 {
		t.Errorf("4201A applied %d times, want once", n)
	}
}
