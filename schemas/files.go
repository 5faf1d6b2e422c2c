package schemas

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The helpers in this file read a tree of YAML files and collect every
// problem with them. [Load] uses them, and so does the transforms package
// for its mapping files, so that both skip, read and report alike.

// ProblemList collects the problems found while loading a tree of files.
// The zero value is ready to use.
type ProblemList struct {
	// Prefix, when not empty, is joined before the paths of the files, so
	// that problems name them as they are on disk (the overlay directory).
	Prefix string
	// Problems holds the problems in the order they were added.
	Problems []Problem
}

// Path returns the name problems give the file at p in the loaded file
// system: p, joined to Prefix when that is set.
func (l *ProblemList) Path(p string) string {
	if l.Prefix == "" {
		return p
	}
	return path.Join(l.Prefix, p)
}

// Add records a problem.
func (l *ProblemList) Add(file string, line int, field, reason, fix string) {
	l.Problems = append(l.Problems, Problem{File: file, Line: line, Field: field, Reason: reason, Fix: fix})
}

// AddAt records a problem on the line of the YAML node n, or on line 0
// (unknown) when n is nil.
func (l *ProblemList) AddAt(file string, n *yaml.Node, field, reason, fix string) {
	line := 0
	if n != nil {
		line = n.Line
	}
	l.Add(file, line, field, reason, fix)
}

// Sort orders the problems by file, then line; problems on the same line
// keep the order they were added in.
func (l *ProblemList) Sort() {
	slices.SortStableFunc(l.Problems, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
}

// WalkFiles calls visit with the path and base name of every file in fsys,
// in lexical order. Like [Load], it skips directories (other than the root)
// named testdata or whose names start with "." or "_"; which of the files
// to read is up to visit. An entry that cannot be read, or a root that
// cannot be listed, is recorded as a problem.
func (l *ProblemList) WalkFiles(fsys fs.FS, visit func(p, base string)) {
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			l.cannotRead(p, err)
			return nil
		}
		base := d.Name()
		if d.IsDir() {
			if p != "." && (base == "testdata" || strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_")) {
				return fs.SkipDir
			}
			return nil
		}
		visit(p, base)
		return nil
	})
	if err != nil {
		l.Add(l.Path("."), 0, "", fmt.Sprintf("cannot list files: %v", err), "check that the directory exists and is readable")
	}
}

// ReadFile returns the contents of the file at p in fsys. When the file
// cannot be read it records a problem and returns false.
func (l *ProblemList) ReadFile(fsys fs.FS, p string) ([]byte, bool) {
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		l.cannotRead(p, err)
		return nil, false
	}
	return data, true
}

func (l *ProblemList) cannotRead(p string, err error) {
	l.Add(l.Path(p), 0, "", fmt.Sprintf("cannot read: %v", err), "check the file permissions")
}

var yamlLine = regexp.MustCompile(`line (\d+):?`)

// ParseYAML decodes data, the contents of file, as one YAML document and
// returns its root node, guarding against parser panics. kind and readme
// name what the file should hold and where its format is described, for
// the fixes: "schema" and "schemas/README.md", say.
//
// It returns every problem it finds, naming file: the file is empty, is not
// valid YAML (on the line of the syntax error), or made the parser fail; or
// it holds a second document, which comes first, before a problem with the
// first document. root is nil when there is no document to read; it is set
// alongside a problem only when the file holds more than one document,
// which a caller may report and still check the first one.
func ParseYAML(file string, data []byte, kind, readme string) (root *yaml.Node, problems []Problem) {
	var l ProblemList
	defer func() {
		if r := recover(); r != nil {
			l.Add(file, 0, "", fmt.Sprintf("the YAML parser failed: %v", r), "check the file is valid YAML")
			root, problems = nil, l.Problems
		}
	}()
	empty := fmt.Sprintf("write a %s (see %s) or delete the file", kind, readme)
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			l.Add(file, 0, "", "file is empty", empty)
			return nil, l.Problems
		}
		line := 0
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		reason := yamlLine.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
		reason = strings.TrimLeft(reason, ": ")
		l.Add(file, line, "", "not valid YAML: "+reason, "fix the YAML syntax (indentation, quotes, colons)")
		return nil, l.Problems
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		l.Add(file, extra.Line, "", "file holds more than one YAML document", fmt.Sprintf("keep one %s per file and remove the extra ---", kind))
	}
	if len(doc.Content) == 0 {
		l.Add(file, 0, "", "file is empty", empty)
		return nil, l.Problems
	}
	return doc.Content[0], l.Problems
}
