// Package importer turns the field tables of an official interface
// specification (DOCX, XLSX or CSV) into schemas: [Import] reads them, and
// [schemas.WriteYAML] writes each as a schema file. It is what
// `medgate import-spec` runs.
//
// It is a package of its own so that package schemas, which every plugin
// links to validate messages, does not link the Excel stack (excelize and
// the OLE readers it needs) that only the importer uses.
package importer

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing/fstest"
	"unicode"
	"unicode/utf8"

	"github.com/medgate/medgate/schemas"
	"github.com/xuri/excelize/v2"
)

// ErrImport is wrapped by every error [Import] returns.
var ErrImport = errors.New("import spec")

// maxImportBytes bounds the size of a specification file Import reads.
const maxImportBytes = 64 << 20

// Import reads the field tables of an official interface specification and
// returns one schema per transaction found, for the given system.
//
// format is "docx", "xlsx" or "csv". A table has a header row naming its columns
// (参数名, 参数说明, 类型, 长度, 是否必填; synonyms such as 字段名, 名称,
// 数据类型, 必填, 备注 are accepted; a header in two rows, 字段 over
// 字段名/字段代码 or 长度 over 类型/长度, is read as one) followed by one row per field. A row
// that starts with a transaction code ("GYU101 入院登记上传", "【4201A】…")
// starts or resumes that transaction's section. In XLSX, each sheet is a
// section of its own, named by the sheet name when it is a code, or by a
// title row. In DOCX, the paragraphs between tables name the transaction
// ("3.2.1 入院登记上传（GYU101）") or switch sides ("输出参数"), and merged
// cells are read as Word shows them. Rows reading 输入/输出 (or 入参/出参) switch between input and
// output fields; a note like "节点标识：feedetail" in such a row gathers the
// following rows under that node (an array when the row mentions 列表, 明细
// or 数组, else an object). Rows also nest under the node row above them
// when drawn with └ or indented, or when named 节点/子节点.
//
// A code list written out in a 代码值 cell ("1:男;2:女") makes a text field
// an enum. A cell naming a dictionary ("见字典表 AAC004", "AAC004" in a
// 代码值 or 字典 column, "详见附录代码表" for the one named after the
// field) takes that dictionary's codes when its table is in the document:
// a 代码值 | 代码名称 table under a heading naming it ("性别（AAC004）",
// "AAC004 性别"), or a table of every dictionary (代码类别 | 类别名称 |
// 代码值 | 代码名称). A dictionary the document lacks is reported, naming
// the field and the dictionary; the field stays text.
//
// Types map as 字符型/VARCHAR/C → string, 数值型/NUMBER(p,s) → decimal,
// 整数/INT → integer, 日期 → date, 日期时间 → datetime; 是否必填 Y/是/必填/1
// marks a field required. Lengths are "20", "16,2" for decimals, or
// VARCHAR2(30) / NUMBER(16,2); "30 BYTE" or "30字节" counts bytes. The
// direction of each transaction is guessed from its code and name; the
// schemas are marked as imported (reconstructed: false) and should be
// reviewed before use.
//
// Import returns the schemas it could build together with every problem
// found; a problem names the row (and the column; in a DOCX the table
// also by the heading above it) and says what was done (the row skipped or
// a default used) and how to fix the table. A problem of the schema checks
// names the row of the field at fault, one of a whole transaction its title.
func Import(r io.Reader, format, system string) ([]*schemas.Schema, []error) {
	if strings.TrimSpace(system) == "" || strings.ContainsAny(system, "/\\. ") {
		return nil, []error{fmt.Errorf("%w: system %q is not a directory name; pass the system the spec belongs to, for example workinjury", ErrImport, system)}
	}
	data, err := io.ReadAll(io.LimitReader(r, maxImportBytes+1))
	if err != nil {
		return nil, []error{fmt.Errorf("%w: reading the %s file: %w", ErrImport, format, err)}
	}
	if len(data) > maxImportBytes {
		return nil, []error{fmt.Errorf("%w: the file is larger than %d MiB; split it by transaction", ErrImport, maxImportBytes>>20)}
	}
	im := &importer{system: system, format: format, byCode: map[string]*schemas.Schema{}, noRequired: map[string]bool{}, fieldRows: map[string]int{}, titlePos: map[string]string{}, fieldPos: map[string]string{}}
	switch strings.ToLower(format) {
	case "csv":
		im.readCSV(data)
	case "xlsx":
		im.readXLSX(data)
	case "docx":
		im.readDOCX(data)
	default:
		return nil, []error{fmt.Errorf("%w: format %q is not supported; use csv, xlsx or docx (export the tables of a PDF to XLSX first)", ErrImport, format)}
	}
	im.resolveRefs()
	if len(im.schemas) == 0 && !im.fatal {
		im.errorf("", "no transaction found; start each table with a row holding the transaction code (for example GYU101 入院登记上传), or name each sheet after its code")
	}
	// A title with no field rows under it (a heading of prose, a table the
	// importer could not read) would be written as a schema with no fields,
	// which replaces the built-in one and checks nothing.
	kept := im.schemas[:0]
	for _, s := range im.schemas {
		switch {
		case len(s.Input) > 0 || len(s.Output) > 0:
		case im.fieldRows[s.Code] > 0:
			im.errorf(im.titlePos[s.Code], "%s (%s): none of its field rows could be imported (the problems above say why); nothing is imported for it", s.Code, s.Name)
			continue
		default:
			im.errorf(im.titlePos[s.Code], "%s (%s): no field rows found under its title; nothing is imported for it. Check that its table has a header row with 参数名 and 类型; if it really has no fields, write its file by hand", s.Code, s.Name)
			continue
		}
		kept = append(kept, s)
	}
	im.schemas = kept
	for _, s := range im.schemas {
		im.check(s)
	}
	return im.schemas, im.errs
}

type importer struct {
	system, format string
	schemas        []*schemas.Schema
	byCode         map[string]*schemas.Schema
	errs           []error
	fatal          bool            // the file could not be read at all
	noRequired     map[string]bool // transactions told their table has no 是否必填 column
	fieldRows      map[string]int  // field rows seen per transaction, imported or not
	// Where things are, for problems found after the rows are read: the
	// row or paragraph being read, each transaction's title, each field's
	// row (by code, side and dotted path), and in a Word document the last
	// heading above the table being read.
	where      string
	titlePos   map[string]string
	fieldPos   map[string]string
	docHeading string

	cur    *schemas.Schema
	titled *schemas.Schema // the schema the last title created, until a row of it is read
	// untitled is the schema whose title a code table below it took as
	// its dictionary's: a field table that follows with no title between
	// gives it back.
	untitled *schemas.Schema
	last     []string // the previous non-empty row, the first row of a two-row header
	// heading is the last heading (a short paragraph, a title row): what
	// names a code table below it.
	heading string
	// Code tables: those read so far, the one being read and its columns
	// (nil outside one), the dictionary code of its last row, and the
	// fields that name a dictionary, resolved at the end.
	dicts    []*dict
	dict     *dict
	dcols    *dictColumns
	dictCode string
	refs     []codeRef
	side     string         // "input" or "output"
	parent   *schemas.Field // node that collects rows, nil for the top level
	cols     *columns
	// nest holds the open nodes (array or object fields) of the current
	// list, outermost first, each with the indentation of its row: a row
	// indented deeper than a node's row (└, │, spaces) is its child.
	nest []openNode
}

// openNode is a node field rows may nest under: its path of indexes from
// the current list, and the indentation of its own row.
type openNode struct {
	path   []int
	indent int
}

func (im *importer) errorf(pos, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if pos != "" {
		msg = pos + ": " + msg
	}
	im.errs = append(im.errs, fmt.Errorf("%w: %s", ErrImport, msg))
}

func (im *importer) readCSV(data []byte) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		im.errorf("", "the CSV file is not UTF-8 (Excel often saves GBK); save it as \"CSV UTF-8\" or import the XLSX instead")
		im.fatal = true
		return
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	im.reset()
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			im.errorf(fmt.Sprintf("line %d", line), "cannot read the CSV: %v; fix the quoting", err)
			im.fatal = true
			return
		}
		im.row(fmt.Sprintf("line %d", line), rec)
	}
}

func (im *importer) readXLSX(data []byte) {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: 4 * maxImportBytes, UnzipXMLSizeLimit: maxImportBytes})
	if err != nil {
		im.errorf("", "cannot open the XLSX: %v; check that it is an .xlsx workbook (not .xls or .docx)", err)
		im.fatal = true
		return
	}
	defer f.Close()
	for _, sheet := range f.GetSheetList() {
		rows, err := f.GetRows(sheet)
		if err != nil {
			im.errorf(fmt.Sprintf("sheet %q", sheet), "cannot read rows: %v", err)
			continue
		}
		im.reset()
		im.where = fmt.Sprintf("sheet %q", sheet)
		if code, name, ok := titleCode(sheet); ok {
			im.start(code, name)
		}
		for i, r := range rows {
			im.row(fmt.Sprintf("sheet %q row %d", sheet, i+1), r)
		}
	}
}

// reset forgets the current table, as at the start of a file or sheet.
func (im *importer) reset() {
	im.cur, im.side, im.parent, im.cols, im.nest, im.last = nil, "input", nil, nil, nil, nil
	im.titled, im.heading, im.dict, im.dcols, im.dictCode, im.untitled = nil, "", nil, nil, "", nil
}

func (im *importer) start(code, name string) {
	s, ok := im.byCode[code]
	im.titled = nil
	if !ok {
		s = &schemas.Schema{Code: code, System: im.system}
		im.byCode[code] = s
		im.schemas = append(im.schemas, s)
		im.titled = s
		im.titlePos[code] = im.where
	}
	im.dict, im.dcols, im.untitled = nil, nil, nil
	if s.Name == "" {
		s.Name = name
	}
	im.cur, im.side, im.parent, im.nest = s, "input", nil, nil
}

// Column roles of a field table.
type columns struct {
	name, label, typ, length, required int
	node                               int      // 父节点: the node each row belongs to
	desc                               []int    // 备注, 代码值, 说明…: joined into the description
	bytes                              bool     // the length header says 字节
	nullable                           bool     // the required column asks 是否为空: 否 means required
	titles                             []string // the header row, to name columns in errors
}

var headerWords = map[string][]string{
	"name":     {"参数名", "参数代码", "参数编码", "参数标识", "字段名", "字段代码", "字段编码", "字段标识", "数据项", "数据项代码", "数据元", "代码", "编码", "标识", "属性名", "参数", "NAME", "FIELD", "FIELDNAME", "CODE", "PARAM"},
	"label":    {"参数说明", "参数名称", "字段名称", "字段说明", "中文名称", "中文名", "名称", "含义", "数据项名称", "LABEL", "TITLE"},
	"type":     {"类型", "数据类型", "字段类型", "参数类型", "TYPE", "DATATYPE"},
	"length":   {"长度", "字段长度", "最大长度", "数据长度", "LENGTH", "LEN", "SIZE"},
	"required": {"是否必填", "必填", "必填项", "是否必须", "必须", "必输", "是否必输", "约束", "是否非空", "非空", "REQUIRED", "MANDATORY"},
	"node":     {"节点", "父节点", "所属节点", "节点名称", "上级节点", "PARENT", "NODE"},
	// nullable headers ask the opposite question: 否 means required.
	"nullable": {"是否为空", "是否可空", "可否为空", "可为空", "可空", "允许为空", "是否允许为空", "能否为空", "NULLABLE", "ALLOWNULL", "NULL"},
	"desc":     {"备注", "描述", "说明", "代码值", "代码", "字典", "代码表", "字典值", "值域", "取值说明", "取值范围", "REMARK", "REMARKS", "DESCRIPTION", "NOTE"},
}

func normHeader(s string) string {
	s = strings.ToUpper(strings.Join(strings.Fields(s), ""))
	if i := strings.IndexAny(s, "(（"); i > 0 {
		s = s[:i]
	}
	return s
}

// isHeaderWord reports whether a cell is a column title of a field table.
func isHeaderWord(s string) bool {
	h := normHeader(s)
	for _, words := range headerWords {
		if slices.Contains(words, h) {
			return true
		}
	}
	return false
}

// keyHeader reports whether a name-column title says it holds the key
// (字段代码, 参数编码) rather than the name (字段名, 参数名): when a table
// has both, the key is the parameter name and the other is the label.
func keyHeader(h string) bool {
	return utf8.RuneCountInString(h) > 2 && (strings.Contains(h, "代码") || strings.Contains(h, "编码") || strings.Contains(h, "标识")) || h == "CODE"
}

// subHeader reads the second row of a two-row header: a merged cell of
// the first row (字段, 长度, 数据类型) over the titles of the columns it
// groups (字段名/字段代码, 类型/长度). Every filled cell of the second row
// is a column title; each column takes the title below it, or the one
// above it where the second row is empty (a cell merged down, which Word
// repeats and a workbook leaves empty). It returns nil when the two rows
// do not make a header.
func subHeader(top, sub []string) *columns {
	if top == nil || !slices.ContainsFunc(top, isHeaderWord) {
		return nil
	}
	for i := range sub {
		if v := cell(sub, i); v != "" && !isHeaderWord(v) && !isHeaderWord(cell(top, i)+v) {
			return nil
		}
	}
	merged := make([]string, max(len(top), len(sub)))
	changed := false
	for i := range merged {
		t, s := cell(top, i), cell(sub, i)
		switch {
		case s == "" || s == t:
			merged[i] = t
		case !isHeaderWord(s):
			merged[i], changed = t+s, true // 字段 over 代码: 字段代码
		default:
			merged[i], changed = s, true
		}
	}
	if !changed {
		return nil
	}
	return header(merged)
}

// header recognises a header row and returns its column roles.
func header(cells []string) *columns {
	c := &columns{name: -1, label: -1, typ: -1, length: -1, required: -1, node: -1, titles: cells}
	set := func(p *int, i int) bool {
		if *p < 0 {
			*p = i
			return true
		}
		return false
	}
	for i, cell := range cells {
		h := normHeader(cell)
		if h == "" {
			continue
		}
		if c.name >= 0 && slices.Contains(headerWords["name"], h) {
			// 字段名 | 字段代码: the key column is the name, the other the label.
			other := normHeader(cells[c.name])
			switch {
			case keyHeader(h) && !keyHeader(other):
				if c.label < 0 {
					c.label = c.name
				}
				c.name = i
				continue
			case keyHeader(other) && !keyHeader(h) && c.label < 0:
				c.label = i
				continue
			}
		}
		switch {
		case slices.Contains(headerWords["name"], h) && set(&c.name, i):
		case slices.Contains(headerWords["label"], h) && set(&c.label, i):
		case slices.Contains(headerWords["type"], h) && set(&c.typ, i):
		case slices.Contains(headerWords["length"], h) && set(&c.length, i):
			c.bytes = strings.Contains(cell, "字节") || strings.Contains(strings.ToLower(cell), "byte")
		case slices.Contains(headerWords["required"], h) && set(&c.required, i):
		case slices.Contains(headerWords["nullable"], h) && set(&c.required, i):
			c.nullable = true
		case slices.Contains(headerWords["node"], h) && set(&c.node, i):
		case slices.Contains(headerWords["desc"], h):
			// 说明 is the label when no other label column exists.
			if h == "说明" && c.label < 0 {
				c.label = i
			} else {
				c.desc = append(c.desc, i)
			}
		}
	}
	if c.name < 0 || c.typ < 0 {
		return nil
	}
	return c
}

func cell(cells []string, i int) string {
	if i < 0 || i >= len(cells) {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(cells[i], "\u00a0", " "))
}

var (
	titleRE   = regexp.MustCompile(`^[\s【\[(（]*(?:交易(?:编号|代码|编码)?[:：\s]*)?([A-Z]{2,4}[0-9]{3}[A-Z]?|[0-9]{4}[A-Z]?)([^A-Za-z0-9].*)?$`)
	nodeRE    = regexp.MustCompile(`节点(?:标识|名称|名)?\s*[:：为]?\s*([A-Za-z_][A-Za-z0-9_]*)`)
	arrayHint = regexp.MustCompile(`列表|明细|数组|集合|多条|(?i:list|array)`)
)

// titleCode finds a transaction code at the start of a title.
func titleCode(s string) (code, name string, ok bool) {
	m := titleRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return "", "", false
	}
	rest := m[2]
	if c := m[1]; c[len(c)-1] >= '0' && c[len(c)-1] <= '9' && c[0] >= '0' && c[0] <= '9' {
		// A bare number is a code only when a separator and a name follow,
		// so "1000条以内" and "2025-04-01 修订" are not codes.
		r, sep := strings.CutPrefix(rest, " ")
		if !sep {
			r, sep = strings.CutPrefix(strings.TrimLeft(rest, " "), "】")
		}
		r = strings.TrimSpace(r)
		if !sep || r == "" || strings.ContainsAny(r[:1], "-/.,:0123456789") || strings.HasPrefix(r, "年") {
			return "", "", false
		}
	}
	name = strings.Trim(rest, " \t】])）-—:：、.")
	return m[1], name, true
}

func nonEmpty(cells []string) []string {
	var out []string
	for i := range cells {
		if c := cell(cells, i); c != "" {
			out = append(out, c)
		}
	}
	return out
}

func (im *importer) row(pos string, cells []string) {
	filled := nonEmpty(cells)
	if len(filled) == 0 {
		return
	}
	prev := im.last
	im.last, im.where = cells, pos
	c := header(cells)
	if sub := subHeader(prev, cells); sub != nil {
		// The second row of a two-row header: read with the row above.
		c = sub
	}
	if c != nil {
		if u := im.untitled; u != nil && im.cur == nil {
			// The code table was the transaction's own (its result
			// codes): the heading names the transaction after all.
			if _, taken := im.byCode[u.Code]; !taken {
				im.byCode[u.Code] = u
				im.schemas = append(im.schemas, u)
			}
			im.cur, im.side, im.parent, im.nest = im.byCode[u.Code], "input", nil, nil
		}
		im.cols, im.dict, im.dcols, im.titled, im.untitled = c, nil, nil, nil, nil
		if c.required < 0 && im.cur != nil && !im.noRequired[im.cur.Code] {
			im.noRequired[im.cur.Code] = true
			im.errorf(pos, "%s: the table has no 是否必填 column; every field of it is taken as optional. Add the column (是否必填: 是/否) or mark required: true in the written file", im.cur.Code)
		}
		return
	}
	isData := im.cols != nil && cell(cells, im.cols.typ) != "" && cell(cells, im.cols.name) != ""
	if !isData {
		if dc := dictHeader(cells); dc != nil {
			im.startDict(pos, dc)
			return
		}
	}
	if im.dcols != nil && im.dictRow(pos, cells, filled) {
		return
	}
	if !isData && im.infoRow(cells) {
		return
	}
	if !isData && len(filled) <= 3 {
		im.heading = strings.Join(filled, " ")
		if code, name, ok := titleCode(filled[0]); ok {
			if name == "" && len(filled) > 1 {
				name = filled[1]
			}
			im.start(code, name)
			if strings.Contains(name, "输出") || strings.Contains(name, "出参") {
				im.side = "output"
			}
			return
		}
		text := strings.Join(filled, " ")
		if side := sideOf(text); side != "" {
			im.section(pos, side, text)
			return
		}
	}
	if !isData {
		// A row naming a key with no type is a field row missing its type,
		// not a note: say so rather than drop the field.
		if im.cols != nil && im.cur != nil && len(filled) >= 2 && cell(cells, im.cols.typ) == "" {
			if _, name, _ := splitName(rawCell(cells, im.cols.name)); nameRE.MatchString(name) {
				im.errorf(im.at(pos, im.cols.typ), "%s %s field %q: the type is empty; the row is skipped. Fill the 类型 column (字符型, 数值型, 整数, 日期, 日期时间, 数组 or 对象)", im.cur.Code, im.side, name)
				im.fieldRows[im.cur.Code]++
			}
		}
		return // a note, a caption or a row before the header
	}
	if im.cur == nil {
		im.errorf(pos, "field row before any transaction code; skipped. Put a row with the code (for example GYU101 入院登记上传) above the table")
		return
	}
	im.fieldRows[im.cur.Code]++
	im.titled = nil
	im.sideColumn(cells)
	f, nf, ok := im.field(pos, cells)
	if !ok {
		return
	}
	path := im.place(pos, f, nf)
	if path == nil {
		return
	}
	im.fieldPos[im.cur.Code+"\x00"+im.side+"."+strings.Join(path, ".")] = pos
	if f.Type.Kind == schemas.KindEnum {
		return
	}
	if ref := im.refIn(pos, cells); ref != nil {
		ref.schema, ref.side, ref.path = im.cur, im.side, path
		im.refs = append(im.refs, *ref)
	}
}

// infoRow reads a row of a transaction's particulars: 交易编号 | GYU101 |
// 交易名称 | 入院登记上传 (or the name in a row of its own below).
func (im *importer) infoRow(cells []string) bool {
	label := func(i int) string {
		return strings.TrimRight(strings.Join(strings.Fields(cell(cells, i)), ""), ":：")
	}
	next := func(i int) string {
		for j := i + 1; j < len(cells); j++ {
			if v := cell(cells, j); v != "" {
				return v
			}
		}
		return ""
	}
	found := false
	for i := range cells {
		switch label(i) {
		case "交易编号", "交易代码", "交易编码", "交易号", "接口编号", "接口代码", "接口编码", "功能号", "服务编号":
			if code, name, ok := titleCode(next(i)); ok && name == "" {
				im.start(code, "")
				found = true
			}
		case "交易名称", "接口名称", "功能名称", "服务名称":
			if v := next(i); v != "" && im.cur != nil && im.cur.Name == "" {
				im.cur.Name = v
				found = true
			}
		}
	}
	return found
}

// nameForm is how a row's parameter name places it: under the nodes named
// by path (节点/子节点, fee.qty), or under the last node row indented less
// (└ qty, spaces).
type nameForm struct {
	path    []string
	pathCol int // the column the path was read from
	indent  int
	marker  bool // a tree character (└, ├, │) was drawn before the name
}

// place adds f to the current list, nested as its name says, and returns
// the names from the side's list down to it (nil when it is skipped).
func (im *importer) place(pos string, f schemas.Field, nf nameForm) []string {
	base := &im.cur.Input
	if im.side == "output" {
		base = &im.cur.Output
	}
	if im.parent != nil {
		base = &im.parent.Fields
	}
	where := fmt.Sprintf("%s %s", im.cur.Code, im.side)
	list, at := base, []int(nil)
	if len(nf.path) > 0 {
		for _, node := range nf.path {
			i := slices.IndexFunc(*list, func(g schemas.Field) bool { return g.Name == node })
			if i < 0 || (*list)[i].Type.Scalar() {
				what := "is not declared above it"
				if i >= 0 {
					what = fmt.Sprintf("is declared as %s", (*list)[i].Type)
				}
				im.errorf(im.at(pos, nf.pathCol), "%s field %q: its node %q %s; the row is skipped. Declare %s in a row of its own, with the type 数组 (a list) or 对象, before its fields", where, strings.Join(append(slices.Clone(nf.path), f.Name), "/"), node, what, node)
				return nil
			}
			at = append(at, i)
			list = &(*list)[i].Fields
		}
		im.nest = nil
	} else {
		for len(im.nest) > 0 && im.nest[len(im.nest)-1].indent >= nf.indent {
			im.nest = im.nest[:len(im.nest)-1]
		}
		if len(im.nest) > 0 {
			at = slices.Clone(im.nest[len(im.nest)-1].path)
			for _, i := range at {
				list = &(*list)[i].Fields
			}
		} else if nf.marker {
			im.errorf(im.at(pos, im.cols.name), "%s field %q is drawn as a child (└) but no list or object row is above it; it is added at the top level. Give the node row above it the type 数组 or 对象", where, f.Name)
		}
	}
	if find(*list, f.Name) != nil {
		im.errorf(im.at(pos, im.cols.name), "%s: field %q appears twice; the second row is skipped. Remove or rename one", where, f.Name)
		return nil
	}
	*list = append(*list, f)
	if !f.Type.Scalar() {
		im.nest = append(im.nest, openNode{path: append(slices.Clone(at), len(*list)-1), indent: nf.indent})
	}
	var names []string
	if im.parent != nil {
		names = append(names, im.parent.Name)
	}
	for l, k := base, 0; k < len(at); k++ {
		names = append(names, (*l)[at[k]].Name)
		l = &(*l)[at[k]].Fields
	}
	return append(names, f.Name)
}

// sideColumn follows a column that says 输入 or 输出 on every row (often a
// vertically merged first column) rather than in rows of its own.
func (im *importer) sideColumn(cells []string) {
	c := im.cols
	for i := range cells {
		if i == c.name || i == c.label || i == c.typ || i == c.length || i == c.required || slices.Contains(c.desc, i) {
			continue
		}
		side := ""
		switch strings.TrimSuffix(strings.Join(strings.Fields(cell(cells, i)), ""), "参数") {
		case "输入", "入参", "请求":
			side = "input"
		case "输出", "出参", "返回", "响应":
			side = "output"
		}
		if side != "" && side != im.side {
			im.side, im.parent, im.nest = side, nil, nil
		}
	}
}

// at adds the column of col to a position: "row 5 column D (类型)".
func (im *importer) at(pos string, col int) string {
	if col < 0 || im.cols == nil {
		return pos
	}
	ref := strconv.Itoa(col + 1)
	if im.format != "docx" {
		if n, err := excelize.ColumnNumberToName(col + 1); err == nil {
			ref = n
		}
	}
	title := strings.Join(strings.Fields(cell(im.cols.titles, col)), "")
	return fmt.Sprintf("%s column %s (%s)", pos, ref, title)
}

var (
	// numberingRE is a heading's number: "3.2.1 ", "第三节 ", "（一）", "二、".
	numberingRE = regexp.MustCompile(`^(?:第[一二三四五六七八九十百0-9]+[章节条部分]+|[0-9]+(?:\.[0-9]+)+\.?|[0-9]+[.、．]|[0-9]+\s|[（(][一二三四五六七八九十0-9]+[)）]|[一二三四五六七八九十]+[、.．])\s*`)
	// codeLastRE is a title with the code in brackets at its end:
	// "入院登记上传（GYU101）", "入院登记上传【交易编号：GYU101】".
	codeLastRE = regexp.MustCompile(`^(.*?)\s*[（(【\[]\s*(?:交易(?:编号|代码|编码)?\s*[:：]?\s*)?([A-Z]{2,4}[0-9]{3}[A-Z]?|[0-9]{4}[A-Z]?)\s*[)）】\]]$`)
)

// paragraph reads a paragraph of a document between its tables: a
// transaction's heading, or a section line (输出参数, 输入（节点标识：fee）).
// Prose is ignored.
func (im *importer) paragraph(text string) {
	if tocLineRE.MatchString(text) {
		return // a line of the table of contents: title, then its page
	}
	t := strings.Join(strings.Fields(text), " ")
	if t == "" || utf8.RuneCountInString(t) > 40 || strings.HasSuffix(t, "。") {
		return
	}
	im.where = fmt.Sprintf("paragraph %q", t)
	if !strings.ContainsAny(bracketedRE.ReplaceAllString(t, ""), "，,；;") {
		// A heading: it ends the code table above and may name the next.
		im.heading, im.dict, im.dcols = t, nil, nil
		if _, _, title := paragraphTitle(t); title || sideOf(t) == "" {
			im.docHeading = t // not 输出参数: it names no place
		}
	}
	// 交易名称：出院结算撤销, after a 交易编号：GYU104 paragraph: as a row of
	// particulars would.
	if label, value, ok := strings.Cut(strings.Replace(t, "：", ":", 1), ":"); ok && im.infoRow([]string{label, value}) {
		return
	}
	if code, name, ok := paragraphTitle(t); ok {
		im.start(code, name)
		if strings.Contains(name, "输出") || strings.Contains(name, "出参") {
			im.side = "output"
		}
		return
	}
	if strings.ContainsAny(bracketedRE.ReplaceAllString(t, ""), "，,；;。") {
		return // a sentence, not a section line
	}
	if side := sideOf(t); side != "" {
		im.section(fmt.Sprintf("paragraph %q", t), side, t)
	}
}

// tocLineRE is a contents line without a contents style: "…… 12", "\t12".
var tocLineRE = regexp.MustCompile(`(?:\t|[.…·]{2,})\s*[0-9]+\s*$`)

var bracketedRE = regexp.MustCompile(`[（(][^）)]*[）)]`)

// paragraphTitle finds a transaction code in a heading: "GYU101 入院登记上传",
// "3.2.1 入院登记上传（GYU101）", "（一）GYU101 入院登记上传".
func paragraphTitle(t string) (code, name string, ok bool) {
	rest := numberingRE.ReplaceAllString(t, "")
	for _, s := range []string{t, rest} {
		if code, name, ok = titleCode(s); ok {
			break
		}
	}
	if !ok {
		m := codeLastRE.FindStringSubmatch(rest)
		if m == nil {
			return "", "", false
		}
		code, name = m[2], strings.TrimSpace(m[1])
	}
	// A sentence that starts with a code is not a heading.
	if strings.ContainsAny(name, "，,；;。") || utf8.RuneCountInString(name) > 25 {
		return "", "", false
	}
	return code, name, true
}

func sideOf(text string) string {
	switch {
	case strings.Contains(text, "输出") || strings.Contains(text, "出参") || strings.Contains(text, "返回") || strings.Contains(text, "响应"):
		return "output"
	case strings.Contains(text, "输入") || strings.Contains(text, "入参") || strings.Contains(text, "请求"):
		return "input"
	}
	return ""
}

// section switches to input or output and, for a node row, to that node.
func (im *importer) section(pos, side, text string) {
	im.side, im.parent = side, nil
	m := nodeRE.FindStringSubmatch(text)
	if m == nil || im.cur == nil {
		return
	}
	name := m[1]
	isArray := arrayHint.MatchString(strings.Replace(text, name, "", 1))
	if !isArray && (name == "input" || name == "output" || name == "data") {
		return // the whole input or output
	}
	list := &im.cur.Input
	if side == "output" {
		list = &im.cur.Output
	}
	if f := find(*list, name); f != nil {
		if f.Type.Scalar() {
			im.errorf(pos, "%s %s: node %q was declared as %s; it is made an object. Give it the type 对象 or 数组", im.cur.Code, side, name, f.Type)
			f.Type = schemas.Type{Kind: schemas.KindObject}
			f.MaxLength, f.LengthUnit, f.Format, f.Example = 0, "", "", nil
		}
		im.parent = f
		return
	}
	kind := schemas.KindObject
	if isArray {
		kind = schemas.KindArray
	}
	*list = append(*list, schemas.Field{Name: name, Label: nodeLabel(text), Type: schemas.Type{Kind: kind}})
	im.fieldPos[im.cur.Code+"\x00"+side+"."+name] = pos
	im.parent = &(*list)[len(*list)-1]
}

// nodeLabel keeps the descriptive words of a node row: "输入（节点标识：fee，
// 费用明细列表）" gives "费用明细列表".
func nodeLabel(text string) string {
	text = nodeRE.ReplaceAllString(text, " ")
	text = strings.NewReplacer("输入", " ", "输出", " ", "入参", " ", "出参", " ", "参数", " ").Replace(text)
	parts := strings.FieldsFunc(text, func(r rune) bool { return strings.ContainsRune("（）()，,：:、;； \t", r) })
	return strings.Join(parts, " ")
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_\-]*$`)

func (im *importer) field(pos string, cells []string) (schemas.Field, nameForm, bool) {
	c := im.cols
	nf, name, ok := splitName(rawCell(cells, c.name))
	nf.pathCol = c.name
	if node := cell(cells, c.node); ok && len(nf.path) == 0 && node != "" {
		switch strings.ToLower(node) {
		case "input", "output", "data", "root", "-", "/", "无", "根", "根节点", "输入", "输出", "入参", "出参":
		default:
			if _, _, nodeOK := splitName(node); nodeOK {
				nf.path = strings.FieldsFunc(strings.NewReplacer("[*]", "", "[]", "").Replace(node), func(r rune) bool { return r == '/' || r == '.' || r == '／' })
				nf.pathCol = c.node
			}
		}
	}
	where := fmt.Sprintf("%s %s field %q", im.cur.Code, im.side, name)
	if !ok {
		im.errorf(im.at(pos, c.name), "%s %s: parameter name %q is not a JSON key; the row is skipped. Put the key (for example aac002, or fee/qty for a field of the list fee) in the 参数名 column", im.cur.Code, im.side, cell(cells, c.name))
		return schemas.Field{}, nf, false
	}
	var desc []string
	var codes map[string]string
	for _, i := range c.desc {
		d := cell(cells, i)
		if codes == nil {
			if cs := codeList(d); cs != nil {
				codes = cs
				continue
			}
		}
		if d != "" && !slices.Contains(desc, d) {
			desc = append(desc, d)
		}
	}
	f := schemas.Field{Name: name, Label: cell(cells, c.label), Description: strings.Join(desc, "; ")}
	if strings.ContainsAny(f.Label, "\r\n") {
		f.Label = strings.Join(strings.Fields(f.Label), " ")
	}
	typ, length := cell(cells, c.typ), cell(cells, c.length)
	if col, err := mapType(&f, typ, length, c.bytes); err != nil {
		at := c.typ
		if col == "length" {
			at = c.length
		}
		im.errorf(im.at(pos, at), "%s: %v", where, err)
		if f.Type.Kind == "" {
			return schemas.Field{}, nf, false
		}
	}
	if codes != nil && f.Type.Kind == schemas.KindString {
		f.Type, f.Codes = schemas.Type{Kind: schemas.KindEnum}, codes
	} else if codes != nil {
		f.Description = strings.TrimPrefix(f.Description+"; "+codeText(codes), "; ")
	}
	req := cell(cells, c.required)
	r, ok := mapRequired(req)
	switch {
	case !ok:
		im.errorf(im.at(pos, c.required), "%s: 是否必填 %q is not understood; the field is taken as optional. Write Y or N", where, req)
	case c.nullable && req != "":
		if _, explicit := nullWords(strings.ToUpper(req)); !explicit {
			r = !r // 是否为空: 否
		}
	}
	f.Required = r
	if strings.Contains(req, "条件") && f.Description == "" {
		f.Description = "条件必填"
	}
	if f.Type.Kind == schemas.KindDate || f.Type.Kind == schemas.KindDateTime {
		if p := javaPattern.FindString(f.Description); p != "" && f.Format == "" {
			f.Format = schemas.JavaLayout(p)
		}
		if f.Format == schemas.DefaultDateFormat && f.Type.Kind == schemas.KindDate || f.Format == schemas.DefaultDateTimeFormat && f.Type.Kind == schemas.KindDateTime {
			f.Format = ""
		}
	}
	f.Personal = f.Type.Scalar() && schemas.LooksPersonal(f.Name, f.Label)
	return f, nf, true
}

var codePairRE = regexp.MustCompile(`^([0-9A-Za-z]{1,6})\s*[:：=\-－—]\s*(\S.*)$`)

// codeList reads a 代码值 cell that lists codes with their labels —
// "01:居民身份证;02：护照", "1-门诊" on a line each — and returns nil for
// anything else (a dictionary's name, a note), so notes stay notes.
func codeList(s string) map[string]string {
	parts := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(";；,，、\n\r", r) })
	if len(parts) < 2 {
		return nil
	}
	codes := map[string]string{}
	for _, p := range parts {
		m := codePairRE.FindStringSubmatch(strings.TrimSpace(p))
		if m == nil {
			return nil
		}
		if _, dup := codes[m[1]]; dup {
			return nil
		}
		codes[m[1]] = strings.TrimSpace(m[2])
	}
	return codes
}

// codeText writes codes back as "01:居民身份证;02:护照", sorted.
func codeText(codes map[string]string) string {
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		keys[i] = k + ":" + codes[k]
	}
	return strings.Join(keys, ";")
}

// rawCell is a cell as written, leading spaces included.
func rawCell(cells []string, i int) string {
	if i < 0 || i >= len(cells) {
		return ""
	}
	return strings.TrimRightFunc(cells[i], unicode.IsSpace)
}

// splitName reads a parameter-name cell: the indentation and tree drawing
// before the key ("└─ qty", "　　qty"), and a node path ("fee/qty",
// "fee.qty", "fee[].qty"). ok is false when the key is not a JSON key.
func splitName(raw string) (nf nameForm, name string, ok bool) {
	rest := raw
	for _, r := range raw {
		switch r {
		case ' ', '\u00a0':
			nf.indent++
		case '\t':
			nf.indent += 4
		case '\u3000':
			nf.indent += 2
		case '└', '├', '│', '┗', '┣', '┃', '┕', '┝', '|':
			nf.indent += 2
			nf.marker = true
		case '─', '━', '—', '–', '-', '+', '>', '·', '•':
			nf.indent++
		default:
			goto done
		}
		rest = rest[utf8.RuneLen(r):]
	}
done:
	rest = strings.Trim(strings.TrimSpace(rest), "*＊ ")
	rest = strings.NewReplacer("[*]", "", "[]", "").Replace(rest)
	parts := strings.FieldsFunc(rest, func(r rune) bool { return r == '/' || r == '.' || r == '／' })
	if len(parts) == 0 {
		return nf, rest, false
	}
	for _, p := range parts {
		if !nameRE.MatchString(p) {
			return nf, rest, false
		}
	}
	nf.path = parts[:len(parts)-1]
	return nf, parts[len(parts)-1], true
}

var javaPattern = regexp.MustCompile(`yyyy[-/]?MM[-/]?dd(?:[ T]?HH:?mm(?::?ss)?)?`)

var typeRE = regexp.MustCompile(`^([^(（]+?)\s*(?:[(（]\s*([0-9]+)\s*(?:[,，]\s*([0-9]+))?\s*(BYTE|CHAR)?\s*[)）])?$`)

var typeWords = map[schemas.Kind][]string{
	schemas.KindString:   {"字符型", "字符", "字符串", "字符串型", "文本", "文本型", "VARCHAR", "VARCHAR2", "NVARCHAR", "NVARCHAR2", "CHAR", "C", "AN", "STRING", "TEXT", "STR"},
	schemas.KindDecimal:  {"数值型", "数值", "数字", "数字型", "金额", "金额型", "浮点", "浮点型", "NUMBER", "NUMERIC", "DECIMAL", "N", "FLOAT", "DOUBLE", "MONEY"},
	schemas.KindInteger:  {"整数", "整数型", "整型", "INT", "INTEGER", "LONG", "BIGINT", "SMALLINT"},
	schemas.KindDate:     {"日期型", "日期", "DATE", "D"},
	schemas.KindDateTime: {"日期时间型", "日期时间", "时间", "时间型", "DATETIME", "TIMESTAMP", "DT"},
	schemas.KindBoolean:  {"布尔", "布尔型", "BOOLEAN", "BOOL"},
	schemas.KindArray:    {"数组", "列表", "ARRAY", "LIST", "JSONARRAY"},
	schemas.KindObject:   {"对象", "OBJECT", "JSON", "JSONOBJECT"},
}

// mapType sets f's type, length and format from the 类型 and 长度 cells.
// On a problem it returns an error saying what was assumed; f.Type.Kind is
// empty when the row cannot be used at all.
func mapType(f *schemas.Field, typ, length string, bytesUnit bool) (col string, err error) {
	m := typeRE.FindStringSubmatch(strings.ToUpper(strings.TrimSpace(typ)))
	if m == nil {
		return "type", fmt.Errorf("type %q is not understood; the row is skipped. Use 字符型, 数值型, 整数, 日期, 日期时间, 数组 or 对象", typ)
	}
	base := strings.ReplaceAll(m[1], " ", "")
	var kind schemas.Kind
	for k, words := range typeWords {
		if slices.Contains(words, base) {
			kind = k
		}
	}
	if kind == "" {
		return "type", fmt.Errorf("type %q is not understood; the row is skipped. Use 字符型, 数值型, 整数, 日期, 日期时间, 数组 or 对象", typ)
	}
	// Length from the 长度 column, else from NUMBER(16,2) / VARCHAR(20).
	p, s, hasP, hasS, inBytes, err := parseLength(length)
	if err != nil {
		return "length", err
	}
	bytesUnit = bytesUnit || inBytes
	if !hasP && m[2] != "" {
		p, hasP = atoi(m[2]), true
		bytesUnit = bytesUnit || m[4] == "BYTE"
		if m[3] != "" {
			s, hasS = atoi(m[3]), true
		}
	}
	f.Type = schemas.Type{Kind: kind}
	switch kind {
	case schemas.KindString:
		if hasS {
			f.MaxLength = p
			return "length", fmt.Errorf("length %q has a scale but the type is text; used %d. Write a plain length", length, p)
		}
		if hasP {
			f.MaxLength = p
		}
		if bytesUnit && hasP {
			f.LengthUnit = schemas.UnitBytes
		}
	case schemas.KindInteger:
		if hasP {
			f.MaxLength = p
		}
	case schemas.KindDecimal:
		switch {
		case !hasP:
			f.Type = schemas.Type{Kind: schemas.KindDecimal, Precision: 16, Scale: 2}
			return "length", fmt.Errorf("numeric type without a length; assumed decimal(16,2). Write the length as 16,2")
		case p < 1 || p > schemas.MaxPrecision || s > p:
			f.Type = schemas.Type{Kind: schemas.KindDecimal, Precision: 16, Scale: 2}
			return "length", fmt.Errorf("length %q is not a valid precision,scale; assumed decimal(16,2). Write it like 16,2", length)
		}
		f.Type = schemas.Type{Kind: schemas.KindDecimal, Precision: p, Scale: s}
	case schemas.KindDate:
		if hasP && p == 8 {
			f.Format = "20060102"
		}
	case schemas.KindDateTime:
		switch {
		case hasP && p == 14:
			f.Format = "20060102150405"
		case hasP && p == 12:
			f.Format = "200601021504"
		case hasP && p == 17:
			f.Type, f.MaxLength = schemas.Type{Kind: schemas.KindString}, 17
			f.Description = strings.TrimSpace(f.Description + " yyyyMMddHHmmssSSS")
			return "length", fmt.Errorf("a 17-character time (yyyyMMddHHmmssSSS) has no Go layout; imported as string(17)")
		}
	}
	return "", nil
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n > 1<<30 {
		return -1
	}
	return n
}

// lengthRE is a 长度 cell: "20", "16,2", "(16,2)", "VARCHAR2(30)",
// "NUMBER(16,2)", "C(30)", "VARCHAR2(30 BYTE)", "30字节", "30位".
var lengthRE = regexp.MustCompile(`^(?:[A-Za-z][A-Za-z0-9]*|\p{Han}+型?)?\s*[(（]?\s*([0-9]+)\s*(?:[,，]\s*([0-9]+))?\s*(BYTE|BYTES|CHAR|CHARS|字节|字符|个字符|位)?\s*[)）]?\s*(字节|字符|个字符|位)?$`)

// parseLength reads a 长度 cell; inBytes is true when it says the length
// counts bytes (30 BYTE, 30字节).
func parseLength(s string) (p, sc int, hasP, hasS, inBytes bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "-" || s == "/" || s == "—" {
		return 0, 0, false, false, false, nil
	}
	m := lengthRE.FindStringSubmatch(strings.ToUpper(s))
	if m == nil {
		return 0, 0, false, false, false, fmt.Errorf("length %q is not a number; the row is skipped. Write 20 or 16,2 (VARCHAR2(20) and NUMBER(16,2) are read too)", s)
	}
	p = atoi(m[1])
	if p < 0 {
		return 0, 0, false, false, false, fmt.Errorf("length %q is too large; the row is skipped. Write 20 or 16,2", s)
	}
	if m[2] != "" {
		sc = atoi(m[2])
		if sc < 0 {
			return 0, 0, false, false, false, fmt.Errorf("length %q is not precision,scale; the row is skipped. Write 16,2", s)
		}
	}
	unit := m[3] + m[4]
	return p, sc, true, m[2] != "", strings.Contains(unit, "BYTE") || strings.Contains(unit, "字节"), nil
}

// mapRequired reads a 是否必填 cell; ok is false for values it does not
// understand.
func mapRequired(s string) (required, ok bool) {
	v := strings.ToUpper(strings.TrimSpace(s))
	switch v {
	case "", "N", "NO", "否", "0", "FALSE", "O", "可选", "选填", "非必填", "非必须", "不必填", "×", "-":
		return false, true
	case "Y", "YES", "是", "必填", "1", "TRUE", "M", "必须", "必输", "√", "✓", "R":
		return true, true
	}
	if required, ok := nullWords(v); ok {
		return required, true
	}
	if strings.Contains(v, "条件") || strings.Contains(v, "非") || strings.Contains(v, "否") {
		return false, true
	}
	if strings.Contains(v, "必") || strings.HasPrefix(v, "Y") || strings.HasPrefix(v, "是") {
		return true, true
	}
	return false, false
}

// nullWords reads a value that says in words whether the field may be
// empty (非空, NOT NULL, 可为空), whichever question its column asks.
func nullWords(v string) (required, ok bool) {
	for _, w := range []string{"非空", "NOT NULL", "NOTNULL", "不可为空", "不能为空", "不为空", "不允许为空", "不可空"} {
		if strings.Contains(v, w) {
			return true, true
		}
	}
	if strings.Contains(v, "可为空") || strings.Contains(v, "允许为空") || strings.Contains(v, "可空") || v == "NULL" {
		return false, true
	}
	return false, false
}

// directionWords map words of a transaction name to a direction. Chinese
// names end with the action ("申请下载" downloads, "下载申请" applies), so
// the word that ends last wins.
var directionWords = []struct {
	word string
	dir  schemas.Direction
}{
	{"撤销", schemas.DirectionRevoke}, {"冲正", schemas.DirectionRevoke}, {"回退", schemas.DirectionRevoke}, {"取消", schemas.DirectionRevoke}, {"删除", schemas.DirectionRevoke},
	{"反馈", schemas.DirectionFeedback}, {"确认", schemas.DirectionFeedback},
	{"下载", schemas.DirectionDownload},
	{"查询", schemas.DirectionQuery}, {"校验", schemas.DirectionQuery}, {"认证", schemas.DirectionQuery}, {"检查", schemas.DirectionQuery}, {"测试", schemas.DirectionQuery},
	{"上传", schemas.DirectionUpload}, {"登记", schemas.DirectionUpload}, {"结算", schemas.DirectionUpload}, {"申请", schemas.DirectionUpload}, {"变更", schemas.DirectionUpload},
}

// guessDirection guesses a transaction's direction from its name and code.
func guessDirection(code, name string) schemas.Direction {
	best, bestEnd := schemas.Direction(""), -1
	for _, w := range directionWords {
		if i := strings.LastIndex(name, w.word); i >= 0 && i+len(w.word) > bestEnd {
			best, bestEnd = w.dir, i+len(w.word)
		}
	}
	if best != "" {
		return best
	}
	if len(code) >= 3 {
		switch code[2] {
		case 'U', 'R':
			return schemas.DirectionUpload
		case 'D':
			return schemas.DirectionQuery
		}
	}
	return schemas.DirectionQuery
}

// check completes an imported schema and runs it through the loader's checks.
func (im *importer) check(s *schemas.Schema) {
	if s.Name == "" {
		s.Name = s.Code
		im.errorf(im.titlePos[s.Code], "%s: no transaction name found; used the code. Edit name: in the written file", s.Code)
	}
	s.Direction = guessDirection(s.Code, s.Name)
	s.Source = fmt.Sprintf("imported by medgate import-spec from the specification's %s field tables; direction %q was guessed from the code and name, check it", strings.ToLower(im.format), s.Direction)
	var buf bytes.Buffer
	if err := schemas.WriteYAML(&buf, s); err != nil {
		im.errorf(im.titlePos[s.Code], "%s: %v", s.Code, err)
		return
	}
	fsys := fstest.MapFS{s.System + "/" + s.Code + ".yaml": {Data: buf.Bytes()}}
	if _, err := schemas.Load(fsys); err != nil {
		var le *schemas.LoadError
		if errors.As(err, &le) {
			for _, p := range le.Problems {
				what := p.Reason
				if p.Field != "" {
					what = fmt.Sprintf("field %q: %s", p.Field, what)
				}
				if p.Fix != "" {
					what += " — " + p.Fix
				}
				im.errorf(im.problemPos(s.Code, p.Field), "%s: the imported schema does not pass the schema checks: %s", s.Code, what)
			}
			return
		}
		im.errorf(im.titlePos[s.Code], "%s: %v", s.Code, err)
	}
}

// problemPos is the row of the field a schema check names
// ("input.fee.fields": the row of fee), or the transaction's title.
func (im *importer) problemPos(code, field string) string {
	parts := strings.Split(field, ".")
	for n := len(parts); n >= 2; n-- {
		if pos, ok := im.fieldPos[code+"\x00"+strings.Join(parts[:n], ".")]; ok {
			return pos
		}
	}
	return im.titlePos[code]
}

// find returns the field called name in fields, or nil.
func find(fields []schemas.Field, name string) *schemas.Field {
	for i := range fields {
		if fields[i].Name == name {
			return &fields[i]
		}
	}
	return nil
}
