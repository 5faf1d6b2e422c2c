package hygiene

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/medgate/medgate/test/testenv"
)

// promDir holds the alert rules and their unit tests.
var promDir = filepath.Join("..", "..", "deploy", "prometheus")

// TestPrometheusRulesPromtool: Prometheus's own checker accepts
// deploy/prometheus/medgate-rules.yaml and its unit tests
// (medgate-rules.test.yaml) pass: each alert fires on the series medgate
// exports — a labelled counter appearing with its first count, as the
// first dead letter of a type does — and stays quiet when it should.
// promtool is Debian's prometheus package (deploy/testenv/checkers.sh).
func TestPrometheusRulesPromtool(t *testing.T) {
	t.Parallel()
	promtool := testenv.Tool(t, "promtool", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "medgate-rules.yaml"},
		{"test", "rules", "medgate-rules.test.yaml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = promDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v in deploy/prometheus: %v\n%s", args, err, out)
		}
	}
}

// TestPrometheusRulesEachTested: every alert rule has a unit test in
// deploy/prometheus/medgate-rules.test.yaml where it must fire and one
// where it must not, so a rule added or changed is checked against the
// series medgate exports, not only parsed.
func TestPrometheusRulesEachTested(t *testing.T) {
	t.Parallel()
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	var tests struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			Name  string `yaml:"name"`
			Cases []struct {
				Alert string `yaml:"alertname"`
				Exp   []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	for name, v := range map[string]any{"medgate-rules.yaml": &rules, "medgate-rules.test.yaml": &tests} {
		b, err := os.ReadFile(filepath.Join(promDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, v); err != nil {
			t.Fatalf("deploy/prometheus/%s: %v", name, err)
		}
	}
	if !slices.Contains(tests.RuleFiles, "medgate-rules.yaml") {
		t.Fatalf("deploy/prometheus/medgate-rules.test.yaml tests %v, not medgate-rules.yaml", tests.RuleFiles)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, c := range tc.Cases {
			if len(c.Exp) > 0 {
				fires[c.Alert] = true
			} else {
				quiet[c.Alert] = true
			}
		}
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if !fires[r.Alert] {
				t.Errorf("alert %s has no case in deploy/prometheus/medgate-rules.test.yaml where it fires; add one with the series medgate exports", r.Alert)
			}
			if !quiet[r.Alert] {
				t.Errorf("alert %s has no case in deploy/prometheus/medgate-rules.test.yaml where it must not fire (exp_alerts: []); add one below its threshold or after its window", r.Alert)
			}
		}
	}
	if n < 5 {
		t.Fatalf("read only %d alert rules from deploy/prometheus/medgate-rules.yaml; has its form changed?", n)
	}
}
