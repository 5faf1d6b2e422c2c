package importer

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/medgate/medgate/schemas"
)

// formsTable is one transaction written the ways official tables write
// lengths, 是否必填 and nested lists; each test case renders it as CSV,
// XLSX or DOCX.
var formsTable = [][]string{
	{"GYU102 费用明细上传"},
	{"输入参数"},
	{"参数名", "参数说明", "类型", "长度", "是否必填", "字典"},
	{"ykc700", "就诊登记号", "字符型", "VARCHAR2(30)", "必填", ""},
	{"aac004", "性别", "C", "C(1)", "可选", "AAC004"},
	{"aac043", "证件类型", "字符型", "2", "是", "01:居民身份证;02：护照；99-其他"},
	{"scene", "场景", "字符型", "1", "否", "1-门诊\n2-住院"},
	{"flag", "标志", "字符型", "1", "否", "1.必须大于0 2.单位元"},
	{"akc264", "总额", "数值型", "NUMBER(16,2)", "√", ""},
	{"days", "天数", "INT", "4", "Y", ""},
	{"aae013", "备注", "VARCHAR2", "200 BYTE", "N", ""},
	{"psn_name", "姓名", "字符型", "50字节", "否", ""},
	{"aae014", "附注", "VARCHAR2(40 BYTE)", "", "N", ""},
	{"aae015", "附注2", "NVARCHAR2(40 CHAR)", "", "N", ""},
	{"feedetail", "费用明细", "数组", "", "是", ""},
	{"└─fee_no", "明细号", "字符型", "30", "是", ""},
	{"├─amt", "金额", "NUMBER", "(12,2)", "是", ""},
	{"feedetail/price", "单价", "数值型", "16，4", "否", ""},
	{"feedetail.memo", "说明", "字符型", "", "", ""},
	{"输出参数"},
	{"参数名", "参数说明", "类型", "长度", "是否必填", "字典"},
	{"result", "结果", "字符型", "2", "是", ""},
}

var wantForms = []*schemas.Schema{{
	Code: "GYU102", Name: "费用明细上传", System: "workinjury", Direction: schemas.DirectionUpload,
	Input: []schemas.Field{
		{Name: "ykc700", Label: "就诊登记号", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 30, Required: true},
		{Name: "aac004", Label: "性别", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 1, Description: "AAC004"},
		{Name: "aac043", Label: "证件类型", Type: schemas.Type{Kind: schemas.KindEnum}, MaxLength: 2, Required: true, Codes: map[string]string{"01": "居民身份证", "02": "护照", "99": "其他"}},
		{Name: "scene", Label: "场景", Type: schemas.Type{Kind: schemas.KindEnum}, MaxLength: 1, Codes: map[string]string{"1": "门诊", "2": "住院"}},
		{Name: "flag", Label: "标志", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 1, Description: "1.必须大于0 2.单位元"},
		{Name: "akc264", Label: "总额", Type: schemas.Type{Kind: schemas.KindDecimal, Precision: 16, Scale: 2}, Required: true},
		{Name: "days", Label: "天数", Type: schemas.Type{Kind: schemas.KindInteger}, MaxLength: 4, Required: true},
		{Name: "aae013", Label: "备注", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 200, LengthUnit: schemas.UnitBytes},
		{Name: "psn_name", Label: "姓名", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 50, LengthUnit: schemas.UnitBytes, Personal: true},
		{Name: "aae014", Label: "附注", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 40, LengthUnit: schemas.UnitBytes},
		{Name: "aae015", Label: "附注2", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 40},
		{Name: "feedetail", Label: "费用明细", Type: schemas.Type{Kind: schemas.KindArray}, Required: true, Fields: []schemas.Field{
			{Name: "fee_no", Label: "明细号", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 30, Required: true},
			{Name: "amt", Label: "金额", Type: schemas.Type{Kind: schemas.KindDecimal, Precision: 12, Scale: 2}, Required: true},
			{Name: "price", Label: "单价", Type: schemas.Type{Kind: schemas.KindDecimal, Precision: 16, Scale: 4}},
			{Name: "memo", Label: "说明", Type: schemas.Type{Kind: schemas.KindString}},
		}},
	},
	Output: []schemas.Field{
		{Name: "result", Label: "结果", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 2, Required: true},
	},
}}

func renderCSV(rows [][]string) []byte {
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"` + strings.ReplaceAll(c, `"`, `""`) + `"`)
		}
		b.WriteString("\n")
	}
	return []byte(b.String())
}

// renderDOCX writes one-cell rows as paragraphs and the rest as tables.
func renderDOCX(tb testing.TB, rows [][]string) []byte {
	var blocks []dblock
	for _, r := range rows {
		if len(r) == 1 {
			blocks = append(blocks, dblock{para: r[0]})
			continue
		}
		if len(blocks) == 0 || blocks[len(blocks)-1].rows == nil {
			blocks = append(blocks, dblock{rows: []drow{}})
		}
		last := &blocks[len(blocks)-1]
		last.rows = append(last.rows, row(r...))
	}
	return buildDOCX(tb, blocks)
}

func renderXLSX(tb testing.TB, rows [][]string) []byte {
	var sheet [][]any
	for _, r := range rows {
		var out []any
		for _, c := range r {
			out = append(out, c)
		}
		sheet = append(sheet, out)
	}
	return buildXLSX(tb, map[string][][]any{"Sheet1": sheet}, []string{"Sheet1"})
}

// TestImportForms: every format reads code lists of the 代码值/字典 column
// (01:居民身份证;02：护照, one per line) as an enum's codes, and the length forms (VARCHAR2(30),
// NUMBER(16,2), C(1), 200 BYTE, 50字节, in the 长度 column or with the type:
// VARCHAR2(40 BYTE)), the 是否必填 forms (必填, 可选, √,
// Y, N, 是, 否, empty) and the nested-list forms (└─, ├─, 节点/子节点,
// 节点.子节点) of official tables.
func TestImportForms(t *testing.T) {
	t.Parallel()
	// aac004's 字典 names a dictionary the document does not hold.
	refErr := func(at string) []string {
		return []string{`import spec: ` + at + ` (字典): GYU102 input field "aac004": its codes are given by reference ("AAC004") but the document has no dictionary AAC004; the field is kept as text, the reference in its description. Add the dictionary to the document (a heading naming AAC004 over a table 代码值 | 代码名称) and import again, or make the field type: enum with codes: in the written file`}
	}
	testCases := map[string]struct {
		format   string
		data     func(testing.TB) []byte
		wantErrs []string
	}{
		"csv":  {"csv", func(testing.TB) []byte { return renderCSV(formsTable) }, refErr("line 5 column F")},
		"xlsx": {"xlsx", func(tb testing.TB) []byte { return renderXLSX(tb, formsTable) }, refErr(`sheet "Sheet1" row 5 column F`)},
		"docx": {"docx", func(tb testing.TB) []byte { return renderDOCX(tb, formsTable) }, refErr(`table 1 (under "GYU102 费用明细上传") row 3 column 6`)},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, errs := Import(bytes.NewReader(tc.data(t)), tc.format, "workinjury")
			if diff := cmp.Diff(tc.wantErrs, errorStrings(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			want := []*schemas.Schema{new(schemas.Schema)}
			*want[0] = *wantForms[0]
			want[0].Source = source(tc.format, schemas.DirectionUpload)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("schemas (-want +got):\n%s", diff)
			}
			roundTrip(t, got)
		})
	}
}

// TestImportDOCXProblems: every problem of a document is reported at once,
// each naming the table, row and column and saying what to fix.
func TestImportDOCXProblems(t *testing.T) {
	t.Parallel()
	hdr := row("参数名", "参数说明", "类型", "长度", "是否必填")
	testCases := map[string]struct {
		data       []byte
		wantErrs   []string
		wantFields []string
	}{
		"every row problem at once": {
			data: buildDOCX(t, []dblock{
				{para: "2.1 入院登记上传（GYU101）"},
				{rows: []drow{
					hdr,
					row("aac002", "社会保障号码", "字符型", "20", "是"),
					row("aac003", "姓名", "", "50", "是"),
					row("akc190", "住院号", "字符型", "三十", "是"),
					row("ykc701", "入院日期", "日期", "8", "也许"),
				}},
				{para: "输入（节点标识：fee，费用明细列表）"},
				{rows: []drow{
					hdr,
					row("社保号", "甲", "字符型", "20", "是"),
					row("item/code", "编码", "字符型", "20", "是"),
					row("└ qty", "数量", "BLOB", "", "是"),
				}},
			}),
			wantErrs: []string{
				`import spec: table 1 (under "2.1 入院登记上传（GYU101）") row 3 column 3 (类型): GYU101 input field "aac003": the type is empty; the row is skipped. Fill the 类型 column (字符型, 数值型, 整数, 日期, 日期时间, 数组 or 对象)`,
				`import spec: table 1 (under "2.1 入院登记上传（GYU101）") row 4 column 4 (长度): GYU101 input field "akc190": length "三十" is not a number; the row is skipped. Write 20 or 16,2 (VARCHAR2(20) and NUMBER(16,2) are read too)`,
				`import spec: table 1 (under "2.1 入院登记上传（GYU101）") row 5 column 5 (是否必填): GYU101 input field "ykc701": 是否必填 "也许" is not understood; the field is taken as optional. Write Y or N`,
				`import spec: table 2 (under "2.1 入院登记上传（GYU101）") row 2 column 1 (参数名): GYU101 input: parameter name "社保号" is not a JSON key; the row is skipped. Put the key (for example aac002, or fee/qty for a field of the list fee) in the 参数名 column`,
				`import spec: table 2 (under "2.1 入院登记上传（GYU101）") row 3 column 1 (参数名): GYU101 input field "item/code": its node "item" is not declared above it; the row is skipped. Declare item in a row of its own, with the type 数组 (a list) or 对象, before its fields`,
				`import spec: table 2 (under "2.1 入院登记上传（GYU101）") row 4 column 3 (类型): GYU101 input field "qty": type "BLOB" is not understood; the row is skipped. Use 字符型, 数值型, 整数, 日期, 日期时间, 数组 or 对象`,
				`import spec: paragraph "输入（节点标识：fee，费用明细列表）": GYU101: the imported schema does not pass the schema checks: field "input.fee.fields": an array needs its fields — add fields: with at least one child field`,
			},
			wantFields: []string{"aac002", "ykc701", "fee"},
		},
		"a child drawn under no list": {
			data: buildDOCX(t, []dblock{
				{para: "GYU101 入院登记上传"},
				{rows: []drow{hdr, row("aac002", "社会保障号码", "字符型", "20", "是"), row("└ qty", "数量", "整数", "4", "是")}},
			}),
			wantErrs: []string{
				`import spec: table 1 (under "GYU101 入院登记上传") row 3 column 1 (参数名): GYU101 input field "qty" is drawn as a child (└) but no list or object row is above it; it is added at the top level. Give the node row above it the type 数组 or 对象`,
			},
			wantFields: []string{"aac002", "qty"},
		},
		"prose is not a heading": {
			data: buildDOCX(t, []dblock{
				{para: "GYU101 入院登记上传"},
				{para: "GYU101 成功后，返回就诊登记号"},
				{rows: []drow{hdr, row("aac002", "社会保障号码", "字符型", "20", "是")}},
			}),
			wantFields: []string{"aac002"},
		},
		"a Word 97-2003 document": {
			data:     []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 rest of an OLE file"),
			wantErrs: []string{`import spec: the file is a Word 97-2003 .doc (or another OLE file), not a .docx; open it in Word or WPS and save it as .docx`},
		},
		"not a zip": {
			data:     []byte("%PDF-1.7"),
			wantErrs: []string{`import spec: cannot open the DOCX: zip: not a valid zip file; check that it is a Word .docx document (a PDF must be exported to XLSX first)`},
		},
		"an xlsx given as docx": {
			data:     renderXLSX(t, [][]string{{"GYU101"}}),
			wantErrs: []string{`import spec: cannot open the DOCX: its main part xl/workbook.xml is not a Word document; check that it is a Word .docx document (an .xlsx workbook is imported as .xlsx)`},
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, errs := Import(bytes.NewReader(tc.data), "docx", "workinjury")
			if diff := cmp.Diff(tc.wantErrs, errorStrings(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			for _, e := range errs {
				if !errors.Is(e, ErrImport) {
					t.Errorf("%v does not wrap ErrImport", e)
				}
			}
			var names []string
			if len(got) > 0 {
				names = fieldNames(got[0].Input)
			}
			if diff := cmp.Diff(tc.wantFields, names); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

// TestImportMarksPersonalFields: an official table has no column saying
// which fields carry personal data, so the importer marks them by name and
// label, as medgate's own files are; otherwise validation replies would
// quote ID numbers and names.
func TestImportMarksPersonalFields(t *testing.T) {
	t.Parallel()
	csv := "GYD051 人员备案校验\n参数名,参数说明,类型,长度,是否必填\n" +
		"aac002,社会保障号码,字符型,20,是\n" +
		"xm,患者姓名,字符型,50,是\n" +
		"psn_cert_no,证件号码,字符型,50,是\n" +
		"tel,联系电话,字符型,20,否\n" +
		"jbr,经办人,字符型,20,否\n" +
		"akb020,协议机构编号,字符型,30,是\n" +
		"visit_date,就医日期,日期,,是\n" +
		"jbrid,经办人ID,字符型,20,否\n"
	got, errs := Import(strings.NewReader(csv), "csv", "workinjury")
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errorStrings(errs))
	}
	want := map[string]bool{"aac002": true, "xm": true, "psn_cert_no": true, "tel": true, "jbr": true, "akb020": false, "visit_date": false, "jbrid": false}
	gotMarks := map[string]bool{}
	for _, f := range got[0].Input {
		gotMarks[f.Name] = f.Personal
	}
	if diff := cmp.Diff(want, gotMarks); diff != "" {
		t.Errorf("personal (-want +got):\n%s", diff)
	}
	errsV := got[0].ValidateInput(map[string]any{"aac002": 350203198001011234, "xm": "张三", "psn_cert_no": "x", "akb020": "H1", "visit_date": "2026-01-01"})
	for _, e := range errsV {
		if strings.Contains(e.Message, "350203198001011234") {
			t.Errorf("validation quotes the social-security number: %s", e.Message)
		}
	}
}

// TestImportRequiredColumns: the ways tables say a field must be given,
// including columns that ask the opposite question (是否为空, 可为空: 否
// means required) and 非空 / NOT NULL; a table without any such column is
// reported, not silently taken as all optional.
func TestImportRequiredColumns(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		header   string
		rows     string // name,value lines
		want     map[string]bool
		wantErrs []string
	}{
		"是否必填": {
			header: "是否必填",
			rows:   "a,非空\nb,NOT NULL\nc,不可为空\nd,可为空\ne,非必填\nf,条件必填\n",
			want:   map[string]bool{"a": true, "b": true, "c": true, "d": false, "e": false, "f": false},
		},
		"是否为空 asks the opposite": {
			header: "是否为空",
			rows:   "a,否\nb,是\nc,N\nd,Y\ne,\nf,非空\ng,可为空\n",
			want:   map[string]bool{"a": true, "b": false, "c": true, "d": false, "e": false, "f": true, "g": false},
		},
		"可为空 asks the opposite": {
			header: "可为空",
			rows:   "a,×\nb,√\n",
			want:   map[string]bool{"a": true, "b": false},
		},
		"no required column": {
			header:   "备注",
			rows:     "a,\n",
			want:     map[string]bool{"a": false},
			wantErrs: []string{`import spec: line 2: GYU101: the table has no 是否必填 column; every field of it is taken as optional. Add the column (是否必填: 是/否) or mark required: true in the written file`},
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			b.WriteString("GYU101 入院登记上传\n参数名,参数说明,类型,长度," + tc.header + "\n")
			for _, line := range strings.Split(strings.TrimSpace(tc.rows), "\n") {
				n, v, _ := strings.Cut(line, ",")
				b.WriteString(n + ",甲,字符型,10," + v + "\n")
			}
			got, errs := Import(strings.NewReader(b.String()), "csv", "workinjury")
			if diff := cmp.Diff(tc.wantErrs, errorStrings(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			marks := map[string]bool{}
			for _, f := range got[0].Input {
				marks[f.Name] = f.Required
			}
			if diff := cmp.Diff(tc.want, marks); diff != "" {
				t.Errorf("required (-want +got):\n%s", diff)
			}
		})
	}
}

// TestImportNodeColumn: a table can name each row's node in a column of
// its own (节点, 父节点), input/output/data or empty meaning the top level.
func TestImportNodeColumn(t *testing.T) {
	t.Parallel()
	table := [][]string{
		{"GYU102 费用明细上传"},
		{"父节点", "参数名", "参数说明", "类型", "长度", "是否必填"},
		{"input", "ykc700", "就诊登记号", "字符型", "30", "是"},
		{"input", "feedetail", "费用明细", "数组", "", "是"},
		{"feedetail", "fee_no", "明细号", "字符型", "30", "是"},
		{"feedetail", "qty", "数量", "NUMBER(12,4)", "", "是"},
		{"", "memo", "备注", "字符型", "100", "否"},
		{"item", "code", "编码", "字符型", "10", "否"},
	}
	got, errs := Import(bytes.NewReader(renderCSV(table)), "csv", "workinjury")
	wantErrs := []string{
		`import spec: line 8 column A (父节点): GYU102 input field "item/code": its node "item" is not declared above it; the row is skipped. Declare item in a row of its own, with the type 数组 (a list) or 对象, before its fields`,
	}
	if diff := cmp.Diff(wantErrs, errorStrings(errs)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	want := []schemas.Field{
		{Name: "ykc700", Label: "就诊登记号", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 30, Required: true},
		{Name: "feedetail", Label: "费用明细", Type: schemas.Type{Kind: schemas.KindArray}, Required: true, Fields: []schemas.Field{
			{Name: "fee_no", Label: "明细号", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 30, Required: true},
			{Name: "qty", Label: "数量", Type: schemas.Type{Kind: schemas.KindDecimal, Precision: 12, Scale: 4}, Required: true},
		}},
		{Name: "memo", Label: "备注", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 100},
	}
	if len(got) != 1 {
		t.Fatalf("%d schemas", len(got))
	}
	if diff := cmp.Diff(want, got[0].Input); diff != "" {
		t.Errorf("input (-want +got):\n%s", diff)
	}
}
