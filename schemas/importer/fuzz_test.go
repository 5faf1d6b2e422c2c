package importer

import (
	"archive/zip"
	"bytes"
	"testing"

	"github.com/medgate/medgate/schemas"
)

// FuzzImportCSV feeds arbitrary bytes to the CSV importer: it must never
// panic and every schema it returns must be writable.
func FuzzImportCSV(f *testing.F) {
	f.Add([]byte(specCSV))
	f.Add([]byte("GYU101\n参数名,类型,长度\na,数值型,\"99,99\"\nb,日期时间,17\n输出 节点标识：x 列表\nc,数组,,\n"))
	// Two-row headers and code tables, named by a title or by a column,
	// with fields naming them.
	f.Add([]byte("AAC004 性别\n代码值,代码名称\n1,男\n1,女\n代码类别,类别名称,代码值,代码名称\nAAC058,证件类型,01,身份证\n,,02,护照\nGYU101 入院\n字段,,数据类型,,是否必填,代码值\n字段名,字段代码,类型,长度,,\n性别,aac004,字符型,1,是,见字典表 AAC004\n证件,aac058,字符型,2,是,详见附录代码表\n类别,akc021,整数,2,否,见性别代码表\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, _ := Import(bytes.NewReader(data), "csv", "workinjury")
		for _, s := range got {
			if err := schemas.WriteYAML(&bytes.Buffer{}, s); err != nil {
				t.Fatalf("WriteYAML: %v", err)
			}
		}
	})
}

// FuzzImportDOCX feeds arbitrary bytes to the DOCX reader, and a valid
// package around arbitrary document XML: it must never panic, and every
// schema it returns must be writable.
func FuzzImportDOCX(f *testing.F) {
	f.Add(officialDOCX(f), []byte(nil))
	f.Add([]byte(nil), []byte(`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>GYU101 入院登记上传</w:t></w:r></w:p><w:tbl><w:tr><w:tc><w:tcPr><w:vMerge/><w:gridSpan w:val="3"/></w:tcPr><w:p><w:r><w:t>参数名</w:t></w:r></w:p></w:tc></w:tr></w:tbl></w:body></w:document>`))
	f.Add([]byte(nil), []byte(`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:tbl><w:tr><w:tc><w:tbl><w:tr><w:tc><w:p><w:pPr><w:ind w:left="19999"/></w:pPr><w:r><w:t>x</w:t></w:r></w:p></w:tc></w:tr></w:tbl></w:tc></w:tr></w:tbl></w:body></w:document>`))
	f.Add(dictDOCX(f), []byte(nil))
	f.Fuzz(func(t *testing.T, raw, documentXML []byte) {
		data := raw
		if documentXML != nil {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			w, err := zw.Create("word/document.xml")
			if err != nil {
				t.Fatal(err)
			}
			_, _ = w.Write(documentXML)
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			data = buf.Bytes()
		}
		got, _ := Import(bytes.NewReader(data), "docx", "workinjury")
		for _, s := range got {
			if err := schemas.WriteYAML(&bytes.Buffer{}, s); err != nil {
				t.Fatalf("WriteYAML: %v", err)
			}
		}
	})
}
