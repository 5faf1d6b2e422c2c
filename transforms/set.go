package transforms

import (
	"embed"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/medgate/medgate/schemas"
)

// DefaultSite is the site directory whose mappings serve every site that
// has none of its own.
const DefaultSite = "default"

// Set is a loaded, checked collection of mappings and code tables. A Set
// is immutable and safe for concurrent use.
type Set struct {
	schemas  *schemas.Set
	files    map[string]fileData // mapping name → file
	tabFiles map[string]fileData // "<site>/<table>" → file
	mappings map[string]*Mapping
	out      map[string]*Mapping // outbound: "<site>/out/<format>/<kind>[.<type>]"
	tables   map[string]Tables   // site → tables
}

type fileData struct {
	path string // for messages
	data []byte
}

//go:embed mappings
var mappingsFS embed.FS

// The examples of the built-in mappings, for `medgate transform test`.
//
//go:embed testdata/demo
var examplesFS embed.FS

// Load reads every mapping (<site>/<format>/<type>.yaml) and code table
// (<site>/tables/<name>.yaml) in fsys and checks them against the built-in
// schemas. When anything is wrong it returns a *LoadError listing every
// problem, each naming file, line and field. Directories named testdata or
// starting with "." or "_" are skipped.
func Load(fsys fs.FS) (*Set, error) { return LoadWithSchemas(fsys, schemas.Embedded()) }

// LoadWithSchemas is [Load] checking the mappings against sch, for a site
// that overlays its own schemas.
func LoadWithSchemas(fsys fs.FS, sch *schemas.Set) (*Set, error) {
	s := &Set{schemas: sch, files: map[string]fileData{}, tabFiles: map[string]fileData{}}
	return s.overlay(fsys, "")
}

var loadEmbedded = sync.OnceValues(func() (*Set, error) {
	sub, err := fs.Sub(mappingsFS, "mappings")
	if err != nil {
		return nil, err
	}
	return Load(sub)
})

// Embedded returns the built-in mappings, loaded once. It never panics: if
// the built-in files were broken (a test guards against that) it returns an
// empty set and [CheckEmbedded] reports why.
func Embedded() *Set {
	s, err := loadEmbedded()
	if err != nil {
		return &Set{schemas: schemas.Embedded(), files: map[string]fileData{}, tabFiles: map[string]fileData{}, mappings: map[string]*Mapping{}, out: map[string]*Mapping{}, tables: map[string]Tables{}}
	}
	return s
}

// CheckEmbedded returns the error, if any, from loading the built-in
// mappings, for start-up checks.
func CheckEmbedded() error {
	_, err := loadEmbedded()
	return err
}

// EmbeddedExamples returns the examples of the built-in mappings, laid out
// as [Examples] reads them.
func EmbeddedExamples() fs.FS {
	sub, err := fs.Sub(examplesFS, "testdata")
	if err != nil {
		return emptyFS{}
	}
	return sub
}

type emptyFS struct{}

func (emptyFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// resolver finds a target schema in the set's schemas.
func (s *Set) resolver() schemaResolver {
	return s.schemas.Get
}

// Overlay returns a copy of s in which the mappings and tables found in dir
// (laid out like the built-in ones: <site>/<format>/<type>.yaml and
// <site>/tables/<name>.yaml) replace or add to those of s. A table file
// replaces the whole table of that name for its site. s is not changed.
// Every problem in dir's files is reported at once in a *LoadError.
func (s *Set) Overlay(dir string) (*Set, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("mapping overlay directory %q: %w; create it or correct the configured path", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("mapping overlay %q is not a directory; point the setting at a directory holding <site>/<format>/<type>.yaml files", dir)
	}
	return s.overlay(os.DirFS(dir), dir)
}

// OverlayFS is [Set.Overlay] for a file system instead of a directory.
func (s *Set) OverlayFS(fsys fs.FS) (*Set, error) { return s.overlay(fsys, "") }

// WithSchemas returns a copy of s whose mappings are checked against sch
// instead, for a site that overlays its own schemas.
func (s *Set) WithSchemas(sch *schemas.Set) (*Set, error) {
	out := &Set{schemas: sch, files: s.files, tabFiles: s.tabFiles}
	return out.build(&loader{})
}

// Find returns the mapping for a site, an input format (FormatJSON or
// FormatHL7v2) and a message type such as "workinjury.GYU102": the site's
// own, else the one in the DefaultSite directory.
func (s *Set) Find(site, format, typ string) (*Mapping, bool) {
	if m, ok := s.mappings[site+"/"+format+"/"+typ]; ok {
		return m, true
	}
	m, ok := s.mappings[DefaultSite+"/"+format+"/"+typ]
	return m, ok
}

// Get is [Set.Find] returning an error wrapping ErrNotFound, naming what is
// missing.
func (s *Set) Get(site, format, typ string) (*Mapping, error) {
	if m, ok := s.Find(site, format, typ); ok {
		return m, nil
	}
	return nil, fmt.Errorf("site %q, format %s, type %s: %w; add %s/%s/%s.yaml to the site's mapping directory", site, format, typ, ErrNotFound, site, format, typ)
}

// Mapping returns a mapping by its name, "<site>/<format>/<type>".
func (s *Set) Mapping(name string) (*Mapping, bool) {
	m, ok := s.mappings[name]
	return m, ok
}

// List returns every mapping, sorted by name.
func (s *Set) List() []*Mapping {
	out := slices.Collect(maps.Values(s.mappings))
	slices.SortFunc(out, func(a, b *Mapping) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Tables returns the code tables shipped for a site (its table files).
// The result must not be modified.
func (s *Set) Tables(site string) Tables { return s.tables[site] }

func (s *Set) overlay(fsys fs.FS, prefix string) (*Set, error) {
	l := &loader{ProblemList: schemas.ProblemList{Prefix: prefix}}
	out := &Set{schemas: s.schemas, files: maps.Clone(s.files), tabFiles: maps.Clone(s.tabFiles)}
	l.WalkFiles(fsys, func(p, base string) {
		if strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") {
			return
		}
		if strings.HasSuffix(base, ".yml") {
			l.Add(l.Path(p), 0, "", "mapping files must end in .yaml", "rename it to "+strings.TrimSuffix(base, ".yml")+".yaml")
			return
		}
		if !strings.HasSuffix(base, ".yaml") {
			return
		}
		data, ok := l.ReadFile(fsys, p)
		if !ok {
			return
		}
		parts := strings.Split(strings.TrimSuffix(p, ".yaml"), "/")
		switch {
		case len(parts) == 3 && parts[1] == "tables":
			out.tabFiles[parts[0]+"/"+parts[2]] = fileData{path: l.Path(p), data: data}
		case len(parts) == 3 && parts[1] != OutDir:
			out.files[strings.Join(parts, "/")] = fileData{path: l.Path(p), data: data}
		case len(parts) == 4 && parts[1] == OutDir:
			out.files[strings.Join(parts, "/")] = fileData{path: l.Path(p), data: data}
		default:
			l.Add(l.Path(p), 0, "", "file is not where mapping files go",
				"move it to <site>/<json|hl7v2>/<type>.yaml (a mapping of platform messages), <site>/out/<json|hl7v2>/<reply|event>[.<type>].yaml (an outbound mapping) or <site>/tables/<name>.yaml (a code table)")
		}
	})
	return out.build(l)
}

// build compiles every table and mapping file of s.
func (s *Set) build(l *loader) (*Set, error) {
	s.tables = map[string]Tables{}
	for _, key := range slices.Sorted(maps.Keys(s.tabFiles)) {
		f := s.tabFiles[key]
		site, name, _ := strings.Cut(key, "/")
		if t := l.table(f.path, name, f.data); t != nil {
			if s.tables[site] == nil {
				s.tables[site] = Tables{}
			}
			s.tables[site][name] = t
		}
	}
	s.mappings = map[string]*Mapping{}
	s.out = map[string]*Mapping{}
	resolve := s.resolver()
	for _, name := range slices.Sorted(maps.Keys(s.files)) {
		f := s.files[name]
		if strings.Count(name, "/") == 3 {
			if m := l.compileOutbound(f.path, name, f.data, s.tables[strings.SplitN(name, "/", 2)[0]]); m != nil {
				s.out[name] = m
			}
			continue
		}
		if m := l.compileMapping(f.path, name, f.data, resolve, s.tables[strings.SplitN(name, "/", 2)[0]]); m != nil {
			s.mappings[name] = m
		}
	}
	if len(l.Problems) > 0 {
		l.Sort()
		return nil, &LoadError{Problems: l.Problems}
	}
	return s, nil
}

// loader collects problems while files are read.
type loader struct {
	schemas.ProblemList
}

// parse reads one YAML document into a node, guarding against parser
// panics. It reports the first problem with the file, if any, and then
// returns nil.
func (l *loader) parse(file string, data []byte) *yaml.Node {
	root, problems := schemas.ParseYAML(file, data, "mapping", "transforms/README.md")
	if len(problems) > 0 {
		l.Problems = append(l.Problems, problems[0])
		return nil
	}
	if hasAlias(root) {
		l.Add(file, 0, "", "anchors and aliases (&x, *x) are not supported", "write the values out")
		return nil
	}
	return root
}

func hasAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return true
	}
	for _, c := range n.Content {
		if hasAlias(c) {
			return true
		}
	}
	return false
}

// table reads one code table file.
func (l *loader) table(file, name string, data []byte) map[string]string {
	c := &compiler{l: l, file: file}
	if !tableName.MatchString(name) {
		l.Add(file, 0, "", fmt.Sprintf("%q is not a table name", name), "name the file <name>.yaml with letters, digits, '.', '-' and '_'")
		return nil
	}
	root := l.parse(file, data)
	if root == nil {
		return nil
	}
	before := len(l.Problems)
	keys := c.mapping(root, "", []string{"description", "source", "codes"})
	if keys == nil {
		return nil
	}
	for _, k := range []string{"description", "source"} {
		if n := keys[k]; n != nil {
			c.str(n, k)
		}
	}
	cn := keys["codes"]
	if cn == nil {
		l.Add(file, root.Line, "codes", "the table has no codes", `add codes: with one "code": value per line`)
		return nil
	}
	out := map[string]string{}
	for _, kv := range c.pairs(cn, "codes") {
		k, v := kv[0], kv[1]
		out[k.Value] = c.str(v, "codes."+k.Value)
	}
	if len(out) == 0 && len(l.Problems) == before {
		l.Add(file, cn.Line, "codes", "the table has no codes", `add one "code": value per line`)
	}
	if len(l.Problems) > before {
		return nil
	}
	return out
}
