package importer

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/medgate/medgate/schemas"
	"github.com/xuri/excelize/v2"
)

const importedSource = `imported by medgate import-spec from the specification's %s field tables; direction %q was guessed from the code and name, check it`

func source(format string, d schemas.Direction) string {
	return strings.Replace(strings.Replace(importedSource, "%s", format, 1), "%q", `"`+string(d)+`"`, 1)
}

const specCSV = `工伤保险异地就医系统接口技术规范（测试摘录）,,,,,,
GYU101,入院登记上传,,,,,
输入参数,,,,,,
序号,参数名,参数说明,类型,长度,是否必填,备注
1,aac002,社会保障号码,字符型,20,是,
2,aac003,姓名,VARCHAR2(50),,Y,
3,ykc701,入院日期,日期时间,19,必填,
4,akc264,医疗费总额,数值型,"16,2",1,
5,days,住院天数,整数,4,N,
6,aac006,出生日期,日期,8,否,
7,memo,备注,C,500,条件必填,仅转院时填写
8,visit_time,就诊时间,DATETIME,,Y,格式 yyyyMMddHHmmss
输出参数,,,,,,
序号,参数名,参数说明,类型,长度,是否必填,备注
1,ykc700,就诊登记号,字符型,30,Y,
GYU102 费用明细上传
输入,,,,,
字段名,名称,数据类型,长度,必填
ykc700,就诊登记号,C,30,Y
输入（节点标识：fee，费用明细列表）,,,,
qty,数量,"NUMBER(16,4)",,Y
price,单价,N,"16，6",Y
name,项目名称,字符型,100,N
`

var wantCSV = []*schemas.Schema{
	{
		Code: "GYU101", Name: "入院登记上传", System: "workinjury", Direction: schemas.DirectionUpload,
		Source: source("csv", schemas.DirectionUpload),
		Input: []schemas.Field{
			{Name: "aac002", Label: "社会保障号码", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 20, Required: true, Personal: true},
			{Name: "aac003", Label: "姓名", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 50, Required: true, Personal: true},
			{Name: "ykc701", Label: "入院日期", Type: schemas.Type{Kind: schemas.KindDateTime}, Required: true},
			{Name: "akc264", Label: "医疗费总额", Type: schemas.Type{Kind: schemas.KindDecimal, Precision: 16, Scale: 2}, Required: true},
			{Name: "days", Label: "住院天数", Type: schemas.Type{Kind: schemas.KindInteger}, MaxLength: 4},
			{Name: "aac006", Label: "出生日期", Type: schemas.Type{Kind: schemas.KindDate}, Format: "20060102", Personal: true},
			{Name: "memo", Label: "备注", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 500, Description: "仅转院时填写"},
			{Name: "visit_time", Label: "就诊时间", Type: schemas.Type{Kind: schemas.KindDateTime}, Required: true, Format: "20060102150405", Description: "格式 yyyyMMddHHmmss"},
		},
		Output: []schemas.Field{
			{Name: "ykc700", Label: "就诊登记号", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 30, Required: true},
		},
	},
	{
		Code: "GYU102", Name: "费用明细上传", System: "workinjury", Direction: schemas.DirectionUpload,
		Source: source("csv", schemas.DirectionUpload),
		Input: []schemas.Field{
			{Name: "ykc700", Label: "就诊登记号", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 30, Required: true},
			{Name: "fee", Label: "费用明细列表", Type: schemas.Type{Kind: schemas.KindArray}, Fields: []schemas.Field{
				{Name: "qty", Label: "数量", Type: schemas.Type{Kind: schemas.KindDecimal, Precision: 16, Scale: 4}, Required: true},
				{Name: "price", Label: "单价", Type: schemas.Type{Kind: schemas.KindDecimal, Precision: 16, Scale: 6}, Required: true},
				{Name: "name", Label: "项目名称", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 100, Personal: true},
			}},
		},
	},
}

func TestImportCSV(t *testing.T) {
	t.Parallel()
	got, errs := Import(strings.NewReader(specCSV), "csv", "workinjury")
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if diff := cmp.Diff(wantCSV, got); diff != "" {
		t.Errorf("schemas (-want +got):\n%s", diff)
	}
	roundTrip(t, got)
}

// roundTrip writes each schema with schemas.WriteYAML and loads it back
// with schemas.Load.
func roundTrip(t *testing.T, imported []*schemas.Schema) {
	t.Helper()
	fsys := fstest.MapFS{}
	for _, s := range imported {
		var buf bytes.Buffer
		if err := schemas.WriteYAML(&buf, s); err != nil {
			t.Fatal(err)
		}
		fsys[s.System+"/"+s.Code+".yaml"] = &fstest.MapFile{Data: buf.Bytes()}
	}
	set, err := schemas.Load(fsys)
	if err != nil {
		t.Fatalf("WriteYAML output does not load: %v", err)
	}
	for _, s := range imported {
		back, ok := set.Get(s.System, s.Code)
		if !ok {
			t.Fatalf("%s missing after round trip", s.Code)
		}
		if diff := cmp.Diff(s, back, cmpopts.IgnoreFields(schemas.Schema{}, "File")); diff != "" {
			t.Errorf("%s round trip (-imported +loaded):\n%s", s.Code, diff)
		}
	}
}

func buildXLSX(tb testing.TB, sheets map[string][][]any, order []string) []byte {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, name := range order {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				tb.Fatal(err)
			}
		} else if _, err := f.NewSheet(name); err != nil {
			tb.Fatal(err)
		}
		for r, row := range sheets[name] {
			cell, err := excelize.CoordinatesToCellName(1, r+1)
			if err != nil {
				tb.Fatal(err)
			}
			if err := f.SetSheetRow(name, cell, &row); err != nil {
				tb.Fatal(err)
			}
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestImportXLSX(t *testing.T) {
	t.Parallel()
	data := buildXLSX(t, map[string][][]any{
		"封面": {{"工伤保险异地就医系统接口技术规范 V1.5.02（测试）"}, {"仅供测试"}},
		"GYU103": {
			{"字段名", "中文名称", "字段类型", "字段长度", "是否必填"},
			{"ykc700", "就诊登记号", "字符型", 30, "Y"},
			{"akc194", "出院日期", "日期型", 10, "Y"},
			{"fund_pay", "基金支付", "数值型", "16,2", "Y"},
			{"diagnoses", "出院诊断", "数组", "", "Y"},
			{"输入 节点标识：diagnoses"},
			{"diag_code", "诊断编码", "字符型", 20, "Y"},
			{"输出"},
			{"settle_no", "结算编号", "VARCHAR", 30, "Y"},
		},
		"其他": {
			{"GYD051 人员备案校验"},
			{},
			{"参数名", "参数说明", "类型", "长度(字节)", "必填"},
			{"aac002", "社会保障号码", "字符型", 20, "√"},
			{"akb020", "协议机构编号", "C", 30, ""},
			{"出参"},
			{"参数名", "参数说明", "类型", "长度(字节)", "必填"},
			{"valid", "是否有效", "BOOLEAN", "", "Y"},
			{"refmsg_time", "应答时间", "日期时间", 17, "N"},
			{"【GYR005】重新下载申请"},
			{"入参"},
			{"参数名", "参数说明", "类型", "长度", "是否必填"},
			{"batch_no", "批次号", "字符型", 30, "是"},
		},
	}, []string{"封面", "GYU103", "其他"})
	got, errs := Import(bytes.NewReader(data), "xlsx", "workinjury")
	wantErrs := []string{
		`import spec: sheet "其他" row 9 column D (长度(字节)): GYD051 output field "refmsg_time": a 17-character time (yyyyMMddHHmmssSSS) has no Go layout; imported as string(17)`,
		`import spec: sheet "GYU103": GYU103: no transaction name found; used the code. Edit name: in the written file`,
	}
	if diff := cmp.Diff(wantErrs, errorStrings(errs)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	want := []*schemas.Schema{
		{
			Code: "GYU103", Name: "GYU103", System: "workinjury", Direction: schemas.DirectionUpload,
			Source: source("xlsx", schemas.DirectionUpload),
			Input: []schemas.Field{
				{Name: "ykc700", Label: "就诊登记号", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 30, Required: true},
				{Name: "akc194", Label: "出院日期", Type: schemas.Type{Kind: schemas.KindDate}, Required: true},
				{Name: "fund_pay", Label: "基金支付", Type: schemas.Type{Kind: schemas.KindDecimal, Precision: 16, Scale: 2}, Required: true},
				{Name: "diagnoses", Label: "出院诊断", Type: schemas.Type{Kind: schemas.KindArray}, Required: true, Fields: []schemas.Field{
					{Name: "diag_code", Label: "诊断编码", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 20, Required: true},
				}},
			},
			Output: []schemas.Field{
				{Name: "settle_no", Label: "结算编号", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 30, Required: true},
			},
		},
		{
			Code: "GYD051", Name: "人员备案校验", System: "workinjury", Direction: schemas.DirectionQuery,
			Source: source("xlsx", schemas.DirectionQuery),
			Input: []schemas.Field{
				{Name: "aac002", Label: "社会保障号码", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 20, LengthUnit: schemas.UnitBytes, Required: true, Personal: true},
				{Name: "akb020", Label: "协议机构编号", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 30, LengthUnit: schemas.UnitBytes},
			},
			Output: []schemas.Field{
				{Name: "valid", Label: "是否有效", Type: schemas.Type{Kind: schemas.KindBoolean}, Required: true},
				{Name: "refmsg_time", Label: "应答时间", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 17, Description: "yyyyMMddHHmmssSSS"},
			},
		},
		{
			Code: "GYR005", Name: "重新下载申请", System: "workinjury", Direction: schemas.DirectionUpload,
			Source: source("xlsx", schemas.DirectionUpload),
			Input: []schemas.Field{
				{Name: "batch_no", Label: "批次号", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 30, Required: true},
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schemas (-want +got):\n%s", diff)
	}
	roundTrip(t, got)
}

func errorStrings(errs []error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestImportProblems(t *testing.T) {
	t.Parallel()
	const head = "GYU101,入院登记上传\n参数名,参数说明,类型,长度,是否必填\n"
	testCases := map[string]struct {
		format, input string
		wantErrs      []string
		wantFields    []string // input field names of the first schema
	}{
		"unknown type is skipped": {
			input:      head + "a,甲,BLOB,10,Y\nb,乙,字符型,10,Y\n",
			wantErrs:   []string{`import spec: line 3 column C (类型): GYU101 input field "a": type "BLOB" is not understood; the row is skipped. Use 字符型, 数值型, 整数, 日期, 日期时间, 数组 or 对象`},
			wantFields: []string{"b"},
		},
		"decimal without a length gets a default": {
			input:      head + "amt,金额,数值型,,Y\n",
			wantErrs:   []string{`import spec: line 3 column D (长度): GYU101 input field "amt": numeric type without a length; assumed decimal(16,2). Write the length as 16,2`},
			wantFields: []string{"amt"},
		},
		"bad length": {
			input:      head + "a,甲,字符型,二十,Y\n",
			wantErrs:   []string{`import spec: line 3 column D (长度): GYU101 input field "a": length "二十" is not a number; the row is skipped. Write 20 or 16,2 (VARCHAR2(20) and NUMBER(16,2) are read too)`, `import spec: line 1: GYU101 (入院登记上传): none of its field rows could be imported (the problems above say why); nothing is imported for it`},
			wantFields: nil,
		},
		"required not understood": {
			input:      head + "a,甲,字符型,10,maybe\n",
			wantErrs:   []string{`import spec: line 3 column E (是否必填): GYU101 input field "a": 是否必填 "maybe" is not understood; the field is taken as optional. Write Y or N`},
			wantFields: []string{"a"},
		},
		"duplicate field": {
			input:      head + "a,甲,字符型,10,Y\na,甲,字符型,10,Y\n",
			wantErrs:   []string{`import spec: line 4 column A (参数名): GYU101 input: field "a" appears twice; the second row is skipped. Remove or rename one`},
			wantFields: []string{"a"},
		},
		"parameter name that is not a key": {
			input:      head + "社保号,甲,字符型,10,Y\n",
			wantErrs:   []string{`import spec: line 3 column A (参数名): GYU101 input: parameter name "社保号" is not a JSON key; the row is skipped. Put the key (for example aac002, or fee/qty for a field of the list fee) in the 参数名 column`, `import spec: line 1: GYU101 (入院登记上传): none of its field rows could be imported (the problems above say why); nothing is imported for it`},
			wantFields: nil,
		},
		"rows before any code": {
			input:    "参数名,参数说明,类型,长度,是否必填\na,甲,字符型,10,Y\n",
			wantErrs: []string{`import spec: line 2: field row before any transaction code; skipped. Put a row with the code (for example GYU101 入院登记上传) above the table`, `import spec: no transaction found; start each table with a row holding the transaction code (for example GYU101 入院登记上传), or name each sheet after its code`},
		},
		"not UTF-8": {
			input:    "GYU101,\xc8\xeb\xd4\xba\n",
			wantErrs: []string{`import spec: the CSV file is not UTF-8 (Excel often saves GBK); save it as "CSV UTF-8" or import the XLSX instead`},
		},
		"unknown format": {
			format:   "pdf",
			input:    "x",
			wantErrs: []string{`import spec: format "pdf" is not supported; use csv, xlsx or docx (export the tables of a PDF to XLSX first)`},
		},
		"not an xlsx": {
			format:   "xlsx",
			input:    "not a zip",
			wantErrs: []string{`import spec: cannot open the XLSX: zip: not a valid zip file; check that it is an .xlsx workbook (not .xls or .docx)`},
		},
		"dates and amounts are not codes": {
			input:      head + "a,甲,字符型,10,Y\n2025-04-01 修订,,,,\n1000条以内,,,,\n",
			wantFields: []string{"a"},
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			format := tc.format
			if format == "" {
				format = "csv"
			}
			got, errs := Import(strings.NewReader(tc.input), format, "workinjury")
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
				if len(names) == 0 {
					names = nil
				}
			}
			if diff := cmp.Diff(tc.wantFields, names); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestImportBadSystem(t *testing.T) {
	t.Parallel()
	_, errs := Import(strings.NewReader(specCSV), "csv", "../x")
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "is not a directory name") {
		t.Errorf("errs = %v", errs)
	}
}

func TestGuessDirection(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		code, name string
		want       schemas.Direction
	}{
		"revoke":       {"GYU104", "出院结算撤销", schemas.DirectionRevoke},
		"feedback":     {"GYU008", "下载结果反馈", schemas.DirectionFeedback},
		"download":     {"GYD001", "异地就医备案申请下载", schemas.DirectionDownload},
		"query":        {"GYD053", "通用交易查询", schemas.DirectionQuery},
		"check":        {"GYD051", "人员备案校验", schemas.DirectionQuery},
		"upload":       {"GYU101", "入院登记上传", schemas.DirectionUpload},
		"letter U":     {"GYU003", "GYU003", schemas.DirectionUpload},
		"letter D":     {"GYD003", "GYD003", schemas.DirectionQuery},
		"numeric code": {"4201A", "4201A", schemas.DirectionQuery},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := guessDirection(tc.code, tc.name); got != tc.want {
				t.Errorf("guessDirection(%q, %q) = %q, want %q", tc.code, tc.name, got, tc.want)
			}
		})
	}
}

func TestTitleCode(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		in, code, name string
		ok             bool
	}{
		"plain":       {"GYU101 入院登记上传", "GYU101", "入院登记上传", true},
		"glued":       {"GYU101入院登记上传", "GYU101", "入院登记上传", true},
		"brackets":    {"【4201A】自费病人住院费用明细信息上传", "4201A", "自费病人住院费用明细信息上传", true},
		"label":       {"交易编号：GYD053 通用交易查询", "GYD053", "通用交易查询", true},
		"code only":   {"GYD001", "GYD001", "", true},
		"a date":      {"2025-04-01 修订", "", "", false},
		"an amount":   {"1000条以内", "", "", false},
		"a field key": {"aac002", "", "", false},
		"a sentence":  {"输入参数", "", "", false},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code, title, ok := titleCode(tc.in)
			if diff := cmp.Diff([]any{tc.code, tc.name, tc.ok}, []any{code, title, ok}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func fieldNames(fields []schemas.Field) []string {
	names := make([]string, len(fields))
	for i := range fields {
		names[i] = fields[i].Name
	}
	return names
}
