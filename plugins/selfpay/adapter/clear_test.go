package adapter

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

func TestNothingToDeleteSetting(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		setting string
		infcode int
		msg     string
		want    bool
		problem bool
	}{
		"default, the simulator's wording": {"", -1, "未查询到自费病人住院费用明细: nothing to delete", true, false},
		"default, 无数据":                     {"", -1, "删除失败：无数据", true, false},
		"default, a sign-in refusal":       {"", -1, "签到信息不存在", false, false},
		"default, a signature refusal":     {"", -1, "签名验证失败", false, false},
		"default, malformed input":         {"", -1, "入参格式错误: feedetail 不存在", false, false},
		"a listed code":                    {"1001|未找到", 1001, "whatever", true, false},
		"a listed phrase":                  {"1001|未找到", -1, "费用未找到", true, false},
		"neither":                          {"1001|未找到", -2, "签到过期", false, false},
		"-1 would pass every refusal":      {"-1|未找到", -1, "x", false, true},
		"0 is success":                     {"0", -1, "x", false, true},
	}
	for name, tc := range cases {
		s := map[string]string{}
		if tc.setting != "" {
			s[SetNothingToDelete] = tc.setting
		}
		o, ds := parseOptions(s)
		if ds.HasError() != tc.problem {
			t.Errorf("%s: problems %v, want %v", name, ds, tc.problem)
			continue
		}
		if tc.problem {
			if !strings.Contains(ds.String(), SetNothingToDelete) {
				t.Errorf("%s: the problem does not name the setting: %v", name, ds)
			}
			continue
		}
		if got := o.nothingToDelete(tc.infcode, tc.msg); got != tc.want {
			t.Errorf("%s: nothingToDelete(%d, %q) = %v, want %v", name, tc.infcode, tc.msg, got, tc.want)
		}
	}
}

// TestClearRefusal: the 4204 that clears a visit before its upload was
// tolerated whatever its refusal, so an upload went on over old fee
// details the platform had refused to delete (for a sign-in, a signature,
// malformed input). A refusal listed in nothingToDelete is tolerated; any
// other only when 4207 shows no fee details; with details left, or 4207
// refused too, the upload ends rejected naming the 4204 and sends nothing
// more.
func TestClearRefusal(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		setting     string // nothingToDelete; "" the default
		oldDetails  bool   // fee details of the visit already on the platform
		fault       *selfpaysim.Fault
		want        sdk.Status
		wantQueries int    // 4207 calls
		tolerated   string // the tolerated 4204's step message
		external    string // the rejected reply's err_msg: the 4204's
	}{
		"listed: nothing to delete, no query": {want: sdk.StatusOK, tolerated: "nothing to delete"},
		"not listed, 4207 shows nothing left": {setting: "XYZ", want: sdk.StatusOK, wantQueries: 1, tolerated: "4207 shows no fee details"},
		"not listed, details left": {oldDetails: true, want: sdk.StatusRejected, wantQueries: 1,
			fault: &selfpaysim.Fault{Infno: "4204", Mode: selfpaysim.FaultBusiness, Message: "签到信息不存在", Times: 1}, external: "签到信息不存在"},
		"not listed, 4207 refused too": {setting: "XYZ", want: sdk.StatusRejected, wantQueries: 1,
			fault: &selfpaysim.Fault{Infno: "4207", Mode: selfpaysim.FaultBusiness, Message: "签名验证失败", Times: 1}, external: "未查询到自费病人住院费用明细"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(s map[string]string) {
				if tc.setting != "" {
					s[SetNothingToDelete] = tc.setting
				}
			})
			const id = "ZYCLR"
			if tc.oldDetails {
				wantStatus(t, e.must("selfpay.4201A", "old", map[string]any{nodeFees: []any{fee(id, 7), fee(id, 8)}}, 1), sdk.StatusOK)
			}
			if tc.fault != nil {
				e.sim.Fail(*tc.fault)
			}
			count := func(infno string) int {
				n := 0
				for _, c := range e.sim.Calls() {
					if c.Infno == infno {
						n++
					}
				}
				return n
			}
			fees := count("4201A")
			r := e.must(OpUpload, "clr", upload(id, 2), 1)
			wantStatus(t, r, tc.want)
			if n := count("4207"); n != tc.wantQueries {
				t.Errorf("4207 asked %d times, want %d", n, tc.wantQueries)
			}
			if tc.want == sdk.StatusRejected {
				if n := count("4201A") - fees; n != 0 {
					t.Errorf("%d 4201A sent after the 4204 was refused", n)
				}
				if r.External == nil || !strings.Contains(r.External.Message, tc.external) || r.External.Code != "-1" {
					t.Errorf("external %+v", r.External)
				}
				if d := r.Diagnostics[0]; !strings.Contains(d.Summary, "4204") || !strings.Contains(d.Message(), "4207") {
					t.Errorf("diagnostic %+v", d)
				}
				return
			}
			steps, _ := payloadOf(t, r)["steps"].([]any)
			first, _ := steps[0].(map[string]any)
			if first["infno"] != "4204" || first["outcome"] != outcomeTolerated || !strings.Contains(first["message"].(string), tc.tolerated) {
				t.Errorf("first step %v, want 4204 tolerated saying %q", first, tc.tolerated)
			}
		})
	}
}
