package hygiene

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// alertRule is one alert rule of deploy/prometheus/medgate-rules.yaml.
type alertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// readAlertRules reads the alert rules of
// deploy/prometheus/medgate-rules.yaml.
func readAlertRules(t *testing.T) []alertRule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(promDir, "medgate-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("deploy/prometheus/medgate-rules.yaml: %v", err)
	}
	var out []alertRule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r)
			}
		}
	}
	if len(out) < 5 {
		t.Fatalf("read only %d alert rules from deploy/prometheus/medgate-rules.yaml; has its form changed?", len(out))
	}
	return out
}

// unalerted are the metrics no alert rule reads, each with why none
// needs to: every other metric medgate registers is read by a rule, so
// a condition an operator must act on cannot be counted and go unpaged.
var unalerted = map[string]string{
	"medgate_messages_total":           "every failed message also goes to the DLQ (MedgateDeadLetters); ok, invalid and rejected are answers to the platform",
	"medgate_message_duration_seconds": "latency for dashboards; an upload waiting too long is MedgateUploadNearDeadline's (medgate_oldest_pending_seconds)",
	"medgate_job_runs_total":           "a failing job has no new success: MedgateDownloadStalled reads medgate_job_last_success_timestamp_seconds",
	"medgate_config_reloads_total":     "a failed reload changes nothing and is answered to whoever asked (medgate reload, the admin API; SIGHUP's in the log)",
	"medgate_plugin_writes_refused_total": "the plugin gets the refusal as its call's error; a message then fails (MedgateDeadLetters) " +
		"or a job's run (MedgateDownloadStalled)",
	"medgate_mllp_connections_total":         "connections for dashboards",
	"medgate_mllp_open_connections":          "connections for dashboards",
	"medgate_mllp_discarded_bytes_total":     "bytes outside frames go with framing errors (MedgateMLLPFramingErrors)",
	"medgate_mllp_refused_connections_total": "refused by the listener's own limits (allowedPeers, maxConnections); the sender is told by the close and the log's WARN names it",
}

// TestEveryMetricAlertedOrExplained: every metric the host registers is
// read by an alert rule of deploy/prometheus/medgate-rules.yaml, or is
// listed in unalerted with why no rule needs it.
func TestEveryMetricAlertedOrExplained(t *testing.T) {
	t.Parallel()
	defined := hostMetrics(t)
	used := map[string]bool{}
	for _, r := range readAlertRules(t) {
		for _, m := range ruleMetricNameRE.FindAllString(r.Expr, -1) {
			used[m] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(defined)) {
		why, listed := unalerted[name]
		switch {
		case used[name] && listed:
			t.Errorf("metric %s is read by an alert rule and listed in unalerted (%q); remove it from unalerted", name, why)
		case !used[name] && !listed:
			t.Errorf("metric %s is read by no alert rule of deploy/prometheus/medgate-rules.yaml; add a rule (with its promtool test and README row) for the condition it counts, or list it in unalerted with why no operator must act on it", name)
		}
	}
	for name := range unalerted {
		if _, ok := defined[name]; !ok {
			t.Errorf("unalerted lists %s, which the host does not register; remove it", name)
		}
	}
}

var (
	// ruleMetricNameRE is a medgate metric in an expression.
	ruleMetricNameRE = regexp.MustCompile(`\bmedgate_[a-z0-9_]+`)
	// ruleSelectorRE is a metric with its label matchers: medgate_x{a="b", c!~"d"}.
	ruleSelectorRE = regexp.MustCompile(`\b(medgate_[a-z0-9_]+)\s*\{([^}]*)\}`)
	// ruleMatcherRE is a label name of a matcher.
	ruleMatcherRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	// ruleGroupingRE is a grouping or matching clause: by (a, b), without (…), on (…), ignoring (…), group_left (…).
	ruleGroupingRE = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	// ruleLabelRefRE is a label an annotation prints: $labels.x.
	ruleLabelRefRE = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)
)

// targetLabels are the labels Prometheus adds to every scraped series;
// a medgate label with one of their names arrives as exported_<name>.
var targetLabels = []string{"job", "instance"}

// ruleLabelProblems says which labels a rule names, in its expression
// (matchers, grouping) or in its annotations ($labels.x), that none of the
// medgate metrics it reads has, given the metrics the host registers
// (name → labels). Prometheus's target labels (job, instance) are always
// there, and exported_job only for a metric whose own label is job.
func ruleLabelProblems(r alertRule, defined map[string][]string) []string {
	var problems []string
	have := map[string]bool{}
	for _, l := range targetLabels {
		have[l] = true
	}
	for _, m := range ruleMetricNameRE.FindAllString(r.Expr, -1) {
		for _, l := range defined[m] {
			if slices.Contains(targetLabels, l) {
				have["exported_"+l] = true
			} else {
				have[l] = true
			}
		}
	}
	check := func(where, label string) {
		if !have[label] {
			problems = append(problems, where+" names the label "+label+", which none of the metrics it reads has")
		}
	}
	for _, s := range ruleSelectorRE.FindAllStringSubmatch(r.Expr, -1) {
		labels := defined[s[1]]
		for _, m := range ruleMatcherRE.FindAllStringSubmatch(s[2], -1) {
			l := m[1]
			if l == "__name__" || slices.Contains(targetLabels, l) {
				continue
			}
			if exported, ok := strings.CutPrefix(l, "exported_"); ok && slices.Contains(labels, exported) {
				continue
			}
			if !slices.Contains(labels, l) {
				problems = append(problems, "the selector "+s[0]+" names the label "+l+"; "+s[1]+"'s labels are {"+strings.Join(labels, ",")+"}")
			}
		}
	}
	for _, g := range ruleGroupingRE.FindAllStringSubmatch(r.Expr, -1) {
		for _, l := range strings.Split(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				check("the clause "+strings.TrimSpace(g[0]), l)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.Annotations)) {
		for _, m := range ruleLabelRefRE.FindAllStringSubmatch(r.Annotations[name], -1) {
			if _, own := r.Labels[m[1]]; !own {
				check("the annotation "+name, m[1])
			}
		}
	}
	return problems
}

func TestRuleLabelProblems(t *testing.T) {
	t.Parallel()
	defined := map[string][]string{"medgate_a_total": {"reason", "site"}, "medgate_j_seconds": {"job"}, "medgate_b": {}}
	cases := map[string]struct {
		rule alertRule
		want int
	}{
		"labels it has":                 {alertRule{Expr: `increase(medgate_a_total{reason="x"}[5m]) > 0`, Annotations: map[string]string{"summary": "{{ $labels.site }} {{ $labels.instance }}"}}, 0},
		"matcher, no such label":        {alertRule{Expr: `medgate_a_total{kind="x"} > 0`}, 1},
		"matcher, other metric's label": {alertRule{Expr: `medgate_b{reason="x"} > 0 or medgate_a_total > 0`}, 1},
		"grouping, no such label":       {alertRule{Expr: `sum by (site, listener) (medgate_a_total) > 0`}, 1},
		"exported_job":                  {alertRule{Expr: `max by (job, exported_job) (medgate_j_seconds) > 1`}, 0},
		"exported_job without job":      {alertRule{Expr: `max by (exported_job) (medgate_a_total) > 1`}, 1},
		"medgate's job as a matcher":    {alertRule{Expr: `medgate_j_seconds{exported_job="x"} > 1`}, 0},
		"annotation, no such label":     {alertRule{Expr: `medgate_b > 1`, Annotations: map[string]string{"summary": "{{ $labels.plugin }}"}}, 1},
		"annotation, the rule's label":  {alertRule{Expr: `medgate_b > 1`, Labels: map[string]string{"severity": "x"}, Annotations: map[string]string{"summary": "{{ $labels.severity }}"}}, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := ruleLabelProblems(tc.rule, defined); len(got) != tc.want {
				t.Errorf("ruleLabelProblems(%q) = %q, want %d problems", tc.rule.Expr, got, tc.want)
			}
		})
	}
}

// TestAlertRulesUseRegisteredMetricsAndLabels: every metric an alert rule
// reads is one the host registers, under that exact name, and every label
// the rule names (matchers, by/on clauses, $labels in its annotations) is
// one of those metrics' labels or a target label Prometheus adds, so no
// rule stays silent for ever on a series that never exists.
func TestAlertRulesUseRegisteredMetricsAndLabels(t *testing.T) {
	t.Parallel()
	defined := hostMetrics(t)
	for _, r := range readAlertRules(t) {
		names := ruleMetricNameRE.FindAllString(r.Expr, -1)
		if len(names) == 0 {
			t.Errorf("alert %s reads no medgate metric: %q", r.Alert, r.Expr)
		}
		for _, m := range names {
			if _, ok := defined[m]; !ok {
				t.Errorf("alert %s reads %s, which the host does not register (Name: \"medgate_…\" in host/); correct the rule or register the metric", r.Alert, m)
			}
		}
		for _, p := range ruleLabelProblems(r, defined) {
			t.Errorf("alert %s: %s; correct the rule", r.Alert, p)
		}
	}
}

// readmeAlertRowRE is a row of README.md's alert table:
// | `MedgateX` | severity | fires when | what to do |.
var readmeAlertRowRE = regexp.MustCompile("^\\| `(Medgate[A-Za-z0-9]+)` \\| ([^|]*) \\|")

// TestREADMEAlertTableMatchesRules: README.md's table of alert rules
// (| rule | severity | fires when | what to do |) has one row per rule of
// deploy/prometheus/medgate-rules.yaml, with the rule's severity, and no
// other, so an operator reading it knows which alerts page at night.
func TestREADMEAlertTableMatchesRules(t *testing.T) {
	t.Parallel()
	rules := map[string]string{}
	for _, r := range readAlertRules(t) {
		rules[r.Alert] = r.Labels["severity"]
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	header := "| rule | severity | fires when | what to do |"
	if !strings.Contains(string(readme), "\n"+header+"\n") {
		t.Fatalf("README.md has no alert table headed %q; give the table of alert rules a severity column", header)
	}
	rows := map[string]string{}
	for i, line := range strings.Split(string(readme), "\n") {
		m := readmeAlertRowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if _, dup := rows[m[1]]; dup {
			t.Errorf("README.md:%d: a second row for %s", i+1, m[1])
		}
		rows[m[1]] = strings.Trim(strings.TrimSpace(m[2]), "`")
		sev, ok := rules[m[1]]
		switch {
		case !ok:
			t.Errorf("README.md:%d: the alert table has %s, which deploy/prometheus/medgate-rules.yaml does not define; remove the row or add the rule", i+1, m[1])
		case rows[m[1]] != sev:
			t.Errorf("README.md:%d: the alert table gives %s the severity %q, the rule %q; make them the same", i+1, m[1], rows[m[1]], sev)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(rules)) {
		if _, ok := rows[name]; !ok {
			t.Errorf("README.md's alert table has no row for %s (severity %s); add one with when it fires and what to do", name, rules[name])
		}
	}
}
