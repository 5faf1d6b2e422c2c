package adapter

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

// TestReopenRefusal: the 4203 cplt_flag=0 that opens a completed visit
// before its re-upload was tolerated whatever its refusal, so a re-upload
// went on to 4204/4201A/4202 over a visit the platform still held
// complete (refused for a signature, a sign-in, or a visit it does not
// know). A refusal listed in nothingToReopen is tolerated; any other only
// when 4208 shows the visit open (cpltFlag 0); complete, not listed, or
// 4208 refused too, the upload ends rejected with the 4203's infcode and
// err_msg and sends nothing more.
func TestReopenRefusal(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		setting     string // nothingToReopen; "" the default
		prior       string // "complete", "open" (uploaded, then cancelled) or "" (never uploaded)
		faults      []selfpaysim.Fault
		want        sdk.Status
		wantQueries int    // 4208 calls by the re-upload
		tolerated   string // the tolerated 4203's step message
		external    string // the rejected reply's err_msg: the 4203's
	}{
		"listed phrase, no query": {prior: "open", want: sdk.StatusOK, tolerated: "无需撤销",
			faults: []selfpaysim.Fault{{Infno: "4203", Mode: selfpaysim.FaultBusiness, Message: "该就诊无需撤销", Times: 1}}},
		"phrase listed by the site, no query": {setting: "2031|已撤销", prior: "open", want: sdk.StatusOK, tolerated: "已撤销",
			faults: []selfpaysim.Fault{{Infno: "4203", Mode: selfpaysim.FaultBusiness, Message: "完成标志已撤销", Times: 1}}},
		"not listed, 4208 shows it open": {prior: "open", want: sdk.StatusOK, wantQueries: 1, tolerated: "4208 shows the visit not complete",
			faults: []selfpaysim.Fault{{Infno: "4203", Mode: selfpaysim.FaultBusiness, Message: "签名验证失败", Times: 1}}},
		"not listed, 4208 shows it complete": {prior: "complete", want: sdk.StatusRejected, wantQueries: 1, external: "签名验证失败",
			faults: []selfpaysim.Fault{{Infno: "4203", Mode: selfpaysim.FaultBusiness, Message: "签名验证失败", Times: 1}}},
		"visit unknown to the platform": {want: sdk.StatusRejected, wantQueries: 1, external: "未查询到该就诊信息"},
		"not listed, 4208 refused too": {prior: "complete", want: sdk.StatusRejected, wantQueries: 1, external: "签到已过期",
			faults: []selfpaysim.Fault{
				{Infno: "4203", Mode: selfpaysim.FaultBusiness, Message: "签到已过期", Times: 1},
				{Infno: "4208", Mode: selfpaysim.FaultBusiness, Message: "签名验证失败", Times: 1},
			}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(s map[string]string) {
				if tc.setting != "" {
					s[SetNothingToReopen] = tc.setting
				}
			})
			const id = "ZYREO"
			switch tc.prior {
			case "complete":
				wantStatus(t, e.must(OpUpload, "first", upload(id, 2), 1), sdk.StatusOK)
			case "open":
				wantStatus(t, e.must(OpUpload, "first", upload(id, 2), 1), sdk.StatusOK)
				wantStatus(t, e.must(OpCancel, "undo", map[string]any{"fixmedins_mdtrt_id": id}, 1), sdk.StatusOK)
			}
			for _, f := range tc.faults {
				e.sim.Fail(f)
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
			queries, deletes, fees := count("4208"), count("4204"), count("4201A")
			m := upload(id, 3)
			m["reupload"] = true
			r := e.must(OpUpload, "again", m, 1)
			wantStatus(t, r, tc.want)
			if n := count("4208") - queries; n != tc.wantQueries {
				t.Errorf("4208 asked %d times, want %d", n, tc.wantQueries)
			}
			if tc.want == sdk.StatusRejected {
				if n := count("4204") - deletes + count("4201A") - fees; n != 0 {
					t.Errorf("%d 4204/4201A sent after the 4203 cplt_flag=0 was refused", n)
				}
				if r.Retryable {
					t.Error("a refused 4203 cplt_flag=0 is retryable: the host would never give the upload up")
				}
				if r.External == nil || !strings.Contains(r.External.Message, tc.external) || r.External.Code != "-1" {
					t.Errorf("external %+v, want the 4203's refusal %q", r.External, tc.external)
				}
				if d := r.Diagnostics[0]; !strings.Contains(d.Summary, "4203") || !strings.Contains(d.Message(), "4208") {
					t.Errorf("diagnostic %+v", d)
				}
				return
			}
			steps, _ := payloadOf(t, r)["steps"].([]any)
			first, _ := steps[0].(map[string]any)
			if first["infno"] != "4203" || first["outcome"] != outcomeTolerated || !strings.Contains(first["message"].(string), tc.tolerated) {
				t.Errorf("first step %v, want 4203 tolerated saying %q", first, tc.tolerated)
			}
		})
	}
}

func TestNothingToReopenSetting(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		setting string
		infcode int
		msg     string
		want    bool
		problem bool
	}{
		"default, not complete":        {"", -1, "该就诊记录为未完成状态，无需撤销", true, false},
		"default, an unknown visit":    {"", -1, "未查询到该就诊信息", false, false},
		"default, a signature refusal": {"", -1, "签名验证失败", false, false},
		"default, an expired sign-in":  {"", -1, "签到已过期", false, false},
		"a listed code":                {"2031", 2031, "whatever", true, false},
		"-1 would pass every refusal":  {"-1|未完成", -1, "x", false, true},
		"0 is success":                 {"0", -1, "x", false, true},
	}
	for name, tc := range cases {
		s := map[string]string{}
		if tc.setting != "" {
			s[SetNothingToReopen] = tc.setting
		}
		o, ds := parseOptions(s)
		if ds.HasError() != tc.problem {
			t.Errorf("%s: problems %v, want %v", name, ds, tc.problem)
			continue
		}
		if tc.problem {
			if !strings.Contains(ds.String(), SetNothingToReopen) {
				t.Errorf("%s: the problem does not name the setting: %v", name, ds)
			}
			continue
		}
		if got := o.nothingToReopen(tc.infcode, tc.msg); got != tc.want {
			t.Errorf("%s: nothingToReopen(%d, %q) = %v, want %v", name, tc.infcode, tc.msg, got, tc.want)
		}
	}
}
