package transforms

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// OutboundExamples lists the examples of outbound mappings in fsys, sorted
// by mapping and case: <site>/out/<format>/<kind>[.<type>]/<case>.in.json
// (a reply or event as medgate publishes it) with the expected
// <case>.out.hl7 (segments one per line) or <case>.out.json, or
// <case>.problems.json for a reply or event the mapping must refuse.
func OutboundExamples(fsys fs.FS) ([]Example, error) {
	var out []Example
	sites, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("reading outbound examples: %w", err)
	}
	for _, site := range sites {
		root := path.Join(site.Name(), OutDir)
		if !site.IsDir() {
			continue
		}
		if _, err := fs.Stat(fsys, root); err != nil {
			continue
		}
		err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".in.json") {
				return err
			}
			dir := path.Dir(p)
			if strings.Count(dir, "/") != 3 {
				return fmt.Errorf("example %s: put outbound examples in <site>/out/<format>/<kind>[.<type>]/<case>.in.json", p)
			}
			name := strings.TrimSuffix(path.Base(p), ".in.json")
			in, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			ext := ".out.json"
			if strings.Split(dir, "/")[2] == FormatHL7v2 {
				ext = ".out.hl7"
			}
			out = append(out, newExample(fsys, dir, name, p, in, ext))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading outbound examples: %w", err)
		}
	}
	sortExamples(out)
	return out, nil
}

// RunOutbound renders an outbound example with the mapping's own tables
// plus tables and compares the result with the expected output: HL7
// segment by segment (Got has one segment per line), JSON value by value.
func (s *Set) RunOutbound(ex Example, tables Tables) Result {
	res := Result{Example: ex}
	m, ok := s.out[ex.Mapping]
	if !ok {
		res.Err = fmt.Errorf("example %s: no outbound mapping %s: %w", ex.InputFile, ex.Mapping, ErrNotFound)
		return res
	}
	got, problems := m.Render(ex.Input, tables)
	res.Problems = problems
	switch {
	case len(problems) > 0:
		res.Got = encodeJSON(problems)
	case m.Output == FormatHL7v2:
		res.Got = bytes.ReplaceAll(got, []byte("\r"), []byte("\n"))
	default:
		res.Got = encodeJSON(mustDecode(got))
	}
	switch {
	case ex.Want == nil:
		res.Diffs = []string{missingWant(ex, len(problems) > 0)}
	case strings.HasSuffix(ex.WantFile, ".problems.json") && len(problems) == 0:
		res.Diffs = []string{"the mapping was expected to refuse the input but rendered it"}
	case !strings.HasSuffix(ex.WantFile, ".problems.json") && len(problems) > 0:
		res.Diffs = []string{"the mapping refused the input:"}
		for _, p := range problems {
			res.Diffs = append(res.Diffs, "  "+p.Error())
		}
	case strings.HasSuffix(ex.WantFile, ".hl7"):
		res.Diffs = diffLines(ex.Want, res.Got)
	default:
		res.Diffs = DiffJSON(ex.Want, res.Got)
	}
	return res
}

func mustDecode(b []byte) any {
	v, err := decodeJSON(b)
	if err != nil {
		return string(b)
	}
	return v
}

// diffLines compares HL7 messages written one segment per line and lists
// each differing segment.
func diffLines(want, got []byte) []string {
	split := func(b []byte) []string {
		s := strings.ReplaceAll(string(b), "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
		return strings.Split(strings.TrimRight(s, "\n"), "\n")
	}
	w, g := split(want), split(got)
	var diffs []string
	for i := range max(len(w), len(g)) {
		switch {
		case i >= len(g):
			diffs = append(diffs, fmt.Sprintf("segment %d: want %q, got nothing", i+1, w[i]))
		case i >= len(w):
			diffs = append(diffs, fmt.Sprintf("segment %d: want nothing, got %q", i+1, g[i]))
		case w[i] != g[i]:
			wd, gd := differing(w[i], g[i])
			diffs = append(diffs, fmt.Sprintf("segment %d: want %s, got %s", i+1, wd, gd))
		}
	}
	return diffs
}
