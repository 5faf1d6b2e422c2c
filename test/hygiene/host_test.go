package hygiene

import (
	"bytes"
	"encoding/json"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/medgate/medgate"

// shippedPlugins matches the names of the adapters that ship with medgate.
// The host must not know them: whatever it shows or runs for a plugin comes
// from what the plugin declared.
var shippedPlugins = regexp.MustCompile(`(?i)workinjury|selfpay|tracecode|ecard`)

// notYetGeneric lists the host files that still name a shipped plugin
// because their function has not moved into the plugins' declarations yet.
// The list only shrinks; a file that no longer names a plugin must leave it
// (TestNotYetGenericIsCurrent).
var notYetGeneric = []string{}

// TestHostImportsNoPluginButTheSDK fails when a package under host/ links,
// directly or through another package, a package under plugins/ other than
// the SDK. Plugin-side libraries belong in the plugins; the host talks to
// them only through the plugin protocol.
func TestHostImportsNoPluginButTheSDK(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-json", module+"/host/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	n := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		n++
		for _, d := range p.Deps {
			if forbiddenForHost(d) {
				t.Errorf("%s depends on %s; the host may import only %s/plugins/sdk and its sub-packages: move the code into the plugin and reach it through a declared operation or command", p.ImportPath, d, module)
			}
		}
	}
	if n < 5 {
		t.Fatalf("only %d host packages listed; is the module path right?", n)
	}
}

func forbiddenForHost(dep string) bool {
	rest, ok := strings.CutPrefix(dep, module+"/plugins/")
	if !ok {
		return false
	}
	return rest != "sdk" && !strings.HasPrefix(rest, "sdk/")
}

func TestForbiddenForHost(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		module + "/plugins/sdk":                   false,
		module + "/plugins/sdk/sdkhost":           false,
		module + "/plugins/sdk/internal/pb":       false,
		module + "/plugins/smenvelope":            true,
		module + "/plugins/workinjury/adapter":    true,
		module + "/plugins/sdkextra":              true,
		module + "/host/internal/pipeline":        false,
		"github.com/hashicorp/go-plugin":          false,
		"github.com/other/medgate/plugins/smelse": false,
	}
	for dep, want := range cases {
		if got := forbiddenForHost(dep); got != want {
			t.Errorf("forbiddenForHost(%q) = %v, want %v", dep, got, want)
		}
	}
}

// TestHostNamesNoShippedPlugin fails when host code or a host template
// names one of the shipped plugins outside comments and tests. Test files
// and test-support packages (directories ending in "test") may use them as
// examples.
func TestHostNamesNoShippedPlugin(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	found := map[string][]string{}
	err := filepath.WalkDir(filepath.Join(root, "host"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.HasSuffix(d.Name(), "test") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if hits := pluginNames(rel, src); len(hits) > 0 {
			found[rel] = hits
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for file, hits := range found {
		if slices.Contains(notYetGeneric, file) {
			continue
		}
		if len(hits) > 3 {
			hits = append(hits[:3], "…")
		}
		t.Errorf("%s names a shipped plugin outside comments (%s); the host must take this from the plugin's declarations (commands, views, schemas)", file, strings.Join(hits, "; "))
	}
	for _, file := range notYetGeneric {
		if _, ok := found[file]; !ok {
			t.Errorf("%s no longer names a shipped plugin: remove it from notYetGeneric", file)
		}
	}
}

// pluginNames returns where src names a shipped plugin: in Go code every
// token but comments, elsewhere (templates, SQL) the whole text.
func pluginNames(name string, src []byte) []string {
	var hits []string
	if !strings.HasSuffix(name, ".go") {
		for i, line := range strings.Split(string(src), "\n") {
			if m := shippedPlugins.FindString(line); m != "" {
				hits = append(hits, name+":"+itoa(i+1)+": "+m)
			}
		}
		return hits
	}
	fset := token.NewFileSet()
	file := fset.AddFile(name, -1, len(src))
	var s scanner.Scanner
	s.Init(file, src, nil, 0) // comments are skipped
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			return hits
		}
		if lit == "" {
			continue
		}
		if m := shippedPlugins.FindString(lit); m != "" {
			hits = append(hits, fset.Position(pos).String()+": "+m)
		}
	}
}

func TestPluginNames(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		name, src string
		want      int
	}{
		"comment only":       {"a.go", "package a\n// workinjury is an example\n/* selfpay */\n", 0},
		"string":             {"a.go", "package a\nvar x = \"tracecode.export\"\n", 1},
		"identifier":         {"a.go", "package a\nfunc showEcard() {}\n", 1},
		"raw string":         {"a.go", "package a\nvar u = `usage: medgate ping workinjury`\n", 1},
		"neutral code":       {"a.go", "package a\nvar x = \"ledger.record\"\n", 0},
		"template":           {"t.html", "<a href=\"/console/tracecode/drafts\">drafts</a>\n", 1},
		"neutral template":   {"t.html", "<a href=\"{{.Href}}\">{{.Title}}</a>\n", 0},
		"two lines, two hit": {"t.html", "ecard\nselfpay\n", 2},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := pluginNames(tc.name, []byte(tc.src)); len(got) != tc.want {
				t.Errorf("pluginNames = %q, want %d hits", got, tc.want)
			}
		})
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	return string(bytes.TrimSpace(out))
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
