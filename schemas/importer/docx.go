package importer

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
)

// The WordprocessingML namespace of a .docx body.
const nsW = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

// maxDocxXMLBytes bounds the uncompressed size of the document part.
const maxDocxXMLBytes = 4 * maxImportBytes

// A docxBlock is a body paragraph (its text) or a table (its rows, one
// string per grid column: a cell spanning columns (gridSpan) holds its
// text in its first column, a cell continuing a vertical merge (vMerge)
// repeats the text of the cell that starts it, and columns a row leaves
// out (gridBefore) are empty).
type docxBlock struct {
	para  string
	table [][]string
	toc   bool // a paragraph of the table of contents (style TOC1, 目录 1…)
}

// readDOCX reads the body of a Word document in order: paragraphs between
// tables are titles ("3.2.1 入院登记上传（GYU101）") or section rows
// ("输出参数"); tables are field tables.
func (im *importer) readDOCX(data []byte) {
	blocks, err := docxBlocks(data)
	if err != nil {
		im.errorf("", "%v", err)
		im.fatal = true
		return
	}
	im.reset()
	tables := 0
	for _, b := range blocks {
		if b.table == nil {
			if !b.toc {
				im.paragraph(b.para)
			}
			continue
		}
		tables++
		// Word does not number tables: the heading above finds it.
		at := fmt.Sprintf("table %d", tables)
		if im.docHeading != "" {
			at += fmt.Sprintf(" (under %q)", im.docHeading)
		}
		for i, r := range b.table {
			im.row(fmt.Sprintf("%s row %d", at, i+1), r)
		}
	}
}

var errNotDocx = errors.New("not a .docx")

// docxBlocks opens the package and parses its main document part.
func docxBlocks(data []byte) ([]docxBlock, error) {
	if bytes.HasPrefix(data, []byte("\xd0\xcf\x11\xe0")) {
		return nil, fmt.Errorf("the file is a Word 97-2003 .doc (or another OLE file), not a .docx; open it in Word or WPS and save it as .docx")
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("cannot open the DOCX: %v; check that it is a Word .docx document (a PDF must be exported to XLSX first)", err)
	}
	part := "word/document.xml"
	if rels := zipFile(zr, "_rels/.rels"); rels != nil {
		if t, err := officeDocumentTarget(rels); err == nil && t != "" {
			part = t
		}
	}
	f := zipFile(zr, part)
	if f == nil {
		return nil, fmt.Errorf("cannot open the DOCX: it has no %s; check that it is a Word .docx document (an .xlsx workbook is imported as .xlsx)", part)
	}
	if f.UncompressedSize64 > maxDocxXMLBytes {
		return nil, fmt.Errorf("the DOCX's %s is larger than %d MiB; split the document by chapter", part, maxDocxXMLBytes>>20)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("cannot open the DOCX's %s: %v; save the document again in Word", part, err)
	}
	defer rc.Close()
	blocks, err := parseDocument(io.LimitReader(rc, maxDocxXMLBytes))
	if errors.Is(err, errNotDocx) {
		return nil, fmt.Errorf("cannot open the DOCX: its main part %s is not a Word document; check that it is a Word .docx document (an .xlsx workbook is imported as .xlsx)", part)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the DOCX's %s: %v; save the document again in Word as .docx", part, err)
	}
	return blocks, nil
}

func zipFile(zr *zip.Reader, name string) *zip.File {
	for _, f := range zr.File {
		if strings.EqualFold(strings.TrimPrefix(f.Name, "/"), name) {
			return f
		}
	}
	return nil
}

// officeDocumentTarget reads the package relationships for the main part.
func officeDocumentTarget(f *zip.File) (string, error) {
	if f.UncompressedSize64 > 1<<20 {
		return "", errNotDocx
	}
	rc, err := f.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var rels struct {
		Rel []struct {
			Type   string `xml:"Type,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	if err := xml.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&rels); err != nil {
		return "", err
	}
	for _, r := range rels.Rel {
		if strings.HasSuffix(r.Type, "/officeDocument") {
			return path.Clean(strings.TrimPrefix(r.Target, "/")), nil
		}
	}
	return "", nil
}

// docxTable collects the rows of one table being parsed.
type docxTable struct {
	rows [][]string
	row  []string
	// the cell being read
	cell    strings.Builder
	span    int
	vmerge  bool
	inCell  bool
	inRow   bool
	started bool // the cell has a paragraph already
}

// parseDocument walks document.xml. Text inside a table cell belongs to
// the outermost table's cell (a table nested in a cell adds its text to
// that cell); text outside tables forms paragraphs.
func parseDocument(r io.Reader) ([]docxBlock, error) {
	d := xml.NewDecoder(r)
	var (
		blocks []docxBlock
		para   strings.Builder
		tbl    *docxTable
		depth  int // nesting of w:tbl
		inText bool
		indent int
		toc    bool // the body paragraph has a contents style
		root   bool // the root element was w:document
	)
	text := func(s string) {
		if tbl != nil && tbl.inCell {
			tbl.cell.WriteString(s)
		} else if depth == 0 {
			para.WriteString(s)
		}
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !root {
				if t.Name.Space != nsW || t.Name.Local != "document" {
					return nil, errNotDocx
				}
				root = true
			}
			if t.Name.Space != nsW {
				continue
			}
			switch t.Name.Local {
			case "tbl":
				depth++
				if depth == 1 {
					tbl = &docxTable{}
				}
			case "tr":
				if depth == 1 {
					tbl.row, tbl.inRow = nil, true
				}
			case "tc":
				if depth == 1 && tbl.inRow {
					tbl.cell.Reset()
					tbl.span, tbl.vmerge, tbl.inCell, tbl.started = 1, false, true, false
				}
			case "gridSpan":
				if depth == 1 && tbl.inCell {
					if n, err := strconv.Atoi(attr(t, "val")); err == nil && n > 1 && n <= 64 {
						tbl.span = n
					}
				}
			case "gridBefore":
				// Grid columns the row leaves out before its first cell.
				if depth == 1 && tbl.inRow && !tbl.inCell {
					if n, err := strconv.Atoi(attr(t, "val")); err == nil && n > 0 && n <= 64 {
						tbl.row = append(tbl.row, make([]string, n)...)
					}
				}
			case "vMerge":
				if depth == 1 && tbl.inCell {
					v := attr(t, "val")
					tbl.vmerge = v == "" || v == "continue"
				}
			case "p":
				indent, toc = 0, false
				if tbl != nil && tbl.inCell && tbl.started {
					tbl.cell.WriteString("\n")
				}
				if tbl != nil && tbl.inCell {
					tbl.started = true
				}
			case "pStyle":
				v := strings.ToLower(attr(t, "val"))
				toc = strings.HasPrefix(v, "toc") || strings.HasPrefix(v, "目录") || strings.HasPrefix(v, "contents")
			case "ind":
				// Indentation of the paragraph: left (or start) in twips,
				// kept as leading spaces so nested rows can be told apart.
				for _, a := range []string{"left", "start"} {
					if n, err := strconv.Atoi(attr(t, a)); err == nil && n > 0 && n < 20000 {
						indent = n
						break
					}
				}
			case "t":
				inText = true
				if indent > 0 {
					text(strings.Repeat(" ", indent/105))
					indent = 0
				}
			case "tab":
				text("\t")
			case "br", "cr":
				text("\n")
			}
		case xml.EndElement:
			if t.Name.Space != nsW {
				continue
			}
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				if depth == 0 {
					blocks = append(blocks, docxBlock{para: para.String(), toc: toc})
					para.Reset()
				} else if tbl != nil && tbl.inCell && depth > 1 {
					tbl.cell.WriteString(" ")
				}
			case "tc":
				if depth == 1 && tbl.inCell {
					col := len(tbl.row)
					s := tbl.cell.String()
					if tbl.vmerge {
						// The text of the cell above in the same grid column.
						if n := len(tbl.rows); n > 0 && col < len(tbl.rows[n-1]) {
							s = tbl.rows[n-1][col]
						}
					}
					tbl.row = append(tbl.row, s)
					for i := 1; i < tbl.span; i++ {
						tbl.row = append(tbl.row, "")
					}
					tbl.inCell = false
				}
			case "tr":
				if depth == 1 && tbl.inRow {
					tbl.rows = append(tbl.rows, tbl.row)
					tbl.inRow = false
				}
			case "tbl":
				depth--
				if depth == 0 {
					if tbl.rows == nil {
						tbl.rows = [][]string{}
					}
					blocks = append(blocks, docxBlock{table: tbl.rows})
					tbl = nil
				}
			}
		case xml.CharData:
			if inText {
				text(string(t))
			}
		}
	}
	if !root {
		return nil, errNotDocx
	}
	if depth != 0 {
		return nil, errors.New("the document ends inside a table")
	}
	return blocks, nil
}

func attr(e xml.StartElement, local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}
