package hygiene

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmeText is README.md as a newcomer reads it: its prose and code spans
// (codeSpans) and the lines of its shell blocks (shellLines).
type readmeText struct {
	codeSpans  []readmeLine // `…` outside fenced blocks
	shellLines []readmeLine // lines of ```sh blocks
	all        []readmeLine // every line
}

type readmeLine struct {
	n    int // 1-based line number
	text string
}

func readREADME(t *testing.T) readmeText {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var r readmeText
	fence, lang := false, ""
	for i, line := range strings.Split(string(data), "\n") {
		l := readmeLine{i + 1, line}
		r.all = append(r.all, l)
		if trimmed := strings.TrimSpace(line); strings.HasPrefix(trimmed, "```") {
			fence, lang = !fence, strings.TrimPrefix(trimmed, "```")
			continue
		}
		switch {
		case fence && lang == "sh":
			r.shellLines = append(r.shellLines, l)
		case !fence:
			for _, span := range backticked(line) {
				r.codeSpans = append(r.codeSpans, readmeLine{l.n, span})
			}
		}
	}
	if len(r.codeSpans) < 100 || len(r.shellLines) < 10 {
		t.Fatalf("README.md: found %d code spans and %d shell lines; has its form changed?", len(r.codeSpans), len(r.shellLines))
	}
	return r
}

// metricDefRE is a metric defined in the host's Go sources: its name and,
// for a vector, its label names. Options after Help (a histogram's
// Buckets) are allowed.
var metricDefRE = regexp.MustCompile(`Name:\s*"(medgate_[a-z0-9_]+)",\s*Help:\s*"(?:[^"\\]|\\.)*",?(?:\s*\w+:\s*[^{},]*(?:\{[^{}]*\})?,?)*\s*\},\s*(?:\[\]string\{([^}]*)\})?`)

// hostMetrics returns the metrics the host registers: name → label names.
func hostMetrics(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(filepath.Join("..", "..", "host"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range metricDefRE.FindAllStringSubmatch(string(src), -1) {
			labels := []string{}
			for _, l := range strings.Split(m[2], ",") {
				if l = strings.Trim(strings.TrimSpace(l), `"`); l != "" {
					labels = append(labels, l)
				}
			}
			out[m[1]] = labels
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 10 {
		t.Fatalf("found only %d metrics in host/; has the way metrics are defined changed?", len(out))
	}
	return out
}

// consoleCookies returns the names of the console's cookies
// (host/internal/console: const …Cookie… = "medgate_…"), which README.md
// names beside the metrics.
func consoleCookies(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "host", "internal", "console", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^\s*(?:const\s+)?\w*[cC]ookie\w*\s*=\s*"(medgate_[a-z0-9_]+)"`)
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			out = append(out, string(m[1]))
		}
	}
	if len(out) < 2 {
		t.Fatalf("found the console cookies %q in host/internal/console; has the way they are named changed?", out)
	}
	return out
}

// readmeMetricRE is a metric named in README.md, with the labels written
// after it: medgate_x, medgate_x{a,b}, medgate_x{a,reason="y"}.
var readmeMetricRE = regexp.MustCompile(`\bmedgate_[a-z0-9_]+(\{[^}]*\})?`)

// metricMentions returns the metrics a text names: name → label names
// written with it (nil when written without braces).
func metricMentions(text string) [][2]any {
	var out [][2]any
	for _, m := range readmeMetricRE.FindAllStringSubmatch(text, -1) {
		name, _, _ := strings.Cut(m[0], "{")
		var labels []string
		if m[1] != "" {
			for _, l := range strings.Split(strings.Trim(m[1], "{}"), ",") {
				l, _, _ = strings.Cut(l, "=")
				if l = strings.TrimSpace(l); l != "" {
					labels = append(labels, l)
				}
			}
		}
		out = append(out, [2]any{name, labels})
	}
	return out
}

// metricProblems says what is wrong with the metrics a line names, given
// the metrics the host registers.
func metricProblems(text string, defined map[string][]string) []string {
	var problems []string
	for _, m := range metricMentions(text) {
		name, labels := m[0].(string), m[1].([]string)
		have, ok := defined[name]
		if !ok {
			// A histogram's series carry suffixes.
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, cut := strings.CutSuffix(name, suffix); cut {
					have, ok = defined[base]
				}
			}
		}
		if !ok {
			problems = append(problems, "names the metric "+name+", which the host does not register")
			continue
		}
		for _, l := range labels {
			if !slices.Contains(have, l) {
				problems = append(problems, "gives "+name+" the label "+l+"; its labels are {"+strings.Join(have, ",")+"}")
			}
		}
	}
	return problems
}

func TestMetricProblems(t *testing.T) {
	t.Parallel()
	defined := map[string][]string{"medgate_a_total": {"x", "y"}, "medgate_d_seconds": {}}
	cases := map[string]struct {
		text string
		want int
	}{
		"registered":            {"`medgate_a_total` counts", 0},
		"labels":                {"medgate_a_total{x,y}", 0},
		"label with a value":    {`medgate_a_total{y="z"}`, 0},
		"histogram series":      {"medgate_d_seconds_bucket", 0},
		"unknown metric":        {"alert on medgate_b_total", 1},
		"unknown label":         {"medgate_a_total{x,site}", 1},
		"unknown label, valued": {`medgate_a_total{reason="r"}`, 1},
		"two lines in one":      {"medgate_c and medgate_a_total{q}", 2},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := metricProblems(tc.text, defined); len(got) != tc.want {
				t.Errorf("metricProblems(%q) = %q, want %d problems", tc.text, got, tc.want)
			}
		})
	}
}

// TestREADMEMetricsExist: every metric README.md names, anywhere, is one
// the host registers, with labels it has, so an operator who builds a
// dashboard or an alert from the README gets series. (TestREADMEListsMetrics
// in host/internal/config checks the other way: every metric is listed.)
func TestREADMEMetricsExist(t *testing.T) {
	t.Parallel()
	defined := hostMetrics(t)
	// The console's cookies share the prefix; the README names them too.
	for _, c := range consoleCookies(t) {
		defined[c] = nil
	}
	n := 0
	for _, l := range readREADME(t).all {
		n += len(metricMentions(l.text))
		for _, p := range metricProblems(l.text, defined) {
			t.Errorf("README.md:%d %s; correct the README (the metrics are defined in host/, Name: \"medgate_…\")", l.n, p)
		}
	}
	if n < 20 {
		t.Fatalf("README.md names only %d metrics; is the pattern right?", n)
	}
}

// readmeAlertRE is an alert rule's name in a code span: `MedgateX`.
var readmeAlertRE = regexp.MustCompile(`^Medgate[A-Z][A-Za-z0-9]*$`)

// TestREADMEAlertsExist: every alert README.md names is a rule of
// deploy/prometheus/medgate-rules.yaml, so an operator who reads of an
// alert finds it among the rules installed. (TestREADMENamesEveryAlertRule
// checks the other way.)
func TestREADMEAlertsExist(t *testing.T) {
	t.Parallel()
	rules, err := os.ReadFile(filepath.Join("..", "..", "deploy", "prometheus", "medgate-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	for _, m := range alertRuleRE.FindAllStringSubmatch(string(rules), -1) {
		defined[m[1]] = true
	}
	n := 0
	for _, s := range readREADME(t).codeSpans {
		if !readmeAlertRE.MatchString(s.text) {
			continue
		}
		n++
		if !defined[s.text] {
			t.Errorf("README.md:%d names the alert %s, which deploy/prometheus/medgate-rules.yaml does not define; correct the name or add the rule", s.n, s.text)
		}
	}
	if n < 5 {
		t.Fatalf("README.md names only %d alerts; is the pattern right?", n)
	}
}

// makeTargetRE is a target of the Makefile; makeUseRE a make command.
var (
	makeTargetRE = regexp.MustCompile(`(?m)^([a-z][a-z0-9-]*):`)
	makeUseRE    = regexp.MustCompile(`\bmake ([a-z][a-z0-9-]*)`)
)

// TestREADMEMakeTargetsExist: every `make TARGET` README.md names is a
// target of the Makefile.
func TestREADMEMakeTargetsExist(t *testing.T) {
	t.Parallel()
	mk, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, m := range makeTargetRE.FindAllStringSubmatch(string(mk), -1) {
		targets[m[1]] = true
	}
	r := readREADME(t)
	n := 0
	for _, l := range append(slices.Clone(r.codeSpans), r.shellLines...) {
		for _, m := range makeUseRE.FindAllStringSubmatch(l.text, -1) {
			n++
			if !targets[m[1]] {
				t.Errorf("README.md:%d: `make %s`: the Makefile has no target %s", l.n, m[1], m[1])
			}
		}
	}
	if n < 5 {
		t.Fatalf("README.md names only %d make commands; is the pattern right?", n)
	}
}

// cliUsageRE is a command of `medgate -h`: "  medgate NAME …".
var cliUsageRE = regexp.MustCompile(`(?m)^  medgate ([a-z][a-z-]*)(?: ([a-z][a-z|-]*))?`)

// medgateCLI is what the built medgate says of its commands.
type medgateCLI struct {
	bin      string
	commands map[string]bool // "send", "job run", "user add", …
}

func buildCLI(t *testing.T) medgateCLI {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "medgate")
	build := exec.Command("go", "build", "-o", bin, module+"/host/cmd/medgate")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build medgate: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-h")
	cmd.Dir = t.TempDir() // no medgate.yaml: the list has no plugin commands
	out, _ := cmd.CombinedOutput()
	c := medgateCLI{bin: bin, commands: map[string]bool{}}
	for _, m := range cliUsageRE.FindAllStringSubmatch(string(out), -1) {
		c.commands[m[1]] = true
		if m[2] == "" {
			continue // the words after a name are flags and upper-case arguments, or a subcommand
		}
		for _, sub := range strings.Split(m[2], "|") {
			c.commands[m[1]+" "+sub] = true
		}
	}
	if !c.commands["send"] || !c.commands["user add"] || !c.commands["job run"] {
		t.Fatalf("`medgate -h` lists %v; has its form changed?\n%s", c.commands, out)
	}
	return c
}

// flagDefRE is a flag in a command's -h output: "  -name type" of the
// flag package's list, or "[-name X]" of a usage line of its own.
var flagDefRE = regexp.MustCompile(`(?m)(?:^|[\s\[(|])-([a-z][a-z0-9-]*)\b`)

// flags returns the flags `medgate CMD -h` lists.
func (c medgateCLI) flags(t *testing.T, command string) map[string]bool {
	t.Helper()
	cmd := exec.Command(c.bin, append(strings.Fields(command), "-h")...)
	cmd.Dir = t.TempDir()
	out, _ := cmd.CombinedOutput()
	flags := map[string]bool{"h": true, "help": true}
	for _, m := range flagDefRE.FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	return flags
}

var (
	// commandLineRE is a medgate command line at the start of a code
	// span or of a shell command (a line, or after a pipe, ; && or $( ):
	// the words after "medgate" up to a comment, pipe or the end.
	commandLineRE = regexp.MustCompile(`(?:^|[|;&(]\s*)(?:bin/)?medgate ([^#|;&)]*)`)
	// quotedRE is a quoted shell word, left out before flags are read.
	quotedRE = regexp.MustCompile(`'[^']*'|"[^"]*"`)
)

// parseCommandLine splits the words after "medgate" into the command
// (one or two words, as the CLI knows them) and the flags written.
// plugin tells a plugin's command (`medgate <plugin> <command>`), which
// the plugin declares, not the CLI. ok is false when the first word is no
// command; alternatives ("user passwd|role") are each returned.
func parseCommandLine(words string, known map[string]bool, plugin func(string) bool) (commands, flags []string, ok bool) {
	fields := strings.Fields(quotedRE.ReplaceAllString(words, "''"))
	if len(fields) == 0 {
		return nil, nil, true
	}
	first := fields[0]
	if strings.HasPrefix(first, "<") || strings.HasPrefix(first, "-") || plugin(first) {
		return nil, nil, true
	}
	if !known[first] {
		return nil, nil, false
	}
	commands = []string{first}
	rest := fields[1:]
	if len(rest) > 0 {
		var subs []string
		for _, s := range strings.Split(rest[0], "|") {
			if known[first+" "+s] {
				subs = append(subs, first+" "+s)
			}
		}
		if len(subs) > 0 {
			commands, rest = subs, rest[1:]
		}
	}
	for _, f := range rest {
		if name := strings.TrimLeft(f, "-"); len(name) < len(f) && name != "" && name[0] >= 'a' && name[0] <= 'z' {
			name, _, _ = strings.Cut(name, "=")
			flags = append(flags, name)
		}
	}
	return commands, flags, true
}

func TestParseCommandLine(t *testing.T) {
	t.Parallel()
	known := map[string]bool{"send": true, "user": true, "user add": true, "user role": true, "job": true, "job run": true}
	plugin := func(s string) bool { return s == "tracecode" }
	cases := map[string]struct {
		words    string
		commands []string
		flags    []string
		ok       bool
	}{
		"send":               {`send -config x.yaml -site demo -payload '{"a":"-b"}'`, []string{"send"}, []string{"config", "site", "payload"}, true},
		"two words":          {"job run ledger/demo/prune", []string{"job run"}, nil, true},
		"a flag after args":  {"user add NAME operator -sites xm01,xm02", []string{"user add"}, []string{"sites"}, true},
		"alternatives":       {"user add|role", []string{"user add", "user role"}, nil, true},
		"placeholder":        {"<plugin> <command> -out", nil, nil, true},
		"plugin command":     {"tracecode export -from 2026-12-01", nil, nil, true},
		"unknown command":    {"serve -config x", nil, nil, false},
		"unknown first word": {"jobs", nil, nil, false},
		"double dash flag":   {"send --site=demo", []string{"send"}, []string{"site"}, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			commands, flags, ok := parseCommandLine(tc.words, known, plugin)
			if ok != tc.ok || !slices.Equal(commands, tc.commands) || !slices.Equal(flags, tc.flags) {
				t.Errorf("parseCommandLine(%q) = %q, %q, %v; want %q, %q, %v", tc.words, commands, flags, ok, tc.commands, tc.flags, tc.ok)
			}
		})
	}
}

// TestREADMECommandsExist: every medgate command README.md shows (in a
// code span or a shell block) is a command of the CLI, and every flag
// written with it is one of that command's flags, so a newcomer who
// copies a command line runs what the text says.
func TestREADMECommandsExist(t *testing.T) {
	if testing.Short() {
		t.Skip("builds medgate; skipped with -short")
	}
	t.Parallel()
	cli := buildCLI(t)
	pluginDirs, err := filepath.Glob(filepath.Join("..", "..", "plugins", "*", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	isPlugin := func(w string) bool {
		for _, p := range pluginDirs {
			if filepath.Base(filepath.Dir(p)) == w {
				return true
			}
		}
		return false
	}
	flagsOf := map[string]map[string]bool{}
	r := readREADME(t)
	n := 0
	for _, l := range append(slices.Clone(r.codeSpans), r.shellLines...) {
		text := strings.TrimSpace(l.text)
		if i := strings.Index(text, " #"); i >= 0 && slices.ContainsFunc(r.shellLines, func(s readmeLine) bool { return s == l }) {
			text = text[:i] // a shell comment
		}
		for _, m := range commandLineRE.FindAllStringSubmatch(text, -1) {
			commands, flags, ok := parseCommandLine(m[1], cli.commands, isPlugin)
			if !ok {
				t.Errorf("README.md:%d: `medgate %s`: medgate has no command %q (see `medgate -h`)", l.n, strings.TrimSpace(m[1]), strings.Fields(m[1])[0])
				continue
			}
			for _, c := range commands {
				n++
				if flagsOf[c] == nil {
					flagsOf[c] = cli.flags(t, c)
				}
				for _, f := range flags {
					if !flagsOf[c][f] {
						t.Errorf("README.md:%d: `medgate %s` has no flag -%s (see `medgate %s -h`)", l.n, c, f, c)
					}
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("README.md shows only %d medgate commands; is the pattern right?", n)
	}
}

// TestREADMENamesExistingTests: every test, benchmark or fuzz target
// README.md names (`TestX`, as evidence for a guarantee or a check) is a
// function of a _test.go file of the repository, so a reader can run it
// and a renamed test does not leave the README citing nothing.
func TestREADMENamesExistingTests(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	defined := map[string]bool{}
	funcRE := regexp.MustCompile(`(?m)^func ((?:Test|Benchmark|Fuzz)[A-Za-z0-9_]*)\(`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin" || d.Name() == "data" || d.Name() == ".cache") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range funcRE.FindAllSubmatch(src, -1) {
			defined[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	nameRE := regexp.MustCompile(`^(?:Test|Benchmark|Fuzz)[A-Z][A-Za-z0-9_]*$`)
	n := 0
	for _, s := range readREADME(t).codeSpans {
		if !nameRE.MatchString(s.text) {
			continue
		}
		n++
		if !defined[s.text] {
			t.Errorf("README.md:%d names %s, which no _test.go file defines; name the test that checks it now", s.n, s.text)
		}
	}
	if n < 5 {
		t.Fatalf("README.md names only %d tests; is the pattern right?", n)
	}
}

// testDirs returns, for every Test function of the repository, the
// directories (relative, slash-separated) of the _test.go files defining it.
func testDirs(t *testing.T) map[string][]string {
	t.Helper()
	root := filepath.Join("..", "..")
	out := map[string][]string{}
	funcRE := regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]*)\(`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin" || d.Name() == "data" || d.Name() == ".cache") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		for _, m := range funcRE.FindAllSubmatch(src, -1) {
			out[string(m[1])] = append(out[string(m[1])], filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// enclosingGroup returns the innermost parenthesised text of s around
// position i, or s when i is in none.
func enclosingGroup(s string, i int) string {
	start, depth := -1, 0
	for j := i; j >= 0; j-- {
		switch s[j] {
		case ')':
			depth++
		case '(':
			if depth == 0 {
				start = j
			} else {
				depth--
			}
		}
		if start >= 0 {
			break
		}
	}
	if start < 0 {
		return s
	}
	depth = 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '(':
			depth++
		case ')':
			if depth == 0 {
				return s[start : j+1]
			}
			depth--
		}
	}
	return s[start:]
}

// guaranteeTestProblems checks the tests a Guarantees item cites against
// where they are: in test/e2e, as the section says, or in a package the
// parentheses around the name say (its directory's last element, e.g.
// "pipeline tests …", "… in `test/faults`").
func guaranteeTestProblems(item string, dirs map[string][]string) []string {
	var problems []string
	for _, m := range regexp.MustCompile("`(Test[A-Za-z0-9_]+)`").FindAllStringSubmatchIndex(item, -1) {
		name := item[m[2]:m[3]]
		where := dirs[name]
		if len(where) == 0 || slices.Contains(where, "test/e2e") {
			continue // a missing test is TestREADMENamesExistingTests's
		}
		group := enclosingGroup(item, m[2])
		if slices.ContainsFunc(where, func(d string) bool { return strings.Contains(group, d[strings.LastIndex(d, "/")+1:]) }) {
			continue
		}
		problems = append(problems, name+" is in "+strings.Join(where, ", ")+", not test/e2e, and the text around it does not say so")
	}
	return problems
}

func TestGuaranteeTestProblems(t *testing.T) {
	t.Parallel()
	dirs := map[string][]string{"TestA": {"test/e2e"}, "TestB": {"host/internal/pipeline"}, "TestC": {"test/faults", "host/internal/bus"}}
	cases := map[string]struct {
		item string
		want int
	}{
		"end to end":             {"**Nothing lost.** … (`TestA`).", 0},
		"package named":          {"… (pipeline tests `TestB`; under SIGKILL, `TestC` in `test/faults`).", 0},
		"package not named":      {"… (`TestB`).", 1},
		"named in another group": {"… (pipeline) and (`TestB`).", 1},
		"outside parentheses":    {"`TestB` in the pipeline package.", 0},
		"unknown test":           {"(`TestZ`)", 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := guaranteeTestProblems(tc.item, dirs); len(got) != tc.want {
				t.Errorf("guaranteeTestProblems(%q) = %q, want %d problems", tc.item, got, tc.want)
			}
		})
	}
}

// TestREADMEGuaranteesNameWhereTheirTestsAre: the Guarantees section of
// README.md says where the tests it cites are (test/e2e unless it names
// another package), so a reader who wants to see a guarantee fail finds
// the test where the text sends them.
func TestREADMEGuaranteesNameWhereTheirTestsAre(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n### Guarantees\n")
	if !ok {
		t.Fatal(`README.md has no "### Guarantees" section`)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	if !strings.Contains(section, "`test/e2e`") {
		t.Fatal("README.md's Guarantees section no longer says where its tests are; update this test")
	}
	dirs := testDirs(t)
	var items []string
	for _, line := range strings.Split(section, "\n") {
		switch {
		case regexp.MustCompile(`^\d+\. `).MatchString(line):
			items = append(items, line)
		case len(items) > 0 && strings.TrimSpace(line) != "":
			items[len(items)-1] += " " + strings.TrimSpace(line)
		}
	}
	if len(items) < 5 {
		t.Fatalf("found %d guarantees; has the section's form changed?", len(items))
	}
	for i, item := range items {
		for _, p := range guaranteeTestProblems(item, dirs) {
			t.Errorf("README.md, Guarantees item %d: %s; name its package beside it (\"pipeline tests `TestX`\")", i+1, p)
		}
	}
}

// crossRefRE is a reference to a part of README.md by its title: "see
// *Title*", optionally followed by "below" or "above".
var crossRefRE = regexp.MustCompile(`\*([A-Z][^*]*[^*\s])\*(?: (below|above)\b)?`)

// titleLines returns where each part of a Markdown text starts: its
// headings and its bold paragraph titles ("**Data at rest.** …"), by
// title.
func titleLines(lines []string) map[string]int {
	out := map[string]int{}
	fence := false
	boldRE := regexp.MustCompile(`^\*\*([^*]+?)\.?\*\*`)
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fence = !fence
		}
		if fence {
			continue
		}
		if strings.HasPrefix(line, "#") {
			out[strings.TrimSpace(strings.TrimLeft(line, "#"))] = i + 1
		} else if m := boldRE.FindStringSubmatch(line); m != nil {
			out[m[1]] = i + 1
		}
	}
	return out
}

// crossRefProblems checks the references "see *Title*" and "*Title*
// below|above" of lines against the parts they name.
func crossRefProblems(lines []string) []string {
	titles := titleLines(lines)
	var problems []string
	for i, line := range lines {
		for _, m := range crossRefRE.FindAllStringSubmatchIndex(line, -1) {
			title := line[m[2]:m[3]]
			direction := ""
			if m[4] >= 0 {
				direction = line[m[4]:m[5]]
			}
			if direction == "" && !strings.HasSuffix(line[:m[0]], "see ") {
				continue // emphasis, not a reference
			}
			at, ok := titles[title]
			switch {
			case !ok:
				problems = append(problems, itoa(i+1)+": *"+title+"* names no heading or bold paragraph title")
			case direction == "below" && at < i+1, direction == "above" && at > i+1:
				problems = append(problems, itoa(i+1)+": *"+title+"* is said to be "+direction+", but it is at line "+itoa(at))
			}
		}
	}
	return problems
}

func TestCrossRefProblems(t *testing.T) {
	t.Parallel()
	doc := []string{"# T", "## Security", "**Data at rest.** Values …", "see *Security* above", "see *Data at rest*", "*Kafka data loss* below", "#### Kafka data loss", "see *Nowhere*", "an *emphasised* word", "*Security* below"}
	got := crossRefProblems(doc)
	want := []string{"8: *Nowhere*", "10: *Security* is said to be below"}
	if len(got) != len(want) {
		t.Fatalf("crossRefProblems = %q, want problems starting %q", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want it to start %q", i, got[i], want[i])
		}
	}
}

// TestREADMECrossReferencesResolve: a part of README.md referred to by its
// title ("see *Data at rest*", "*Kafka data loss* below") exists, as a
// heading or a bold paragraph title, on the side the text says, so a
// section moved or renamed does not leave readers searching.
func TestREADMECrossReferencesResolve(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if n := len(crossRefRE.FindAllString(string(data), -1)); n < 5 {
		t.Fatalf("README.md has only %d *Title* references; is the pattern right?", n)
	}
	for _, p := range crossRefProblems(lines) {
		t.Errorf("README.md:%s; correct the reference", p)
	}
}

// TestREADMEListsHostPackages: the "host/" item of README.md's "How it
// works" names every package directly under host/internal, as "`name`
// (what it does)", and no other, so a newcomer looking for where something is done finds
// every package on the map.
func TestREADMEListsHostPackages(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	entries, err := os.ReadDir(filepath.Join(root, "host", "internal"))
	if err != nil {
		t.Fatal(err)
	}
	packages := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() {
			packages[e.Name()] = true
		}
	}
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, item, ok := strings.Cut(string(data), "\n* **host/**")
	if !ok {
		t.Fatal(`README.md's "How it works" has no "* **host/**" item`)
	}
	if i := strings.Index(item, "\n* "); i >= 0 {
		item = item[:i]
	}
	named := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z]+)`\\s+\\(").FindAllStringSubmatch(item, -1) {
		named[m[1]] = true // `name` (what it does)
	}
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range packages {
			if !yield(p) {
				return
			}
		}
	}) {
		if !named[p] {
			t.Errorf("README.md's How it works, host/: host/internal/%s is not named; add `%s` with what it does (its package doc)", p, p)
		}
	}
	for n := range named {
		if !packages[n] {
			t.Errorf("README.md's How it works, host/: `%s` is no package of host/internal; correct or remove it", n)
		}
	}
}
