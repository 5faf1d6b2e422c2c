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

// adminCallRE is an admin API call in an alert's text: a path under
// /admin/ and its query, if any.
var adminCallRE = regexp.MustCompile(`/admin/[A-Za-z0-9/{}_.-]*[A-Za-z0-9}](\?[^\s"',;)]*)?`)

// adminCallProblems checks the admin API calls a text names against the
// admin routes ("GET /admin/messages/{id}" → role): each must be a route,
// and each query parameter must have a value (an operator pastes it).
func adminCallProblems(text string, routes map[string]string) []string {
	var problems []string
	for _, m := range adminCallRE.FindAllStringSubmatch(text, -1) {
		path, query, _ := strings.Cut(m[0], "?")
		found := false
		for key := range routes {
			_, route, _ := strings.Cut(key, " ")
			if routeMatches(route, path) {
				found = true
				break
			}
		}
		if !found {
			problems = append(problems, m[0]+": "+path+" is no admin API route (host/internal/api/routes.go)")
		}
		for _, p := range strings.Split(query, "&") {
			if name, value, _ := strings.Cut(p, "="); p != "" && value == "" {
				problems = append(problems, m[0]+": the parameter "+name+" has no value; give the one to use")
			}
		}
	}
	return problems
}

// routeMatches tells whether a path written in a text is the route
// pattern: {x} in either matches any one segment.
func routeMatches(route, path string) bool {
	r, p := strings.Split(route, "/"), strings.Split(path, "/")
	if len(r) != len(p) {
		return false
	}
	for i := range r {
		wild := strings.HasPrefix(r[i], "{") || strings.HasPrefix(p[i], "{")
		if !wild && r[i] != p[i] {
			return false
		}
	}
	return true
}

func TestAdminCallProblems(t *testing.T) {
	t.Parallel()
	routes := map[string]string{"GET /admin/messages": "viewer", "GET /admin/messages/{id}": "viewer", "GET /admin/plugins/status": "admin"}
	cases := map[string]struct {
		text string
		want int
	}{
		"route":                 {"see GET /admin/plugins/status for its last error", 0},
		"route with a value":    {"See /admin/messages?status=pending and the log", 0},
		"placeholder":           {"the store (GET /admin/messages/{id})", 0},
		"parameter, no value":   {"See /admin/messages?status= and the log", 1},
		"second without value":  {"/admin/messages?site=demo&status=", 1},
		"no such route":         {"/admin/plugin/status", 1},
		"no route and no value": {"/admin/msgs?status=", 2},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := adminCallProblems(tc.text, routes); len(got) != tc.want {
				t.Errorf("adminCallProblems(%q) = %q, want %d problems", tc.text, got, tc.want)
			}
		})
	}
}

// TestAlertRulesNameRealAdminCalls: the admin API calls the alert rules of
// deploy/prometheus/medgate-rules.yaml tell the operator to make are routes
// of the admin API, with every query parameter given, so the page an
// operator gets at night can be followed as written.
func TestAlertRulesNameRealAdminCalls(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	routes := codeRoutes(t, filepath.Join(root, "host", "internal", "api", "routes.go"), adminRouteRE, "")
	rules, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "medgate-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, line := range strings.Split(string(rules), "\n") {
		n += len(adminCallRE.FindAllString(line, -1))
		for _, p := range adminCallProblems(line, routes) {
			t.Errorf("deploy/prometheus/medgate-rules.yaml:%d: %s", i+1, p)
		}
	}
	if n < 3 {
		t.Fatalf("the alert rules name only %d admin API calls; is the pattern right?", n)
	}
}
