package tracecode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestHSASignIn checks the simulated 9001 rule: 9001 issues a sign_no;
// once sign-in is required a call is run only with a valid one, and every
// other call (none, unknown, expired) is refused with the configured
// infcode and not run.
func TestHSASignIn(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	s := New(Options{Seed: 1, Now: func() time.Time { return now }})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	seq := 0
	call := func(infno, signNo string, input any) (int, json.RawMessage) {
		t.Helper()
		seq++
		b, _ := json.Marshal(map[string]any{"infno": infno, "msgid": fmt.Sprintf("H35020300001202611261000%06d", seq), "sign_no": signNo, "input": input})
		resp, err := http.Post(srv.URL+"/hsa/api", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a struct {
			Infcode int             `json:"infcode"`
			Output  json.RawMessage `json:"output"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatal(err)
		}
		return a.Infcode, a.Output
	}
	signIn := func() string {
		t.Helper()
		code, out := call("9001", "", map[string]any{"signIn": map[string]any{"opter_no": "OP001", "mac": "00:16:3e:00:00:01", "ip": "10.0.0.8"}})
		var o struct {
			Signinoutb struct {
				SignNo string `json:"sign_no"`
			} `json:"signinoutb"`
		}
		if err := json.Unmarshal(out, &o); code != 0 || err != nil || o.Signinoutb.SignNo == "" {
			t.Fatalf("9001: infcode %d, output %s", code, out)
		}
		return o.Signinoutb.SignNo
	}
	n := 0
	record := func() map[string]any {
		n++
		return map[string]any{"invinfo": map[string]any{"med_list_codg": "XJ01CAA040A001010100001", "inv_chg_type": "101", "fixmedins_hilist_id": "YP0001",
			"fixmedins_hilist_name": "药品", "fixmedins_bchno": fmt.Sprintf("B-%d", n), "cnt": "1", "rx_flag": "0", "inv_chg_time": "2026-11-26 09:30:00", "trdn_flag": "0"}}
	}

	if code, _ := call("9001", "", map[string]any{"signIn": map[string]any{"opter_no": "OP001"}}); code != -1 {
		t.Errorf("9001 without mac and ip: infcode %d, want -1", code)
	}
	if code, _ := call("3502", "", record()); code != 0 {
		t.Fatalf("3502 while sign-in is not required: infcode %d", code)
	}
	s.RequireHSASignIn(1001)
	old := signIn()
	s.ExpireHSASignIns()
	fresh := signIn()
	if fresh == old {
		t.Fatalf("9001 issued %s twice", fresh)
	}
	testCases := map[string]struct {
		signNo string
		want   int
	}{
		"valid":   {fresh, 0},
		"none":    {"", 1001},
		"unknown": {"350200nosuchsignin", 1001},
		"expired": {old, 1001},
	}
	for name, tc := range testCases {
		in := record()
		code, _ := call("3502", tc.signNo, in)
		_, ran := s.HSARecords()[in["invinfo"].(map[string]any)["fixmedins_bchno"].(string)]
		if code != tc.want || ran != (tc.want == 0) {
			t.Errorf("%s sign_no: infcode %d, run %v; want infcode %d", name, code, ran, tc.want)
		}
	}
	if got := s.HSASignIns(); got != 2 {
		t.Errorf("%d sign-ins counted, want 2", got)
	}
}
