package hygiene

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	// consoleRouteRE is a route of host/internal/console/routes.go:
	// {"GET " + Prefix + "path", access.Role, …}.
	consoleRouteRE = regexp.MustCompile(`\{"([A-Z]+) " \+ Prefix \+ "([^"]*)", access\.(\w+)`)
	// adminRouteRE is a route of host/internal/api/routes.go:
	// {"GET /admin/path", access.Role, …}.
	adminRouteRE = regexp.MustCompile(`\{"([A-Z]+) (/admin/[^"]*)", access\.(\w+)`)
	// tableRouteRE is one route of README.md's route → role table:
	// `GET /path` or `GET\|POST /path`.
	tableRouteRE = regexp.MustCompile(`^([A-Z]+(?:\\\|[A-Z]+)*) (/\S*)$`)
)

// codeRoutes reads "METHOD /path" → role from a routes.go file.
func codeRoutes(t *testing.T, file string, re *regexp.Regexp, prefix string) map[string]string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		path := strings.TrimSuffix(prefix+m[2], "{$}")
		out[m[1]+" "+path] = strings.ToLower(m[3])
	}
	if len(out) < 10 {
		t.Fatalf("%s: found only %d routes; the route table's form changed, update this test's pattern", file, len(out))
	}
	return out
}

// TestREADMERouteRoleTable: README.md's "Route → role table" lists every
// console and admin API route with the least role the code gives it, and
// nothing else, so an operator setting up accounts knows exactly what each
// role may reach.
func TestREADMERouteRoleTable(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	code := codeRoutes(t, filepath.Join(root, "host", "internal", "console", "routes.go"), consoleRouteRE, "/console/")
	for k, v := range codeRoutes(t, filepath.Join(root, "host", "internal", "api", "routes.go"), adminRouteRE, "") {
		code[k] = v
	}
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{}
	lines := strings.Split(string(data), "\n")
	start := slices.Index(lines, "| role | console | admin API |")
	if start < 0 {
		t.Fatal("README.md has no \"| role | console | admin API |\" table")
	}
	for i := start + 2; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
		cells := strings.Split(strings.Trim(lines[i], "|"), " | ")
		role := strings.TrimSpace(cells[0])
		for _, cell := range cells[1:] {
			for _, item := range backticked(cell) {
				m := tableRouteRE.FindStringSubmatch(item)
				if m == nil {
					continue // prose such as `/healthz`
				}
				path := strings.TrimSuffix(m[2], "…")
				for _, method := range strings.Split(m[1], `\|`) {
					key := method + " " + path
					if prev, dup := documented[key]; dup {
						t.Errorf("README.md:%d: %s is listed twice (%s and %s)", i+1, key, prev, role)
					}
					documented[key] = role
				}
			}
		}
	}
	for _, key := range slices.Sorted(func(yield func(string) bool) {
		for k := range code {
			if !yield(k) {
				return
			}
		}
	}) {
		switch doc, ok := documented[key]; {
		case !ok:
			t.Errorf("README.md's route → role table does not list %s (role %s); add it to the %s row", key, code[key], code[key])
		case doc != code[key]:
			t.Errorf("README.md's route → role table lists %s under %s; the code requires %s", key, doc, code[key])
		}
	}
	for key := range documented {
		if _, ok := code[key]; !ok {
			t.Errorf("README.md's route → role table lists %s, which no routes.go registers; remove or correct it", key)
		}
	}
}

// endpointRE is one endpoint of README.md's "| endpoint | what |" table:
// `GET /admin/messages?site=&…` (the query left out).
var endpointRE = regexp.MustCompile(`^([A-Z]+) (/admin/[^?\s]*)(\?\S*)?$`)

// TestREADMEEndpointTableListsTheAdminAPI: the endpoint table of
// "Operating medgate" lists every admin API route, and every admin route
// it lists exists.
func TestREADMEEndpointTableListsTheAdminAPI(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	code := codeRoutes(t, filepath.Join(root, "host", "internal", "api", "routes.go"), adminRouteRE, "")
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	start := slices.Index(lines, "| endpoint | what |")
	if start < 0 {
		t.Fatal("README.md has no \"| endpoint | what |\" table")
	}
	listed := map[string]bool{}
	for i := start + 2; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
		cells := strings.Split(strings.Trim(lines[i], "|"), " | ")
		for _, item := range backticked(cells[0]) {
			m := endpointRE.FindStringSubmatch(item)
			if m == nil {
				continue
			}
			key := m[1] + " " + m[2]
			listed[key] = true
			if _, ok := code[key]; !ok {
				t.Errorf("README.md:%d: %s is not an admin API route (host/internal/api/routes.go)", i+1, key)
			}
		}
	}
	for key := range code {
		if !listed[key] {
			t.Errorf("README.md's endpoint table (Operating medgate) does not list the admin API route %s", key)
		}
	}
}
