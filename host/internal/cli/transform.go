package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/medgate/medgate/schemas"
	"github.com/medgate/medgate/transforms"
)

const transformUsage = `usage: medgate transform test [-dir DIR] [-schemas DIR] [-v] [MAPPING…]

Loads the mappings (the built-in ones, overlaid by DIR when given) and runs
their examples: every <site>/<format>/<type>/<case>.in.json or .in.hl7 must
give <case>.out.json, or the problems in <case>.problems.json; every outbound
example <site>/out/<format>/<reply|event>[.<type>]/<case>.in.json must give
<case>.out.hl7 or <case>.out.json, or the problems. The examples
of DIR are in DIR/testdata; the built-in examples run for every built-in
mapping DIR does not replace. MAPPING selects mappings by name
(SITE/FORMAT/TYPE, e.g. demo/hl7v2/PLUGIN.OPERATION), by prefix (demo/hl7v2)
or by pattern (demo/*/PLUGIN.OP*). The mappings are checked against the
built-in schemas; -schemas adds the schema documents of a plugin that
ships its own (<system>/<code>.yaml, as its Describe declares them), for
mappings to a vendor plugin's operations.`

// transformTest implements `medgate transform test`.
func transformTest(ctx context.Context, args []string, stdout io.Writer) error {
	fset := flag.NewFlagSet("transform test", flag.ContinueOnError)
	fset.SetOutput(stdout)
	fset.Usage = func() { fmt.Fprintln(stdout, transformUsage) }
	dir := fset.String("dir", "", "a site's mapping directory: <site>/<format>/<type>.yaml, <site>/tables/<name>.yaml and testdata/ with the examples")
	schemaDir := fset.String("schemas", "", "a plugin's schema documents, <system>/<code>.yaml (a vendor plugin's schemas/ directory), over the built-in schemas")
	verbose := fset.Bool("v", false, "print the output of every example, not only of failing ones")
	if err := parseFlags(fset, args, -1); err != nil {
		return err
	}
	if err := transforms.CheckEmbedded(); err != nil {
		return fmt.Errorf("built-in mappings: %w", err)
	}
	set := transforms.Embedded()
	if *schemaDir != "" {
		sch, err := schemas.Embedded().Overlay(*schemaDir)
		if err != nil {
			return fmt.Errorf("-schemas %s: %w", *schemaDir, err)
		}
		if set, err = set.WithSchemas(sch); err != nil {
			return fmt.Errorf("built-in mappings against -schemas %s: %w", *schemaDir, err)
		}
	}
	var examples []transforms.Example
	overridden := map[string]bool{}
	if *dir != "" {
		var err error
		if set, err = set.Overlay(*dir); err != nil {
			if *schemaDir == "" {
				return fmt.Errorf("%w\n(a mapping to a vendor plugin's operation targets the plugin's own schema document: give the plugin's schemas/ directory with -schemas DIR)", err)
			}
			return err
		}
		for _, m := range append(set.List(), set.OutboundList()...) {
			if inDir(m.File, *dir) {
				overridden[m.Name] = true
			}
		}
		testdata := filepath.Join(*dir, "testdata")
		if st, err := os.Stat(testdata); err == nil && st.IsDir() {
			exs, err := allExamples(os.DirFS(testdata))
			if err != nil {
				return err
			}
			for i := range exs {
				exs[i].InputFile = filepath.Join(testdata, filepath.FromSlash(exs[i].InputFile))
				exs[i].WantFile = filepath.Join(testdata, filepath.FromSlash(exs[i].WantFile))
			}
			examples = append(examples, exs...)
		}
	}
	builtin, err := allExamples(transforms.EmbeddedExamples())
	if err != nil {
		return err
	}
	for _, ex := range builtin {
		if !overridden[ex.Mapping] {
			ex.InputFile = "(built-in) " + ex.InputFile
			examples = append(examples, ex)
		}
	}

	selected := func(name string) bool {
		if fset.NArg() == 0 {
			return true
		}
		for _, pat := range fset.Args() {
			pat = strings.TrimSuffix(pat, "/")
			if ok, _ := path.Match(pat, name); ok || name == pat || strings.HasPrefix(name, pat+"/") {
				return true
			}
		}
		return false
	}
	passed, failed := 0, 0
	have := map[string]bool{}
	for _, ex := range examples {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !selected(ex.Mapping) {
			continue
		}
		have[ex.Mapping] = true
		res := set.Run(ex, nil)
		name := ex.Mapping + "/" + ex.Case
		switch {
		case res.Err != nil:
			failed++
			fmt.Fprintf(stdout, "FAIL %s: %v\n", name, res.Err)
		case !res.Passed():
			failed++
			fmt.Fprintf(stdout, "FAIL %s (%s)\n", name, ex.WantFile)
			for _, d := range res.Diffs {
				fmt.Fprintf(stdout, "     %s\n", d)
			}
			fmt.Fprintf(stdout, "     got:\n%s", indent(res.Got, "       "))
		default:
			passed++
			fmt.Fprintf(stdout, "ok   %s\n", name)
			if *verbose {
				fmt.Fprint(stdout, indent(res.Got, "       "))
			}
		}
	}
	for _, m := range set.List() {
		if selected(m.Name) && !have[m.Name] {
			fmt.Fprintf(stdout, "?    %s: no examples (add testdata/%s/<case>.in.json or .in.hl7)\n", m.Name, m.Name)
		}
	}
	for _, m := range set.OutboundList() {
		if selected(m.Name) && !have[m.Name] {
			fmt.Fprintf(stdout, "?    %s: no examples (add testdata/%s/<case>.in.json, a reply or event as medgate publishes it)\n", m.Name, m.Name)
		}
	}
	if passed+failed == 0 {
		return fmt.Errorf("no examples match %s", strings.Join(fset.Args(), " "))
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d examples failed", failed, passed+failed)
	}
	return nil
}

// allExamples lists the examples of mappings of platform messages and of
// outbound mappings in fsys.
func allExamples(fsys fs.FS) ([]transforms.Example, error) {
	in, err := transforms.Examples(fsys)
	if err != nil {
		return nil, err
	}
	out, err := transforms.OutboundExamples(fsys)
	if err != nil {
		return nil, err
	}
	return append(in, out...), nil
}

// inDir reports whether file, as an overlay of dir names it, is in dir.
func inDir(file, dir string) bool {
	return strings.HasPrefix(path.Clean(filepath.ToSlash(file)), path.Clean(filepath.ToSlash(dir))+"/")
}

func indent(b []byte, prefix string) string {
	lines := strings.SplitAfter(strings.TrimRight(string(b), "\n"), "\n")
	var sb strings.Builder
	for _, l := range lines {
		sb.WriteString(prefix)
		sb.WriteString(l)
	}
	sb.WriteString("\n")
	return sb.String()
}
