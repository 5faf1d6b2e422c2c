package pii

import "testing"

func TestText(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct{ in, want string }{
		"id number":           {"身份证号 350203198001011234 的人员无有效备案", "身份证号 350***********1234 的人员无有效备案"},
		"id number with X":    {"证件35020319800101123X不存在", "证件350***********123X不存在"},
		"old id number":       {"旧证号350203800101123,", "旧证号350********1123,"},
		"mobile":              {"电话13812345678", "电话138****5678"},
		"name after 患者":       {"患者张三丰未备案", "患者张***备案"},
		"name after 姓名 colon": {"姓名：张三丰，", "姓名：张**，"},
		"name after 姓名":       {"姓名张三丰，证号", "姓名张**，证号"},
		"no name after 患者":    {"患者身份证号不正确；患者信息不存在", "患者身份证号不正确；患者信息不存在"},
		"card number":         {"社保卡号D15629456已挂失", "社保卡号D*******6已挂失"},
		"card number colon":   {"社会保障卡号：E12345678X", "社会保障卡号：E********X"},
		// A label naming whose name follows (患者姓名, 参保人姓名): the
		// name after 姓名 is masked, not taken for part of the label.
		"name after 患者姓名 colon": {"患者姓名：张三丰，证件号码", "患者姓名：张**，证件号码"},
		"name after 参保人姓名":      {"参保人姓名李四(", "参保人姓名李*("},
		"name after 就诊人姓名":      {"就诊人姓名: 王小明；", "就诊人姓名: 王**；"},
		// The number of an identity document other than a resident ID
		// card (a dispensing record's customer ID: 护照, 医保卡).
		"passport number":       {"证件类型：护照，证件号码：E12345678，", "证件类型：护照，证件号码：E*******8，"},
		"passport number label": {"护照号G12345678不符", "护照号G*******8不符"},
		"insurance card number": {"医保卡号A01234567已注销", "医保卡号A*******7已注销"},
		"id number label kept":  {"证件号码350203198001011234", "证件号码350***********1234"},
		"no number after label": {"证件号码不正确", "证件号码不正确"},
		"birth date":            {"出生日期1980-01-01不符", "出生日期**********不符"},
		"birth date chinese":    {"出生：1980年1月1日", "出生：*********"},
		"visit id kept":         {"就诊ID 350200202504010930000000000001 已结算", "就诊ID 350200202504010930000000000001 已结算"},
		"glued code kept":       {"单据CK350203198001011234不存在", "单据CK350203198001011234不存在"},
		"trace code kept":       {"追溯码81234567890123456789重复", "追溯码81234567890123456789重复"},
		"amount kept":           {"金额 12345678.90 与明细 123456789012 不符", "金额 12345678.90 与明细 123456789012 不符"},
		"other 15 digits":       {"流水号 202504019999999 重复", "流水号 202504019999999 重复"},
		"ascii only":            {"infcode -1: record 12345 not found", "infcode -1: record 12345 not found"},
		"empty":                 {"", ""},
		// A mobile number with the country code or in groups, and a name
		// after 姓名为/姓名是, as external systems write them.
		"mobile +86":           {"电话 +8613812345678 已绑定", "电话 +86138****5678 已绑定"},
		"mobile 0086 space":    {"tel 0086 13812345678;", "tel 0086 138****5678;"},
		"mobile 86 glued":      {"手机8613812345678重复", "手机86138****5678重复"},
		"mobile dashes":        {"手机138-1234-5678不符", "手机138-****-5678不符"},
		"mobile spaces":        {"mobile 138 1234 5678 taken", "mobile 138 **** 5678 taken"},
		"name after 姓名为":       {"参保人姓名为张三丰，与证件不符", "参保人姓名为张**，与证件不符"},
		"name after 姓名是":       {"姓名是：李四。", "姓名是：李*。"},
		"no name after 姓名为":    {"姓名为空；患者为本院职工", "姓名为空；患者为本院职工"},
		"no name 姓名为空值":        {"姓名为空值", "姓名为空值"},
		"address":              {"联系地址：厦门市思明区湖滨南路1号，不符", "联系地址：厦门市*********，不符"},
		"address no colon":     {"住址福建省厦门市湖里区 未备案", "住址福建省****** 未备案"},
		"no address after 地址":  {"地址信息不完整；地址与证件不符；地址不详", "地址信息不完整；地址与证件不符；地址不详"},
		"other grouped digits": {"单号 2025-1234-5678 重复", "单号 2025-1234-5678 重复"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := Text(tc.in); got != tc.want {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
