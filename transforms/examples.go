package transforms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Example is one example input of a mapping and the output expected from
// it, read from <mapping name>/<case>.in.json (or .in.hl7) and
// <case>.out.json, or <case>.problems.json for an input the mapping must
// reject.
type Example struct {
	// Mapping is the mapping's name, "<site>/<format>/<type>".
	Mapping string
	// Case is the example's name, the file name before ".in.".
	Case string
	// Input is the example message.
	Input []byte
	// InputFile is the input's path in the examples file system.
	InputFile string
	// Want is the expected output or problems as JSON; nil when the
	// expected file does not exist yet.
	Want []byte
	// WantFile is where the expected output is (or is to be written):
	// <case>.out.json, or <case>.problems.json when that file exists.
	WantFile string
}

// Examples lists the examples in fsys, sorted by mapping and case. Each
// input file <site>/<format>/<type>/<case>.in.json or .in.hl7 is one
// example.
func Examples(fsys fs.FS) ([]Example, error) {
	var out []Example
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && (d.Name() == "fuzz" || strings.HasPrefix(d.Name(), ".")) {
				return fs.SkipDir
			}
			if strings.Count(p, "/") == 1 && d.Name() == OutDir {
				return fs.SkipDir // outbound examples: see OutboundExamples
			}
			return nil
		}
		base := path.Base(p)
		var name string
		switch {
		case strings.HasSuffix(base, ".in.json"):
			name = strings.TrimSuffix(base, ".in.json")
		case strings.HasSuffix(base, ".in.hl7"):
			name = strings.TrimSuffix(base, ".in.hl7")
		default:
			return nil
		}
		dir := path.Dir(p)
		if strings.Count(dir, "/") != 2 {
			return fmt.Errorf("example %s: put examples in <site>/<format>/<type>/<case>.in.json or .in.hl7", p)
		}
		in, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		out = append(out, newExample(fsys, dir, name, p, in, ".out.json"))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading examples: %w", err)
	}
	sortExamples(out)
	return out, nil
}

// newExample is the case name of mapping dir read from file p: its
// input, and what it should give — the problems file when there is one,
// else the output file with extension outExt (which need not exist yet).
func newExample(fsys fs.FS, dir, name, p string, in []byte, outExt string) Example {
	ex := Example{Mapping: dir, Case: name, Input: in, InputFile: p, WantFile: path.Join(dir, name+outExt)}
	if want, err := fs.ReadFile(fsys, path.Join(dir, name+".problems.json")); err == nil {
		ex.Want, ex.WantFile = want, path.Join(dir, name+".problems.json")
	} else if want, err := fs.ReadFile(fsys, ex.WantFile); err == nil {
		ex.Want = want
	}
	return ex
}

// sortExamples orders examples by mapping, then case.
func sortExamples(out []Example) {
	slices.SortFunc(out, func(a, b Example) int {
		if c := strings.Compare(a.Mapping, b.Mapping); c != 0 {
			return c
		}
		return strings.Compare(a.Case, b.Case)
	})
}

// Result is the outcome of running one example.
type Result struct {
	Example
	// Got is what the mapping produced: the output, or the problems when
	// there were any, as indented JSON.
	Got []byte
	// Problems are the problems the mapping reported.
	Problems []Problem
	// Diffs lists the differences from Want, one per JSON path; empty when
	// the example passes.
	Diffs []string
	// Err is set when the example could not be run (no such mapping).
	Err error
}

// Passed reports whether the example ran and matched its expected output.
func (r Result) Passed() bool { return r.Err == nil && len(r.Diffs) == 0 }

// Run applies an example's mapping to its input with the mapping's own
// tables plus tables, and compares the result with the expected output.
// An example of an outbound mapping is run with [Set.RunOutbound].
func (s *Set) Run(ex Example, tables Tables) Result {
	if _, ok := s.out[ex.Mapping]; ok {
		return s.RunOutbound(ex, tables)
	}
	res := Result{Example: ex}
	m, ok := s.Mapping(ex.Mapping)
	if !ok {
		res.Err = fmt.Errorf("example %s: no mapping %s: %w", ex.InputFile, ex.Mapping, ErrNotFound)
		return res
	}
	out, problems := m.Apply(ex.Input, tables)
	res.Problems = problems
	var got any = out
	if len(problems) > 0 {
		got = problems
	}
	res.Got = encodeJSON(got)
	switch {
	case ex.Want == nil:
		res.Diffs = []string{missingWant(ex, len(problems) > 0)}
	case strings.HasSuffix(ex.WantFile, ".problems.json") && len(problems) == 0:
		res.Diffs = []string{"the mapping was expected to reject the input but accepted it"}
	case !strings.HasSuffix(ex.WantFile, ".problems.json") && len(problems) > 0:
		res.Diffs = []string{"the mapping rejected the input:"}
		for _, p := range problems {
			res.Diffs = append(res.Diffs, "  "+p.Error())
		}
	default:
		res.Diffs = DiffJSON(ex.Want, res.Got)
	}
	return res
}

// missingWant says that an example has no expected output, and how to
// give it one: the output printed below it, checked, saved beside the
// input as <case>.out.json (.out.hl7 for an outbound HL7 v2 mapping), or,
// when the mapping refused the input, as <case>.problems.json if it must.
// It used to say to run the golden tests with -update, which a site's
// examples (medgate transform test -dir) have no way to.
func missingWant(ex Example, refused bool) string {
	want := ex.WantFile
	if refused {
		want = path.Join(path.Dir(ex.WantFile), ex.Case+".problems.json")
		return fmt.Sprintf("%s has no expected output, and the mapping refused it: if it must, check the problems below and save them as %s; if not, fix the mapping or the input", ex.InputFile, want)
	}
	return fmt.Sprintf("%s has no expected output: check the output below and save it as %s (for the built-in examples, go test ./transforms -run 'TestGolden|TestOutboundGolden' -update writes them)", ex.InputFile, want)
}

// encodeJSON writes v as indented JSON without HTML escaping, ending in a
// newline.
func encodeJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return []byte(fmt.Sprintf("%q\n", err.Error()))
	}
	return buf.Bytes()
}

// DiffJSON compares two JSON documents value by value (numbers as written,
// so 25.00 differs from 25) and lists each difference as
// "path: want X, got Y". It returns nil when they are equal.
func DiffJSON(want, got []byte) []string {
	w, err := decodeJSON(want)
	if err != nil {
		return []string{"the expected output is not valid JSON: " + err.Error()}
	}
	g, err := decodeJSON(got)
	if err != nil {
		return []string{"the output is not valid JSON: " + err.Error()}
	}
	var diffs []string
	diffValue("$", w, g, &diffs)
	return diffs
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func diffValue(at string, want, got any, diffs *[]string) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		keys := slices.Sorted(maps.Keys(w))
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			wv, wok := w[k]
			gv, gok := g[k]
			p := at + keyPath(k)
			switch {
			case !gok:
				*diffs = append(*diffs, fmt.Sprintf("%s: want %s, got nothing", p, short(wv)))
			case !wok:
				*diffs = append(*diffs, fmt.Sprintf("%s: want nothing, got %s", p, short(gv)))
			default:
				diffValue(p, wv, gv, diffs)
			}
		}
		return
	case []any:
		g, ok := got.([]any)
		if !ok {
			break
		}
		for i := range max(len(w), len(g)) {
			p := fmt.Sprintf("%s[%d]", at, i)
			switch {
			case i >= len(g):
				*diffs = append(*diffs, fmt.Sprintf("%s: want %s, got nothing", p, short(w[i])))
			case i >= len(w):
				*diffs = append(*diffs, fmt.Sprintf("%s: want nothing, got %s", p, short(g[i])))
			default:
				diffValue(p, w[i], g[i], diffs)
			}
		}
		return
	case string:
		g, ok := got.(string)
		if !ok {
			break
		}
		if w != g {
			wd, gd := differing(w, g)
			*diffs = append(*diffs, fmt.Sprintf("%s: want %s, got %s", at, wd, gd))
		}
		return
	default:
		if fmt.Sprintf("%T %v", want, want) == fmt.Sprintf("%T %v", got, got) {
			return
		}
	}
	*diffs = append(*diffs, fmt.Sprintf("%s: want %s, got %s", at, short(want), short(got)))
}

// differing quotes two different strings from a little before the first
// rune where they differ.
func differing(a, b string) (string, string) {
	ra, rb := []rune(a), []rune(b)
	i := 0
	for i < len(ra) && i < len(rb) && ra[i] == rb[i] {
		i++
	}
	cut := func(r []rune) string {
		start := max(0, i-20)
		s := string(r[start:min(len(r), i+60)])
		q := strconv.Quote(s)
		if start > 0 {
			q = "…" + q
		}
		if i+60 < len(r) {
			q += "…"
		}
		return q
	}
	return cut(ra), cut(rb)
}

func short(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if len(s) > 120 {
		s = s[:117] + "…"
	}
	return s
}
