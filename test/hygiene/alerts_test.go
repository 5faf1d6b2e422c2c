package hygiene

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// alertRuleRE is one alert rule of deploy/prometheus/medgate-rules.yaml.
var alertRuleRE = regexp.MustCompile(`(?m)^\s*- alert: (\w+)\s*$`)

// TestREADMENamesEveryAlertRule: every alert rule shipped in
// deploy/prometheus/medgate-rules.yaml is named, in backquotes, in
// README.md's "Operating medgate" section, so an operator paged by an
// alert finds what it means and what to do under the name the page
// carries.
func TestREADMENamesEveryAlertRule(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	rules, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "medgate-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	names := alertRuleRE.FindAllStringSubmatch(string(rules), -1)
	if len(names) < 5 {
		t.Fatalf("deploy/prometheus/medgate-rules.yaml: found only %d alert rules; the file's form changed, update this test's pattern", len(names))
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "\n## Operating medgate")
	if start < 0 {
		t.Fatal(`README.md has no "## Operating medgate" section`)
	}
	section := text[start+1:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	for _, m := range names {
		if !strings.Contains(section, "`"+m[1]+"`") {
			t.Errorf("alert rule %s of deploy/prometheus/medgate-rules.yaml is not named in README.md's Operating medgate section; add it (as `%s`) to the list of alert rules with what it means and what to do", m[1], m[1])
		}
	}
}
