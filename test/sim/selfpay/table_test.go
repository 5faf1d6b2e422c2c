package selfpay

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestTable: each type of the notes' notation reads as its rule, with
// blank lines and comments skipped, and a line it cannot read stops the
// package with the line, the field and how to write it.
func TestTable(t *testing.T) {
	t.Parallel()
	got := table(`
		bkkp_sn  C30    Y 记账流水号   # a comment
		app_id   C      - 渠道id

		cnt      N16,4  Y 数量
		days     N16    - 住院天数
		brdy     D      - 出生日期
		at       DT     Y 交易时间
		flag     C6     Y 完成标志 0,1
	`)
	want := []rule{
		{name: "bkkp_sn", label: "记账流水号", kind: kindString, max: 30, required: true},
		{name: "app_id", label: "渠道id", kind: kindString},
		{name: "cnt", label: "数量", kind: kindDecimal, prec: 16, scale: 4, required: true},
		{name: "days", label: "住院天数", kind: kindInteger, max: 16},
		{name: "brdy", label: "出生日期", kind: kindDate},
		{name: "at", label: "交易时间", kind: kindDateTime, required: true},
		{name: "flag", label: "完成标志", kind: kindString, max: 6, required: true, codes: []string{"0", "1"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("table read\n%+v\nwant\n%+v", got, want)
	}

	for line, wantPanic := range map[string]string{
		"x C30 Y":              `line 1 "x C30 Y": write name, type, Y or -, label`,
		"x C30 y 标签":           `line 1 "x C30 y 标签": write name, type, Y or -`,
		"x C30 Y 标签 1,2 extra": `write name, type, Y or -, label`,
		"\nx C0 Y 标签":          `line 2, field x: type "C0": write C<n>, C, N<p>, N<p>,<s>, D or DT`,
		"x N Y 标签":             `type "N"`,
		"x N4,4 Y 标签":          `type "N4,4"`,
		"x N4,x Y 标签":          `type "N4,x"`,
		"x T Y 标签":             `type "T"`,
	} {
		func() {
			defer func() {
				msg := fmt.Sprint(recover())
				if !strings.Contains(msg, wantPanic) {
					t.Errorf("table(%q) panicked with %q, want %q", line, msg, wantPanic)
				}
			}()
			table(line)
		}()
	}
}
