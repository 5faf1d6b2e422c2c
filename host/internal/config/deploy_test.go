package config

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// deployDir is the repository's deploy/ directory.
var deployDir = filepath.Join("..", "..", "..", "deploy")

// parseShipped parses a configuration shipped in deploy/ and returns its
// problems, leaving out the files that exist only where it is installed
// (plugin binaries, the Kafka CA).
func parseShipped(t *testing.T, name string, data []byte) (*Config, []string) {
	t.Helper()
	c, err := Parse(name, data)
	var out []string
	var ps Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			if strings.Contains(p.Message, "cannot find the plugin binary") || strings.HasPrefix(p.Path, "kafka.tls.") {
				continue
			}
			out = append(out, p.String())
		}
	} else if err != nil {
		t.Fatal(err)
	}
	return c, out
}

// TestProductionExampleValid: deploy/config/medgate.yaml passes every
// check (plugin binaries aside) and uses the protections it documents.
func TestProductionExampleValid(t *testing.T) {
	t.Parallel()
	path := filepath.Join(deployDir, "config", "medgate.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, ps := parseShipped(t, path, data)
	if len(ps) > 0 {
		t.Fatalf("problems:\n%s", strings.Join(ps, "\n"))
	}
	if c.PluginChecksums != "" || c.Plugins[0].SHA256 == "" || c.Store.Encryption == nil || len(c.HTTP.Clients) == 0 || len(c.HTTP.AllowedHosts) == 0 {
		t.Errorf("the production example should pin sha256, encrypt the store, list clients and allowed hosts: %+v", c)
	}
}

// k8sObject is the part of a Kubernetes object the test reads.
type k8sObject struct {
	Kind     string                `yaml:"kind"`
	Metadata struct{ Name string } `yaml:"metadata"`
	Data     map[string]string     `yaml:"data"`
	Spec     struct {
		Replicas     int `yaml:"replicas"`
		MinAvailable int `yaml:"minAvailable"`
		Template     struct {
			Spec struct {
				Containers []struct {
					Name           string `yaml:"name"`
					Env            []any  `yaml:"env"`
					EnvFrom        []any  `yaml:"envFrom"`
					ReadinessProbe *probe `yaml:"readinessProbe"`
					LivenessProbe  *probe `yaml:"livenessProbe"`
				} `yaml:"containers"`
				Volumes []struct {
					Name   string `yaml:"name"`
					Secret *struct {
						SecretName string `yaml:"secretName"`
					} `yaml:"secret"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type probe struct {
	HTTPGet struct{ Path string } `yaml:"httpGet"`
}

// TestKubernetesManifests: several replicas on PostgreSQL, probes, a
// disruption budget, secrets from Kubernetes Secrets only (never in the
// ConfigMap, never as environment variables), and a configuration that
// passes every check.
func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	path := filepath.Join(deployDir, "kubernetes", "medgate.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]k8sObject{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var o k8sObject
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		objs[o.Kind+"/"+o.Metadata.Name] = o
	}
	cm, ok := objs["ConfigMap/medgate-config"]
	if !ok {
		t.Fatalf("no ConfigMap medgate-config in %v", objs)
	}
	c, ps := parseShipped(t, "configmap:medgate.yaml", []byte(cm.Data["medgate.yaml"]))
	if len(ps) > 0 {
		t.Fatalf("the ConfigMap's configuration has problems:\n%s", strings.Join(ps, "\n"))
	}
	if c.Store.Driver != "postgres" || c.Store.Encryption == nil || c.Kafka.Embedded != nil {
		t.Errorf("replicas need PostgreSQL, a real Kafka and an encrypted store: %+v %+v", c.Store, c.Kafka)
	}
	// Every secret reference names a file the Secret provides.
	created := regexp.MustCompile(`--from-file=([a-z0-9-]+)=`).FindAllStringSubmatch(string(data), -1)
	have := map[string]bool{}
	for _, m := range created {
		have[m[1]] = true
	}
	for _, ref := range regexp.MustCompile(`"(file|env):([^"]+)"`).FindAllStringSubmatch(cm.Data["medgate.yaml"], -1) {
		name, ok := strings.CutPrefix(ref[2], "/etc/medgate/secrets/")
		if ref[1] != "file" || !ok || !have[name] {
			t.Errorf("secret reference %s:%s is not a file of the medgate-secrets Secret (%v)", ref[1], ref[2], have)
		}
	}
	ss, ok := objs["StatefulSet/medgate"]
	if !ok {
		t.Fatal("no StatefulSet medgate")
	}
	if ss.Spec.Replicas < 2 {
		t.Errorf("%d replicas, want several", ss.Spec.Replicas)
	}
	mg := ss.Spec.Template.Spec.Containers[0]
	if mg.ReadinessProbe == nil || mg.ReadinessProbe.HTTPGet.Path != "/readyz" || mg.LivenessProbe == nil || mg.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("probes: readiness %+v, liveness %+v; want /readyz and /healthz", mg.ReadinessProbe, mg.LivenessProbe)
	}
	if len(mg.EnvFrom) > 0 || len(mg.Env) != 1 {
		t.Errorf("secrets must not reach the environment (plugins inherit it): env %v, envFrom %v", mg.Env, mg.EnvFrom)
	}
	secrets := map[string]bool{}
	for _, v := range ss.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			secrets[v.Secret.SecretName] = true
		}
	}
	if !secrets["medgate-secrets"] {
		t.Errorf("the medgate-secrets Secret is not mounted: %v", secrets)
	}
	if pdb := objs["PodDisruptionBudget/medgate"]; pdb.Spec.MinAvailable < 1 || pdb.Spec.MinAvailable >= ss.Spec.Replicas {
		t.Errorf("PodDisruptionBudget minAvailable %d, want between 1 and %d", pdb.Spec.MinAvailable, ss.Spec.Replicas-1)
	}
}
