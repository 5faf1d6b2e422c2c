// Package simspec gives the simulators under test/sim the field lists of
// the external transactions and checks messages against them with rules of
// its own.
//
// The field lists are the YAML files of schemas/ (the reconstructed
// specification data; their meaning is written down in schemas/README.md).
// simspec reads them with yaml.v3 and checks documents with code written
// from that README, not with the schemas package the adapters validate
// with: a simulator must fail a broken adapter, and it cannot when both
// run the same checks. Nothing here may import
// github.com/medgate/medgate/schemas or plugins/... (TestIndependent).
package simspec

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Field is one field of a transaction's input or output.
type Field struct {
	Name  string
	Label string
	// Kind is string, integer, decimal, date, datetime, enum, boolean,
	// object or array.
	Kind string
	// Precision and Scale are p and s of decimal(p,s).
	Precision, Scale int
	// MaxLength is the longest value (0: no limit): characters, or UTF-8
	// bytes when Bytes, for text; digits for an integer.
	MaxLength int
	Bytes     bool
	Required  bool
	// Layout is the Go time layout of a date or datetime.
	Layout string
	// Codes are the codes an enum takes.
	Codes              map[string]string
	MinItems, MaxItems int
	// Fields are the children of an object, or of each item of an array.
	Fields []Field
	// Pattern, when set, is what the whole of a string value must match
	// (the file's pattern, anchored at both ends).
	Pattern *regexp.Regexp
}

// Tx is one transaction.
type Tx struct {
	System, Code, Name string
	// BatchLimit is the most items per call in the array BatchField names
	// (a dotted path; "output." in front for an output array); 0: none.
	BatchLimit int
	BatchField string
	Input      []Field
	Output     []Field
}

// Spec is a loaded set of transactions.
type Spec struct {
	txs map[string]*Tx // by system + "/" + code
}

// Tx returns the transaction code of system.
func (s *Spec) Tx(system, code string) (*Tx, bool) {
	t, ok := s.txs[system+"/"+code]
	return t, ok
}

// List returns the transactions of system, by code.
func (s *Spec) List(system string) []*Tx {
	var out []*Tx
	for _, t := range s.txs {
		if t.System == system {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// The YAML forms, with every key schemas/README.md lists: a key not listed
// is a change of the format this package does not know, and an error.
type yamlTx struct {
	Code               string      `yaml:"code"`
	Name               string      `yaml:"name"`
	System             string      `yaml:"system"`
	Direction          string      `yaml:"direction"`
	BatchLimit         int         `yaml:"batchLimit"`
	BatchField         string      `yaml:"batchField"`
	Source             string      `yaml:"source"`
	Reconstructed      bool        `yaml:"reconstructed"`
	ReconstructionNote string      `yaml:"reconstructionNote"`
	Description        string      `yaml:"description"`
	Input              []yamlField `yaml:"input"`
	Output             []yamlField `yaml:"output"`
}

type yamlField struct {
	Name        string      `yaml:"name"`
	Label       string      `yaml:"label"`
	Type        string      `yaml:"type"`
	MaxLength   int         `yaml:"maxLength"`
	LengthUnit  string      `yaml:"lengthUnit"`
	Required    bool        `yaml:"required"`
	Format      string      `yaml:"format"`
	Codes       yaml.Node   `yaml:"codes"`
	Example     yaml.Node   `yaml:"example"`
	Fields      []yamlField `yaml:"fields"`
	MinItems    int         `yaml:"minItems"`
	MaxItems    int         `yaml:"maxItems"`
	Description string      `yaml:"description"`
	// Pattern is a regular expression the whole of a string value must
	// match (schemas/README.md).
	Pattern string `yaml:"pattern"`
	// PlatformOnly fields are medgate extensions the adapter acts on and
	// removes before sending: the external system does not know them, so
	// they are left out of the field lists and a request that carries one
	// is refused as unknown. RequiredUnless (a platform-only stand-in for a
	// required field) is the adapter's concern too: what reaches the
	// external system always carries the required field itself.
	PlatformOnly   bool   `yaml:"platformOnly"`
	RequiredUnless string `yaml:"requiredUnless"`
	// Personal marks a field that carries personal data: it only says
	// how medgate words its own messages, so the simulators read and
	// ignore it.
	Personal bool `yaml:"personal"`
}

type yamlCodes struct {
	Name               string            `yaml:"name"`
	Label              string            `yaml:"label"`
	Source             string            `yaml:"source"`
	Reconstructed      bool              `yaml:"reconstructed"`
	ReconstructionNote string            `yaml:"reconstructionNote"`
	Description        string            `yaml:"description"`
	Codes              map[string]string `yaml:"codes"`
}

// Load reads the transactions of the given systems from fsys, laid out
// like schemas/: <system>/<code>.yaml and <system>/codes/<name>.yaml.
func Load(fsys fs.FS, systems ...string) (*Spec, error) {
	s := &Spec{txs: map[string]*Tx{}}
	var errs []error
	for _, sys := range systems {
		tables := map[string]map[string]string{}
		names, _ := fs.Glob(fsys, sys+"/codes/*.yaml")
		for _, p := range names {
			var c yamlCodes
			if err := decode(fsys, p, &c); err != nil {
				errs = append(errs, err)
				continue
			}
			tables[strings.TrimSuffix(path.Base(p), ".yaml")] = c.Codes
		}
		files, _ := fs.Glob(fsys, sys+"/*.yaml")
		if len(files) == 0 {
			errs = append(errs, fmt.Errorf("simspec: no %s/*.yaml in the spec files; point the simulator at a copy of schemas/", sys))
		}
		for _, p := range files {
			var y yamlTx
			if err := decode(fsys, p, &y); err != nil {
				errs = append(errs, err)
				continue
			}
			t := &Tx{System: sys, Code: y.Code, Name: y.Name, BatchLimit: y.BatchLimit, BatchField: y.BatchField}
			var err error
			if t.Input, err = fields(p, "input", y.Input, tables); err != nil {
				errs = append(errs, err)
			}
			if t.Output, err = fields(p, "output", y.Output, tables); err != nil {
				errs = append(errs, err)
			}
			s.txs[sys+"/"+y.Code] = t
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

func decode(fsys fs.FS, p string, v any) error {
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		return fmt.Errorf("simspec: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("simspec: %s: %w; the simulators read the format of schemas/README.md", p, err)
	}
	return nil
}

var decimalType = regexp.MustCompile(`^decimal\((\d+),(\d+)\)$`)

// fields converts the YAML fields at where ("input", "input.fee") of file.
func fields(file, where string, ys []yamlField, tables map[string]map[string]string) ([]Field, error) {
	out := make([]Field, 0, len(ys))
	for _, y := range ys {
		if y.PlatformOnly {
			// Never sent to the external system (see yamlField).
			continue
		}
		at := where + "." + y.Name
		bad := func(format string, a ...any) error {
			return fmt.Errorf("simspec: %s: field %s: %s", file, at, fmt.Sprintf(format, a...))
		}
		f := Field{Name: y.Name, Label: y.Label, Kind: strings.ReplaceAll(y.Type, " ", ""), MaxLength: y.MaxLength,
			Required: y.Required, MinItems: y.MinItems, MaxItems: y.MaxItems}
		switch y.LengthUnit {
		case "", "chars":
		case "bytes":
			f.Bytes = true
		default:
			return nil, bad("lengthUnit %q is not chars or bytes", y.LengthUnit)
		}
		if m := decimalType.FindStringSubmatch(f.Kind); m != nil {
			f.Kind = "decimal"
			f.Precision, _ = strconv.Atoi(m[1])
			f.Scale, _ = strconv.Atoi(m[2])
			if f.Precision < 1 || f.Scale > f.Precision {
				return nil, bad("type %s: want decimal(p,s) with 1 ≤ p and s ≤ p", y.Type)
			}
		}
		if y.Pattern != "" {
			if f.Kind != "string" {
				return nil, bad("pattern on a %s field: only strings take one", y.Type)
			}
			re, err := regexp.Compile(`^(?:` + y.Pattern + `)$`)
			if err != nil {
				return nil, bad("pattern %s: %v", y.Pattern, err)
			}
			f.Pattern = re
		}
		switch f.Kind {
		case "string", "integer", "decimal", "boolean":
		case "date", "datetime":
			f.Layout = y.Format
			if f.Layout == "" {
				f.Layout = map[string]string{"date": "2006-01-02", "datetime": "2006-01-02 15:04:05"}[f.Kind]
			}
		case "enum":
			switch y.Codes.Kind {
			case yaml.ScalarNode:
				t, ok := tables[y.Codes.Value]
				if !ok {
					return nil, bad("code table %q not found under codes/", y.Codes.Value)
				}
				f.Codes = t
			case yaml.MappingNode:
				if err := y.Codes.Decode(&f.Codes); err != nil {
					return nil, bad("codes: %v", err)
				}
			default:
				return nil, bad("an enum needs codes (a table name or a mapping)")
			}
		case "object", "array":
			var err error
			if f.Fields, err = fields(file, at, y.Fields, tables); err != nil {
				return nil, err
			}
		default:
			return nil, bad("unknown type %q", y.Type)
		}
		out = append(out, f)
	}
	return out, nil
}

// Overlay returns a file system holding the files of base, with those of
// over (the same layout) in place of or beside them, as a site's schema
// directory overlays the built-in files.
func Overlay(base, over fs.FS) fs.FS { return overlay{base, over} }

type overlay struct{ base, over fs.FS }

func (o overlay) Open(name string) (fs.File, error) {
	if f, err := o.over.Open(name); err == nil {
		return f, nil
	}
	return o.base.Open(name)
}

// Glob lists the matches of both file systems, once each.
func (o overlay) Glob(pattern string) ([]string, error) {
	a, err := fs.Glob(o.base, pattern)
	if err != nil {
		return nil, err
	}
	b, err := fs.Glob(o.over, pattern)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range append(a, b...) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}

// RepoFiles returns the schemas/ directory of the source tree this package
// was built from, or, when the binary was built elsewhere (-trimpath), the
// one above the working directory. A program that runs away from the
// source tree passes the files to the simulator itself.
func RepoFiles() (fs.FS, error) {
	var tried []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "schemas")
		if isDir(dir) {
			return os.DirFS(dir), nil
		}
		tried = append(tried, dir)
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if dir := filepath.Join(d, "schemas"); isDir(filepath.Join(dir, "workinjury")) {
				return os.DirFS(dir), nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
		tried = append(tried, "schemas/ above "+wd)
	}
	return nil, fmt.Errorf("simspec: the schema files are not found (tried %s); run from the medgate source tree or give the simulator the files", strings.Join(tried, ", "))
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
