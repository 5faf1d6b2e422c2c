package hsa

import "testing"

// TestMaskTextKeepsOperationalIdentifiers: MaskText masks the personal
// numbers a refusal quotes (resident ID numbers, 18 characters with a valid
// GB 11643 check character or 15 digits, mobile and fixed-line phone
// numbers, names after their labels) and leaves the identifiers an
// operator needs to find the call readable: the self-pay msgid (the
// institution code, a time and a sequence), the institution code, the
// HIS visit number.
func TestMaskTextKeepsOperationalIdentifiers(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ in, want string }{
		"msgid in a refusal": {
			in:   "4201A (msgid H35020300001202612060600110002) refused by the platform: infcode -1: 重复上传",
			want: "4201A (msgid H35020300001202612060600110002) refused by the platform: infcode -1: 重复上传",
		},
		"institution code and visit number": {
			in:   "定点机构H35020300001的就诊ID ZY20250401001不存在",
			want: "定点机构H35020300001的就诊ID ZY20250401001不存在",
		},
		"resident ID number, valid check character": {
			in:   "证件号码350203198001011235不存在",
			want: "证件号码350***********1235不存在",
		},
		"resident ID number with X, glued to Latin letters": {
			in:   "idno=11010519491231002X;",
			want: "idno=110***********002X;",
		},
		"resident ID number after a letter": {
			in:   "ID11010519491231002X",
			want: "ID110***********002X",
		},
		"resident ID number, wrong check character": {
			in:   "证件号码350203198001011234校验位错误",
			want: "证件号码350***********1234校验位错误",
		},
		"old 15-digit ID number": {
			in:   "旧证号350203800101123",
			want: "旧证号350********1123",
		},
		"mobile and fixed-line phones": {
			in:   "电话13812345678或05925551234",
			want: "电话138****5678或059****1234",
		},
		"national drug code whose digits start with 0": {
			in:   "目录编码XJ01CAA040A001010100001不存在",
			want: "目录编码XJ01CAA040A001010100001不存在",
		},
		"consumable code with a zero-led digit run after a letter": {
			in:   "耗材C05925551234未对照",
			want: "耗材C05925551234未对照",
		},
		"mobile glued to a letter": {
			in:   "tel13812345678",
			want: "tel138****5678",
		},
		"ID number glued to a word starting with x": {
			in:   "350203198001011235xm",
			want: "350***********1235xm",
		},
		"name after its label": {
			in:   "患者张三丰，无备案",
			want: "患者张**，无备案",
		},
		"the platform's words after 病人": {
			in:   "未查询到自费病人住院费用明细; 自费病人就诊信息不存在; 病人费用明细为空",
			want: "未查询到自费病人住院费用明细; 自费病人就诊信息不存在; 病人费用明细为空",
		},
		"a name after 病人, a word of the platform's after it": {
			in:   "病人张三住院费用明细不存在",
			want: "病人张***费用明细不存在",
		},
		"ID number and phone as before": {
			in:   "患者35020319800101123X电话13800000000",
			want: "患者350***********123X电话138****0000",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := MaskText(tc.in); got != tc.want {
				t.Errorf("MaskText(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}
