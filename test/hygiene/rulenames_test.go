package hygiene

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmeRuleRE is a rule a README names: "rule `name`".
var readmeRuleRE = regexp.MustCompile("rule `([a-z][a-zA-Z0-9_-]*)`")

// ruleNameProblems returns the rules readme names ("rule `x`") that the
// code does not produce: neither as a string literal "x" (a diagnostic's
// rule field) nor as "rule x" (a business rule's name, first in a
// diagnostic's message).
func ruleNameProblems(path, readme, code string) []string {
	var out []string
	seen := map[string]bool{}
	for i, line := range strings.Split(readme, "\n") {
		for _, m := range readmeRuleRE.FindAllStringSubmatch(line, -1) {
			r := m[1]
			if seen[r] {
				continue
			}
			seen[r] = true
			if strings.Contains(code, `"`+r+`"`) || strings.Contains(code, "rule "+r+":") {
				continue
			}
			out = append(out, fmt.Sprintf("%s:%d: names rule `%s`, which no code produces (neither as a rule nor as \"rule %s: …\" in a message); correct the README to the rule the code gives", path, i+1, r, r))
		}
	}
	return out
}

func TestRuleNameProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, readme, code string
		want               []string // a word each problem must contain
	}{
		{"a rule field", "refused (rule `not-settled`)", `ds.Error("$.x", "not-settled", "…")`, nil},
		{"a rule named in a message", "a wait (rule `stay-unchanged`)", `fmt.Sprintf("rule stay-unchanged: visit %s changed")`, nil},
		{"a renamed rule", "refused (rule `old-name`)", `ds.Error("$.x", "new-name", "…")`, []string{"`old-name`"}},
		{"a prefix is not the rule", "refused (rule `unique`)", `"unique-detail-no"`, []string{"`unique`"}},
		{"a longer rule's message is not the rule", "refused (rule `unique`)", `"rule unique-detail-no: …"`, []string{"`unique`"}},
		{"each missing rule once", "rule `gone` … rule `gone`\nrule `gone2`", ``, []string{"`gone`", "`gone2`"}},
		{"no rule named", "nothing here", ``, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ruleNameProblems("README.md", tc.readme, tc.code)
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %d problems containing %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestPluginREADMERulesExist: integrators match on the rules a reply's
// errors and warnings carry, and the plugin READMEs name them
// ("rule `not-settled`"). Every rule a shipped plugin's README names is one
// the code produces: a diagnostic's rule, or a business rule's name that
// begins its message ("rule not-settled: …"). A rule renamed in the code
// and not in the README is caught here. The code read is every non-test
// Go file of plugins/, schemas/ and host/ (a plugin README may name the
// host's rules, such as `retries`).
func TestPluginREADMERulesExist(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	var code strings.Builder
	for _, dir := range []string{"plugins", "schemas", "host"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			code.Write(data)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	checked := 0
	for _, p := range []string{"ecard", "selfpay", "tracecode", "workinjury"} {
		path := filepath.Join("plugins", p, "README.md")
		data, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		checked += len(readmeRuleRE.FindAllString(string(data), -1))
		for _, problem := range slices.Sorted(slices.Values(ruleNameProblems(path, string(data), code.String()))) {
			t.Error(problem)
		}
	}
	if checked < 20 {
		t.Fatalf("the plugin READMEs name only %d rules as \"rule `x`\"; did their wording change? update readmeRuleRE", checked)
	}
}
