package adapter

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

// TestSingleTransactions sends each transaction on its own, in the order a
// HIS might, and checks what the platform holds and answers.
func TestSingleTransactions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const id = "ZYS"
	fees := []any{fee(id, 1), fee(id, 2), fee(id, 3)}
	steps := []struct {
		typ     string
		payload map[string]any
		check   func(t *testing.T, r *sdk.HandleResponse)
	}{
		{"selfpay.4201A", map[string]any{nodeFees: fees}, nil},
		{"selfpay.4202", map[string]any{nodeMdtrt: visit(id, 3), nodeDiags: diagnoses()}, nil},
		{"selfpay.4207", map[string]any{"fixmedins_mdtrt_id": id, "page_num": 1, "page_size": 2}, func(t *testing.T, r *sdk.HandleResponse) {
			p := payloadOf(t, r)
			recs := p["records"].([]any)
			if p["recordCounts"] != float64(3) || p["pages"] != float64(2) || len(recs) != 2 || recs[0].(map[string]any)["bkkpSn"] != id+"-0001" {
				t.Errorf("4207 reply %v", p)
			}
			if p["warnings"] != nil {
				t.Errorf("4207 records do not match the schema: %v", p["warnings"])
			}
		}},
		{"selfpay.4208", map[string]any{"certno": testCert, "page_num": 1, "page_size": 10}, func(t *testing.T, r *sdk.HandleResponse) {
			p := payloadOf(t, r)
			recs := p["records"].([]any)
			if len(recs) != 1 || recs[0].(map[string]any)["fixmedinsMdtrtId"] != id || recs[0].(map[string]any)["cpltFlag"] != "0" {
				t.Errorf("4208 reply %v", p)
			}
			if p["warnings"] != nil {
				t.Errorf("4208 records do not match the schema: %v", p["warnings"])
			}
		}},
		{"selfpay.4209", map[string]any{"fixmedins_mdtrt_id": id, "page_num": 1, "page_size": 10}, func(t *testing.T, r *sdk.HandleResponse) {
			p := payloadOf(t, r)
			recs := p["records"].([]any)
			if len(recs) != 1 || recs[0].(map[string]any)["diagCode"] != "J18.900" || p["warnings"] != nil {
				t.Errorf("4209 reply %v", p)
			}
		}},
		{"selfpay.4203", map[string]any{"fixmedins_mdtrt_id": id, "cplt_flag": "1"}, func(t *testing.T, _ *sdk.HandleResponse) {
			if !e.sim.Visit(testCode, id).Complete {
				t.Error("not complete")
			}
		}},
		{"selfpay.4203", map[string]any{"fixmedins_mdtrt_id": id, "cplt_flag": "0"}, nil},
		{"selfpay.4204", map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": id}, "feedetl": []any{map[string]any{"bkkp_sn": id + "-0002"}}}, func(t *testing.T, _ *sdk.HandleResponse) {
			if v := e.sim.Visit(testCode, id); strings.Join(v.Fees, ",") != id+"-0001,"+id+"-0003" {
				t.Errorf("fees left %v", v.Fees)
			}
		}},
	}
	for i, s := range steps {
		r := e.must(s.typ, "single-"+string(rune('a'+i)), s.payload, 1)
		wantStatus(t, r, sdk.StatusOK)
		if r.External == nil || r.External.MsgID == "" {
			t.Errorf("%s: no msgid in %+v", s.typ, r.External)
		}
		if s.check != nil {
			s.check(t, r)
		}
	}
}

func TestSingleInvalidAndRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.must("selfpay.4203", "si-1", map[string]any{"fixmedins_mdtrt_id": "ZY1", "cplt_flag": "2"}, 1)
	wantStatus(t, r, sdk.StatusInvalid)
	if r.Diagnostics[0].Field != "$.cplt_flag" || r.Diagnostics[0].Rule != "enum" {
		t.Errorf("diagnostics %v", r.Diagnostics)
	}
	r = e.must("selfpay.4207", "si-2", map[string]any{"fixmedins_mdtrt_id": "ZY1"}, 1)
	wantStatus(t, r, sdk.StatusInvalid)
	if len(r.Diagnostics) != 2 {
		t.Errorf("want page_num and page_size required: %v", r.Diagnostics)
	}
	r = e.must("selfpay.4201A", "si-3", map[string]any{nodeFees: []any{fee("A", 1), fee("B", 2)}}, 1)
	wantStatus(t, r, sdk.StatusInvalid)
	if r.Diagnostics[0].Rule != "join" {
		t.Errorf("diagnostics %v", r.Diagnostics)
	}
	// A completion without a visit is refused by the platform.
	r = e.must("selfpay.4203", "si-4", map[string]any{"fixmedins_mdtrt_id": "ZY1", "cplt_flag": "1"}, 1)
	wantStatus(t, r, sdk.StatusRejected)
	r = e.must("selfpay.nope", "si-5", map[string]any{}, 1)
	wantStatus(t, r, sdk.StatusInvalid)
	if len(e.sim.Calls()) != 1 {
		t.Errorf("%d calls reached the platform, want 1", len(e.sim.Calls()))
	}
}

// TestSingle4201ALostReply: a 4201A whose answer was lost after the
// platform stored two of its three lines is completed by sending only the
// third, after 4207 showed which are there.
func TestSingle4201ALostReply(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const id = "ZYP"
	wantStatus(t, e.must("selfpay.4201A", "p-0", map[string]any{nodeFees: []any{fee(id, 1), fee(id, 2)}}, 1), sdk.StatusOK)
	e.sim.Fail(selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultDrop})
	payload := map[string]any{nodeFees: []any{fee(id, 1), fee(id, 2), fee(id, 3)}}
	wantStatus(t, e.must("selfpay.4201A", "p-1", payload, 1), sdk.StatusFailed)
	r := e.must("selfpay.4201A", "p-1", payload, 2)
	wantStatus(t, r, sdk.StatusOK)
	if v := e.sim.Visit(testCode, id); len(v.Fees) != 3 {
		t.Errorf("fees %v", v.Fees)
	}
	e.sim.Fail(selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultLostReply})
	payload = map[string]any{nodeFees: []any{fee(id, 4)}}
	wantStatus(t, e.must("selfpay.4201A", "p-2", payload, 1), sdk.StatusFailed)
	r = e.must("selfpay.4201A", "p-2", payload, 2)
	wantStatus(t, r, sdk.StatusOK)
	if payloadOf(t, r)["reconciled"] != true {
		t.Errorf("reply %s", r.Payload)
	}
}

func TestBadSignature(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s map[string]string) { s["token"] = "wrong-token" })
	r := e.must(OpUpload, "sig", upload("ZYG", 1), 1)
	wantStatus(t, r, sdk.StatusRejected)
	if r.Diagnostics[0].Rule != "auth" || r.External.Code != "HTTP 401" || !strings.Contains(r.Diagnostics[0].Detail, "paasid and token") {
		t.Errorf("reply %+v %+v", r.Diagnostics, r.External)
	}
	if strings.Contains(string(r.Payload)+r.Diagnostics.String(), "wrong-token") {
		t.Error("the token shows in the reply")
	}
}

// TestSignInAndSM4 runs an upload against a platform that requires a 9001
// sign-in and SM4-encrypted inputs.
func TestSignInAndSM4(t *testing.T) {
	t.Parallel()
	const key = "0123456789abcdeffedcba9876543210"
	e := newEnvSim(t, selfpaysim.Options{PaasID: testPaas, Token: testToken, RequireSignIn: true, SM4Key: key}, func(s map[string]string) {
		s["signIn"], s["signInMac"], s["signInIp"] = "true", "00:16:3e:00:00:01", "10.0.0.8"
		s["encType"], s["sm4Key"] = "SM4", key
	})
	wantStatus(t, e.must(OpUpload, "sm4", upload("ZYE", 3), 1), sdk.StatusOK)
	r := e.must("selfpay.4207", "sm4-q", map[string]any{"fixmedins_mdtrt_id": "ZYE", "page_num": 1, "page_size": 10}, 1)
	wantStatus(t, r, sdk.StatusOK)
	if len(payloadOf(t, r)["records"].([]any)) != 3 {
		t.Errorf("reply %s", r.Payload)
	}
	n := 0
	for _, c := range e.sim.Calls() {
		if c.Infno == "9001" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d sign-ins, want 1", n)
	}
}

func TestDescribeAndConfigure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	d, err := e.plugin.Describe(context.Background(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	var queries []string
	for _, op := range d.Operations {
		types[op.Type] = true
		if op.Query {
			queries = append(queries, op.Type)
		}
	}
	// Only the three read transactions are pure queries.
	if fmt.Sprint(queries) != "[selfpay.4207 selfpay.4208 selfpay.4209]" {
		t.Errorf("operations declared Query: %v, want 4207, 4208, 4209", queries)
	}
	for _, want := range []string{OpUpload, OpCancel, OpImportPending, "selfpay.4201A", "selfpay.4202", "selfpay.4203", "selfpay.4204", "selfpay.4207", "selfpay.4208", "selfpay.4209"} {
		if !types[want] {
			t.Errorf("operation %s not declared", want)
		}
	}
	for _, s := range d.Settings {
		if (s.Name == "token" || s.Name == "sm4Key") && s.Type != sdk.SettingSecret {
			t.Errorf("%s is not a secret setting", s.Name)
		}
	}
	bad := baseSettings(e.url)
	bad["fixmedinsCode"], bad["batchSize"], bad["pendingColumns"], bad["schemaDir"] = "H1", "900", "nothing=x", t.TempDir()+"/missing"
	resp, err := e.plugin.Configure(context.Background(), &sdk.ConfigureRequest{Site: "s2", Settings: bad})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, dg := range resp.Diagnostics {
		got[dg.Field] = true
	}
	for _, want := range []string{"fixmedinsCode", "batchSize", "pendingColumns"} {
		if !got[want] {
			t.Errorf("no problem reported for %s: %v", want, resp.Diagnostics)
		}
	}
	if _, err := e.plugin.Handle(context.Background(), &sdk.HandleRequest{Site: "s2", Type: OpUpload, MessageID: "x", Payload: []byte(`{}`)}); err == nil {
		t.Error("an unconfigured site was served")
	}
}

// TestSingle4204LostReply: a 4204 the platform applied but whose answer was
// lost is reconciled with 4207 (the listed lines, or every line, are gone)
// instead of being sent again, which the platform would refuse (nothing
// left to delete) although the deletion took place.
func TestSingle4204LostReply(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		input map[string]any
		left  []string
	}{
		"listed": {map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": "ZYD"}, "feedetl": []any{map[string]any{"bkkp_sn": "ZYD-0002"}}}, []string{"ZYD-0001", "ZYD-0003"}},
		"all":    {map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": "ZYD"}}, nil},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			wantStatus(t, e.must("selfpay.4201A", "d-0", map[string]any{nodeFees: []any{fee("ZYD", 1), fee("ZYD", 2), fee("ZYD", 3)}}, 1), sdk.StatusOK)
			e.sim.Fail(selfpaysim.Fault{Infno: "4204", Mode: selfpaysim.FaultLostReply})
			wantStatus(t, e.must("selfpay.4204", "d-1", tc.input, 1), sdk.StatusFailed)
			r := e.must("selfpay.4204", "d-1", tc.input, 2)
			wantStatus(t, r, sdk.StatusOK)
			if payloadOf(t, r)["reconciled"] != true {
				t.Errorf("reply %s", r.Payload)
			}
			if got := e.sim.Visit(testCode, "ZYD").Fees; fmt.Sprint(got) != fmt.Sprint(tc.left) {
				t.Errorf("fees left %v, want %v", got, tc.left)
			}
			if n := e.sim.Count("4204", "ZYD"); n != 1 {
				t.Errorf("4204 applied %d times", n)
			}
		})
	}
}

// TestSingle4203OutcomeUnknown: a single 4203 whose answer never came is
// settled with 4208, searched by what medgate stored of the visit, before
// anything is resent: 4208 showing the flag sent, done; showing the other,
// sent again. A visit medgate cannot find, or one 4208 lists without a
// cpltFlag of 0 or 1, is failed for staff to check, never resent blindly
// (a blind cplt_flag=0 could reopen a visit someone completed again
// meanwhile). Both flags: cplt_flag=1 (completion) and 0 (withdrawal).
func TestSingle4203OutcomeUnknown(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		uploaded   bool   // the visit went up with selfpay.upload (medgate stored it)
		noFlag     bool   // 4208 answers without cpltFlag
		fault      string // how the first 4203 is lost
		wantStatus sdk.Status
		wantResent bool // a second 4203 reaches the platform
		reconciled bool
	}{
		"applied, answer lost: 4208 shows the flag sent":      {uploaded: true, fault: selfpaysim.FaultLostReply, wantStatus: sdk.StatusOK, reconciled: true},
		"never applied: 4208 shows the other, sent again":     {uploaded: true, fault: selfpaysim.FaultDrop, wantStatus: sdk.StatusOK, wantResent: true},
		"visit unknown to medgate: failed, not resent":        {uploaded: false, fault: selfpaysim.FaultLostReply, wantStatus: sdk.StatusFailed},
		"applied, 4208 shows no cpltFlag: failed, not resent": {uploaded: true, noFlag: true, fault: selfpaysim.FaultLostReply, wantStatus: sdk.StatusFailed},
		"never applied, 4208 shows no cpltFlag: failed":       {uploaded: true, noFlag: true, fault: selfpaysim.FaultDrop, wantStatus: sdk.StatusFailed},
	}
	for _, flag := range []string{"1", "0"} {
		other := map[string]string{"1": "0", "0": "1"}[flag]
		for name, tc := range cases {
			t.Run("cplt_flag="+flag+"/"+name, func(t *testing.T) {
				t.Parallel()
				var wrap func(http.Handler) http.Handler
				if tc.noFlag {
					wrap = withoutCpltFlag
				}
				e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, wrap, nil)
				id := "ZYU" + flag
				// The visit is on the platform with the other flag.
				if tc.uploaded {
					wantStatus(t, e.must(OpUpload, "k-up", upload(id, 2), 1), sdk.StatusOK) // complete
					if other == "0" {
						wantStatus(t, e.must("selfpay.4203", "k-other", map[string]any{"fixmedins_mdtrt_id": id, "cplt_flag": "0"}, 1), sdk.StatusOK)
					}
				} else {
					wantStatus(t, e.must("selfpay.4201A", "k-fees", map[string]any{nodeFees: []any{fee(id, 1), fee(id, 2)}}, 1), sdk.StatusOK)
					wantStatus(t, e.must("selfpay.4202", "k-visit", map[string]any{nodeMdtrt: visit(id, 2), nodeDiags: diagnoses()}, 1), sdk.StatusOK)
					wantStatus(t, e.must("selfpay.4203", "k-other", map[string]any{"fixmedins_mdtrt_id": id, "cplt_flag": other}, 1), sdk.StatusOK)
				}
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
				msg := map[string]any{"fixmedins_mdtrt_id": id, "cplt_flag": flag}
				wantStatus(t, e.must("selfpay.4203", "k-msg", msg, 1), sdk.StatusFailed)
				before := sent()
				r := e.must("selfpay.4203", "k-msg", msg, 2)
				wantStatus(t, r, tc.wantStatus)
				if resent := sent() > before; resent != tc.wantResent {
					t.Errorf("4203 sent again: %v, want %v", resent, tc.wantResent)
				}
				if tc.wantStatus == sdk.StatusOK {
					if complete := e.sim.Visit(testCode, id).Complete; complete != (flag == "1") {
						t.Errorf("the visit's completion is %v after cplt_flag=%s", complete, flag)
					}
					if got := payloadOf(t, r)["reconciled"]; got != tc.reconciled {
						t.Errorf("reconciled %v, want %v (reply %s)", got, tc.reconciled, r.Payload)
					}
					return
				}
				if r.Retryable {
					t.Error("an unknown 4203 that cannot be reconciled is retryable")
				}
				want := []string{"selfpay.4208", "new message id"}
				if flag == "0" {
					want = append(want, "cplt_flag=0")
				}
				d := r.Diagnostics.String()
				for _, w := range want {
					if !strings.Contains(d, w) {
						t.Errorf("the reply does not tell staff what to check (no %q): %s", w, d)
					}
				}
			})
		}
	}
}

// numericQueryAnswers serves the simulator but writes the query records'
// digit-only text fields as JSON numbers, as a platform may.
func numericQueryAnswers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		d := json.NewDecoder(rec.Body)
		d.UseNumber()
		var env map[string]any
		if d.Decode(&env) == nil {
			if out, ok := env["output"].(map[string]any); ok {
				for _, it := range asList(out["data"]) {
					for k, v := range it.(map[string]any) {
						if s, ok := v.(string); ok && s != "" && strings.Trim(s, "0123456789") == "" && s[0] != '0' {
							it.(map[string]any)[k] = json.Number(s)
						}
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

func asList(v any) []any { l, _ := v.([]any); return l }

// TestReconcileNumericAnswers: a platform answering bkkpSn and
// fixmedinsMdtrtId as JSON numbers. Read as float64 they came back as
// "2.0250401000001e+13", so reconciliation found nothing of what was sent
// and sent it again.
func TestReconcileNumericAnswers(t *testing.T) {
	t.Parallel()
	const id = "20250401000001"
	numericFee := func(i int) map[string]any {
		f := fee(id, i)
		f["bkkp_sn"] = fmt.Sprint(20250401000100 + i)
		return f
	}
	testCases := map[string]struct {
		typ     string
		infno   string
		payload map[string]any
	}{
		"single 4201A": {"selfpay.4201A", "4201A", map[string]any{nodeFees: []any{numericFee(1), numericFee(2)}}},
		"upload 4202":  {OpUpload, "4202", map[string]any{nodeMdtrt: visit(id, 2), nodeDiags: diagnoses(), nodeFees: []any{numericFee(1), numericFee(2)}}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, numericQueryAnswers, nil)
			e.sim.Fail(selfpaysim.Fault{Infno: tc.infno, Mode: selfpaysim.FaultLostReply})
			wantStatus(t, e.must(tc.typ, "num", tc.payload, 1), sdk.StatusFailed)
			r := e.must(tc.typ, "num", tc.payload, 2)
			wantStatus(t, r, sdk.StatusOK)
			if payloadOf(t, r)["reconciled"] != true {
				t.Errorf("not reconciled: %s", r.Payload)
			}
			if n := e.sim.Count(tc.infno, id); n != 1 {
				t.Errorf("%s applied %d times", tc.infno, n)
			}
		})
	}
}

// TestSingle4203KeepsThePatientRecord: a single selfpay.4203 changes
// whether the visit is complete on the platform, and the visit's record
// (import-pending's status, and the check that refuses a second upload of
// a completed visit) follows it: a completion withdrawn with cplt_flag=0
// is no longer reported uploaded, and a visit completed with cplt_flag=1
// after its upload failed at the completion is no longer reported failed.
func TestSingle4203KeepsThePatientRecord(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		failCompletion bool   // the upload's own 4203 is refused
		flag           string // the single 4203's cplt_flag
		want           string // the status import-pending reports
		wantReason     string
	}{
		"withdrawn": {flag: "0", want: statusCancelled, wantReason: "4203 cplt_flag=0"},
		"completed": {failCompletion: true, flag: "1", want: statusUploaded, wantReason: "uploaded and marked complete"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			up := sdk.StatusOK
			if tc.failCompletion {
				e.sim.Fail(selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultBusiness, Message: "就诊信息校验失败"})
				up = sdk.StatusRejected
			}
			wantStatus(t, e.must(OpUpload, "k-up", upload("ZYK", 2), 1), up)
			wantStatus(t, e.must("selfpay.4203", "k-4203", map[string]any{"fixmedins_mdtrt_id": "ZYK", "cplt_flag": tc.flag}, 1), sdk.StatusOK)
			csv := "医药机构就诊ID,姓名,身份证号\nZYK,张三," + testCert + "\n"
			r := e.must(OpImportPending, "k-imp", map[string]any{"filename": "p.csv", "content": base64.StdEncoding.EncodeToString([]byte(csv))}, 1)
			wantStatus(t, r, sdk.StatusOK)
			pats := asList(payloadOf(t, r)["patients"])
			if len(pats) != 1 {
				t.Fatalf("patients %v", pats)
			}
			if p := pats[0].(map[string]any); p["status"] != tc.want || !strings.Contains(fmt.Sprint(p["reason"]), tc.wantReason) {
				t.Errorf("import-pending reports %v, want %s (%s)", p, tc.want, tc.wantReason)
			}
			if tc.flag == "0" {
				// Withdrawn on the platform: uploading it again needs no reupload.
				wantStatus(t, e.must(OpUpload, "k-up-2", upload("ZYK", 3), 1), sdk.StatusOK)
				if v := e.sim.Visit(testCode, "ZYK"); !v.Complete || len(v.Fees) != 3 {
					t.Errorf("platform has %+v", v)
				}
			}
		})
	}
}

// TestQueryUnusableAnswer: a selfpay.4207 answered with infcode 0 but
// without its output, or with one medgate cannot read, was replied ok
// with no records (and a warning), so billing staff read "no fee lines
// uploaded" for a visit whose lines are all there. Such an answer is
// failed, retryable, naming what is wrong; a full answer is ok as before.
func TestQueryUnusableAnswer(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		edit func(env map[string]any)
		want sdk.Status
	}{
		"no output":   {func(env map[string]any) { delete(env, "output") }, sdk.StatusFailed},
		"output null": {func(env map[string]any) { env["output"] = nil }, sdk.StatusFailed},
		"records renamed": {func(env map[string]any) {
			out := env["output"].(map[string]any)
			out["list"] = out["data"]
			delete(out, "data")
		}, sdk.StatusFailed},
		"the answer whole": {func(map[string]any) {}, sdk.StatusOK},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var on atomic.Bool
			e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, reshaped4207(&on, tc.edit), nil)
			const id = "ZYQU"
			wantStatus(t, e.must(OpUpload, "qu-up", upload(id, 2), 1), sdk.StatusOK)
			on.Store(true)
			r := e.must("selfpay.4207", "qu-q", map[string]any{"fixmedins_mdtrt_id": id, "page_num": 1, "page_size": 10}, 1)
			wantStatus(t, r, tc.want)
			if tc.want == sdk.StatusOK {
				if recs := asList(payloadOf(t, r)["records"]); len(recs) != 2 {
					t.Errorf("%d records, want 2", len(recs))
				}
				return
			}
			if !r.Retryable || !strings.Contains(r.Diagnostics.String(), "4207") {
				t.Errorf("retryable %v, diagnostics %v: want retryable, naming 4207", r.Retryable, r.Diagnostics)
			}
		})
	}
}

// TestQueryPagesCountFromOne: a 4207/4208/4209 asked for page 0, or pages
// of 0 or fewer records, passed medgate's checks (whole numbers of at most
// 4 digits) and went to the platform, which refused it (rejected, an
// external error for an input medgate should have caught). It is invalid
// now, nothing sent, naming the field; page 1 of 10 records goes out.
func TestQueryPagesCountFromOne(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	cases := map[string]struct {
		infno  string
		input  map[string]any
		want   sdk.Status
		fields []string
	}{
		"4207 page 0":             {"4207", map[string]any{"fixmedins_mdtrt_id": "ZY1", "page_num": 0, "page_size": 10}, sdk.StatusInvalid, []string{"$.page_num"}},
		"4208 page size negative": {"4208", map[string]any{"certno": testCert, "page_num": 1, "page_size": -5}, sdk.StatusInvalid, []string{"$.page_size"}},
		"4209 both 0":             {"4209", map[string]any{"fixmedins_mdtrt_id": "ZY1", "page_num": "0", "page_size": 0}, sdk.StatusInvalid, []string{"$.page_num", "$.page_size"}},
		"4207 page 1 of 10":       {"4207", map[string]any{"fixmedins_mdtrt_id": "ZY1", "page_num": 1, "page_size": 10}, sdk.StatusOK, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := len(e.sim.Calls())
			r := e.must("selfpay."+tc.infno, "pg-"+name, tc.input, 1)
			wantStatus(t, r, tc.want)
			var fields []string
			for _, d := range r.Diagnostics {
				fields = append(fields, d.Field)
			}
			if fmt.Sprint(fields) != fmt.Sprint(tc.fields) {
				t.Errorf("diagnostics on %v, want %v: %v", fields, tc.fields, r.Diagnostics)
			}
			if sent := len(e.sim.Calls()) - before; tc.want == sdk.StatusInvalid && sent != 0 {
				t.Errorf("%d calls reached the platform", sent)
			}
		})
	}
}

// TestReconcileUnreadableBkkpSn: 4207 lists the visit's fee details under
// a field name medgate does not read as bkkp_sn. A single 4204 of listed
// lines that never reached the platform was reconciled as done (none of
// its lines read as present) and replied ok with the line still there;
// a 4201A batch applied whose answer was lost was sent again (none read
// as present), refused for its bkkp_sn, and the upload ended rejected. A
// valid record without a readable bkkp_sn now settles nothing: the
// attempt fails, retryable, naming 4207, and nothing is sent.
func TestReconcileUnreadableBkkpSn(t *testing.T) {
	t.Parallel()
	const id = "ZYUB"
	cases := map[string]struct {
		prepare func(e *env)
		typ     string
		payload map[string]any
		fault   selfpaysim.Fault
		lines   []string // on the platform afterwards
	}{
		"single 4204 never applied": {
			prepare: func(e *env) {
				wantStatus(t, e.must("selfpay.4201A", "ub-0", map[string]any{nodeFees: []any{fee(id, 1), fee(id, 2)}}, 1), sdk.StatusOK)
			},
			typ:     "selfpay.4204",
			payload: map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": id}, "feedetl": []any{map[string]any{"bkkp_sn": id + "-0002"}}},
			fault:   selfpaysim.Fault{Infno: "4204", Mode: selfpaysim.FaultDrop},
			lines:   []string{id + "-0001", id + "-0002"},
		},
		"4201A batch applied, answer lost": {
			prepare: func(*env) {},
			typ:     OpUpload,
			payload: upload(id, 2),
			fault:   selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultLostReply},
			lines:   []string{id + "-0001", id + "-0002"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, renamedBkkpSn, nil)
			tc.prepare(e)
			e.sim.Fail(tc.fault)
			wantStatus(t, e.must(tc.typ, "ub-1", tc.payload, 1), sdk.StatusFailed)
			r := e.must(tc.typ, "ub-1", tc.payload, 2)
			if r.Status != sdk.StatusFailed || !r.Retryable || !strings.Contains(r.Diagnostics.String(), "4207") {
				t.Errorf("status %s (retryable %v): %v; want failed, retryable, naming 4207", r.Status, r.Retryable, r.Diagnostics)
			}
			if got := e.sim.Visit(testCode, id).Fees; fmt.Sprint(got) != fmt.Sprint(tc.lines) {
				t.Errorf("fee lines %v on the platform, want %v", got, tc.lines)
			}
		})
	}
}

// TestSingle4204EmptyListDeletesNothing: a 4204 whose feedetl is sent but
// names no line (an empty list, or null as a HIS serializes a list it found
// empty) is refused before anything is sent. The platform deletes every
// fee detail of the visit when feedetl is not passed (若费用明细流水信息不传，
// 则删除全部费用明细), so passing such a list on would wipe the visit's lines
// when the sender meant to delete none.
func TestSingle4204EmptyListDeletesNothing(t *testing.T) {
	t.Parallel()
	testCases := map[string]any{
		"empty list": []any{},
		"null":       nil,
	}
	for name, feedetl := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			wantStatus(t, e.must("selfpay.4201A", "e-0", map[string]any{nodeFees: []any{fee("ZYE", 1), fee("ZYE", 2)}}, 1), sdk.StatusOK)
			r := e.must("selfpay.4204", "e-1", map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": "ZYE"}, "feedetl": feedetl}, 1)
			wantStatus(t, r, sdk.StatusInvalid)
			if len(r.Diagnostics) != 1 || r.Diagnostics[0].Field != "$.feedetl" || r.Diagnostics[0].Rule != "required" {
				t.Errorf("diagnostics %v", r.Diagnostics)
			}
			if n := e.sim.Count("4204", "ZYE"); n != 0 {
				t.Errorf("4204 reached the platform %d times", n)
			}
			if got := e.sim.Visit(testCode, "ZYE").Fees; len(got) != 2 {
				t.Errorf("fees left %v, want both", got)
			}
		})
	}
}

// TestReconcile4201ALineOfOtherContent: a 4201A whose answer was lost is
// settled with 4207, by bkkp_sn. A line already on the platform under the
// same bkkp_sn with another quantity, price or amount (staff sending a
// corrected line without deleting the old one first, which the platform
// refuses: 记账流水号已存在) is not the line sent: taken for it, the
// message ended ok, reconciled, while the platform kept the old amount.
// It is sent again and the platform's answer decides; the very line sent,
// found there, is still settled without a resend.
func TestReconcile4201ALineOfOtherContent(t *testing.T) {
	t.Parallel()
	const id = "ZYC"
	testCases := map[string]struct {
		edit   func(f map[string]any)
		status sdk.Status
	}{
		"another quantity and amount": {func(f map[string]any) {
			f["cnt"], f["det_item_fee_sumamt"], f["fulamt_ownpay_amt"] = "3", "16.50", "16.50"
		}, sdk.StatusRejected},
		"another price": {func(f map[string]any) { f["cnt"], f["pric"] = "1", "11" }, sdk.StatusRejected},
		"the same line": {func(map[string]any) {}, sdk.StatusOK},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			wantStatus(t, e.must("selfpay.4201A", "c-0", map[string]any{nodeFees: []any{fee(id, 1)}}, 1), sdk.StatusOK)
			line := fee(id, 1)
			tc.edit(line)
			payload := map[string]any{nodeFees: []any{line}}
			e.sim.Fail(selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultLostReply})
			wantStatus(t, e.must("selfpay.4201A", "c-1", payload, 1), sdk.StatusFailed)
			r := e.must("selfpay.4201A", "c-1", payload, 2)
			wantStatus(t, r, tc.status)
			if tc.status == sdk.StatusRejected && (r.External == nil || !strings.Contains(r.External.Message, "已存在")) {
				t.Errorf("external %+v, want the platform's refusal of the bkkp_sn already there", r.External)
			}
			if v := e.sim.Visit(testCode, id); len(v.Fees) != 1 {
				t.Errorf("fees %v", v.Fees)
			}
		})
	}
}
