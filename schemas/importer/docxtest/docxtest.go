// Package docxtest writes small Word (.docx) documents for tests of the
// specification importer: paragraphs and plain tables, in order.
package docxtest

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"strings"
)

// Block is a paragraph (Para) or, when Rows is not nil, a table.
type Block struct {
	Para string
	Rows [][]string
}

// Write returns a .docx holding blocks.
func Write(blocks []Block) ([]byte, error) {
	var body strings.Builder
	para := func(s string) {
		body.WriteString(`<w:p><w:r><w:t xml:space="preserve">`)
		_ = xml.EscapeText(&body, []byte(s))
		body.WriteString(`</w:t></w:r></w:p>`)
	}
	for _, b := range blocks {
		if b.Rows == nil {
			para(b.Para)
			continue
		}
		body.WriteString("<w:tbl>")
		for _, r := range b.Rows {
			body.WriteString("<w:tr>")
			for _, c := range r {
				body.WriteString("<w:tc>")
				para(c)
				body.WriteString("</w:tc>")
			}
			body.WriteString("</w:tr>")
		}
		body.WriteString("</w:tbl>")
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("word/document.xml")
	if err != nil {
		return nil, err
	}
	doc := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` + body.String() + `</w:body></w:document>`
	if _, err := w.Write([]byte(doc)); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
