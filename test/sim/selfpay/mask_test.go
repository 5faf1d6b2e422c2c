package selfpay

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// TestLogMasksPersonalData: the simulator's log lines show no name, ID
// number or phone number, whether they come from the call's input, from the
// visit it names or from a label in the message, while the answer itself
// is left as the platform would send it.
func TestLogMasksPersonalData(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
	f := newFixture(t, Options{Log: log}, nil)
	in := visitIn("L", "10")
	m := in["ownPayPatnMdtrtD"].(map[string]any)
	m["psn_name"], m["tel"], m["coner_name"] = "欧阳娜娜", "0592-1234567", "王五"
	if _, err := f.do("4202", in); err != nil {
		t.Fatal(err)
	}
	const msg = "患者欧阳娜娜(证件号350203198001011234，旧证15位350203800101123，电话13812345678，座机0592-1234567，联系人王五，姓名: 赵六)信息有误"
	// 4203 carries no name: the visit it names does.
	f.sim.Fail(Fault{Infno: "4203", Mode: FaultBusiness, Message: msg})
	_, err := f.do("4203", complete("L", "1"))
	refused(t, err, msg)
	// 4207 carries neither: only the patterns are left.
	f.sim.Fail(Fault{Infno: "4207", Mode: FaultBusiness, Message: "证件号35020319800101123X，电话13812345678，座机0591-87654321，姓名：孙七"})
	_, err = f.do("4207", query("none"))
	refused(t, err, "孙七")
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	for _, secret := range []string{"欧阳娜娜", "350203198001011234", "350203800101123", "13812345678", "1234567", "87654321", "王五", "赵六", "35020319800101123X", "孙七"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows %q:\n%s", secret, out)
		}
	}
	for _, masked := range []string{"欧**娜", "350***********1234", "350********1123", "138****5678", "059*****4567", "0591-****4321", "王*", "赵*", "350***********123X", "孙*"} {
		if !strings.Contains(out, masked) {
			t.Errorf("the log lacks %q:\n%s", masked, out)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestMaskLog: the patterns alone mask ID-card and phone numbers and
// labelled names, and leave other numbers (msgids, serials, amounts) alone.
func TestMaskLog(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"certno 350203198001011234 refused":           "certno 350***********1234 refused",
		"身份证35020319800101123x":                       "身份证350***********123x",
		"旧身份证350203800101123。":                        "旧身份证350********1123。",
		"tel 13812345678, 0592-7654321":               "tel 138****5678, 0592-***4321",
		"psn_name=李四 diag":                            "psn_name=李* diag",
		"msgid H35020300001202504010930000001 reused": "msgid H35020300001202504010930000001 reused",
		"rid R000000000012, 23812345678, 12.50":       "rid R000000000012, 23812345678, 12.50",
		"第3条明细(bkkp_sn A-1)":                          "第3条明细(bkkp_sn A-1)",
	} {
		if got := maskLog(in, nil); got != want {
			t.Errorf("maskLog(%q) = %q, want %q", in, got, want)
		}
	}
	known := personal(map[string]any{"ownPayPatnMdtrtD": map[string]any{"psn_name": "张三", "tel": "88886666", "certno": "X1"},
		"list": []any{map[string]any{"diag_dr_name": "钱医生"}}}, nil)
	if got, want := maskLog("张三 88886666 钱医生 X1", known), "张* 888*6666 钱*生 X1"; got != want {
		t.Errorf("known values: %q, want %q", got, want)
	}
}

// TestMaskValues: the masks of one known value at every length, the
// surrounding spaces dropped: a name keeps its first character and, from
// three on, its last; a number its first 3 and last 4 from eight on, and
// nothing below.
func TestMaskValues(t *testing.T) {
	t.Parallel()
	masks := map[string]func(string) string{"maskName": maskName, "maskNumber": maskNumber}
	for _, tc := range []struct{ mask, in, want string }{
		{"maskName", "", ""},
		{"maskName", "张", "*"},
		{"maskName", " 张三 ", "张*"},
		{"maskName", "张三丰", "张*丰"},
		{"maskName", "欧阳娜娜", "欧**娜"},
		{"maskName", "Li Lei", "L****i"},
		{"maskNumber", "", ""},
		{"maskNumber", "1234", "****"},
		{"maskNumber", "1234567", "*******"},
		{"maskNumber", "12345678", "123*5678"},
		{"maskNumber", " 88886666 ", "888*6666"},
		{"maskNumber", "13812345678", "138****5678"},
		{"maskNumber", "35020319800101123X", "350***********123X"},
		{"maskNumber", "证件号码一二三四五六七八", "证件号*****五六七八"},
	} {
		if got := masks[tc.mask](tc.in); got != tc.want {
			t.Errorf("%s(%q) = %q, want %q", tc.mask, tc.in, got, tc.want)
		}
	}
}
