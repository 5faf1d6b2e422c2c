package importer

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/medgate/medgate/schemas"
)

// twoRowFields is what every two-row header table below holds.
var twoRowFields = []schemas.Field{
	{Name: "aac002", Label: "社会保障号码", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 20, Required: true, Personal: true},
	{Name: "akc264", Label: "医疗费总额", Type: schemas.Type{Kind: schemas.KindDecimal, Precision: 16, Scale: 2}, Required: true},
	{Name: "aae013", Label: "备注", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 200},
}

// TestImportTwoRowHeaders: official tables often draw their header in two
// rows, a merged cell over the columns it groups (字段 over 字段名/字段代码,
// 长度 or 数据类型 over 类型/长度). In Word the cells of the other columns
// are merged down (vMerge), so they repeat in the second row; in a
// workbook (and a CSV saved from it) the merged cells are empty below (and
// to the right of) their first cell. Either way the two rows are one
// header, and 字段代码 (the key) is told from 字段名 (the Chinese name).
func TestImportTwoRowHeaders(t *testing.T) {
	t.Parallel()
	data := [][]string{
		{"aac002", "社会保障号码", "字符型", "20", "是"},
		{"akc264", "医疗费总额", "数值型", "16,2", "是"},
		{"aae013", "备注", "字符型", "200", "否"},
	}
	// nameFirst puts the Chinese name before the key, as 字段名/字段代码 do.
	nameFirst := func(r []string) []string { return append([]string{r[1], r[0]}, r[2:]...) }
	docxRows := func(top, sub []dcell, order func([]string) []string) []drow {
		rows := []drow{{header: true, cells: top}, {header: true, cells: sub}}
		for _, r := range data {
			rows = append(rows, row(order(r)...))
		}
		return rows
	}
	same := func(r []string) []string { return r }
	restart := func(s string) dcell { return dcell{text: s, vmerge: "restart"} }
	cont := dcell{vmerge: "continue"}
	testCases := map[string]struct {
		format string
		data   func(testing.TB) []byte
	}{
		"docx 字段 over 字段名/字段代码": {"docx", func(tb testing.TB) []byte {
			return buildDOCX(tb, []dblock{
				{para: "3.2.1 入院登记上传（GYU101）"},
				{rows: docxRows(
					[]dcell{{text: "字段", span: 2}, restart("类型"), restart("长度"), restart("是否必填")},
					[]dcell{c("字段名"), c("字段代码"), cont, cont, cont},
					nameFirst)},
			})
		}},
		"docx 长度 over 类型/长度": {"docx", func(tb testing.TB) []byte {
			return buildDOCX(tb, []dblock{
				{para: "3.2.1 入院登记上传（GYU101）"},
				{rows: docxRows(
					[]dcell{restart("参数名"), restart("参数说明"), {text: "长度", span: 2}, restart("是否必填")},
					[]dcell{cont, cont, c("类型"), c("长度"), cont},
					same)},
			})
		}},
		// The first row alone reads as a header (数据类型 is a type
		// column), which lost the 长度 column under it.
		"docx 数据类型 over 类型/长度": {"docx", func(tb testing.TB) []byte {
			return buildDOCX(tb, []dblock{
				{para: "3.2.1 入院登记上传（GYU101）"},
				{rows: docxRows(
					[]dcell{restart("参数名"), restart("参数说明"), {text: "数据类型", span: 2}, restart("是否必填")},
					[]dcell{cont, cont, c("类型"), c("长度"), cont},
					same)},
			})
		}},
		"xlsx 字段 over 字段名/字段代码": {"xlsx", func(tb testing.TB) []byte {
			rows := [][]string{{"GYU101 入院登记上传"}, {"字段", "", "类型", "长度", "是否必填"}, {"字段名", "字段代码", "", "", ""}}
			for _, r := range data {
				rows = append(rows, nameFirst(r))
			}
			return renderXLSX(tb, rows)
		}},
		"xlsx 数据类型 over 类型/长度": {"xlsx", func(tb testing.TB) []byte {
			rows := [][]string{{"GYU101 入院登记上传"}, {"参数名", "参数说明", "数据类型", "", "是否必填"}, {"", "", "类型", "长度", ""}}
			return renderXLSX(tb, append(rows, data...))
		}},
		"csv 长度 over 类型/长度": {"csv", func(testing.TB) []byte {
			rows := [][]string{{"GYU101 入院登记上传"}, {"参数名", "参数说明", "长度", "", "是否必填"}, {"", "", "类型", "长度", ""}}
			return renderCSV(append(rows, data...))
		}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, errs := Import(bytes.NewReader(tc.data(t)), tc.format, "workinjury")
			if len(errs) != 0 {
				t.Errorf("errors: %v", errorStrings(errs))
			}
			if len(got) != 1 {
				t.Fatalf("got %d schemas, want 1", len(got))
			}
			if diff := cmp.Diff(twoRowFields, got[0].Input); diff != "" {
				t.Errorf("input (-want +got):\n%s", diff)
			}
		})
	}
}
