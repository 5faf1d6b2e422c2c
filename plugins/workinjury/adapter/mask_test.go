package adapter

import "testing"

// TestNationalTextKeepsOperationalIDs: the masking of the national
// system's free text hides the worker and keeps what an operator looks a
// call up by. hsa.MaskText alone reads an institution code of Hebei,
// Shanxi or Inner Mongolia (H13…, H14…, H15…: a letter glued to 11 digits
// starting 13–15) as a mobile number and masked it.
func TestNationalTextKeepsOperationalIDs(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct{ in, want string }{
		"ID, name and phone": {"职工姓名：张三丰，社会保障号码 440302198001010011，联系电话 13900000000",
			"职工姓名：张**，社会保障号码 440***********0011，联系电话 139****0000"},
		"institution of Hebei":         {"协议机构 H13010500001 不在备案就医地", "协议机构 H13010500001 不在备案就医地"},
		"institution glued to Chinese": {"机构H15010200003协议无效", "机构H15010200003协议无效"},
		"institution and ID":           {"备案 BA00000001 属于人员 440302198001010011，协议机构是 H14010000001", "备案 BA00000001 属于人员 440***********0011，协议机构是 H14010000001"},
		"serial and visit":             {"就诊登记 JZ350200202612060312190002 已结算（JS350200202612060312190004），流水号 35020020261206031219000010", "就诊登记 JZ350200202612060312190002 已结算（JS350200202612060312190004），流水号 35020020261206031219000010"},
		"batch number":                 {"批次 D35020020261206031219 0001 未反馈", "批次 D35020020261206031219 0001 未反馈"},
		"phone glued to letters":       {"tel13900000000", "tel139****0000"},
		"empty":                        {"", ""},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := nationalText(tc.in); got != tc.want {
				t.Errorf("nationalText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
