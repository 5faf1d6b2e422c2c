package importer

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/medgate/medgate/schemas"
)

// A docx block: a paragraph (para) or a table (rows).
type dblock struct {
	para   string
	indent int    // paragraph indentation in twips (w:ind w:left)
	style  string // paragraph style (w:pStyle), e.g. TOC1
	rows   []drow
}

type drow struct {
	header bool // w:tblHeader: a header row Word repeats on every page
	before int  // w:gridBefore: grid columns left empty before the first cell
	cells  []dcell
}

type dcell struct {
	text   string // paragraphs separated by \n
	span   int    // w:gridSpan
	vmerge string // "restart", "continue" or "" (no vMerge)
	indent int    // w:ind w:left of the cell's paragraphs, in twips
}

// c is a plain cell; row builds a row of plain cells.
func c(s string) dcell { return dcell{text: s} }

func row(cells ...string) drow {
	r := drow{}
	for _, s := range cells {
		r.cells = append(r.cells, c(s))
	}
	return r
}

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// paraXML writes one paragraph, its runs split in two as Word often does.
func paraXML(text string, indent int, style ...string) string {
	var b strings.Builder
	b.WriteString("<w:p>")
	if len(style) > 0 && style[0] != "" {
		fmt.Fprintf(&b, `<w:pPr><w:pStyle w:val="%s"/></w:pPr>`, style[0])
	}
	if indent > 0 {
		fmt.Fprintf(&b, `<w:pPr><w:ind w:left="%d"/></w:pPr>`, indent)
	}
	r := []rune(text)
	half := len(r) / 2
	for _, part := range []string{string(r[:half]), string(r[half:])} {
		if part != "" {
			fmt.Fprintf(&b, `<w:r><w:rPr><w:rFonts w:hint="eastAsia"/></w:rPr><w:t xml:space="preserve">%s</w:t></w:r>`, esc(part))
		}
	}
	b.WriteString("</w:p>")
	return b.String()
}

// buildDOCX writes a minimal WordprocessingML package holding blocks.
func buildDOCX(tb testing.TB, blocks []dblock) []byte {
	tb.Helper()
	var body strings.Builder
	for _, bl := range blocks {
		if bl.rows == nil {
			body.WriteString(paraXML(bl.para, bl.indent, bl.style))
			continue
		}
		body.WriteString(`<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/></w:tblPr><w:tblGrid><w:gridCol w:w="1000"/></w:tblGrid>`)
		for _, r := range bl.rows {
			body.WriteString("<w:tr>")
			if r.header {
				body.WriteString("<w:trPr><w:tblHeader/></w:trPr>")
			}
			if r.before > 0 {
				fmt.Fprintf(&body, `<w:trPr><w:gridBefore w:val="%d"/></w:trPr>`, r.before)
			}
			for _, cl := range r.cells {
				body.WriteString("<w:tc><w:tcPr><w:tcW w:w=\"1000\" w:type=\"dxa\"/>")
				if cl.span > 1 {
					fmt.Fprintf(&body, `<w:gridSpan w:val="%d"/>`, cl.span)
				}
				switch cl.vmerge {
				case "restart":
					body.WriteString(`<w:vMerge w:val="restart"/>`)
				case "continue":
					body.WriteString(`<w:vMerge/>`)
				}
				body.WriteString("</w:tcPr>")
				for _, p := range strings.Split(cl.text, "\n") {
					body.WriteString(paraXML(p, cl.indent))
				}
				body.WriteString("</w:tc>")
			}
			body.WriteString("</w:tr>")
		}
		body.WriteString("</w:tbl>")
	}
	doc := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
		`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><w:body>` +
		body.String() + `<w:sectPr/></w:body></w:document>`
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	files := []struct{ name, data string }{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`},
		{"word/document.xml", doc},
	}
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write([]byte(f.data)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// officialDOCX is laid out as Chinese interface specifications are: a
// numbered heading naming the transaction before its tables, 输入/输出 as
// paragraphs or as a merged first column, a header row Word repeats on
// every page, a table split across pages, lengths written as
// VARCHAR2(30) / NUMBER(16,2), 是否必填 as 是/否/√/可选, and nested lists
// written with └, with indentation and as 节点/子节点.
func officialDOCX(tb testing.TB) []byte {
	tb.Helper()
	hdr := drow{header: true, cells: []dcell{c("序号"), c("参数名"), c("参数说明"), c("类型"), c("长度"), c("是否必填"), c("代码值"), c("备注")}}
	return buildDOCX(tb, []dblock{
		{para: "工伤保险跨省异地就医接口规范（测试用）"},
		{para: "本规范的交易均以 JSON 报文传输，请求与返回均使用 UTF-8 编码。"},
		{para: "3.2.1 入院登记上传（GYU101）"},
		{para: "输入参数"},
		{rows: []drow{
			hdr,
			row("1", "aac002", "社会保障号码", "字符型", "VARCHAR2(20)", "是", "", ""),
			row("2", "aac003", "姓名", "字符型", "VARCHAR2(50)", "√", "", ""),
			row("3", "aac004", "性别", "字符型", "1", "否", "1:男;2:女", ""),
			row("4", "akc264", "医疗费总额", "数值型", "NUMBER(16,2)", "Y", "", "单位：元"),
		}},
		// The same table continued on the next page: Word's repeated
		// header row, and one more field.
		{rows: []drow{
			hdr,
			row("5", "ykc701", "入院日期", "日期", "8", "必填", "", "yyyyMMdd"),
			// A row whose first grid column is left out (w:gridBefore).
			{before: 1, cells: []dcell{c("ykc702"), c("入院科室"), c("字符型"), c("20"), c("否"), c(""), c("")}},
		}},
		{para: "输出参数"},
		{rows: []drow{
			hdr,
			row("1", "ykc700", "就诊登记号", "字符型", "30", "是", "", ""),
		}},
		{para: "3.2.2 GYU102 费用明细上传"},
		{rows: []drow{
			{cells: []dcell{{text: "类别"}, c("参数名"), c("参数说明"), c("类型"), c("长度"), c("是否必填")}, header: true},
			{cells: []dcell{{text: "输入", vmerge: "restart"}, c("ykc700"), c("就诊登记号"), c("字符型"), c("30"), c("是")}},
			{cells: []dcell{{vmerge: "continue"}, c("feedetail"), c("费用明细列表"), c("数组"), c(""), c("是")}},
			{cells: []dcell{{vmerge: "continue"}, c("└ fee_no"), c("明细流水号"), c("字符型"), c("30"), c("是")}},
			{cells: []dcell{{vmerge: "continue"}, c("└ qty"), c("数量"), c("数值型"), c("NUMBER(12,4)"), c("是")}},
			{cells: []dcell{{vmerge: "continue"}, {text: "item", indent: 420}, c("项目"), c("对象"), c(""), c("否")}},
			{cells: []dcell{{vmerge: "continue"}, {text: "item_code", indent: 840}, c("项目编码"), c("字符型"), c("50"), c("否")}},
			{cells: []dcell{{vmerge: "continue"}, c("feedetail/memo"), c("明细备注"), c("字符型"), c("100"), c("可选")}},
			{cells: []dcell{{text: "输出", vmerge: "restart"}, c("result"), c("处理结果"), c("字符型"), c("2"), c("是")}},
			{cells: []dcell{{vmerge: "continue"}, c("faillist"), c("失败明细"), c("数组"), c(""), c("否")}},
			{cells: []dcell{{vmerge: "continue"}, c("faillist.fee_no"), c("明细流水号"), c("字符型"), c("30"), c("是")}},
		}},
		{para: "3.2.3 下载结果反馈（GYU008）"},
		{rows: []drow{
			{cells: []dcell{{text: "输入", span: 5}}},
			{cells: []dcell{c("参数名"), c("参数说明"), {text: "类型", span: 1}, c("长度"), c("是否必填")}},
			row("batch_no", "批次号", "字符型", "30", "是"),
			row("records", "记录", "数组", "", "是"),
			row("　　record_no", "记录号", "字符型", "30", "是"),
		}},
	})
}

var wantDOCX = []*schemas.Schema{
	{
		Code: "GYU101", Name: "入院登记上传", System: "workinjury", Direction: schemas.DirectionUpload,
		Source: source("docx", schemas.DirectionUpload),
		Input: []schemas.Field{
			{Name: "aac002", Label: "社会保障号码", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 20, Required: true, Personal: true},
			{Name: "aac003", Label: "姓名", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 50, Required: true, Personal: true},
			{Name: "aac004", Label: "性别", Type: schemas.Type{Kind: schemas.KindEnum}, MaxLength: 1, Codes: map[string]string{"1": "男", "2": "女"}},
			{Name: "akc264", Label: "医疗费总额", Type: schemas.Type{Kind: schemas.KindDecimal, Precision: 16, Scale: 2}, Required: true, Description: "单位：元"},
			{Name: "ykc701", Label: "入院日期", Type: schemas.Type{Kind: schemas.KindDate}, Required: true, Format: "20060102", Description: "yyyyMMdd"},
			{Name: "ykc702", Label: "入院科室", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 20},
		},
		Output: []schemas.Field{
			{Name: "ykc700", Label: "就诊登记号", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 30, Required: true},
		},
	},
	{
		Code: "GYU102", Name: "费用明细上传", System: "workinjury", Direction: schemas.DirectionUpload,
		Source: source("docx", schemas.DirectionUpload),
		Input: []schemas.Field{
			{Name: "ykc700", Label: "就诊登记号", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 30, Required: true},
			{Name: "feedetail", Label: "费用明细列表", Type: schemas.Type{Kind: schemas.KindArray}, Required: true, Fields: []schemas.Field{
				{Name: "fee_no", Label: "明细流水号", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 30, Required: true},
				{Name: "qty", Label: "数量", Type: schemas.Type{Kind: schemas.KindDecimal, Precision: 12, Scale: 4}, Required: true},
				{Name: "item", Label: "项目", Type: schemas.Type{Kind: schemas.KindObject}, Fields: []schemas.Field{
					{Name: "item_code", Label: "项目编码", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 50},
				}},
				{Name: "memo", Label: "明细备注", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 100},
			}},
		},
		Output: []schemas.Field{
			{Name: "result", Label: "处理结果", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 2, Required: true},
			{Name: "faillist", Label: "失败明细", Type: schemas.Type{Kind: schemas.KindArray}, Fields: []schemas.Field{
				{Name: "fee_no", Label: "明细流水号", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 30, Required: true},
			}},
		},
	},
	{
		Code: "GYU008", Name: "下载结果反馈", System: "workinjury", Direction: schemas.DirectionFeedback,
		Source: source("docx", schemas.DirectionFeedback),
		Input: []schemas.Field{
			{Name: "batch_no", Label: "批次号", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 30, Required: true},
			{Name: "records", Label: "记录", Type: schemas.Type{Kind: schemas.KindArray}, Required: true, Fields: []schemas.Field{
				{Name: "record_no", Label: "记录号", Type: schemas.Type{Kind: schemas.KindString}, MaxLength: 30, Required: true},
			}},
		},
	},
}

// TestImportDOCX reads the tables of a Word specification laid out as the
// official ones are.
func TestImportDOCX(t *testing.T) {
	t.Parallel()
	got, errs := Import(bytes.NewReader(officialDOCX(t)), "docx", "workinjury")
	if len(errs) != 0 {
		t.Errorf("errors: %v", errorStrings(errs))
	}
	if diff := cmp.Diff(wantDOCX, got); diff != "" {
		t.Errorf("schemas (-want +got):\n%s", diff)
	}
	roundTrip(t, got)
}

// TestImportDOCXContentsAndEmptyTitles: the table of contents does not
// name transactions (nor give them its dotted names), and a title with no
// field table after it imports nothing for it (an empty file would replace
// the built-in schema with no fields at all): it is reported.
func TestImportDOCXContentsAndEmptyTitles(t *testing.T) {
	t.Parallel()
	hdr := row("参数名", "参数说明", "类型", "长度", "是否必填")
	data := buildDOCX(t, []dblock{
		{para: "目录"},
		{para: "GYU101 入院登记上传……\t3", style: "TOC2"},
		{para: "GYU999 目录里的交易……\t9", style: "TOC2"},
		{para: "GYU101 入院登记上传"},
		{rows: []drow{hdr, row("aac002", "社会保障号码", "字符型", "20", "是")}},
		{para: "GYU998 只有标题的交易"},
		{para: "本交易的字段见附录。"},
	})
	got, errs := Import(bytes.NewReader(data), "docx", "workinjury")
	wantErrs := []string{
		`import spec: paragraph "GYU998 只有标题的交易": GYU998 (只有标题的交易): no field rows found under its title; nothing is imported for it. Check that its table has a header row with 参数名 and 类型; if it really has no fields, write its file by hand`,
	}
	if diff := cmp.Diff(wantErrs, errorStrings(errs)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	var codes []string
	for _, s := range got {
		codes = append(codes, s.Code+" "+s.Name)
	}
	if diff := cmp.Diff([]string{"GYU101 入院登记上传"}, codes); diff != "" {
		t.Errorf("transactions (-want +got):\n%s", diff)
	}
}

// TestImportTransactionInfoTable: specifications often open each
// transaction with a small table of its particulars (交易编号 | GYU101 |
// 交易名称 | 入院登记上传) rather than a heading naming the code.
func TestImportTransactionInfoTable(t *testing.T) {
	t.Parallel()
	hdr := row("参数名", "参数说明", "类型", "长度", "是否必填")
	data := buildDOCX(t, []dblock{
		{para: "3.2.1 入院登记"},
		{rows: []drow{
			row("交易编号", "GYU101", "交易名称", "入院登记上传"),
			row("请求方式", "POST", "报文格式", "JSON"),
		}},
		{rows: []drow{hdr, row("aac002", "社会保障号码", "字符型", "20", "是")}},
		{para: "3.2.2 出院登记"},
		{rows: []drow{
			row("接口编号", "GYU103", "", ""),
			row("接口名称", "出院结算上传", "", ""),
			hdr,
			row("ykc700", "就诊登记号", "字符型", "30", "是"),
		}},
		// The particulars as paragraphs.
		{para: "交易编号：GYU104"},
		{para: "交易名称：出院结算撤销"},
		{rows: []drow{hdr, row("settle_no", "结算编号", "字符型", "30", "是")}},
	})
	got, errs := Import(bytes.NewReader(data), "docx", "workinjury")
	if len(errs) != 0 {
		t.Errorf("errors: %v", errorStrings(errs))
	}
	var codes []string
	for _, s := range got {
		codes = append(codes, s.Code+" "+s.Name+" "+strings.Join(fieldNames(s.Input), ","))
	}
	if diff := cmp.Diff([]string{"GYU101 入院登记上传 aac002", "GYU103 出院结算上传 ykc700", "GYU104 出院结算撤销 settle_no"}, codes); diff != "" {
		t.Errorf("transactions (-want +got):\n%s", diff)
	}
}
