package transforms

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/vm"

	"github.com/medgate/medgate/schemas"
	"github.com/medgate/medgate/transforms/hl7"
)

// Tables holds code tables for [Mapping.Apply]: table name → code → value,
// for example "departments" → "0301" → "03.01".
type Tables map[string]map[string]string

// Apply builds the target transaction's input from one message. input is a
// JSON object for json mappings, and an HL7 v2 message (raw bytes in its
// character set, MLLP framing allowed, or a JSON string holding it) for
// hl7v2 mappings. tables are the site's code tables; they take precedence
// over the tables shipped with the mapping, which are used when tables is
// nil or lacks a table.
//
// The result is ready to encode as JSON: text, json.Number, bool,
// []any and map[string]any. When anything is wrong, Apply returns every
// problem it found (the partial result is returned too, but must not be
// sent); the result then validates against the target schema. Apply is
// safe for concurrent use.
func (m *Mapping) Apply(input []byte, tables Tables) (map[string]any, []Problem) {
	r := &run{m: m, tables: tables}
	if !r.parse(input) {
		return nil, r.problems
	}
	out := r.build()
	errs := m.Schema.ValidateInput(out)
	if len(errs) > 0 {
		// Map again, noting where each value came from, to name the
		// sources in the validation problems.
		r = &run{m: m, tables: tables, msg: r.msg, root: r.root, srcs: map[string]string{}}
		out = r.build()
	}
	seen := make(map[string]bool, len(r.problems))
	for _, p := range r.problems {
		seen[p.Field] = true
	}
	for _, fe := range errs {
		if seen[fe.Path] || seen[parentArray(fe.Path)] {
			continue
		}
		src := r.srcs[fe.Path]
		msg, fix, _ := strings.Cut(fe.Message, "; ")
		where := "mapping " + m.Name
		if src != "" {
			where = "source " + src + ", " + where
		}
		text := msg + " (" + where + ")"
		if fix != "" {
			text += "; " + fix
		}
		r.problems = append(r.problems, Problem{Field: fe.Path, Rule: fe.Rule, Message: text, Mapping: m.Name, Source: src})
	}
	if len(r.problems) == 0 {
		return out, nil
	}
	slices.SortStableFunc(r.problems, func(a, b Problem) int { return comparePath(a.Field, b.Field) })
	return out, r.problems
}

// build runs the lets and the fields.
func (r *run) build() map[string]any {
	m := r.m
	r.env = env{
		Site:     m.Site,
		Vars:     make(map[string]any, len(m.lets)),
		Src:      r.src,
		List:     r.list,
		Lookup:   r.lookupFunc,
		LookupOr: r.lookupOrFunc,
		Reverse:  r.reverseFunc,
	}
	if r.msg != nil {
		r.env.MsgType = r.msg.Type()
	}
	top := &scope{target: "$"}
	for _, l := range m.lets {
		if v, ok := r.scalar(l, top, tpath{base: "$"}); ok {
			r.env.Vars[l.name] = v
		}
	}
	return r.object(m.fields, top)
}

// tpath is the JSON path of a target field, built only when a problem or
// a source must name it.
type tpath struct{ base, key string }

func (t tpath) String() string {
	if t.key == "" {
		return t.base
	}
	return t.base + keyPath(t.key)
}

// parentArray strips a trailing "[n]" so that a problem already reported
// for a list covers the validator's complaint about it.
func parentArray(path string) string {
	if i := strings.LastIndexByte(path, '['); i > 0 && strings.HasSuffix(path, "]") {
		return path[:i]
	}
	return path
}

// run is the state of one Apply.
type run struct {
	m        *Mapping
	tables   Tables
	root     any          // json
	msg      *hl7.Message // hl7v2
	env      env
	vm       vm.VM
	sc       *scope
	problems []Problem
	srcs     map[string]string       // target path → source, when tracking for validation problems
	found    map[segKey]*hl7.Segment // message-wide segment searches, answered once per message
	occ      []int                   // occ[i]: segment i's occurrence among segments of its name, from 1
}

// segKey is what a message-wide segment search depends on: the segment's
// name and its occurrence or selector.
type segKey struct {
	name        string
	occurrence  int
	selectField int
	selectValue string
}

// scope is the current item of an each group (or the message at the top).
type scope struct {
	parent   *scope
	seg      *hl7.Segment // the group's segment
	occ      int          // its occurrence among segments of its name, from 1
	item     any          // the group's JSON item
	itemPath string       // its JSON path
	index    int          // position in the target list, from 0
	target   string       // JSON path of the target object being built
}

func (r *run) fail(field tpath, rule, source, msg, fix string) {
	text := msg
	if fix != "" {
		text += "; " + fix
	}
	r.problems = append(r.problems, Problem{Field: field.String(), Rule: rule, Message: text, Mapping: r.m.Name, Source: source})
}

func (r *run) parse(input []byte) bool {
	m := r.m
	if m.Format == FormatJSON {
		dec := json.NewDecoder(bytes.NewReader(input))
		dec.UseNumber()
		var v any
		err := dec.Decode(&v)
		if err == nil {
			if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
				err = errors.New("extra data after the JSON value")
			}
		}
		if err != nil {
			r.fail(tpath{base: "$"}, RuleFormat, "", fmt.Sprintf("the payload is not valid JSON (mapping %s): %v", m.Name, err), "send one JSON object")
			return false
		}
		if _, ok := v.(map[string]any); !ok {
			r.fail(tpath{base: "$"}, RuleFormat, "", fmt.Sprintf("the payload is %s, not a JSON object (mapping %s)", describe(v), m.Name), "send one JSON object")
			return false
		}
		r.root = v
		return true
	}
	data := bytes.TrimSpace(input)
	opts := hl7.Options{DefaultCharset: m.Charset}
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err == nil {
			// A JSON string holds Unicode text, whatever MSH-18 says.
			data, opts.Text = []byte(s), true
		}
	}
	msg, err := hl7.ParseWith(data, opts)
	if err != nil {
		r.fail(tpath{base: "$"}, RuleFormat, "", fmt.Sprintf("the payload is not a readable HL7 v2 message (mapping %s): %v", m.Name, err), "send one HL7 v2 message starting with MSH")
		return false
	}
	if len(m.MessageTypes) > 0 && !slices.Contains(m.MessageTypes, msg.Type()) {
		r.fail(tpath{base: "$"}, RuleType, "MSH-9", fmt.Sprintf("the message type (MSH-9) is %q but mapping %s reads %s", msg.Type(), m.Name, strings.Join(m.MessageTypes, " or ")),
			"send the message with its own message type, or add a mapping for "+msg.Type())
		return false
	}
	r.msg = msg
	return true
}

func (r *run) object(rules []*rule, sc *scope) map[string]any {
	out := make(map[string]any, len(rules))
	for _, ru := range rules {
		target := tpath{base: sc.target, key: ru.name}
		if ru.when != nil && !r.cond(ru, ru.when, sc, target, "when") {
			continue
		}
		switch ru.field.Type.Kind {
		case schemas.KindObject:
			child := *sc
			child.target = target.String()
			out[ru.name] = r.object(ru.fields, &child)
		case schemas.KindArray:
			if items := r.array(ru, sc, target); items != nil {
				out[ru.name] = items
			}
		default:
			if v, ok := r.scalar(ru, sc, target); ok {
				out[ru.name] = v
			}
		}
	}
	return out
}

func (r *run) cond(ru *rule, prog *vm.Program, sc *scope, target tpath, what string) bool {
	v, err := r.eval(prog, sc, nil)
	if err != nil {
		r.exprProblem(ru, target, "", what, err)
		return false
	}
	b, _ := v.(bool)
	return b
}

// array builds a list target from the segments or JSON items its each:
// names. It returns nil (and reports a required list) when there are none.
func (r *run) array(ru *rule, sc *scope, target tpath) []any {
	var items []*scope
	source := ""
	if ru.eachSeg != "" {
		source = ru.eachSeg
		from, to := 0, len(r.msg.Segments)
		if sc.seg != nil {
			// A nested group: the segments after the parent's segment up to
			// the next segment with the parent's name.
			from = sc.seg.Index + 1
			for i := from; i < to; i++ {
				if r.msg.Segments[i].Name == sc.seg.Name {
					to = i
					break
				}
			}
		}
		occ := r.occurrences()
		for i := from; i < to; i++ {
			if s := &r.msg.Segments[i]; s.Name == ru.eachSeg {
				items = append(items, &scope{parent: sc, seg: s, occ: occ[i]})
			}
		}
	} else {
		v, at, found := ru.each.json.get(r.root, sc.item, sc.itemPath)
		source = at
		if found && v != nil {
			list, ok := v.([]any)
			if !ok {
				r.fail(target, RuleType, at, fmt.Sprintf("%s is %s, not a list (%s)", at, describe(v), r.where(at, label(ru.field))), "send a JSON array")
				return nil
			}
			for j, item := range list {
				items = append(items, &scope{parent: sc, item: item, itemPath: at + "[" + strconv.Itoa(j) + "]", seg: sc.seg, occ: sc.occ})
			}
		}
	}
	out := make([]any, 0, len(items))
	base := target.String()
	for _, it := range items {
		it.index = len(out)
		it.target = base + "[" + strconv.Itoa(len(out)) + "]"
		if ru.filter != nil && !r.cond(ru, ru.filter, it, target, "filter") {
			continue
		}
		out = append(out, r.object(ru.fields, it))
	}
	if len(out) == 0 {
		if ru.field.Required || ru.field.MinItems > 0 {
			what := "segments"
			if ru.eachSeg == "" {
				what = "items"
			}
			r.fail(target, RuleRequired, source, fmt.Sprintf("the message has no %s %s but the target needs at least one (%s)", source, what, r.where(source, label(ru.field))),
				"send at least one")
		}
		return nil
	}
	return out
}

// scalar computes one scalar target field or let variable.
func (r *run) scalar(ru *rule, sc *scope, target tpath) (any, bool) {
	var v any
	source := ""
	switch {
	case ru.from != nil:
		v, source = r.read(ru.from, sc)
	case ru.hasLiteral:
		v = ru.literal
	}
	if ru.expr != nil {
		out, err := r.eval(ru.expr, sc, v)
		if err != nil {
			r.exprProblem(ru, target, source, "expr", err)
			return nil, false
		}
		v = out
	}
	if ru.lookup != "" && !empty(v) {
		out, err := r.lookupCode(ru.lookup, v)
		if err != nil {
			r.exprProblem(ru, target, source, "lookup", err)
			return nil, false
		}
		v = out
	}
	if ru.reverse != "" && !empty(v) {
		out, err := r.reverseCode(ru.reverse, v)
		if err != nil {
			r.exprProblem(ru, target, source, "reverseLookup", err)
			return nil, false
		}
		v = out
	}
	if empty(v) && ru.hasDefault {
		v = ru.def
	}
	if empty(v) {
		// A field with a platform-only stand-in (requiredUnless) may stay
		// empty when the stand-in is given: the schema's validation, after
		// the whole output is built, sees both and reports it if neither is.
		if ru.field != nil && ru.field.Required && ru.field.RequiredUnless == "" {
			what := "the expression gave no value"
			fix := "make the expression return a value, or give this target a default value in the mapping (its rule's default key)"
			if ru.from != nil {
				what = "the source is empty"
				fix = fmt.Sprintf("fill %s in the message, or give this target a default value in the mapping (its rule's default key)", source)
			}
			r.fail(target, RuleRequired, source, fmt.Sprintf("%s but the target is required (%s)", what, r.where(source, label(ru.field))), fix)
		}
		return nil, false
	}
	if ru.field == nil {
		return v, true
	}
	out, err := coerce(ru.field, v)
	if err != nil {
		var ce *coerceError
		errors.As(err, &ce)
		r.fail(target, ce.rule, source, fmt.Sprintf("%s (%s)", ce.msg, r.where(source, label(ru.field))), ce.fix)
		return nil, false
	}
	if r.srcs != nil && source != "" {
		r.srcs[target.String()] = source
	}
	return out, true
}

func label(f *schemas.Field) string {
	if f == nil {
		return "the variable"
	}
	if f.Label != "" {
		return fmt.Sprintf("%s (%s)", f.Label, f.Name)
	}
	return f.Name
}

func (r *run) exprProblem(ru *rule, target tpath, source, what string, err error) {
	rule := errRule(err)
	inner := err
	for u := errors.Unwrap(inner); u != nil; u = errors.Unwrap(inner) {
		inner = u
	}
	name := label(ru.field)
	if ru.field == nil {
		name = "vars." + ru.name
	}
	where := r.where(source, name)
	if re, ok := inner.(*reverseError); ok {
		r.fail(target, rule, source, fmt.Sprintf("%s (%s)", re.Error(), where),
			fmt.Sprintf("give the value exactly one code in %s/tables/%s.yaml or in the site's table", r.m.Site, re.table))
		return
	}
	switch rule {
	case RuleUnmapped:
		ue := inner.(*unmappedError)
		r.fail(target, rule, source, fmt.Sprintf("code %q is not in code table %q (%s)", ue.code, ue.table, where),
			fmt.Sprintf("add the code to %s/tables/%s.yaml or to the site's table", r.m.Site, ue.table))
	case RuleTable:
		te := inner.(*tableError)
		r.fail(target, rule, source, fmt.Sprintf("code table %q was not supplied (%s)", te.table, where),
			fmt.Sprintf("configure the site's %q table or add %s/tables/%s.yaml", te.table, r.m.Site, te.table))
	case RuleMapping:
		r.fail(target, rule, source, fmt.Sprintf("%s (%s)", inner.Error(), where), "")
	case RuleType:
		msg := inner.Error()
		if ve, ok := inner.(*valueError); ok && ru.field != nil && ru.field.Personal {
			// The target carries personal data: its value is shown masked,
			// as the schema's validation shows it.
			msg = ve.masked()
		}
		r.fail(target, rule, source, fmt.Sprintf("%s (%s)", msg, where), "check the value in the message")
	default:
		r.fail(target, rule, source, fmt.Sprintf("the %s expression failed: %s (%s)", what, firstLine(err.Error()), where), "fix the expression or the message")
	}
}

// where names the source, the target and the mapping for messages.
func (r *run) where(source, target string) string {
	if source != "" {
		return fmt.Sprintf("source %s, target %s, mapping %s", source, target, r.m.Name)
	}
	return fmt.Sprintf("target %s, mapping %s", target, r.m.Name)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func (r *run) eval(prog *vm.Program, sc *scope, value any) (any, error) {
	r.sc = sc
	r.env.Value = value
	r.env.Index = sc.index
	r.env.Pos = sc.index + 1
	return r.vm.Run(prog, &r.env)
}

// read returns the value at a source path in the current scope, and the
// concrete path it was read from.
func (r *run) read(src *source, sc *scope) (any, string) {
	if src.json != nil {
		v, at, _ := src.json.get(r.root, sc.item, sc.itemPath)
		return v, at
	}
	seg, at := r.segment(src, sc)
	if seg == nil {
		return nil, at
	}
	v := seg.Get(*src.hl7)
	if v == "" {
		return nil, at
	}
	return v, at
}

// segment finds the segment an HL7 location reads in the current scope: the
// group's own segment when the names match and the location gives no
// occurrence, else the first matching segment of the message.
func (r *run) segment(src *source, sc *scope) (*hl7.Segment, string) {
	l := src.hl7
	if l.Occurrence == 0 && l.SelectField == 0 {
		for s := sc; s != nil; s = s.parent {
			if s.seg != nil && s.seg.Name == l.Segment {
				return s.seg, src.text[:3] + "[" + strconv.Itoa(s.occ) + "]" + src.text[3:]
			}
		}
	}
	return r.find(*l), src.text
}

// occurrences returns, for every segment of the message, its occurrence
// among the segments of its name (from 1), counted once per run so that a
// nested each group reads only its parent's segments rather than the whole
// message for every parent.
func (r *run) occurrences() []int {
	if r.occ == nil {
		r.occ = make([]int, len(r.msg.Segments))
		seen := map[string]int{}
		for i := range r.msg.Segments {
			name := r.msg.Segments[i].Name
			seen[name]++
			r.occ[i] = seen[name]
		}
	}
	return r.occ
}

// find returns the segment l names in the whole message (nil when there is
// none). The answer is kept for the rest of the run: items of an each group
// read the same segments, and searching the message again for each item
// made a message of many segments cost time quadratic in their number.
func (r *run) find(l hl7.Location) *hl7.Segment {
	k := segKey{name: l.Segment, occurrence: l.Occurrence, selectField: l.SelectField, selectValue: l.SelectValue}
	if seg, ok := r.found[k]; ok {
		return seg
	}
	seg := r.msg.Segment(l, 0, -1)
	if r.found == nil {
		r.found = map[segKey]*hl7.Segment{}
	}
	r.found[k] = seg
	return seg
}

func (r *run) parsePath(path string) (*source, error) {
	if src, ok := r.m.paths[path]; ok {
		return src, nil
	}
	src, err := parseSource(r.m.Format, path)
	if err != nil {
		return nil, err
	}
	return src, nil
}

// src implements src(path) for expressions.
func (r *run) src(path any) any {
	s := r.pathArg("src", path)
	if s.multi() {
		panic(fmt.Errorf("src(%q) names several values; use list(…)", s.text))
	}
	v, _ := r.read(s, r.sc)
	return v
}

// pathArg parses the path argument of src and list, panicking (as the
// expression functions report errors) when it is not a valid path.
func (r *run) pathArg(fn string, path any) *source {
	p, ok := path.(string)
	if !ok {
		panic(fmt.Errorf("%s(…) takes a source path as text, not %s", fn, describe(path)))
	}
	s, err := r.parsePath(p)
	if err != nil {
		panic(err)
	}
	return s
}

// list implements list(path): every value the path names. For HL7, every
// segment with the name (only the group's own when inside its each) and,
// with (*), every repetition.
func (r *run) list(path any) []any {
	s := r.pathArg("list", path)
	if s.json != nil {
		vs, _ := s.json.all(r.root, r.sc.item, r.sc.itemPath)
		return vs
	}
	l := *s.hl7
	var segs []*hl7.Segment
	if l.Occurrence == 0 && l.SelectField == 0 {
		for sc := r.sc; sc != nil; sc = sc.parent {
			if sc.seg != nil && sc.seg.Name == l.Segment {
				segs = []*hl7.Segment{sc.seg}
				break
			}
		}
	}
	if segs == nil {
		if l.Occurrence > 0 || l.SelectField > 0 {
			if seg := r.find(l); seg != nil {
				segs = append(segs, seg)
			}
		} else {
			segs = r.msg.All(l.Segment)
		}
	}
	var out []any
	for _, seg := range segs {
		if l.Repetition == hl7.AllRepetitions {
			for _, v := range seg.All(l) {
				out = append(out, v)
			}
			continue
		}
		out = append(out, seg.Get(l))
	}
	return out
}

func (r *run) table(name string) (map[string]string, bool) {
	if t, ok := r.tables[name]; ok {
		return t, true
	}
	t, ok := r.m.tables[name]
	return t, ok
}

func (r *run) lookupCode(table string, code any) (any, error) {
	t, ok := r.table(table)
	if !ok {
		return nil, &tableError{table: table}
	}
	s, _ := toText(code)
	v, ok := t[s]
	if !ok {
		return nil, &unmappedError{table: table, code: s}
	}
	return v, nil
}

func (r *run) lookupFunc(table, code any) any {
	if empty(code) {
		return nil
	}
	v, err := r.lookupCode(tableArg("lookup", table), code)
	if err != nil {
		panic(err)
	}
	return v
}

func (r *run) lookupOrFunc(args ...any) any {
	if len(args) != 3 {
		panic(fmt.Errorf("lookupOr takes 3 arguments (table, code, default), not %d", len(args)))
	}
	table, code, def := tableArg("lookupOr", args[0]), args[1], args[2]
	if empty(code) {
		return def
	}
	v, err := r.lookupCode(table, code)
	var ue *unmappedError
	if errors.As(err, &ue) {
		return def
	}
	if err != nil {
		panic(err)
	}
	return v
}

func tableArg(fn string, table any) string {
	t, ok := table.(string)
	if !ok {
		panic(fmt.Errorf("%s(…) takes a table name as text, not %s", fn, describe(table)))
	}
	return t
}

// comparePath orders JSON paths segment by segment, indices numerically.
func comparePath(a, b string) int {
	for a != "" && b != "" {
		sa, ra := nextSeg(a)
		sb, rb := nextSeg(b)
		if sa != sb {
			na, ea := strconv.Atoi(strings.Trim(sa, "[]"))
			nb, eb := strconv.Atoi(strings.Trim(sb, "[]"))
			if ea == nil && eb == nil && strings.HasPrefix(sa, "[") && strings.HasPrefix(sb, "[") {
				return na - nb
			}
			return strings.Compare(sa, sb)
		}
		a, b = ra, rb
	}
	return len(a) - len(b)
}

func nextSeg(p string) (string, string) {
	for i := 1; i < len(p); i++ {
		if p[i] == '.' || p[i] == '[' {
			return p[:i], p[i:]
		}
	}
	return p, ""
}
