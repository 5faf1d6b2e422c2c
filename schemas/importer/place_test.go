package importer

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestImportProblemsNamePlace: every problem says where it is, as a
// hospital engineer finds it in the document: a Word table by the heading
// it is under (Word does not number tables), its row and the column; a
// problem the schema checks find, by the row of the field at fault (not a
// line of a file not yet written); a title with nothing under it, by the
// title.
func TestImportProblemsNamePlace(t *testing.T) {
	t.Parallel()
	hdr := []string{"参数名", "参数说明", "类型", "长度", "是否必填"}
	rows := [][]string{
		hdr,
		{"aac002", "社会保障号码", "字符型", "20", "是"},
		{"aac002", "社会保障号码", "字符型", "20", "是"},
		{"fee", "费用明细", "数组", "", "是"},
	}
	testCases := map[string]struct {
		format   string
		data     func(testing.TB) []byte
		wantErrs []string
	}{
		"docx": {
			format: "docx",
			data: func(tb testing.TB) []byte {
				var tbl []drow
				for _, r := range rows {
					tbl = append(tbl, row(r...))
				}
				return buildDOCX(tb, []dblock{
					{para: "3.2.1 入院登记上传（GYU101）"},
					{para: "本交易上传入院登记信息。"},
					{para: "输入参数"},
					{rows: tbl},
					{para: "3.2.2 出院登记（GYU103）"},
					{para: "本交易的字段见附录。"},
				})
			},
			wantErrs: []string{
				`import spec: table 1 (under "3.2.1 入院登记上传（GYU101）") row 3 column 1 (参数名): GYU101 input: field "aac002" appears twice; the second row is skipped. Remove or rename one`,
				`import spec: paragraph "3.2.2 出院登记（GYU103）": GYU103 (出院登记): no field rows found under its title; nothing is imported for it. Check that its table has a header row with 参数名 and 类型; if it really has no fields, write its file by hand`,
				`import spec: table 1 (under "3.2.1 入院登记上传（GYU101）") row 4: GYU101: the imported schema does not pass the schema checks: field "input.fee.fields": an array needs its fields — add fields: with at least one child field`,
			},
		},
		"csv": {
			format: "csv",
			data: func(testing.TB) []byte {
				all := append([][]string{{"GYU101 入院登记上传"}}, rows...)
				return renderCSV(append(all, []string{"GYU103 出院登记"}))
			},
			wantErrs: []string{
				`import spec: line 4 column A (参数名): GYU101 input: field "aac002" appears twice; the second row is skipped. Remove or rename one`,
				`import spec: line 6: GYU103 (出院登记): no field rows found under its title; nothing is imported for it. Check that its table has a header row with 参数名 and 类型; if it really has no fields, write its file by hand`,
				`import spec: line 5: GYU101: the imported schema does not pass the schema checks: field "input.fee.fields": an array needs its fields — add fields: with at least one child field`,
			},
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, errs := Import(bytes.NewReader(tc.data(t)), tc.format, "workinjury")
			if diff := cmp.Diff(tc.wantErrs, errorStrings(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}
