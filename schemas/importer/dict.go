package importer

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/medgate/medgate/schemas"
)

// A dict is a code table (字典, 代码表) found in the document: the codes a
// field that names it by reference ("见字典表 AAC004") may take.
type dict struct {
	code, label string            // AAC004, 性别; either may be empty
	codes       map[string]string // code → meaning
}

// dictColumns are the column roles of a code table: 代码值 | 代码名称, with
// the dictionary named in columns of their own (代码类别 | 类别名称) when
// one table holds every dictionary.
type dictColumns struct {
	value, meaning int
	code, label    int // -1 when the heading above the table names it
}

var dictHeaderWords = map[string][]string{
	"value":   {"代码值", "代码", "编码", "值", "字典值", "编码值", "代码编号", "CODE", "VALUE"},
	"meaning": {"代码名称", "代码含义", "含义", "名称", "值含义", "代码说明", "说明", "描述", "值名称", "字典值名称", "编码名称", "代码值名称", "代码值含义", "代码值说明", "NAME", "LABEL", "MEANING", "DESCRIPTION"},
	"code":    {"代码类别", "代码类型", "字典类型", "字典代码", "字典编码", "字典编号", "字典类别", "代码类别代码", "代码表编号", "代码表代码", "类别代码", "字典名", "字典", "代码表"},
	"label":   {"类别名称", "代码类别名称", "字典名称", "字典类型名称", "代码表名称", "代码类型名称"},
}

// dictHeader recognises the header row of a code table.
func dictHeader(cells []string) *dictColumns {
	dc := &dictColumns{value: -1, meaning: -1, code: -1, label: -1}
	for i, cl := range cells {
		h := normHeader(cl)
		for _, role := range []struct {
			p    *int
			name string
		}{{&dc.value, "value"}, {&dc.meaning, "meaning"}, {&dc.code, "code"}, {&dc.label, "label"}} {
			if *role.p < 0 && slices.Contains(dictHeaderWords[role.name], h) {
				*role.p = i
				break
			}
		}
	}
	if dc.value < 0 || dc.meaning < 0 {
		return nil
	}
	return dc
}

var (
	// letterNumberingRE is an appendix heading's number: "A.1 ", "附录A ".
	letterNumberingRE = regexp.MustCompile(`^(?:附录\s*[A-Z0-9]*[.．]?\s*|[A-Z](?:[.．][0-9]+)+\.?\s*)`)
	dictLastRE        = regexp.MustCompile(`^(.*?)\s*[（(【\[]\s*([A-Za-z][A-Za-z0-9_]*)\s*[)）】\]]$`)
	dictFirstRE       = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_]*)(?:\s+|\s*[:：、]\s*)(.*)$`)
	identRE           = regexp.MustCompile(`[A-Za-z][A-Za-z0-9_]{2,}`)
	bareIdentRE       = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{2,}$`)
	// appendixRE is an appendix's number in a reference: 附录A, 附录3.2.
	appendixRE = regexp.MustCompile(`附录\s*(?:[A-Z]|[0-9]+)(?:[.．][0-9]+)*\b`)
	dictLeadRE = regexp.MustCompile(`^(?:字典|代码表|字典表)\s*[:：]`)
)

// dictTitle reads a code table's heading: "A.1 性别（AAC004）", "AAC004
// 性别", "性别代码表".
func dictTitle(text string) (code, label string) {
	t := strings.TrimSpace(numberingRE.ReplaceAllString(strings.TrimSpace(text), ""))
	t = strings.TrimSpace(letterNumberingRE.ReplaceAllString(t, ""))
	switch {
	case t == "":
		return "", ""
	case bareIdentRE.MatchString(t):
		return t, ""
	}
	if m := dictLastRE.FindStringSubmatch(t); m != nil {
		return m[2], dictLabel(m[1])
	}
	if m := dictFirstRE.FindStringSubmatch(t); m != nil {
		return m[1], dictLabel(m[2])
	}
	return "", dictLabel(t)
}

// dictLabel is a dictionary's name without the words saying it is one.
func dictLabel(s string) string {
	s = strings.TrimSpace(s)
	for _, w := range []string{"代码表", "字典表", "字典", "代码"} {
		s = strings.TrimSpace(strings.TrimSuffix(s, w))
	}
	return s
}

// dictColumnWords are titles of columns that hold a field's codes, where
// a bare dictionary code ("AAC004") is a reference.
var dictColumnWords = []string{"代码值", "代码", "字典", "代码表", "字典值", "值域", "字典名", "代码类别", "字典代码"}

// codeRefOf reads a reference to a dictionary in a cell of column title:
// "见字典表 AAC004", "字典：AAC004", "AAC004" in a 代码值 column, "见性别代码表"
// (by name), "详见附录代码表" (name empty: the dictionary named after the
// field). ok is false for anything else.
func codeRefOf(title, text string) (name string, ok bool) {
	t := strings.TrimSpace(text)
	if t == "" || utf8.RuneCountInString(t) > 40 {
		return "", false
	}
	dictCol := slices.Contains(dictColumnWords, normHeader(title))
	if dictCol && bareIdentRE.MatchString(t) {
		return t, true
	}
	see := strings.Contains(t, "见") || strings.Contains(t, "参照") || strings.Contains(t, "参考")
	kw := false
	for _, w := range []string{"字典", "代码表", "码表", "代码集", "值域"} {
		kw = kw || strings.Contains(t, w)
	}
	if dictCol && strings.Contains(t, "附录") {
		kw = true
	}
	if !(see && kw) && !dictLeadRE.MatchString(t) {
		return "", false
	}
	rest := appendixRE.ReplaceAllString(t, " ")
	if m := identRE.FindString(rest); m != "" {
		return m, true
	}
	label := strings.NewReplacer("详见", "", "参见", "", "请见", "", "参照", "", "参考", "", "见", "", "附录", "",
		"字典表", "", "代码表", "", "字典", "", "码表", "", "代码集", "", "值域", "",
		"《", "", "》", "", "“", "", "”", "", "\"", "", "【", "", "】", "", ":", "", "：", "", "。", "", "，", "", ",", "", " ", "").Replace(rest)
	if label = dictLabel(label); utf8.RuneCountInString(label) > 12 {
		return "", true // a sentence naming no dictionary: the field's own
	}
	return label, true
}

// A codeRef is a field whose codes are given by reference, resolved once
// the whole document is read.
type codeRef struct {
	schema *schemas.Schema
	side   string
	path   []string // field names from the side's list down to the field
	pos    string   // the cell, for the warning
	text   string   // the cell as written
	name   string   // the dictionary's code or name; empty: named after the field
}

// startDict begins a code table at its header row.
func (im *importer) startDict(pos string, dc *dictColumns) {
	im.cols, im.dcols, im.dict, im.dictCode = nil, dc, nil, ""
	if dc.code >= 0 {
		return // each row names its dictionary
	}
	d := &dict{codes: map[string]string{}}
	if t := im.titled; t != nil && t == im.cur && im.fieldRows[t.Code] == 0 && len(t.Input)+len(t.Output) == 0 {
		// "AAC004 性别" above a code table reads as a transaction's title;
		// it is the dictionary's.
		d.code, d.label = t.Code, dictLabel(strings.TrimSpace(letterNumberingRE.ReplaceAllString(t.Name, "")))
		im.schemas = slices.DeleteFunc(im.schemas, func(s *schemas.Schema) bool { return s == t })
		delete(im.byCode, t.Code)
		im.cur, im.titled, im.untitled = nil, nil, t
	} else {
		d.code, d.label = dictTitle(im.heading)
	}
	if d.code == "" && d.label == "" {
		im.errorf(pos, "a code table (代码值 | 代码名称) with no heading naming its dictionary; it is skipped. Put a heading such as 性别（AAC004） above it")
		return
	}
	im.dict = d
	im.dicts = append(im.dicts, d)
}

// dictRow reads a row of a code table. It returns false when the row ends
// the table (a title), for the row to be read as such.
func (im *importer) dictRow(pos string, cells, filled []string) bool {
	dc := im.dcols
	v, m := cell(cells, dc.value), cell(cells, dc.meaning)
	if v == "" || m == "" {
		if len(filled) == 1 {
			im.dcols, im.dict = nil, nil
			return false
		}
		return true // a note or an empty code
	}
	d := im.dict
	if dc.code >= 0 {
		code := cell(cells, dc.code)
		if code == "" {
			code = im.dictCode // merged down in a workbook
		}
		if code != im.dictCode || d == nil {
			im.dictCode = code
			d = nil
			for _, e := range im.dicts {
				if code != "" && strings.EqualFold(e.code, code) {
					d = e
				}
			}
			if d == nil && code != "" {
				d = &dict{code: code, label: dictLabel(cell(cells, dc.label)), codes: map[string]string{}}
				im.dicts = append(im.dicts, d)
			}
			im.dict = d
		}
	}
	if d == nil {
		return true
	}
	name := d.code
	if name == "" {
		name = d.label
	}
	if old, dup := d.codes[v]; dup && old != m {
		im.errorf(pos, "dictionary %s: code %q is given twice (%q, then %q); the first is kept. Remove one", name, v, old, m)
	} else if !dup {
		d.codes[v] = m
	}
	return true
}

// findDict returns the dictionary a reference names, or nil.
func (im *importer) findDict(name string) *dict {
	for _, d := range im.dicts {
		if len(d.codes) > 0 && (d.code != "" && strings.EqualFold(d.code, name) || d.label != "" && d.label == name) {
			return d
		}
	}
	return nil
}

// resolveRefs gives each field whose codes are given by reference the codes
// of its dictionary, and reports those whose dictionary the document does
// not hold.
func (im *importer) resolveRefs() {
	for _, r := range im.refs {
		if im.byCode[r.schema.Code] != r.schema {
			continue // the title was a dictionary's, or the schema was dropped
		}
		f := fieldAt(r.schema, r.side, r.path)
		if f == nil {
			continue
		}
		name, what := r.name, "dictionary "+r.name
		if name == "" {
			name = strings.ToUpper(f.Name)
			what = "dictionary named after the field, " + name
		}
		d := im.findDict(name)
		if d == nil {
			im.errorf(r.pos, "%s %s field %q: its codes are given by reference (%q) but the document has no %s; the field is kept as text, the reference in its description. Add the dictionary to the document (a heading naming %s over a table 代码值 | 代码名称) and import again, or make the field type: enum with codes: in the written file", r.schema.Code, r.side, strings.Join(r.path, "/"), r.text, what, name)
			continue
		}
		if f.Type.Kind == schemas.KindString {
			f.Type, f.Codes = schemas.Type{Kind: schemas.KindEnum}, maps.Clone(d.codes)
			continue
		}
		f.Description = strings.TrimPrefix(f.Description+"; "+codeText(d.codes), "; ")
	}
}

// fieldAt walks path from a schema's input or output list.
func fieldAt(s *schemas.Schema, side string, path []string) *schemas.Field {
	list := s.Input
	if side == "output" {
		list = s.Output
	}
	var f *schemas.Field
	for _, n := range path {
		if f = find(list, n); f == nil {
			return nil
		}
		list = f.Fields
	}
	return f
}

// refIn returns the reference to a dictionary among a row's description
// cells, if any.
func (im *importer) refIn(pos string, cells []string) *codeRef {
	for _, i := range im.cols.desc {
		d := cell(cells, i)
		if name, ok := codeRefOf(cell(im.cols.titles, i), d); ok {
			return &codeRef{pos: im.at(pos, i), text: d, name: name}
		}
	}
	return nil
}
