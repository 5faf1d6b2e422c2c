package schemas

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// CodeTable is a shared enum code table, loaded from
// <system>/codes/<name>.yaml and referenced from fields by name.
type CodeTable struct {
	// Name is the table's name; it equals the file name without ".yaml".
	Name string
	// System is the directory the table belongs to.
	System string
	// Label is a human name for the table.
	Label string
	// Source says where the codes come from.
	Source string
	// Reconstructed is true when the official table is not available.
	Reconstructed bool
	// ReconstructionNote explains the reconstruction.
	ReconstructionNote string
	// Description is optional free text.
	Description string
	// Codes maps code → label.
	Codes map[string]string
	// File is where the table was loaded from.
	File string
}

// Set is a loaded, checked collection of schemas and code tables. A Set is
// immutable and safe for concurrent use.
type Set struct {
	schemas map[string]*Schema    // system + "/" + code
	codes   map[string]*CodeTable // system + "/" + name
}

func newSet() *Set {
	return &Set{schemas: map[string]*Schema{}, codes: map[string]*CodeTable{}}
}

// Get returns the schema of one transaction.
func (s *Set) Get(system, code string) (*Schema, bool) {
	sc, ok := s.schemas[system+"/"+code]
	return sc, ok
}

// Lookup is like Get but returns an error wrapping ErrNotFound, naming
// what is missing and how to add it, when the schema does not exist.
func (s *Set) Lookup(system, code string) (*Schema, error) {
	if sc, ok := s.Get(system, code); ok {
		return sc, nil
	}
	return nil, fmt.Errorf("schema %s/%s: %w; add %s/%s.yaml to the schema directory or fix the transaction code", system, code, ErrNotFound, system, code)
}

// List returns the schemas of one system sorted by code, or of every system
// (sorted by system, then code) when system is "".
func (s *Set) List(system string) []*Schema {
	var out []*Schema
	for _, sc := range s.schemas {
		if system == "" || sc.System == system {
			out = append(out, sc)
		}
	}
	slices.SortFunc(out, func(a, b *Schema) int {
		if c := strings.Compare(a.System, b.System); c != 0 {
			return c
		}
		return strings.Compare(a.Code, b.Code)
	})
	return out
}

// Systems returns the systems that have at least one schema, sorted.
func (s *Set) Systems() []string {
	seen := map[string]bool{}
	for _, sc := range s.schemas {
		seen[sc.System] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// CodeTable returns a shared code table.
func (s *Set) CodeTable(system, name string) (*CodeTable, bool) {
	t, ok := s.codes[system+"/"+name]
	return t, ok
}

// Overlay returns a copy of s in which the schema and code table files
// found in dir (laid out like the embedded files: <system>/<code>.yaml and
// <system>/codes/<name>.yaml) replace or add to those of s, matched by
// system and code (or name). s itself is not changed. Every problem in
// dir's files is reported at once in a *LoadError.
func (s *Set) Overlay(dir string) (*Set, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("schema overlay directory %q: %w; create it or correct the configured path", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("schema overlay %q is not a directory; point the setting at a directory holding <system>/<code>.yaml files", dir)
	}
	return s.overlay(os.DirFS(dir), dir)
}

// OverlayFS is [Set.Overlay] for a file system instead of a directory.
func (s *Set) OverlayFS(fsys fs.FS) (*Set, error) { return s.overlay(fsys, "") }

// Load reads every schema file (<system>/<code>.yaml) and code table file
// (<system>/codes/<name>.yaml) in fsys, checks them strictly (unknown keys
// are errors) and returns the set. When anything is wrong it returns a
// *LoadError listing every problem. Directories named testdata or starting
// with "." or "_" are skipped.
func Load(fsys fs.FS) (*Set, error) { return newSet().overlay(fsys, "") }

//go:embed */*.yaml */codes/*.yaml
var embedded embed.FS

// builtin is the built-in set, loaded on first use. Only functions refer
// to embedded (no package-level value does), so a program that never asks
// for the built-in schemas, such as a vendor's plugin validating its own
// documents, does not link medgate's schema files.
var builtin struct {
	once sync.Once
	set  *Set
	err  error
}

func loadEmbedded() (*Set, error) {
	builtin.once.Do(func() { builtin.set, builtin.err = Load(embedded) })
	return builtin.set, builtin.err
}

// Embedded returns the schemas built into the binary, loaded once. It never
// panics: if the built-in files were broken (a test guards against that) it
// returns an empty set and [CheckEmbedded] reports why.
func Embedded() *Set {
	s, err := loadEmbedded()
	if err != nil {
		return newSet()
	}
	return s
}

// CheckEmbedded returns the error, if any, from loading the built-in
// schemas, for start-up checks.
func CheckEmbedded() error {
	_, err := loadEmbedded()
	return err
}

// EmbeddedFS returns the built-in schema files, for tools that list or
// export them.
func EmbeddedFS() fs.FS { return embedded }

func (s *Set) overlay(fsys fs.FS, prefix string) (*Set, error) {
	l := loader{ProblemList{Prefix: prefix}}
	var schemaFiles, codeFiles []string
	l.WalkFiles(fsys, func(p, base string) {
		if strings.HasSuffix(base, ".yml") {
			l.Add(l.Path(p), 0, "", "schema files must end in .yaml", "rename it to "+strings.TrimSuffix(base, ".yml")+".yaml")
			return
		}
		if !strings.HasSuffix(base, ".yaml") || strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") {
			return
		}
		parts := strings.Split(p, "/")
		switch {
		case len(parts) == 2:
			schemaFiles = append(schemaFiles, p)
		case len(parts) == 3 && parts[1] == "codes":
			codeFiles = append(codeFiles, p)
		default:
			l.Add(l.Path(p), 0, "", "file is not where schema files go", "move it to <system>/<code>.yaml (a transaction) or <system>/codes/<name>.yaml (a code table)")
		}
	})

	out := &Set{schemas: maps.Clone(s.schemas), codes: maps.Clone(s.codes)}
	replaced := map[string]bool{}
	for _, p := range codeFiles {
		if t := l.codeTable(fsys, p); t != nil {
			key := t.System + "/" + t.Name
			out.codes[key] = t
			replaced[key] = true
		}
	}
	for _, p := range schemaFiles {
		if sc := l.schema(fsys, p, out.codes); sc != nil {
			out.schemas[sc.System+"/"+sc.Code] = sc
		}
	}
	// Schemas kept from s that use a replaced code table get the new codes.
	if len(replaced) > 0 {
		for _, key := range slices.Sorted(maps.Keys(out.schemas)) {
			if sc := out.schemas[key]; s.schemas[key] == sc && usesTable(sc, replaced) {
				out.schemas[key] = l.reresolve(sc, out.codes)
			}
		}
	}
	if len(l.Problems) > 0 {
		l.Sort()
		return nil, &LoadError{Problems: l.Problems}
	}
	return out, nil
}

// loader collects problems while files are read.
type loader struct {
	ProblemList
}

// parse reads one YAML file into a node.
func (l *loader) parse(fsys fs.FS, p string) *yaml.Node {
	data, ok := l.ReadFile(fsys, p)
	if !ok {
		return nil
	}
	root, problems := ParseYAML(l.Path(p), data, "schema", "schemas/README.md")
	l.Problems = append(l.Problems, problems...)
	return root
}

// fileCtx decodes nodes of one file and records problems with lines.
type fileCtx struct {
	l    *loader
	file string
	bad  map[*yaml.Node]bool // nodes already reported; decoding them stays silent
}

// skip reports whether n was already reported as unusable.
func (c *fileCtx) skip(n *yaml.Node) bool { return c.bad[n] }

func (c *fileCtx) add(n *yaml.Node, field, reason, fix string) {
	c.l.AddAt(c.file, n, field, reason, fix)
}

// mapping checks that n is a mapping with only known keys and returns the
// value nodes by key. Aliases are refused.
func (c *fileCtx) mapping(n *yaml.Node, field string, known []string) map[string]*yaml.Node {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		c.add(n, field, "anchors and aliases (&x, *x) are not supported", "write the value out in full")
		return nil
	}
	if n.Kind != yaml.MappingNode {
		c.add(n, field, fmt.Sprintf("expected a mapping of keys, got %s", nodeKind(n)), "write key: value lines")
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			c.add(k, field, "a key must be plain text", "write key: value")
			continue
		}
		kf := join(field, k.Value)
		if _, dup := out[k.Value]; dup {
			c.add(k, kf, "key is given twice", "keep one of them")
			continue
		}
		if known != nil && !slices.Contains(known, k.Value) {
			fix := "remove it; allowed keys are " + strings.Join(known, ", ")
			if near := Nearest(k.Value, known); near != "" {
				fix = fmt.Sprintf("did you mean %q? allowed keys are %s", near, strings.Join(known, ", "))
			}
			c.add(k, kf, "unknown key", fix)
			continue
		}
		if v.Kind == yaml.AliasNode || v.Anchor != "" {
			c.add(v, kf, "anchors and aliases (&x, *x) are not supported", "write the value out in full")
			if c.bad == nil {
				c.bad = map[*yaml.Node]bool{}
			}
			c.bad[v] = true
		}
		out[k.Value] = v
	}
	return out
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing (null)"
		}
		return fmt.Sprintf("the value %q", shorten(n.Value))
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func (c *fileCtx) str(n *yaml.Node, field string) (string, bool) {
	if n == nil || c.skip(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		c.add(n, field, fmt.Sprintf("expected text, got %s", nodeKind(n)), "write a plain or quoted string")
		return "", false
	}
	return n.Value, true
}

func (c *fileCtx) integer(n *yaml.Node, field string) (int, bool) {
	if n == nil || c.skip(n) {
		return 0, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		c.add(n, field, fmt.Sprintf("expected a whole number, got %s", nodeKind(n)), "write digits only, for example 500")
		return 0, false
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < 0 || v > 1<<31-1 {
		c.add(n, field, fmt.Sprintf("expected a whole number between 0 and %d, got %q", 1<<31-1, n.Value), "write a non-negative number, for example 500")
		return 0, false
	}
	return v, true
}

func (c *fileCtx) boolean(n *yaml.Node, field string) (bool, bool) {
	if n == nil || c.skip(n) {
		return false, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		c.add(n, field, fmt.Sprintf("expected true or false, got %s", nodeKind(n)), "write true or false")
		return false, false
	}
	return n.Value == "true" || n.Value == "True" || n.Value == "TRUE", true
}

func (c *fileCtx) requireStr(m map[string]*yaml.Node, parent *yaml.Node, field, key string) string {
	n, ok := m[key]
	if !ok {
		c.add(parent, join(field, key), "is required and missing", fmt.Sprintf("add %s: …", key))
		return ""
	}
	s, ok := c.str(n, join(field, key))
	if ok && strings.TrimSpace(s) == "" && !c.skip(n) {
		c.add(n, join(field, key), "is empty", fmt.Sprintf("write a value for %s", key))
	}
	return s
}

func (c *fileCtx) optStr(m map[string]*yaml.Node, field, key string) string {
	if n, ok := m[key]; ok && !isNull(n) {
		s, _ := c.str(n, join(field, key))
		return s
	}
	return ""
}

var codeTableKeys = []string{"name", "label", "source", "reconstructed", "reconstructionNote", "description", "codes"}

func (l *loader) codeTable(fsys fs.FS, p string) *CodeTable {
	root := l.parse(fsys, p)
	if root == nil {
		return nil
	}
	before := len(l.Problems)
	c := &fileCtx{l: l, file: l.Path(p)}
	m := c.mapping(root, "", codeTableKeys)
	if m == nil {
		return nil
	}
	parts := strings.Split(p, "/")
	want := strings.TrimSuffix(parts[2], ".yaml")
	t := &CodeTable{System: parts[0], File: c.file}
	t.Name = c.requireStr(m, root, "", "name")
	if t.Name != "" && t.Name != want {
		c.add(m["name"], "name", fmt.Sprintf("name %q does not match the file name %q", t.Name, parts[2]), fmt.Sprintf("write name: %s or rename the file to %s.yaml", want, t.Name))
	}
	t.Label = c.optStr(m, "", "label")
	t.Source = c.optStr(m, "", "source")
	t.Description = c.optStr(m, "", "description")
	t.ReconstructionNote = c.optStr(m, "", "reconstructionNote")
	if n, ok := m["reconstructed"]; ok {
		t.Reconstructed, _ = c.boolean(n, "reconstructed")
	}
	c.checkReconstruction(root, m, t.Reconstructed, t.ReconstructionNote)
	n, ok := m["codes"]
	if !ok {
		c.add(root, "codes", "is required and missing", "add codes: with one \"code\": label line per code")
	} else {
		t.Codes = c.codes(n, "codes")
	}
	if len(l.Problems) > before {
		return nil
	}
	return t
}

func (c *fileCtx) checkReconstruction(root *yaml.Node, m map[string]*yaml.Node, reconstructed bool, note string) {
	switch {
	case reconstructed && strings.TrimSpace(note) == "":
		c.add(root, "reconstructionNote", "reconstructed is true but there is no reconstructionNote", "say what was reconstructed, from what, and how to replace it")
	case !reconstructed && note != "":
		c.add(m["reconstructionNote"], "reconstructionNote", "a reconstructionNote is given but reconstructed is not true", "set reconstructed: true, or remove the note")
	}
}

// codes decodes an inline code table: a non-empty mapping code → label.
func (c *fileCtx) codes(n *yaml.Node, field string) map[string]string {
	if c.skip(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		c.add(n, field, fmt.Sprintf("expected a mapping of code: label, got %s", nodeKind(n)), `write one "code": label line per code`)
		return nil
	}
	m := c.mapping(n, field, nil)
	if m == nil {
		return nil
	}
	if len(m) == 0 {
		c.add(n, field, "code table is empty", "list at least one code")
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k == "" {
			c.add(v, field, "a code is empty", "give every code a value")
			continue
		}
		label, ok := c.str(v, join(field, k))
		if ok {
			out[k] = label
		}
	}
	return out
}

var schemaKeys = []string{"code", "name", "system", "direction", "batchLimit", "batchField", "source", "reconstructed", "reconstructionNote", "description", "input", "output"}

var fieldKeys = []string{"name", "label", "type", "maxLength", "lengthUnit", "required", "format", "codes", "example", "fields", "minItems", "maxItems", "description", "platformOnly", "requiredUnless", "pattern", "personal"}

// maxDepth bounds how deeply fields may nest.
const maxDepth = 16

// maxMinItems bounds minItems, so that example documents stay small.
const maxMinItems = 1000

func (l *loader) schema(fsys fs.FS, p string, tables map[string]*CodeTable) *Schema {
	root := l.parse(fsys, p)
	if root == nil {
		return nil
	}
	before := len(l.Problems)
	c := &fileCtx{l: l, file: l.Path(p)}
	m := c.mapping(root, "", schemaKeys)
	if m == nil {
		return nil
	}
	parts := strings.Split(p, "/")
	wantCode := strings.TrimSuffix(parts[1], ".yaml")
	s := &Schema{File: c.file}
	s.Code = c.requireStr(m, root, "", "code")
	if s.Code != "" && s.Code != wantCode {
		c.add(m["code"], "code", fmt.Sprintf("code %q does not match the file name %q", s.Code, parts[1]), fmt.Sprintf("write code: %s or rename the file to %s.yaml", wantCode, s.Code))
	}
	s.Name = c.requireStr(m, root, "", "name")
	s.System = c.requireStr(m, root, "", "system")
	if s.System != "" && s.System != parts[0] {
		c.add(m["system"], "system", fmt.Sprintf("system %q does not match the directory %q", s.System, parts[0]), fmt.Sprintf("write system: %s or move the file to %s/", parts[0], s.System))
	}
	if d := c.requireStr(m, root, "", "direction"); d != "" {
		s.Direction = Direction(d)
		if !s.Direction.Valid() {
			c.add(m["direction"], "direction", fmt.Sprintf("direction %q is not known", d), "use one of upload, download, query, revoke, feedback")
		}
	}
	if n, ok := m["batchLimit"]; ok {
		s.BatchLimit, _ = c.integer(n, "batchLimit")
	}
	s.BatchField = c.optStr(m, "", "batchField")
	s.Source = c.requireStr(m, root, "", "source")
	s.Description = c.optStr(m, "", "description")
	s.ReconstructionNote = c.optStr(m, "", "reconstructionNote")
	if n, ok := m["reconstructed"]; ok {
		s.Reconstructed, _ = c.boolean(n, "reconstructed")
	}
	c.checkReconstruction(root, m, s.Reconstructed, s.ReconstructionNote)
	sys := parts[0]
	for _, side := range []string{"input", "output"} {
		n, ok := m[side]
		if !ok || isNull(n) {
			continue
		}
		fields := c.fields(n, side, sys, tables, 1)
		if side == "input" {
			s.Input = fields
		} else {
			s.Output = fields
		}
	}
	c.checkBatch(s, m, root)
	if len(l.Problems) > before {
		return nil
	}
	return s
}

func (c *fileCtx) checkBatch(s *Schema, m map[string]*yaml.Node, root *yaml.Node) {
	switch {
	case s.BatchLimit == 0 && s.BatchField == "":
		return
	case s.BatchLimit == 0:
		c.add(m["batchField"], "batchField", "batchField is set but batchLimit is 0", "set batchLimit to the most items per call, or remove batchField")
		return
	case s.BatchField == "":
		c.add(m["batchLimit"], "batchLimit", "batchLimit is set but batchField is missing", "name the array it limits, e.g. batchField: fee (input) or batchField: output.records")
		return
	}
	side, p := s.BatchPath()
	fields := s.Input
	if side == "output" {
		fields = s.Output
	}
	f := lookup(fields, p)
	switch {
	case f == nil:
		c.add(m["batchField"], "batchField", fmt.Sprintf("no %s field %q", side, strings.Join(p, ".")), "give the dotted path of an array field; prefix output. for an output array")
	case f.Type.Kind != KindArray:
		c.add(m["batchField"], "batchField", fmt.Sprintf("%s field %q is %s, not an array", side, strings.Join(p, "."), f.Type), "point batchField at an array field")
	}
}

func (c *fileCtx) fields(n *yaml.Node, field, system string, tables map[string]*CodeTable, depth int) []Field {
	if c.skip(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		c.add(n, field, fmt.Sprintf("expected a list of fields, got %s", nodeKind(n)), "write one \"- name: …\" entry per field")
		return nil
	}
	if depth > maxDepth {
		c.add(n, field, fmt.Sprintf("fields nest deeper than %d levels", maxDepth), "flatten the structure")
		return nil
	}
	out := make([]Field, 0, len(n.Content))
	nodes := make([]*yaml.Node, 0, len(n.Content)) // of out, for messages
	seen := map[string]int{}
	for i, item := range n.Content {
		f, ok := c.field(item, fmt.Sprintf("%s[%d]", field, i), field, system, tables, depth)
		if !ok {
			continue
		}
		if line, dup := seen[f.Name]; dup {
			c.add(item, join(field, f.Name), fmt.Sprintf("field name is used twice (also on line %d)", line), "rename or remove one of them")
			continue
		}
		seen[f.Name] = item.Line
		out = append(out, f)
		nodes = append(nodes, item)
	}
	for i, f := range out {
		if f.RequiredUnless == "" {
			continue
		}
		if alt := find(out, f.RequiredUnless); alt == nil || !alt.PlatformOnly {
			c.add(nodes[i], join(join(field, f.Name), "requiredUnless"), fmt.Sprintf("requiredUnless names %q, which is not a platformOnly field beside it", f.RequiredUnless),
				"name a sibling field marked platformOnly: true, or remove requiredUnless")
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (c *fileCtx) field(n *yaml.Node, posName, parent, system string, tables map[string]*CodeTable, depth int) (Field, bool) {
	// Name the field by its name in messages about its other keys.
	if name := peekName(n); name != "" {
		posName = join(parent, name)
	}
	m := c.mapping(n, posName, fieldKeys)
	if m == nil {
		return Field{}, false
	}
	var f Field
	name := c.requireStr(m, n, posName, "name")
	if name == "" {
		return Field{}, false
	}
	ok := true
	if strings.ContainsAny(name, " \t\r\n.[]\"") {
		c.add(m["name"], join(parent, name), "a field name may not contain spaces, dots, brackets or quotes", "use the key exactly as the JSON carries it")
		ok = false
	}
	f.Name = name
	at := join(parent, name)
	f.Label = c.optStr(m, at, "label")
	f.Description = c.optStr(m, at, "description")
	if tn, has := m["type"]; !has {
		c.add(n, join(at, "type"), "is required and missing", "add type: string (or integer, decimal(p,s), date, datetime, enum, boolean, object, array)")
		ok = false
	} else if ts, good := c.str(tn, join(at, "type")); good {
		t, err := ParseType(ts)
		if err != nil {
			reason, fix, _ := strings.Cut(err.Error(), "; ")
			c.add(tn, join(at, "type"), reason, fix)
			ok = false
		} else {
			f.Type = t
		}
	} else {
		ok = false
	}
	if rn, has := m["required"]; has {
		f.Required, _ = c.boolean(rn, join(at, "required"))
	}
	if v, has := m["maxLength"]; has {
		f.MaxLength, _ = c.integer(v, join(at, "maxLength"))
	}
	if v, has := m["lengthUnit"]; has {
		u, _ := c.str(v, join(at, "lengthUnit"))
		f.LengthUnit = LengthUnit(u)
		if f.LengthUnit != UnitChars && f.LengthUnit != UnitBytes {
			c.add(v, join(at, "lengthUnit"), fmt.Sprintf("lengthUnit %q is not known", u), "use chars (characters) or bytes (UTF-8 bytes)")
		}
	}
	f.Format = c.optStr(m, at, "format")
	if v, has := m["minItems"]; has {
		f.MinItems, _ = c.integer(v, join(at, "minItems"))
	}
	if v, has := m["maxItems"]; has {
		f.MaxItems, _ = c.integer(v, join(at, "maxItems"))
	}
	if v, has := m["platformOnly"]; has {
		f.PlatformOnly, _ = c.boolean(v, join(at, "platformOnly"))
	}
	f.RequiredUnless = c.optStr(m, at, "requiredUnless")
	f.Pattern = c.optStr(m, at, "pattern")
	if v, has := m["personal"]; has {
		f.Personal, _ = c.boolean(v, join(at, "personal"))
	}
	if !ok {
		// Still report problems in the children.
		if fn, has := m["fields"]; has && !isNull(fn) {
			c.fields(fn, at, system, tables, depth+1)
		}
		return f, false
	}
	k := f.Type.Kind
	scalar := f.Type.Scalar()
	if f.MaxLength > 0 && (k == KindDecimal || k == KindBoolean || !scalar) {
		fix := "remove it"
		if k == KindDecimal {
			fix = "remove it; a decimal's length is its precision, decimal(p,s)"
		}
		c.add(m["maxLength"], join(at, "maxLength"), fmt.Sprintf("maxLength does not apply to %s", f.Type), fix)
	}
	if f.LengthUnit != "" && f.MaxLength == 0 {
		c.add(m["lengthUnit"], join(at, "lengthUnit"), "lengthUnit without maxLength has no effect", "set maxLength or remove lengthUnit")
	}
	if f.LengthUnit == UnitBytes && k == KindInteger {
		c.add(m["lengthUnit"], join(at, "lengthUnit"), "an integer's maxLength counts digits", "remove lengthUnit")
	}
	if f.Format != "" {
		switch {
		case k != KindDate && k != KindDateTime:
			c.add(m["format"], join(at, "format"), fmt.Sprintf("format only applies to date and datetime, not %s", f.Type), "remove it")
		default:
			if reason, fix := checkLayout(f.Format, k); reason != "" {
				c.add(m["format"], join(at, "format"), reason, fix)
			}
		}
	}
	if f.Pattern != "" {
		if k != KindString {
			c.add(m["pattern"], join(at, "pattern"), fmt.Sprintf("pattern only applies to string fields, not %s", f.Type),
				"remove it: enums, dates, datetimes and numbers have rules of their own")
		} else if _, err := compilePattern(f.Pattern); err != nil {
			c.add(m["pattern"], join(at, "pattern"), fmt.Sprintf("pattern `%s` is not a valid regular expression: %v", f.Pattern, err),
				"write it in Go's regexp (RE2) syntax, for example `https://\\S+`; it must match the whole value")
		}
	}
	if f.PlatformOnly {
		switch {
		case parent == "output" || strings.HasPrefix(parent, "output."):
			c.add(m["platformOnly"], join(at, "platformOnly"), "platformOnly applies to input fields only (platform messages are inputs)", "remove it")
		case !scalar:
			c.add(m["platformOnly"], join(at, "platformOnly"), fmt.Sprintf("platformOnly applies to scalar fields, not %s", f.Type), "remove it, or mark the scalar children instead")
		case f.Required:
			c.add(m["required"], join(at, "required"), "a platformOnly field cannot be required: it stands in for a field of the external system", "remove required, and give that field requiredUnless: "+name)
		}
	}
	if f.Personal && !scalar {
		c.add(m["personal"], join(at, "personal"), fmt.Sprintf("personal applies to scalar fields, not %s (the validator never quotes an object or array)", f.Type),
			"remove it, and mark the scalar children that carry personal data instead")
	}
	if f.RequiredUnless != "" && !f.Required {
		c.add(m["requiredUnless"], join(at, "requiredUnless"), "requiredUnless without required: true has no effect", "add required: true or remove requiredUnless")
	}
	if (f.MinItems > 0 || f.MaxItems > 0) && k != KindArray {
		c.add(n, at, fmt.Sprintf("minItems and maxItems only apply to arrays, not %s", f.Type), "remove them")
	}
	if f.MinItems > maxMinItems {
		c.add(m["minItems"], join(at, "minItems"), fmt.Sprintf("minItems %d is more than medgate supports (%d)", f.MinItems, maxMinItems), "lower it")
	}
	if f.MaxItems > 0 && f.MinItems > f.MaxItems {
		c.add(m["minItems"], join(at, "minItems"), fmt.Sprintf("minItems %d is larger than maxItems %d", f.MinItems, f.MaxItems), "lower minItems or raise maxItems")
	}
	// codes
	cn, hasCodes := m["codes"]
	switch {
	case hasCodes && k != KindEnum:
		c.add(cn, join(at, "codes"), fmt.Sprintf("codes only apply to enum fields, not %s", f.Type), "set type: enum or remove codes")
	case !hasCodes && k == KindEnum:
		c.add(n, join(at, "codes"), "an enum needs a code table", "add codes: with code: label lines, or codes: <name of a table in "+system+"/codes/>")
	case hasCodes && cn.Kind == yaml.ScalarNode && !isNull(cn):
		f.CodesRef = cn.Value
		t, found := tables[system+"/"+cn.Value]
		if !found {
			c.add(cn, join(at, "codes"), fmt.Sprintf("code table %q does not exist", cn.Value), fmt.Sprintf("create %s/codes/%s.yaml or fix the name (known: %s)", system, cn.Value, strings.Join(tableNames(tables, system), ", ")))
		} else {
			f.Codes = t.Codes
		}
	case hasCodes:
		f.Codes = c.codes(cn, join(at, "codes"))
	}
	// children
	fn, hasFields := m["fields"]
	switch {
	case hasFields && scalar:
		c.add(fn, join(at, "fields"), fmt.Sprintf("fields only apply to object and array, not %s", f.Type), "remove them or change the type")
	case !scalar && (!hasFields || isNull(fn)):
		c.add(n, join(at, "fields"), fmt.Sprintf("an %s needs its fields", f.Type), "add fields: with at least one child field")
	case !scalar:
		f.Fields = c.fields(fn, at, system, tables, depth+1)
		if len(f.Fields) == 0 && fn.Kind == yaml.SequenceNode && len(fn.Content) == 0 {
			c.add(fn, join(at, "fields"), "fields is empty", "add at least one child field")
		}
	}
	// example
	if en, has := m["example"]; has && !isNull(en) {
		switch {
		case !scalar:
			c.add(en, join(at, "example"), fmt.Sprintf("an %s takes its example from its fields", f.Type), "move the example to the child fields")
		case en.Kind != yaml.ScalarNode:
			c.add(en, join(at, "example"), fmt.Sprintf("expected a single value, got %s", nodeKind(en)), "write one example value")
		default:
			ex, err := exampleValue(&f, en)
			if err != nil {
				c.add(en, join(at, "example"), err.Error(), "write an example of the field's type")
				break
			}
			f.Example = ex
			// Required is one of the field's rules too: an example
			// without a value would make ExampleInput a document the
			// schema refuses.
			if f.Required && (ex == "" || isBlank(ex)) {
				what := "is empty"
				if ex != "" {
					what = "holds only white space"
				}
				c.add(en, join(at, "example"), "the example of a required field "+what, "write an example with a value")
				break
			}
			if f.Codes != nil || k != KindEnum {
				for _, e := range checkScalar(&f, ex) {
					c.add(en, join(at, "example"), "the example fails the field's own rules: "+e.msg, "fix the example or the field")
				}
			}
		}
	}
	return f, true
}

// peekName returns the scalar value of a mapping's "name" key, or "".
func peekName(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" && n.Content[i+1].Kind == yaml.ScalarNode {
			return n.Content[i+1].Value
		}
	}
	return ""
}

func tableNames(tables map[string]*CodeTable, system string) []string {
	var names []string
	for _, t := range tables {
		if t.System == system {
			names = append(names, t.Name)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return []string{"none"}
	}
	return names
}

// exampleValue converts an example node to the Go value the validator
// sees for that type: string, int64, json.Number or bool.
func exampleValue(f *Field, n *yaml.Node) (any, error) {
	switch f.Type.Kind {
	case KindInteger:
		v, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("example %q is not a whole number", shorten(n.Value))
		}
		return v, nil
	case KindDecimal:
		if !plainNumber(n.Value) {
			return nil, fmt.Errorf("example %q is not a plain decimal number", shorten(n.Value))
		}
		return json.Number(n.Value), nil
	case KindBoolean:
		switch n.Value {
		case "true", "True", "TRUE":
			return true, nil
		case "false", "False", "FALSE":
			return false, nil
		}
		return nil, fmt.Errorf("example %q is not true or false", shorten(n.Value))
	}
	return n.Value, nil
}

// checkLayout checks that a Go time layout can express a date (and, for
// datetimes, a time of day). It recognises Java-style patterns and says
// what to write instead.
func checkLayout(layout string, k Kind) (reason, fix string) {
	if strings.Contains(layout, "yyyy") || strings.Contains(layout, "dd") || strings.Contains(layout, "HH") {
		return fmt.Sprintf("format %q looks like a Java pattern; medgate uses Go layouts", layout), fmt.Sprintf("write %q", JavaLayout(layout))
	}
	ref := time.Date(2024, 11, 23, 13, 45, 56, 0, time.UTC)
	t, err := time.Parse(layout, ref.Format(layout))
	okDate := err == nil && t.Year() == 2024 && t.Month() == 11 && t.Day() == 23
	okTime := okDate && t.Hour() == 13 && t.Minute() == 45
	if k == KindDate && !okDate {
		return fmt.Sprintf("format %q cannot express a date", layout), "use a Go layout with year, month and day, like 2006-01-02 or 20060102"
	}
	if k == KindDateTime && !okTime {
		return fmt.Sprintf("format %q cannot express a date and time", layout), "use a Go layout with year, month, day, hour and minute, like 2006-01-02 15:04:05 or 20060102150405"
	}
	return "", ""
}

// JavaLayout converts a Java/Excel style date pattern such as
// "yyyy-MM-dd HH:mm:ss" to the Go layout "2006-01-02 15:04:05". Text that
// is not a pattern letter is kept.
func JavaLayout(p string) string {
	r := strings.NewReplacer("yyyy", "2006", "MM", "01", "dd", "02", "HH", "15", "mm", "04", "ss", "05", "SSS", "000")
	return r.Replace(p)
}

func usesTable(s *Schema, tables map[string]bool) bool {
	var walk func([]Field) bool
	walk = func(fs []Field) bool {
		for i := range fs {
			if fs[i].CodesRef != "" && tables[s.System+"/"+fs[i].CodesRef] {
				return true
			}
			if walk(fs[i].Fields) {
				return true
			}
		}
		return false
	}
	return walk(s.Input) || walk(s.Output)
}

// reresolve copies a schema whose code table was replaced by an overlay and
// resolves its codes again, reporting examples that no longer fit.
func (l *loader) reresolve(s *Schema, tables map[string]*CodeTable) *Schema {
	cp := *s
	var walk func(fs []Field, at string) []Field
	walk = func(fs []Field, at string) []Field {
		out := slices.Clone(fs)
		for i := range out {
			f := &out[i]
			fat := join(at, f.Name)
			if f.CodesRef != "" {
				if t, ok := tables[s.System+"/"+f.CodesRef]; ok {
					f.Codes = t.Codes
				}
				if f.Example != nil {
					for _, e := range checkScalar(f, f.Example) {
						l.Add(s.File, 0, join(fat, "example"), "after the overlay replaced code table "+f.CodesRef+", the example fails: "+e.msg, "overlay this schema too, with an example from the new table")
					}
				}
			}
			f.Fields = walk(f.Fields, fat)
		}
		return out
	}
	cp.Input = walk(s.Input, "input")
	cp.Output = walk(s.Output, "output")
	return &cp
}
