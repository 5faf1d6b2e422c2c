package transforms

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"

	"github.com/medgate/medgate/schemas"
	"github.com/medgate/medgate/transforms/hl7"
)

// Mapping is one loaded and checked mapping: how to build the input of one
// transaction from one input format, for one site. A Mapping is immutable
// and safe for concurrent use.
type Mapping struct {
	// Name is "<site>/<format>/<type>", the file's path without ".yaml".
	Name string
	// Site is the site code the mapping is for ("default" for every site
	// without its own).
	Site string
	// Format is FormatJSON or FormatHL7v2.
	Format string
	// Type is the message type it produces, "<system>.<code>", for example
	// "workinjury.GYU102".
	Type string
	// Description is the file's description.
	Description string
	// MessageTypes are the HL7 message types (MSH-9, such as "DFT^P03") an
	// hl7v2 mapping accepts; empty means any.
	MessageTypes []string
	// Charset is the character set of HL7 messages whose MSH-18 is empty;
	// empty means UTF-8.
	Charset string
	// Schema is the target transaction's schema.
	Schema *schemas.Schema
	// File is where the mapping was loaded from.
	File string

	// Output is the format an outbound mapping writes (FormatJSON or
	// FormatHL7v2); empty for a mapping of platform messages.
	Output string
	// Kind is KindReply or KindEvent for an outbound mapping (Type is then
	// the request or event type it serves, empty for every type); empty
	// for a mapping of platform messages.
	Kind string
	// MessageType is MSH-9 of an hl7v2 outbound mapping, such as
	// "ADT^A28^ADT_A05"; Version is MSH-12.
	MessageType, Version string

	loc      *time.Location
	lets     []*rule
	fields   []*rule
	tables   Tables             // the site's table files
	declared []string           // tables the caller supplies
	paths    map[string]*source // parsed literal arguments of src() and list()
}

// rule says how to compute one target field (or one let variable).
type rule struct {
	name  string         // the field's JSON key or the variable's name
	path  string         // dotted target path for messages: "fee.amount"
	field *schemas.Field // nil for a let variable
	line  int

	from       *source
	literal    any
	hasLiteral bool
	expr       *vm.Program
	when       *vm.Program
	lookup     string
	reverse    string // reverseLookup: table
	def        any
	hasDefault bool

	each    *source // JSON array path (json mappings)
	eachSeg string  // segment ID (hl7v2 mappings)
	filter  *vm.Program
	fields  []*rule
}

// env is the environment expressions run in.
type env struct {
	Value   any            `expr:"value"`
	Index   int            `expr:"index"`
	Pos     int            `expr:"pos"`
	Site    string         `expr:"site"`
	MsgType string         `expr:"msgType"`
	Vars    map[string]any `expr:"vars"`
	// The functions that read the message or the tables. Their types are
	// ones the expr VM calls without reflection; they report errors by
	// panicking with them, which the VM turns into the error Run returns.
	Src      func(any) any      `expr:"src"`
	List     func(any) []any    `expr:"list"`
	Lookup   func(any, any) any `expr:"lookup"`
	LookupOr func(...any) any   `expr:"lookupOr"`
	Reverse  func(any, any) any `expr:"reverseLookup"`
}

// envNames are the variables every expression sees.
var envNames = []string{"value", "index", "pos", "site", "msgType", "vars"}

var (
	siteName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	typeName  = regexp.MustCompile(`^[a-z][a-z0-9]*\.[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	varName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	tableName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	msgType   = regexp.MustCompile(`^[A-Z0-9]{3}\^[A-Z0-9]{3}$`)
	segmentID = regexp.MustCompile(`^[A-Z][A-Z0-9]{2}$`)
)

// schemaResolver finds a target schema.
type schemaResolver func(system, code string) (*schemas.Schema, bool)

// compiler builds one mapping from its YAML and reports problems.
type compiler struct {
	l      *loader
	file   string
	m      *Mapping
	tables map[string]bool // names the mapping may look up
	lets   map[string]bool
	opts   []expr.Option
	// outbound: the mapping writes a reply or event in the platform's
	// format; its entries may say required: and type:.
	outbound bool
	// reverse are the tables reverse-looked-up, with where, to check that
	// their entries are unique.
	reverse map[string]*yaml.Node
}

// compileMapping checks one mapping file. name is "<site>/<format>/<type>".
func (l *loader) compileMapping(file, name string, data []byte, resolve schemaResolver, siteTables Tables) *Mapping {
	parts := strings.Split(name, "/")
	site, format, typ := parts[0], parts[1], parts[2]
	c := &compiler{l: l, file: file, tables: map[string]bool{}, lets: map[string]bool{}}
	before := len(l.Problems)
	switch {
	case !siteName.MatchString(site):
		l.Add(file, 0, "", fmt.Sprintf("site directory %q is not a site code", site), "name the directory after the site code: letters, digits, - and _")
	case format != FormatJSON && format != FormatHL7v2:
		l.Add(file, 0, "", fmt.Sprintf("format directory %q is not known", format), "put the file under <site>/json/ or <site>/hl7v2/")
	case !typeName.MatchString(typ):
		l.Add(file, 0, "", fmt.Sprintf("file name %q is not a message type", typ+".yaml"), "name the file after the message type it produces, <plugin>.<operation>.yaml, for example workinjury.GYU102.yaml")
	}
	if len(l.Problems) > before {
		return nil
	}
	system, code, _ := strings.Cut(typ, ".")
	m := &Mapping{Name: name, Site: site, Format: format, Type: typ, File: file, loc: defaultZone, tables: siteTables, paths: map[string]*source{}}
	c.m = m
	for t := range siteTables {
		c.tables[t] = true
	}
	sc, ok := resolve(system, code)
	if !ok {
		l.Add(file, 0, "", fmt.Sprintf("no schema for %s/%s, the target of message type %s", system, code, typ),
			fmt.Sprintf("have plugin %q declare it in its Schemas (sdk.DescribeResponse) as %q: a mapping of type <plugin>.<operation> targets the schema <plugin>/<operation>, whatever Operation.Schema names; "+
				"for a built-in transaction add schemas/%s/%s.yaml (or a site schema overlay); or rename the file after an existing transaction", system, system+"/"+code+".yaml", system, code))
		return nil
	}
	m.Schema = sc

	root := l.parse(file, data)
	if root == nil {
		return nil
	}
	keys := c.mapping(root, "", []string{"description", "messageTypes", "charset", "timezone", "tables", "let", "fields"})
	if keys == nil {
		return nil
	}
	if n := keys["messageTypes"]; n != nil {
		if format != FormatHL7v2 {
			c.add(n, "messageTypes", "messageTypes is only for hl7v2 mappings", "remove it")
		}
		for i, item := range c.list(n, "messageTypes") {
			s := c.str(item, fmt.Sprintf("messageTypes[%d]", i))
			if !msgType.MatchString(s) {
				c.add(item, fmt.Sprintf("messageTypes[%d]", i), fmt.Sprintf("%q is not an HL7 message type", s), "write the type and trigger event of MSH-9, such as DFT^P03")
				continue
			}
			m.MessageTypes = append(m.MessageTypes, s)
		}
	}
	if n := keys["charset"]; n != nil {
		if format != FormatHL7v2 {
			c.add(n, "charset", "charset is only for hl7v2 mappings", "remove it")
		}
		cs := c.str(n, "charset")
		if name, err := hl7.CharsetName(cs); err != nil {
			c.add(n, "charset", fmt.Sprintf("character set %q is not known", cs), "use GB18030 or UTF-8")
		} else {
			m.Charset = name
		}
	}
	c.header(keys)
	if n := keys["let"]; n != nil {
		c.compileLets(n)
	}
	n := keys["fields"]
	if n == nil {
		l.Add(file, root.Line, "fields", "the mapping has no fields", "add fields: with one entry per target field of "+typ)
		return nil
	}
	m.fields = c.compileFields(n, sc.Input, "", false)
	c.checkReversed()
	if len(l.Problems) > before {
		return nil
	}
	return m
}

var defaultZone = time.FixedZone("+08:00", 8*3600)

// parseZone reads "UTC" or an offset such as "+08:00".
func parseZone(s string) (*time.Location, error) {
	if s == "UTC" || s == "Z" {
		return time.UTC, nil
	}
	t, err := time.Parse("-07:00", s)
	if err != nil {
		return nil, fmt.Errorf("time zone %q is not UTC or an offset", s)
	}
	_, off := t.Zone()
	return time.FixedZone(s, off), nil
}

func (c *compiler) add(n *yaml.Node, field, reason, fix string) {
	c.l.AddAt(c.file, n, field, reason, fix)
}

// mapping checks that n is a mapping with only the allowed keys and returns
// its values by key.
func (c *compiler) mapping(n *yaml.Node, field string, allowed []string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		c.add(n, field, "expected a mapping of keys to values", "see transforms/README.md for the file format")
		return nil
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		at := joinField(field, key)
		switch {
		case allowed != nil && !slices.Contains(allowed, key):
			fix := "allowed keys are " + strings.Join(allowed, ", ")
			if near := schemas.Nearest(key, allowed); near != "" {
				fix = fmt.Sprintf("did you mean %q? %s", near, fix)
			}
			c.add(k, at, "unknown key", fix)
		case out[key] != nil:
			c.add(k, at, "key given twice", "keep one")
		default:
			out[key] = v
		}
	}
	return out
}

// pairs returns the key and value nodes of a mapping node in order.
func (c *compiler) pairs(n *yaml.Node, field string) [][2]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		c.add(n, field, "expected a mapping of names to entries", "see transforms/README.md for the file format")
		return nil
	}
	var out [][2]*yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if seen[k.Value] {
			c.add(k, joinField(field, k.Value), "entry given twice", "keep one")
			continue
		}
		seen[k.Value] = true
		out = append(out, [2]*yaml.Node{k, n.Content[i+1]})
	}
	return out
}

func (c *compiler) str(n *yaml.Node, field string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		c.add(n, field, "expected a text value", "write a single value")
		return ""
	}
	return n.Value
}

func (c *compiler) list(n *yaml.Node, field string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		c.add(n, field, "expected a list", "write [a, b] or one - item per line")
		return nil
	}
	return n.Content
}

func joinField(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

var reserved = append(slices.Clone(envNames), "src", "list", "lookup", "lookupOr", "reverseLookup")

func (c *compiler) compileLets(n *yaml.Node) {
	for _, kv := range c.pairs(n, "let") {
		k, v := kv[0], kv[1]
		name := k.Value
		at := "let." + name
		switch {
		case !varName.MatchString(name):
			c.add(k, at, fmt.Sprintf("%q is not a variable name", name), "use letters, digits and _, starting with a letter")
			continue
		case slices.Contains(reserved, name) || slices.Contains(funcNames, name):
			c.add(k, at, fmt.Sprintf("%q is already a variable or function name", name), "choose another name")
			continue
		}
		r := &rule{name: name, path: at, line: k.Line}
		c.scalar(r, v, at, false)
		c.m.lets = append(c.m.lets, r)
		c.lets[name] = true
	}
}

// compileFields compiles the entries of a fields: mapping against the
// schema fields they target. inEach is true inside an each group.
func (c *compiler) compileFields(n *yaml.Node, targets []schemas.Field, prefix string, inEach bool) []*rule {
	var rules []*rule
	mapped := map[string]bool{}
	names := make([]string, len(targets))
	for i := range targets {
		names[i] = targets[i].Name
	}
	for _, kv := range c.pairs(n, joinField("fields", prefix)) {
		k, v := kv[0], kv[1]
		path := joinField(prefix, k.Value)
		at := "fields." + path
		f := findField(targets, k.Value)
		if f == nil {
			fix := "the target fields are " + strings.Join(names, ", ")
			if near := schemas.Nearest(k.Value, names); near != "" {
				fix = fmt.Sprintf("did you mean %q? %s", near, fix)
			}
			c.add(k, at, fmt.Sprintf("%q is not a field of %s", k.Value, c.m.Schema.Code), fix)
			continue
		}
		mapped[f.Name] = true
		r := &rule{name: f.Name, path: path, field: f, line: k.Line}
		switch f.Type.Kind {
		case schemas.KindObject, schemas.KindArray:
			c.group(r, v, at, f.Type.Kind == schemas.KindArray, inEach)
		default:
			c.scalar(r, v, at, inEach)
		}
		rules = append(rules, r)
	}
	for i := range targets {
		f := &targets[i]
		// A required field may be left unmapped when its platform-only
		// stand-in (requiredUnless, e.g. GYU002's file_url) is mapped.
		if f.Required && !mapped[f.Name] && (f.RequiredUnless == "" || !mapped[f.RequiredUnless]) {
			label := f.Name
			if f.Label != "" {
				label = fmt.Sprintf("%s (%s)", f.Name, f.Label)
			}
			c.add(n, joinField("fields", joinField(prefix, f.Name)), fmt.Sprintf("target field %s is required by %s but the mapping gives it no value", label, c.m.Schema.Code),
				"map it with from:, value: or expr:")
		}
	}
	return rules
}

var (
	scalarKeys = []string{"from", "value", "expr", "when", "lookup", "reverseLookup", "default", "note"}
	objectKeys = []string{"fields", "when", "note"}
	arrayKeys  = []string{"each", "filter", "fields", "when", "note"}
)

// group compiles an object target, or a list target (array is true), whose
// fields: are compiled in turn. A list target also names what repeats with
// each:, may filter the items with filter:, and makes its fields inEach.
func (c *compiler) group(r *rule, n *yaml.Node, at string, array, inEach bool) {
	allowed, reason, fix := objectKeys, "an object target needs fields:", "list its fields under fields:"
	if array {
		allowed, reason, fix = arrayKeys, "a list target needs fields: for each item", "list the item's fields under fields:"
	}
	keys := c.mapping(n, at, allowed)
	if keys == nil {
		return
	}
	c.when(r, keys, at)
	if array {
		if !c.each(r, n, keys, at) {
			return
		}
		inEach = true
	}
	fn := keys["fields"]
	if fn == nil {
		c.add(n, at, reason, fix)
		return
	}
	r.fields = c.compileFields(fn, r.field.Fields, r.path, inEach)
}

// each reads the each: and filter: of a list target; it returns false when
// each: is missing.
func (c *compiler) each(r *rule, n *yaml.Node, keys map[string]*yaml.Node, at string) bool {
	en := keys["each"]
	if en == nil {
		c.add(n, at, "a list target needs each: naming what repeats", "write each: FT1 (a segment) in an hl7v2 mapping, or each: $.items in a json mapping")
		return false
	}
	each := c.str(en, at+".each")
	if c.m.Format == FormatHL7v2 {
		if !segmentID.MatchString(each) {
			c.add(en, at+".each", fmt.Sprintf("%q is not a segment ID", each), "write the 3-character ID of the repeating segment, such as FT1 or DG1")
		}
		r.eachSeg = each
	} else {
		src, err := parseSource(FormatJSON, each)
		if err != nil {
			c.add(en, at+".each", err.Error(), "")
		}
		r.each = src
	}
	if fn := keys["filter"]; fn != nil {
		r.filter = c.compileExpr(fn, at+".filter", true, nil)
	}
	return true
}

func (c *compiler) when(r *rule, keys map[string]*yaml.Node, at string) {
	if n := keys["when"]; n != nil {
		r.when = c.compileExpr(n, at+".when", true, nil)
	}
}

// scalar compiles a scalar target (field is set) or a let variable.
func (c *compiler) scalar(r *rule, n *yaml.Node, at string, inEach bool) {
	if n.Kind == yaml.ScalarNode {
		// Shorthand: a bare source path.
		s := c.str(n, at)
		c.fromPath(r, n, s, at, inEach)
		return
	}
	allowed := scalarKeys
	if c.outbound && r.field != nil {
		allowed = append(slices.Clone(scalarKeys), outboundKeys...)
	}
	keys := c.mapping(n, at, allowed)
	if keys == nil {
		return
	}
	c.when(r, keys, at)
	if fn := keys["from"]; fn != nil {
		c.fromPath(r, fn, c.str(fn, at+".from"), at+".from", inEach)
	}
	if vn := keys["value"]; vn != nil {
		if keys["from"] != nil || keys["expr"] != nil || keys["default"] != nil || keys["lookup"] != nil || keys["reverseLookup"] != nil {
			c.add(vn, at+".value", "value: is a constant and cannot be combined with from:, expr:, lookup: or default:", "keep value: alone, or use from:/expr: with default:")
		}
		r.literal, r.hasLiteral = c.constant(r, vn, at+".value")
	}
	if en := keys["expr"]; en != nil {
		r.expr = c.compileExpr(en, at+".expr", false, r.field)
	}
	if ln := keys["lookup"]; ln != nil {
		t := c.str(ln, at+".lookup")
		c.checkTable(ln, at+".lookup", t)
		r.lookup = t
	}
	if ln := keys["reverseLookup"]; ln != nil {
		t := c.str(ln, at+".reverseLookup")
		c.checkTable(ln, at+".reverseLookup", t)
		c.reversed(ln, t)
		r.reverse = t
	}
	if dn := keys["default"]; dn != nil {
		r.def, r.hasDefault = c.constant(r, dn, at+".default")
	}
	if keys["from"] == nil && keys["value"] == nil && keys["expr"] == nil {
		c.add(n, at, "no source", "give from: (a source path), value: (a constant) or expr: (an expression)")
	}
}

func (c *compiler) fromPath(r *rule, n *yaml.Node, s, at string, inEach bool) {
	src, err := parseSource(c.m.Format, s)
	if err != nil {
		c.add(n, at, err.Error(), "")
		return
	}
	if src.multi() {
		c.add(n, at, fmt.Sprintf("%q names several values", s), "read one value (PID-3(1), $.a[0]) or collect them in an expression with list(…)")
		return
	}
	if src.json != nil && src.json.relative && !inEach {
		c.add(n, at, fmt.Sprintf("%q is relative to the current item but the field is not inside each:", s), "start the path with $")
		return
	}
	r.from = src
}

// constant reads a literal as written (so "01" and 12.50 keep their text)
// and checks it against the target type.
func (c *compiler) constant(r *rule, n *yaml.Node, at string) (any, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		c.add(n, at, "expected a single value", "write a text, number or boolean")
		return nil, false
	}
	var v any = n.Value
	if n.Tag == "!!bool" {
		v = n.Value == "true"
	}
	if r.field == nil {
		return v, true
	}
	out, err := coerce(r.field, v)
	if err != nil {
		c.add(n, at, err.Error(), "write a value of type "+r.field.Type.String())
		return nil, false
	}
	return out, true
}

func (c *compiler) checkTable(n *yaml.Node, at, t string) {
	if c.tables[t] {
		return
	}
	known := make([]string, 0, len(c.tables))
	for k := range c.tables {
		known = append(known, k)
	}
	slices.Sort(known)
	fix := fmt.Sprintf("add %s/tables/%s.yaml, or list it under tables: if the caller supplies it", c.m.Site, t)
	if near := schemas.Nearest(t, known); near != "" {
		fix = fmt.Sprintf("did you mean %q? %s", near, fix)
	}
	c.add(n, at, fmt.Sprintf("code table %q is not known", t), fix)
}

var unknownName = regexp.MustCompile(`unknown name ([A-Za-z_][A-Za-z0-9_]*)`)

// compileExpr compiles an expression node; asBool for when: and filter:.
// target, when set, is the field the result goes to, for type checks.
func (c *compiler) compileExpr(n *yaml.Node, at string, asBool bool, target *schemas.Field) *vm.Program {
	text := c.str(n, at)
	if text == "" {
		if n.Kind == yaml.ScalarNode {
			c.add(n, at, "the expression is empty", "write an expression or remove the key")
		}
		return nil
	}
	opts := c.opts
	if asBool {
		opts = append(slices.Clone(opts), expr.AsBool())
	}
	prog, err := expr.Compile(text, opts...)
	if err != nil {
		line := n.Line
		if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			line++
		}
		reason, fix := err.Error(), "see transforms/README.md for the functions available"
		var fe *file.Error
		if errors.As(err, &fe) {
			line += max(fe.Line-1, 0)
			reason = fmt.Sprintf("expression error at column %d: %s", fe.Column+1, fe.Message)
		}
		if m := unknownName.FindStringSubmatch(reason); m != nil {
			reason = fmt.Sprintf("unknown function or variable %q", m[1])
			names := append(append(slices.Clone(funcNames), envNames...), builtinNames()...)
			fix = "functions: " + strings.Join(funcNames, ", ") + "; variables: " + strings.Join(envNames, ", ") + " and vars.<let name>"
			if near := schemas.Nearest(m[1], names); near != "" {
				fix = fmt.Sprintf("did you mean %q? %s", near, fix)
			}
		}
		c.l.Add(c.file, line, at, reason, fix)
		return nil
	}
	c.checkCalls(n, at, prog.Node())
	if target != nil {
		if t := prog.Node().Type(); t != nil && t.Kind() == reflect.Float64 &&
			(target.Type.Kind == schemas.KindDecimal || target.Type.Kind == schemas.KindInteger) {
			c.add(n, at, "the expression computes with binary floating point, which is not exact",
				"convert the operands with dec(…) so the arithmetic is exact decimal")
		}
	}
	return prog
}

// checkCalls checks the literal arguments of src, list, lookup and
// lookupOr, and vars.<name> references.
func (c *compiler) checkCalls(n *yaml.Node, at string, root ast.Node) {
	ast.Walk(&root, visitor(func(node ast.Node) {
		switch x := node.(type) {
		case *ast.CallNode:
			id, ok := x.Callee.(*ast.IdentifierNode)
			if !ok || len(x.Arguments) == 0 {
				return
			}
			lit, ok := x.Arguments[0].(*ast.StringNode)
			if !ok {
				return
			}
			switch id.Value {
			case "src", "list":
				src, err := parseSource(c.m.Format, lit.Value)
				switch {
				case err != nil:
					c.add(n, at, err.Error(), "")
				case id.Value == "src" && src.multi():
					c.add(n, at, fmt.Sprintf("src(%q) names several values", lit.Value), "use list(…) to collect them")
				default:
					c.m.paths[lit.Value] = src
				}
			case "lookup", "lookupOr":
				c.checkTable(n, at, lit.Value)
			case "reverseLookup":
				c.checkTable(n, at, lit.Value)
				c.reversed(n, lit.Value)
			}
		case *ast.MemberNode:
			id, ok := x.Node.(*ast.IdentifierNode)
			if !ok || id.Value != "vars" {
				return
			}
			if p, ok := x.Property.(*ast.StringNode); ok && !c.lets[p.Value] {
				names := make([]string, 0, len(c.lets))
				for k := range c.lets {
					names = append(names, k)
				}
				slices.Sort(names)
				c.add(n, at, fmt.Sprintf("vars.%s is not defined (or is defined after this entry)", p.Value), "define it under let: before it is used; defined: "+strings.Join(names, ", "))
			}
		}
	}))
}

type visitor func(ast.Node)

func (v visitor) Visit(node *ast.Node) { v(*node) }

func builtinNames() []string {
	return []string{"len", "trim", "upper", "lower", "split", "replace", "hasPrefix", "hasSuffix", "join", "string", "int", "first", "last", "filter", "map", "all", "any"}
}

func findField(fields []schemas.Field, name string) *schemas.Field {
	for i := range fields {
		if fields[i].Name == name {
			return &fields[i]
		}
	}
	return nil
}
