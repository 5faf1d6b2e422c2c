package importer

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/medgate/medgate/schemas"
)

// dictFields is the field table of the dictionary tests: codes given by
// reference, in the forms official tables use.
var dictFields = [][]string{
	{"参数名", "参数说明", "类型", "长度", "是否必填", "代码值"},
	{"aac004", "性别", "字符型", "1", "是", "见字典表 AAC004"},
	{"aac058", "证件类型", "字符型", "2", "是", "详见附录代码表"},
	{"akc021", "医疗人员类别", "字符型", "2", "否", "见代码表 AKC021"},
	{"aae013", "备注", "字符型", "200", "否", ""},
}

// bigTable holds every dictionary in one table, named in its first columns.
var bigTable = [][]string{
	{"代码类别", "类别名称", "代码值", "代码名称"},
	{"AAC058", "证件类型", "01", "居民身份证"},
	{"", "", "02", "护照"}, // merged down in a workbook
	{"AAC058", "证件类型", "99", "其他"},
}

var wantDictFields = []schemas.Field{
	{Name: "aac004", Label: "性别", Type: schemas.Type{Kind: schemas.KindEnum}, MaxLength: 1, Required: true, Description: "见字典表 AAC004", Codes: map[string]string{"1": "男", "2": "女", "9": "未说明的性别"}},
	{Name: "aac058", Label: "证件类型", Type: schemas.Type{Kind: schemas.KindEnum}, MaxLength: 2, Required: true, Description: "详见附录代码表", Codes: map[string]string{"01": "居民身份证", "02": "护照", "99": "其他"}},
	{Name: "akc021", Label: "医疗人员类别", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 2, Description: "见代码表 AKC021"},
	{Name: "aae013", Label: "备注", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 200},
}

// TestImportDictionaryByReference: a 代码值 cell that names a dictionary
// ("见字典表 AAC004", or "详见附录代码表" for the dictionary named after the
// field) gets that dictionary's codes when its table is in the same
// document — under a heading naming it, or in one table of every
// dictionary (代码类别 | 类别名称 | 代码值 | 代码名称) — before or after the
// field table. A dictionary heading is not a transaction. A dictionary the
// document lacks is never guessed: the field stays text and a warning
// names the field, the dictionary and the cell.
func TestImportDictionaryByReference(t *testing.T) {
	t.Parallel()
	docxDict := dictDOCX
	testCases := map[string]struct {
		format   string
		data     func(testing.TB) []byte
		wantErrs []string
	}{
		"docx, dictionaries in the appendix": {
			format: "docx", data: docxDict,
			wantErrs: []string{
				`import spec: table 1 (under "3.2.1 入院登记上传（GYU101）") row 4 column 6 (代码值): GYU101 input field "akc021": its codes are given by reference ("见代码表 AKC021") but the document has no dictionary AKC021; the field is kept as text, the reference in its description. Add the dictionary to the document (a heading naming AKC021 over a table 代码值 | 代码名称) and import again, or make the field type: enum with codes: in the written file`,
			},
		},
		"xlsx, dictionaries on a sheet of their own": {
			format: "xlsx",
			data: func(tb testing.TB) []byte {
				gy := [][]any{{"GYU101 入院登记上传"}}
				for _, r := range dictFields {
					gy = append(gy, anyRow(r))
				}
				codes := [][]any{{"AAC004 性别"}, {"代码", "名称"}, {"1", "男"}, {"2", "女"}, {"9", "未说明的性别"}, {}}
				for _, r := range bigTable {
					codes = append(codes, anyRow(r))
				}
				return buildXLSX(tb, map[string][][]any{"GYU101": gy, "代码表": codes}, []string{"GYU101", "代码表"})
			},
			wantErrs: []string{
				`import spec: sheet "GYU101" row 5 column F (代码值): GYU101 input field "akc021": its codes are given by reference ("见代码表 AKC021") but the document has no dictionary AKC021; the field is kept as text, the reference in its description. Add the dictionary to the document (a heading naming AKC021 over a table 代码值 | 代码名称) and import again, or make the field type: enum with codes: in the written file`,
			},
		},
		"csv, dictionaries first": {
			format: "csv",
			data: func(testing.TB) []byte {
				rows := [][]string{{"AAC004 性别"}, {"代码值", "代码名称"}, {"1", "男"}, {"2", "女"}, {"9", "未说明的性别"}}
				rows = append(rows, bigTable...)
				rows = append(rows, []string{"GYU101 入院登记上传"})
				rows = append(rows, dictFields...)
				rows = append(rows, []string{"AKC021 医疗人员类别"}, []string{"代码值", "代码名称"})
				return renderCSV(rows)
			},
			wantErrs: []string{
				`import spec: line 14 column F (代码值): GYU101 input field "akc021": its codes are given by reference ("见代码表 AKC021") but the document has no dictionary AKC021; the field is kept as text, the reference in its description. Add the dictionary to the document (a heading naming AKC021 over a table 代码值 | 代码名称) and import again, or make the field type: enum with codes: in the written file`,
			},
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, errs := Import(bytes.NewReader(tc.data(t)), tc.format, "workinjury")
			if diff := cmp.Diff(tc.wantErrs, errorStrings(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			var codes []string
			for _, s := range got {
				codes = append(codes, s.Code)
			}
			if diff := cmp.Diff([]string{"GYU101"}, codes); diff != "" {
				t.Fatalf("transactions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantDictFields, got[0].Input); diff != "" {
				t.Errorf("input (-want +got):\n%s", diff)
			}
			roundTrip(t, got)
		})
	}
}

func anyRow(r []string) []any {
	out := make([]any, len(r))
	for i, v := range r {
		out[i] = v
	}
	return out
}

// dictDOCX is a Word document whose field table names dictionaries by
// reference, two of them in its appendix (under a heading, and in a table
// of every dictionary with merged cells), one missing.
func dictDOCX(tb testing.TB) []byte {
	var fields, big []drow
	for _, r := range dictFields {
		fields = append(fields, row(r...))
	}
	big = append(big, row(bigTable[0]...))
	big = append(big, drow{cells: []dcell{{text: "AAC058", vmerge: "restart"}, {text: "证件类型", vmerge: "restart"}, c("01"), c("居民身份证")}})
	big = append(big, drow{cells: []dcell{{vmerge: "continue"}, {vmerge: "continue"}, c("02"), c("护照")}})
	big = append(big, drow{cells: []dcell{{vmerge: "continue"}, {vmerge: "continue"}, c("99"), c("其他")}})
	return buildDOCX(tb, []dblock{
		{para: "3.2.1 入院登记上传（GYU101）"},
		{rows: fields},
		{para: "附录A 代码表"},
		{para: "A.1 性别（AAC004）"},
		{rows: []drow{row("代码值", "代码名称"), row("1", "男"), row("2", "女"), row("9", "未说明的性别")}},
		{para: "A.2 其他代码"},
		{rows: big},
	})
}

// TestCodeRefOf: the ways a cell names a dictionary, and notes that do not.
func TestCodeRefOf(t *testing.T) {
	t.Parallel()
	type ref struct {
		Name string
		OK   bool
	}
	testCases := map[string]struct {
		title, text string
		want        ref
	}{
		"见字典表 code":       {"代码值", "见字典表 AAC004", ref{"AAC004", true}},
		"bare code in 字典": {"字典", "AAC004", ref{"AAC004", true}},
		"bare code in 备注": {"备注", "AAC004", ref{}},
		"字典：code":         {"备注", "字典：psn_cert_type", ref{"psn_cert_type", true}},
		"by field":        {"代码值", "详见附录代码表", ref{"", true}},
		"appendix number": {"备注", "见附录A.3 代码表", ref{"", true}},
		"appendix in 代码值": {"代码值", "见附录", ref{"", true}},
		"appendix in 备注":  {"备注", "见附录", ref{}},
		"by name":         {"备注", "见《性别》代码表", ref{"性别", true}},
		"a note with 代码":  {"备注", "参考医院代码", ref{}},
		"inline codes":    {"代码值", "1:男;2:女", ref{}},
		"a sentence":      {"备注", "本字段填写规则较为复杂，详见字典表以及附录中的说明和示例", ref{"", true}},
		"a paragraph":     {"备注", "本字段填写规则较为复杂，详见字典表以及附录中关于本字段的全部说明和示例，并注意与其他字段一致", ref{}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n, ok := codeRefOf(tc.title, tc.text)
			if diff := cmp.Diff(tc.want, ref{n, ok}); diff != "" {
				t.Errorf("codeRefOf(%q, %q) (-want +got):\n%s", tc.title, tc.text, diff)
			}
		})
	}
}

// TestDictTitle: the headings that name a code table.
func TestDictTitle(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct{ code, label string }{
		"A.1 性别（AAC004）":    {"AAC004", "性别"},
		"AAC004 性别":         {"AAC004", "性别"},
		"附录B psn_cert_type": {"psn_cert_type", ""},
		"3.1 证件类型代码表":       {"", "证件类型"},
		"AKC021：医疗人员类别":     {"AKC021", "医疗人员类别"},
	}
	for text, want := range testCases {
		t.Run(text, func(t *testing.T) {
			t.Parallel()
			code, label := dictTitle(text)
			if code != want.code || label != want.label {
				t.Errorf("dictTitle(%q) = %q, %q; want %q, %q", text, code, label, want.code, want.label)
			}
		})
	}
}

// TestImportCodeTableUnderTransaction: a table of codes right under a
// transaction's heading (its result codes, say) does not make the heading
// a dictionary's: the field table after it is still the transaction's.
func TestImportCodeTableUnderTransaction(t *testing.T) {
	t.Parallel()
	data := buildDOCX(t, []dblock{
		{para: "3.2.1 入院登记上传（GYU101）"},
		{rows: []drow{row("代码", "说明"), row("0", "成功"), row("1", "失败")}},
		{para: "输入参数"},
		{rows: []drow{row("参数名", "参数说明", "类型", "长度", "是否必填"), row("aac002", "社会保障号码", "字符型", "20", "是")}},
	})
	got, errs := Import(bytes.NewReader(data), "docx", "workinjury")
	if len(errs) != 0 {
		t.Errorf("errors: %v", errorStrings(errs))
	}
	var codes []string
	for _, s := range got {
		codes = append(codes, s.Code+" "+s.Name)
	}
	if diff := cmp.Diff([]string{"GYU101 入院登记上传"}, codes); diff != "" {
		t.Errorf("transactions (-want +got):\n%s", diff)
	}
}
