package tracecode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHSAFieldRulesRefused: a 3502 or 9001 call that breaks one field rule
// of schemas/tracecode/3502.yaml or schemas/hsa/9001.yaml is refused
// (infcode -1, "入参校验失败" naming the field and the rule) and not
// recorded; the simulator checks with its own rules (test/sim/simspec),
// not with the plugin's validator. Lengths count characters: 200 Chinese
// characters (600 bytes) fit fixmedins_hilist_name's 200. Neither
// transaction has a code-list field (inv_chg_type, rx_flag and trdn_flag
// are text in the reconstruction), so no case tries a code. A required
// value of white space alone is missing (the non-empty check).
func TestHSAFieldRulesRefused(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	s := New(Options{Seed: 1, Now: func() time.Time { return now }})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	seq := 0
	call := func(infno string, input any) (int, string) {
		t.Helper()
		seq++
		b, _ := json.Marshal(map[string]any{"infno": infno, "msgid": fmt.Sprintf("H35020300001202611261000%06d", seq), "input": input})
		resp, err := http.Post(srv.URL+"/hsa/api", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a struct {
			Infcode int    `json:"infcode"`
			ErrMsg  string `json:"err_msg"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatal(err)
		}
		return a.Infcode, a.ErrMsg
	}
	for name, tc := range map[string]struct {
		infno  string
		change func(in map[string]any)
		want   string // "" accepted, else the "path: rule" refused
	}{
		"valid":                    {"3502", func(map[string]any) {}, ""},
		"200 Chinese characters":   {"3502", func(in map[string]any) { in["fixmedins_hilist_name"] = strings.Repeat("药", 200) }, ""},
		"201 Chinese characters":   {"3502", func(in map[string]any) { in["fixmedins_hilist_name"] = strings.Repeat("药", 201) }, "$.invinfo.fixmedins_hilist_name: length"},
		"missing required in item": {"3502", func(in map[string]any) { in["drugtracinfo"] = []any{map[string]any{"drug_trac_codg": ""}} }, "$.invinfo.drugtracinfo[0].drug_trac_codg: required"},
		"missing required":         {"3502", func(in map[string]any) { delete(in, "fixmedins_bchno") }, "$.invinfo.fixmedins_bchno: required"},
		"blank required":           {"3502", func(in map[string]any) { in["fixmedins_bchno"] = "\u3000\u3000" }, "$.invinfo.fixmedins_bchno: required"},
		"blank required number":    {"3502", func(in map[string]any) { in["cnt"] = " " }, "$.invinfo.cnt: required"},
		"five decimals in cnt":     {"3502", func(in map[string]any) { in["cnt"] = "1.00001" }, "$.invinfo.cnt: type"},
		"seven decimals in pric":   {"3502", func(in map[string]any) { in["pric"] = json.Number("12.0000001") }, "$.invinfo.pric: type"},
		"day that does not exist":  {"3502", func(in map[string]any) { in["inv_chg_time"] = "2026-11-31 09:30:00" }, "$.invinfo.inv_chg_time: format"},
		"date-time in another way": {"3502", func(in map[string]any) { in["inv_chg_time"] = "2026-11-26T09:30:00" }, "$.invinfo.inv_chg_time: format"},
		"9001 long mac":            {"9001", func(in map[string]any) { in["mac"] = "00:16:3e:00:00:01:ff:0" }, "$.signIn.mac: length"},
		"9001 missing ip":          {"9001", func(in map[string]any) { delete(in, "ip") }, "$.signIn.ip: required"},
		"9001 blank ip":            {"9001", func(in map[string]any) { in["ip"] = "\t\r\n" }, "$.signIn.ip: required"},
	} {
		var inner, in map[string]any
		if tc.infno == "9001" {
			inner = map[string]any{"opter_no": "OP001", "mac": "00:16:3e:00:00:01", "ip": "10.0.0.8"}
			in = map[string]any{"signIn": inner}
		} else {
			inner = map[string]any{"med_list_codg": "XJ01CAA040A001010100001", "inv_chg_type": "101", "fixmedins_hilist_id": "YP0001",
				"fixmedins_hilist_name": "药品", "fixmedins_bchno": fmt.Sprintf("F-%d", seq), "cnt": "1", "rx_flag": "0",
				"inv_chg_time": "2026-11-26 09:30:00", "trdn_flag": "0"}
			in = map[string]any{"invinfo": inner}
		}
		tc.change(inner)
		code, msg := call(tc.infno, in)
		_, recorded := s.HSARecords()[fmt.Sprint(inner["fixmedins_bchno"])]
		switch {
		case tc.want == "" && code != 0:
			t.Errorf("%s: infcode %d (%s), want 0", name, code, msg)
		case tc.want != "" && (code != -1 || !strings.Contains(msg, "入参校验失败: "+tc.want)):
			t.Errorf("%s: infcode %d %q, want -1 naming %q", name, code, msg, tc.want)
		case tc.want != "" && recorded:
			t.Errorf("%s: refused, but recorded", name)
		}
	}
}
