package hygiene

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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
		// As the unit runs it: its user and its EnvironmentFile (sudo -u
		// alone reports every env: reference written there as not set).
		"check the configuration as " + user + " with " + env: {"runuser -u " + user, ". " + env, start[1], "check-config", start[2]},
		"enable and start it": {"systemctl enable --now medgate"},
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

// goDuration finds the duration pattern's first group in a Go source file
// of the repository: a constant written as "N * time.Second" or a bound
// written as a duration ("1m").
func goDuration(t *testing.T, file string, re *regexp.Regexp) time.Duration {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", file))
	if err != nil {
		t.Fatal(err)
	}
	m := re.FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s: no match for %s; the code changed, update this test", file, re)
	}
	if n, ok := strings.CutSuffix(string(m[1]), " * time.Second"); ok {
		s, err := strconv.Atoi(n)
		if err != nil {
			t.Fatalf("%s: %q: %v", file, m[1], err)
		}
		return time.Duration(s) * time.Second
	}
	d, err := time.ParseDuration(string(m[1]))
	if err != nil {
		t.Fatalf("%s: %q: %v", file, m[1], err)
	}
	return d
}

// TestStopTimeoutsCoverTheShutdown: the systemd unit (TimeoutStopSec) and
// the Kubernetes StatefulSet (terminationGracePeriodSeconds) wait for
// medgate's shutdown at its longest before they kill it: the MLLP
// listeners' grace at its maximum, the HTTP requests' grace and the
// answer grace after it, the Kafka consumer's release grace at its
// maximum (plugin calls in flight), then the scheduled jobs' grace
// (daemon.Close), each one after the other. A kill loses nothing, but
// cuts MLLP senders and HTTP clients off without their answers, and
// external calls in flight without theirs.
func TestStopTimeoutsCoverTheShutdown(t *testing.T) {
	t.Parallel()
	grace := goDuration(t, "host/internal/daemon/daemon.go", regexp.MustCompile(`const shutdownGrace = (\d+ \* time\.Second)`))
	answer := goDuration(t, "host/internal/daemon/httpserver.go", regexp.MustCompile(`const answerGrace = (\d+ \* time\.Second)`))
	mllpMax := goDuration(t, "host/internal/config/mllp.go", regexp.MustCompile(`"mllp\.shutdownGrace", "must be between \S+ and (\S+), is`))
	releaseMax := goDuration(t, "host/internal/config/config.go", regexp.MustCompile(`"kafka\.releaseGrace", "must be between \S+ and (\S+) \(`))
	longest := mllpMax + grace + answer + releaseMax + grace

	unit := systemdUnit(t)
	stop, err := time.ParseDuration(strings.Join(unit["TimeoutStopSec"], "") + "s")
	if err != nil {
		t.Fatalf("deploy/systemd/medgate.service: TimeoutStopSec=%q: %v", unit["TimeoutStopSec"], err)
	}
	if stop < longest {
		t.Errorf("deploy/systemd/medgate.service: TimeoutStopSec=%s is shorter than medgate's longest shutdown, %s (mllp.shutdownGrace at most %s, HTTP %s + %s, kafka.releaseGrace at most %s, jobs %s); raise it", stop, longest, mllpMax, grace, answer, releaseMax, grace)
	}

	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", "medgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s+terminationGracePeriodSeconds: (\d+)\s*$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("deploy/kubernetes/medgate.yaml sets no terminationGracePeriodSeconds: Kubernetes' default, 30 s, is shorter than medgate's longest shutdown")
	}
	secs, _ := strconv.Atoi(string(m[1]))
	// The pod's http.shutdownDelay comes first: /readyz answers 503
	// while requests are still taken, so the Service drops the pod before
	// its listener closes.
	d := regexp.MustCompile(`(?m)^\s+shutdownDelay: (\S+)\s*(#.*)?$`).FindSubmatch(b)
	if d == nil {
		t.Fatal("deploy/kubernetes/medgate.yaml sets no http.shutdownDelay: a Service goes on sending new connections to a terminating pod for a few seconds, and they would be refused")
	}
	delay, err := time.ParseDuration(string(d[1]))
	if err != nil || delay < 5*time.Second {
		t.Errorf("deploy/kubernetes/medgate.yaml: http.shutdownDelay %q: want a duration of at least 5s (a Service takes a few seconds to drop a terminating pod)", d[1])
	}
	if k := time.Duration(secs) * time.Second; k < delay+longest {
		t.Errorf("deploy/kubernetes/medgate.yaml: terminationGracePeriodSeconds %s is shorter than http.shutdownDelay %s plus medgate's longest shutdown, %s; raise it", k, delay, longest)
	}
}

// TestKubernetesStartupWaitsForTheStoreUpgrade: the startup probe gives a
// starting medgate time to upgrade its store. medgate answers /healthz
// only once the store is open, and opening it first applies the schema's
// migrations (README "Upgrading"), which no timeout bounds: version 8 on
// PostgreSQL rebuilds the indexes of messages, 40 s for 2 million messages
// on a 2-core test machine, and 90 days of a large hospital's messages are
// several times that. A probe that gives up sooner has the kubelet kill the
// replica mid-migration, which rolls it back, and the restarted replica
// starts it again, each time holding the messages table from the replicas
// still running: the rollout never ends and message processing stalls
// again and again.
func TestKubernetesStartupWaitsForTheStoreUpgrade(t *testing.T) {
	t.Parallel()
	const atLeast = 10 * time.Minute
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", "medgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	type probe struct {
		HTTPGet *struct {
			Path string `yaml:"path"`
		} `yaml:"httpGet"`
		PeriodSeconds    int `yaml:"periodSeconds"`
		FailureThreshold int `yaml:"failureThreshold"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	checked := 0
	for {
		var o struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Name           string `yaml:"name"`
							StartupProbe   *probe `yaml:"startupProbe"`
							LivenessProbe  *probe `yaml:"livenessProbe"`
							ReadinessProbe *probe `yaml:"readinessProbe"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		for _, c := range o.Spec.Template.Spec.Containers {
			if c.LivenessProbe == nil {
				continue
			}
			checked++
			p := c.StartupProbe
			if p == nil {
				t.Errorf("%s container %q: a liveness probe and no startup probe: the liveness probe kills a replica still upgrading its store; add a startupProbe on /healthz allowing %s", o.Kind, c.Name, atLeast)
				continue
			}
			period, failures := p.PeriodSeconds, p.FailureThreshold
			if period == 0 {
				period = 10 // Kubernetes' defaults
			}
			if failures == 0 {
				failures = 3
			}
			if got := time.Duration(period*failures) * time.Second; got < atLeast {
				t.Errorf("%s container %q: the startup probe gives up after %s (periodSeconds %d × failureThreshold %d), under %s: a replica upgrading a large store (README \"Upgrading\") is killed mid-migration and starts it again for ever; raise failureThreshold", o.Kind, c.Name, got, period, failures, atLeast)
			}
		}
	}
	if checked == 0 {
		t.Fatal("deploy/kubernetes/medgate.yaml: no container with a liveness probe found; has its form changed?")
	}
}
