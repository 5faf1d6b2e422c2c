package hygiene

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// systemdUnit reads deploy/systemd/medgate.service: key → values, in
// order.
func systemdUnit(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "systemd", "medgate.service"))
	if err != nil {
		t.Fatal(err)
	}
	set := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			set[k] = append(set[k], v)
		}
	}
	return set
}

// exampleFileRefs returns the file: secret references and plugin paths of
// deploy/config/medgate.yaml, the configuration the unit runs.
func exampleFileRefs(t *testing.T) (secrets, plugins []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "config", "medgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(x, k)
			}
		case []any:
			for _, x := range v {
				walk(x, key)
			}
		case string:
			if p, ok := strings.CutPrefix(v, "file:"); ok {
				secrets = append(secrets, p)
			} else if key == "path" && strings.HasPrefix(v, "/") {
				plugins = append(plugins, v)
			}
		}
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	walk(doc, "")
	return secrets, plugins
}

// TestREADMEInstallsWhatTheUnitNeeds: README.md's "Installing on a
// server" steps create what deploy/systemd/medgate.service and the
// production example deploy/config/medgate.yaml it runs take for granted —
// the unit's user (systemd refuses to start a unit whose User does not
// exist), the binary and configuration at the unit's paths, its
// environment file, the plugins' directory, and every directory holding a
// secret file, owned by that user with mode 700 (medgate refuses a secret
// others can read) — and install the unit itself. An example that moves a
// path without the steps following it fails here.
func TestREADMEInstallsWhatTheUnitNeeds(t *testing.T) {
	t.Parallel()
	unit := systemdUnit(t)
	one := func(key string) string {
		if len(unit[key]) != 1 {
			t.Fatalf("deploy/systemd/medgate.service: want one %s=, have %q", key, unit[key])
		}
		return unit[key][0]
	}
	user := one("User")
	start := regexp.MustCompile(`^(\S+) run -config (\S+)$`).FindStringSubmatch(one("ExecStart"))
	if start == nil {
		t.Fatalf("ExecStart=%s: want BINARY run -config FILE", one("ExecStart"))
	}
	env := strings.TrimPrefix(one("EnvironmentFile"), "-")

	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n### Installing on a server\n")
	if !ok {
		t.Fatal(`README.md has no "### Installing on a server" section saying how to install medgate under deploy/systemd/medgate.service`)
	}
	if loc := regexp.MustCompile(`\n#{2,4} `).FindStringIndex(section); loc != nil {
		section = section[:loc[0]]
	}
	var steps []string // the lines of its shell blocks
	fence := false
	for _, l := range strings.Split(section, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fence = !fence
			continue
		}
		if fence {
			steps = append(steps, l)
		}
	}
	has := func(want ...string) bool {
		return slices.ContainsFunc(steps, func(l string) bool {
			for _, w := range want {
				if !strings.Contains(l, w) {
					return false
				}
			}
			return true
		})
	}
	need := map[string][]string{
		"create the unit's user " + user:                {"useradd", " " + user},
		"install the binary at ExecStart's " + start[1]: {"install", start[1]},
		"install the configuration at " + start[2]:      {"install", start[2]},
		"create the EnvironmentFile " + env:             {env},
		"install the unit":                              {"install", "deploy/systemd/medgate.service", "/etc/systemd/system/"},
		"check the configuration as " + user:            {"sudo -u " + user, start[1], "check-config", start[2]},
		"enable and start it":                           {"systemctl enable --now medgate"},
	}
	secrets, plugins := exampleFileRefs(t)
	if len(secrets) < 3 || len(plugins) == 0 {
		t.Fatalf("deploy/config/medgate.yaml: found %d file: secrets and %d plugin paths; has its form changed?", len(secrets), len(plugins))
	}
	for _, p := range plugins {
		need["install the plugins in "+filepath.Dir(p)] = []string{"install", filepath.Dir(p)}
	}
	for _, s := range secrets {
		dir := filepath.Dir(s)
		need["create "+dir+", owned by "+user+", mode 700"] = []string{"install -d", "-o " + user, "-m 700", dir}
	}
	for what, want := range need {
		if !has(want...) {
			t.Errorf(`README.md "Installing on a server": no step to %s (a line of its shell block with %q)`, what, want)
		}
	}
}
