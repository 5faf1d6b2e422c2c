package adapter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

// withForeignRecord serves the simulator, adding rec to the first page of
// every answer to infno while on is set (last, or with first before the
// others; counted in recordCounts): a platform answering a query about one
// visit with a record of another.
func withForeignRecord(on *atomic.Bool, infno string, rec map[string]any, first bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct {
				Infno string `json:"infno"`
				Input struct {
					PageNum json.Number `json:"page_num"`
				} `json:"input"`
			}
			if !on.Load() || json.Unmarshal(body, &req) != nil || req.Infno != infno || req.Input.PageNum.String() != "1" {
				next.ServeHTTP(w, r)
				return
			}
			out := httptest.NewRecorder()
			next.ServeHTTP(out, r)
			var env map[string]any
			if json.Unmarshal(out.Body.Bytes(), &env) == nil {
				if o, ok := env["output"].(map[string]any); ok {
					if first {
						o["data"] = append([]any{maps.Clone(rec)}, asList(o["data"])...)
					} else {
						o["data"] = append(asList(o["data"]), maps.Clone(rec))
					}
					if n, ok := o["recordCounts"].(float64); ok {
						o["recordCounts"] = n + 1
					}
				}
			}
			for k, v := range out.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(out.Code)
			_ = json.NewEncoder(w).Encode(env)
		})
	}
}

// TestReconcileRefusesAnotherVisitsRecords: 4207 and 4209 are asked about
// one visit (fixmedins_mdtrt_id and fixmedins_code) and list its fee
// details and diagnoses; a bkkp_sn is unique only within its visit. An
// answer that also listed a record of another visit (or of the same visit
// id at another institution) was read as this visit's: a fee line of
// another patient carrying the bkkp_sn of a line whose 4201A never
// arrived made that line count as uploaded, so it was never sent (lost,
// the completion then refused for the total); another visit's detail
// made a cancel's 4204 count as not applied and end rejected. Such an
// answer now settles nothing: the attempt fails, retryable, naming the
// record and the visit it names, nothing is sent; the next attempt,
// answered right, finishes with every line once.
func TestReconcileRefusesAnotherVisitsRecords(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		mdtrtID string
		infno   string         // the query answered with rec
		rec     map[string]any // the foreign record
		fault   selfpaysim.Fault
		cancel  bool // the message is a selfpay.cancel of an uploaded visit
		want    string
	}{
		"4201A batch, another visit's line with a bkkp_sn of the batch": {
			mdtrtID: "ZYFA", infno: "4207",
			rec:   map[string]any{"fixmedinsMdtrtId": "ZYFB", "fixmedinsCode": testCode, "bkkpSn": "ZYFA-0003", "valiFlag": "1"},
			fault: selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultDrop, After: 1},
			want:  `"ZYFB"`,
		},
		"4201A batch, the visit id at another institution": {
			mdtrtID: "ZYFA", infno: "4207",
			rec:   map[string]any{"fixmedinsMdtrtId": "ZYFA", "fixmedinsCode": "H35020399999", "bkkpSn": "ZYFA-0003", "valiFlag": "1"},
			fault: selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultDrop, After: 1},
			want:  `"ZYFA" at institution "H350`, // the code is masked as a long number
		},
		"4201A batch, visit id answered in snake_case": {
			mdtrtID: "ZYFA", infno: "4207",
			rec:   map[string]any{"fixmedins_mdtrt_id": "ZYFB", "bkkp_sn": "ZYFA-0003", "valiFlag": "1"},
			fault: selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultDrop, After: 1},
			want:  `"ZYFB"`,
		},
		"cancel's 4204, another visit's detail": {
			mdtrtID: "ZYFC", infno: "4207", cancel: true,
			rec:   map[string]any{"fixmedinsMdtrtId": "ZYFD", "fixmedinsCode": testCode, "bkkpSn": "ZYFD-0001", "valiFlag": "1"},
			fault: selfpaysim.Fault{Infno: "4204", Mode: selfpaysim.FaultLostReply},
			want:  `"ZYFD"`,
		},
		"4202, another visit's diagnosis": {
			mdtrtID: "ZYFE", infno: "4209",
			rec: map[string]any{"fixmedinsMdtrtId": "ZYFF", "fixmedinsCode": testCode, "inoutDiagType": "2", "diagType": "1",
				"maindiagFlag": "1", "diagSrtNo": "1", "diagCode": "K35.800", "diagName": "阑尾炎", "valiFlag": "1"},
			fault: selfpaysim.Fault{Infno: "4202", Mode: selfpaysim.FaultLostReply},
			want:  `"ZYFF"`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var on atomic.Bool
			e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, withForeignRecord(&on, tc.infno, tc.rec, false),
				func(s map[string]string) { s["batchSize"] = "2" })
			typ, payload := OpUpload, any(upload(tc.mdtrtID, 5))
			if tc.cancel {
				wantStatus(t, e.must(OpUpload, "fr-up", upload(tc.mdtrtID, 5), 1), sdk.StatusOK)
				typ, payload = OpCancel, map[string]any{"fixmedins_mdtrt_id": tc.mdtrtID}
			}
			e.sim.Fail(tc.fault)
			r := e.must(typ, "fr", payload, 1)
			if r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("first attempt: status %s (retryable %v), want failed and retryable: %v", r.Status, r.Retryable, r.Diagnostics)
			}
			before := e.sim.Visit(testCode, tc.mdtrtID)
			calls := len(e.sim.Calls())
			on.Store(true)
			r = e.must(typ, "fr", payload, 2)
			if r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("answered with another visit's record: status %s (retryable %v), want failed and retryable: %v\nplatform has %+v",
					r.Status, r.Retryable, r.Diagnostics, e.sim.Visit(testCode, tc.mdtrtID))
			}
			if d := r.Diagnostics.String(); !strings.Contains(d, tc.infno) || !strings.Contains(d, tc.want) || !strings.Contains(d, tc.mdtrtID) {
				t.Errorf("the reply does not name the query (%s), the record's %s and the visit asked (%s): %s", tc.infno, tc.want, tc.mdtrtID, d)
			}
			if after := e.sim.Visit(testCode, tc.mdtrtID); !sameView(before, after) {
				t.Errorf("the platform changed on a refused answer: %+v, was %+v", after, before)
			}
			for _, c := range e.sim.Calls()[calls:] {
				if c.Infno != "4207" && c.Infno != "4208" && c.Infno != "4209" {
					t.Errorf("%s (msgid %s) was sent after an answer listing another visit's record", c.Infno, c.MsgID)
				}
			}
			on.Store(false)
			r = e.must(typ, "fr", payload, 3)
			wantStatus(t, r, sdk.StatusOK)
			v := e.sim.Visit(testCode, tc.mdtrtID)
			switch {
			case tc.cancel:
				if len(v.Fees) != 0 || v.Complete {
					t.Errorf("after the cancel the platform has %+v", v)
				}
			case !v.Complete || len(v.Fees) != 5:
				t.Errorf("after the upload the platform has %+v, want 5 lines, complete", v)
			}
		})
	}
}

func sameView(a, b selfpaysim.VisitView) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// TestQueryRefusesAnotherVisitsRecords: a selfpay.4207 or selfpay.4209 is
// about one visit; an answer listing a record of another visit (or of the
// visit id at another institution) was replied ok, so staff saw another
// patient's fee lines or diagnoses as this visit's (and a cleanup by
// 4204 of the bkkp_sn listed would delete this visit's lines sharing
// them). It is failed, retryable, and carries no record; records that
// name no visit are the visit asked about (the query named it).
func TestQueryRefusesAnotherVisitsRecords(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		infno string
		rec   map[string]any
		want  sdk.Status
	}{
		"4207 another visit's line":     {"4207", map[string]any{"fixmedinsMdtrtId": "ZYQB", "fixmedinsCode": testCode, "bkkpSn": "ZYQB-0001", "psnName": "李四"}, sdk.StatusFailed},
		"4207 another institution":      {"4207", map[string]any{"fixmedinsMdtrtId": "ZYQA", "fixmedinsCode": "H35020399999", "bkkpSn": "ZYQA-0009"}, sdk.StatusFailed},
		"4209 another visit":            {"4209", map[string]any{"fixmedinsMdtrtId": "ZYQB", "fixmedinsCode": testCode, "diagCode": "K35.800", "diagName": "阑尾炎"}, sdk.StatusFailed},
		"4207 a record naming no visit": {"4207", map[string]any{"bkkpSn": "ZYQA-0009", "cnt": "1", "pric": "1", "detItemFeeSumamt": "1.00"}, sdk.StatusOK},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var on atomic.Bool
			e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, withForeignRecord(&on, tc.infno, tc.rec, false), nil)
			const id = "ZYQA"
			wantStatus(t, e.must(OpUpload, "fq-up", upload(id, 2), 1), sdk.StatusOK)
			on.Store(true)
			r := e.must("selfpay."+tc.infno, "fq", map[string]any{"fixmedins_mdtrt_id": id, "page_num": 1, "page_size": 10}, 1)
			wantStatus(t, r, tc.want)
			if tc.want == sdk.StatusOK {
				return
			}
			if !r.Retryable || !strings.Contains(r.Diagnostics.String(), tc.infno) || !strings.Contains(r.Diagnostics.String(), id) {
				t.Errorf("retryable %v, diagnostics %v: want retryable, naming %s and the visit", r.Retryable, r.Diagnostics, tc.infno)
			}
			if len(r.Payload) > 0 && (strings.Contains(string(r.Payload), "ZYQB") || strings.Contains(string(r.Payload), "H35020399999")) {
				t.Errorf("the refused answer's records reached the reply: %s", r.Payload)
			}
		})
	}
}

// TestReconcileSkipsAnotherInstitutionsVisit: 4208 searches visits by
// person or by time and total, and a fixmedins_mdtrt_id is unique only
// within its institution (机构内唯一). An answer listing first another
// institution's visit with the same id was taken for this visit: its
// cpltFlag settled a 4203 whose answer was lost. An upload whose
// completion never arrived ended ok with the visit not complete; a
// cancel whose withdrawal never arrived went on to 4204, which the
// platform refused on the still-complete visit (rejected). A record of
// another institution (fixmedinsCode) is not the visit: the visit's own
// record settles the call (resent here, as it did not arrive).
func TestReconcileSkipsAnotherInstitutionsVisit(t *testing.T) {
	t.Parallel()
	const other = "H35020399999"
	cases := map[string]struct {
		mdtrtID string
		flag    string // the other institution's record's cpltFlag
		cancel  bool
	}{
		"upload's 4203 cplt_flag=1": {mdtrtID: "ZYIA", flag: "1"},
		"cancel's 4203 cplt_flag=0": {mdtrtID: "ZYIB", flag: "0", cancel: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var on atomic.Bool
			rec := visit(tc.mdtrtID, 3)
			rec["fixmedins_code"], rec["cpltFlag"] = other, tc.flag
			foreign := map[string]any{}
			for k, v := range rec {
				foreign[camelName(k)] = v
			}
			e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, withForeignRecord(&on, "4208", foreign, true), nil)
			typ, payload := OpUpload, any(upload(tc.mdtrtID, 3))
			if tc.cancel {
				wantStatus(t, e.must(OpUpload, "oi-up", upload(tc.mdtrtID, 3), 1), sdk.StatusOK)
				typ, payload = OpCancel, map[string]any{"fixmedins_mdtrt_id": tc.mdtrtID}
			}
			on.Store(true)
			e.sim.Fail(selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultDrop})
			r := e.must(typ, "oi", payload, 1)
			if r.Status != sdk.StatusFailed || !r.Retryable {
				t.Fatalf("first attempt: status %s (retryable %v), want failed and retryable: %v", r.Status, r.Retryable, r.Diagnostics)
			}
			r = e.must(typ, "oi", payload, 2)
			wantStatus(t, r, sdk.StatusOK)
			v := e.sim.Visit(testCode, tc.mdtrtID)
			if tc.cancel && (v.Complete || len(v.Fees) != 0) || !tc.cancel && !v.Complete {
				t.Errorf("after %s ended ok the platform has %+v", typ, v)
			}
		})
	}
}

// TestImportPendingVerifySkipsAnotherInstitution: -verify picked the
// first 4208 record carrying the row's visit id; a visit of the same
// person at another institution with the same id (unique only within
// each) answered first made a visit medgate uploaded and the platform
// holds complete read as incomplete, its status turned to failed ("upload
// it again"). A record of another institution is not the row's visit.
func TestImportPendingVerifySkipsAnotherInstitution(t *testing.T) {
	t.Parallel()
	const id = "ZYPI"
	foreign := map[string]any{}
	for k, v := range visit(id, 2) {
		foreign[camelName(k)] = v
	}
	foreign["fixmedinsCode"], foreign["cpltFlag"] = "H35020399999", "0"
	on := &atomic.Bool{}
	e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, withForeignRecord(on, "4208", foreign, true), nil)
	wantStatus(t, e.must(OpUpload, "pi-up", upload(id, 2), 1), sdk.StatusOK)
	on.Store(true)
	list := "医药机构就诊ID,姓名,身份证号,入院时间\n" + id + ",张三," + testCert + ",2025-03-25\n"
	r := e.must(OpImportPending, "pi-imp", map[string]any{"filename": "p.csv", "content": base64.StdEncoding.EncodeToString([]byte(list)), "verify": true}, 1)
	wantStatus(t, r, sdk.StatusOK)
	got := payloadOf(t, r)["patients"].([]any)[0].(map[string]any)
	if got["platform"] != "complete" || got["status"] != statusUploaded {
		t.Errorf("row %v, want platform complete and status uploaded", got)
	}
}

// TestReconcileWithVisitsOfTwoInstitutions: the platform's 4208 lists the
// person's visits at every institution (the simulator's
// AllInstitutions4208), and another hospital uploaded and completed a
// visit of the same patient under the same visit id. This hospital's
// upload, whose completion never arrived, is reconciled with its own
// visit's cpltFlag (0: sent again), not the other hospital's (1), and
// ends with its visit complete.
func TestReconcileWithVisitsOfTwoInstitutions(t *testing.T) {
	t.Parallel()
	const id, other = "ZYTI", "H35020300000" // listed before testCode
	e := newEnvSim(t, selfpaysim.Options{PaasID: testPaas, Token: testToken, AllInstitutions4208: true}, nil)
	o := &env{t: t, sim: e.sim, url: e.url, host: sdktest.NewMemoryHost(), settings: maps.Clone(e.settings)}
	o.settings["fixmedinsCode"], o.settings["fixmedinsName"] = other, "厦门市另一医院"
	o.restart(o.host)
	wantStatus(t, o.must(OpUpload, "ti-other", upload(id, 2), 1), sdk.StatusOK)
	e.sim.Fail(selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultDrop})
	wantStatus(t, e.must(OpUpload, "ti", upload(id, 3), 1), sdk.StatusFailed)
	wantStatus(t, e.must(OpUpload, "ti", upload(id, 3), 2), sdk.StatusOK)
	if v := e.sim.Visit(testCode, id); !v.Complete || len(v.Fees) != 3 {
		t.Errorf("after the upload ended ok this hospital's visit is %+v, want complete with 3 lines", v)
	}
	if v := e.sim.Visit(other, id); !v.Complete || len(v.Fees) != 2 {
		t.Errorf("the other hospital's visit is %+v, want it untouched", v)
	}
}
