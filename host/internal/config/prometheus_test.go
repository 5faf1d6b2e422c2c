package config

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// metricRE finds a metric defined in Go source: its name and, for a
// vector, its label names.
// Fields after Help (a histogram's Buckets, say) are skipped up to the
// options' closing brace.
var metricRE = regexp.MustCompile(`Name:\s*"(medgate_[a-z0-9_]+)",\s*Help:\s*"(?:[^"\\]|\\.)*",?(?:[^{}]|\{[^{}]*\})*?\},\s*(?:\[\]string\{([^}]*)\})?`)

// definedMetrics scans the host's Go sources (tests left out) for the
// metrics medgate registers: name → label names.
func definedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range metricRE.FindAllStringSubmatch(string(src), -1) {
			var labels []string
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
		t.Fatalf("found only %d metrics in host/ (%v); has the way metrics are defined changed?", len(out), out)
	}
	return out
}

// promRules is deploy/prometheus/medgate-rules.yaml.
type promRules struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

var (
	ruleMetricRE = regexp.MustCompile(`medgate_[a-z0-9_]+`)
	labelsJobRE  = regexp.MustCompile(`\$labels\.job\b`)
)

// TestPrometheusRulesMatchMetrics: every metric the alert rules use is one
// medgate registers, and a medgate metric with a label named job — which
// Prometheus renames exported_job, as job is the scrape target's label
// (honor_labels: false, the default) — is grouped and named by
// exported_job, not by the scrape job.
func TestPrometheusRulesMatchMetrics(t *testing.T) {
	t.Parallel()
	defined := definedMetrics(t)
	data, err := os.ReadFile(filepath.Join(deployDir, "prometheus", "medgate-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules promRules
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			hasJob := false
			for _, m := range ruleMetricRE.FindAllString(r.Expr, -1) {
				labels, ok := defined[m]
				if !ok {
					t.Errorf("alert %s uses %s, which medgate does not register", r.Alert, m)
				}
				hasJob = hasJob || slices.Contains(labels, "job")
			}
			if !hasJob {
				continue
			}
			if !strings.Contains(r.Expr, "exported_job") {
				t.Errorf("alert %s: %q groups a metric with medgate's job label without exported_job: group by (job, exported_job), so the series of one job from every instance merge whatever target labels (pod, namespace) the scrape adds", r.Alert, r.Expr)
			}
			for name, a := range r.Annotations {
				if labelsJobRE.MatchString(a) && !strings.Contains(a, "$labels.exported_job") {
					t.Errorf("alert %s: annotation %s prints $labels.job, the scrape job, not medgate's job (exported_job): %q", r.Alert, name, a)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no alert rules read")
	}
}

// TestREADMEListsMetrics: every metric medgate registers is listed in
// README.md's "Operating medgate" section.
func TestREADMEListsMetrics(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	_, op, ok := strings.Cut(string(data), "\n## Operating medgate\n")
	if !ok {
		t.Fatal(`README.md has no "## Operating medgate" section`)
	}
	if i := strings.Index(op, "\n## "); i >= 0 {
		op = op[:i]
	}
	for _, name := range slices.Sorted(maps.Keys(definedMetrics(t))) {
		if !strings.Contains(op, "`"+name) {
			t.Errorf("metric %s is not listed in README.md's Operating medgate section", name)
		}
	}
}
