package config

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"net"
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
	for _, o := range manifestObjects[k8sObject](t, data) {
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

// writtenPaths are the paths medgate creates and writes to under c.
func writtenPaths(c *Config) map[string]string {
	out := map[string]string{"artifacts.dir": c.Artifacts.Dir}
	if c.Store.Driver == "sqlite" {
		out["store.path"] = filepath.Dir(c.Store.Path)
	}
	if c.Kafka.Embedded != nil {
		out["kafka.embedded.dataDir"] = c.Kafka.Embedded.DataDir
	}
	return out
}

// under reports whether path is dir or inside it.
func under(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// TestSystemdUnitCoherent: the unit checks and runs the same binary and
// configuration, and every path the production example makes medgate write
// is writable under the unit's sandbox (ProtectSystem=strict leaves only
// ReadWritePaths and the StateDirectory writable).
func TestSystemdUnitCoherent(t *testing.T) {
	t.Parallel()
	unit, err := os.ReadFile(filepath.Join(deployDir, "systemd", "medgate.service"))
	if err != nil {
		t.Fatal(err)
	}
	set := map[string][]string{}
	for _, line := range strings.Split(string(unit), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			set[k] = append(set[k], v)
		}
	}
	configRE := regexp.MustCompile(`^(\S+) (check-config|run) -config (\S+)$`)
	pre, start := configRE.FindStringSubmatch(strings.Join(set["ExecStartPre"], "")), configRE.FindStringSubmatch(strings.Join(set["ExecStart"], ""))
	if pre == nil || start == nil || pre[2] != "check-config" || start[2] != "run" || pre[1] != start[1] || pre[3] != start[3] {
		t.Fatalf("ExecStartPre %q and ExecStart %q should be the same medgate's check-config and run on the same -config", set["ExecStartPre"], set["ExecStart"])
	}
	if got := strings.Join(set["ProtectSystem"], ""); got != "strict" {
		t.Fatalf("ProtectSystem=%s; this test assumes strict", got)
	}
	var writable []string
	for _, v := range set["ReadWritePaths"] {
		writable = append(writable, strings.Fields(v)...)
	}
	for _, v := range set["StateDirectory"] {
		for _, d := range strings.Fields(v) {
			writable = append(writable, filepath.Join("/var/lib", d))
		}
	}
	data, err := os.ReadFile(filepath.Join(deployDir, "config", "medgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := parseShipped(t, start[3], data)
	for key, p := range writtenPaths(c) {
		if !slices.ContainsFunc(writable, func(dir string) bool { return under(p, dir) }) {
			t.Errorf("deploy/config/medgate.yaml installed as %s: %s is %s, which the systemd unit leaves read-only (writable: %v); medgate would not start", start[3], key, p, writable)
		}
	}
}

// TestKubernetesPathsAndPorts: the container runs the ConfigMap's
// configuration, serves HTTP on the port its probes, Service and scrape
// annotation use, and every path the configuration makes medgate write is
// on a writable volume (the root filesystem is read-only).
func TestKubernetesPathsAndPorts(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(deployDir, "kubernetes", "medgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	type container struct {
		Name  string   `yaml:"name"`
		Args  []string `yaml:"args"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		SecurityContext struct {
			ReadOnlyRootFilesystem bool `yaml:"readOnlyRootFilesystem"`
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"volumeMounts"`
	}
	type object struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Data map[string]string `yaml:"data"`
		Spec struct {
			Ports []struct {
				TargetPort string `yaml:"targetPort"`
			} `yaml:"ports"`
			Template struct {
				Metadata struct {
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"metadata"`
				Spec struct {
					Containers []container `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	objs := map[string]object{}
	for _, o := range manifestObjects[object](t, data) {
		objs[o.Kind+"/"+o.Metadata.Name] = o
	}
	ss := objs["StatefulSet/medgate"]
	if len(ss.Spec.Template.Spec.Containers) == 0 {
		t.Fatal("no StatefulSet medgate with a container")
	}
	mg := ss.Spec.Template.Spec.Containers[0]
	if len(mg.Args) != 3 || mg.Args[0] != "run" || mg.Args[1] != "-config" {
		t.Fatalf("container args %q, want run -config FILE", mg.Args)
	}
	cfgPath := mg.Args[2]
	c, _ := parseShipped(t, cfgPath, []byte(objs["ConfigMap/medgate-config"].Data["medgate.yaml"]))

	_, port, err := net.SplitHostPort(c.HTTP.Listen)
	if err != nil {
		t.Fatal(err)
	}
	var httpPort string
	for _, p := range mg.Ports {
		if p.Name == "http" {
			httpPort = strconv.Itoa(p.ContainerPort)
		}
	}
	if httpPort != port {
		t.Errorf("the container's http port is %q, http.listen is %s", httpPort, c.HTTP.Listen)
	}
	if got := ss.Spec.Template.Metadata.Annotations["prometheus.io/port"]; got != port {
		t.Errorf("prometheus.io/port is %q, http.listen is %s", got, c.HTTP.Listen)
	}
	for _, name := range []string{"Service/medgate", "Service/medgate-headless"} {
		for _, p := range objs[name].Spec.Ports {
			if p.TargetPort != "http" {
				t.Errorf("%s targets port %q, want the container's http port", name, p.TargetPort)
			}
		}
	}

	if !mg.SecurityContext.ReadOnlyRootFilesystem {
		t.Fatal("the medgate container should have a read-only root filesystem; this test assumes it")
	}
	var writable []string
	for _, m := range mg.VolumeMounts {
		if !m.ReadOnly {
			writable = append(writable, m.MountPath)
		}
	}
	for key, p := range writtenPaths(c) {
		if !slices.ContainsFunc(writable, func(dir string) bool { return under(p, dir) }) {
			t.Errorf("the ConfigMap's configuration at %s: %s is %s, which is on the container's read-only root filesystem (writable volumes: %v); medgate would not start", cfgPath, key, p, writable)
		}
	}
}

// TestKubernetesArtifactsShared: with several replicas, a file a plugin
// hands over is written by the replica that processes the message (the
// owner of its Kafka partition) and served by the one the console or the
// CLI talks to, so artifacts.dir must be on one ReadWriteMany volume every
// replica mounts — not an emptyDir, hostPath or volumeClaimTemplate, which
// give each replica its own. The console's sessions and download links
// live in one replica's memory, so a Service with client-IP affinity must
// keep a browser on one replica for at least console.sessionIdle.
func TestKubernetesArtifactsShared(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(deployDir, "kubernetes", "medgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	type volume struct {
		Name                  string `yaml:"name"`
		PersistentVolumeClaim *struct {
			ClaimName string `yaml:"claimName"`
		} `yaml:"persistentVolumeClaim"`
	}
	type object struct {
		Kind     string                `yaml:"kind"`
		Metadata struct{ Name string } `yaml:"metadata"`
		Data     map[string]string     `yaml:"data"`
		Spec     struct {
			Replicas        int            `yaml:"replicas"`
			AccessModes     []string       `yaml:"accessModes"`
			Selector        map[string]any `yaml:"selector"`
			SessionAffinity string         `yaml:"sessionAffinity"`
			AffinityConfig  struct {
				ClientIP struct {
					TimeoutSeconds int `yaml:"timeoutSeconds"`
				} `yaml:"clientIP"`
			} `yaml:"sessionAffinityConfig"`
			VolumeClaimTemplates []struct {
				Metadata struct{ Name string } `yaml:"metadata"`
			} `yaml:"volumeClaimTemplates"`
			Template struct {
				Spec struct {
					Containers []struct {
						Args         []string `yaml:"args"`
						VolumeMounts []struct {
							Name      string `yaml:"name"`
							MountPath string `yaml:"mountPath"`
						} `yaml:"volumeMounts"`
					} `yaml:"containers"`
					Volumes []volume `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	objs := map[string]object{}
	for _, o := range manifestObjects[object](t, data) {
		objs[o.Kind+"/"+o.Metadata.Name] = o
	}
	ss, ok := objs["StatefulSet/medgate"]
	if !ok || len(ss.Spec.Template.Spec.Containers) == 0 || len(ss.Spec.Template.Spec.Containers[0].Args) != 3 {
		t.Fatal("no StatefulSet medgate with a container running run -config FILE")
	}
	if ss.Spec.Replicas < 2 {
		t.Fatalf("%d replicas; this test is about several", ss.Spec.Replicas)
	}
	mg := ss.Spec.Template.Spec.Containers[0]
	c, _ := parseShipped(t, mg.Args[2], []byte(objs["ConfigMap/medgate-config"].Data["medgate.yaml"]))

	// The mount holding artifacts.dir is the deepest one above it.
	mount, depth := "", -1
	for _, m := range mg.VolumeMounts {
		if under(c.Artifacts.Dir, m.MountPath) && len(m.MountPath) > depth {
			mount, depth = m.Name, len(m.MountPath)
		}
	}
	if mount == "" {
		t.Fatalf("artifacts.dir %s is on no volume", c.Artifacts.Dir)
	}
	for _, tmpl := range ss.Spec.VolumeClaimTemplates {
		if tmpl.Metadata.Name == mount {
			t.Fatalf("artifacts.dir %s is on volume %q, a volumeClaimTemplate: each replica gets its own, and a download link made by one replica misses the file another wrote; mount one ReadWriteMany PersistentVolumeClaim", c.Artifacts.Dir, mount)
		}
	}
	i := slices.IndexFunc(ss.Spec.Template.Spec.Volumes, func(v volume) bool { return v.Name == mount })
	if i < 0 || ss.Spec.Template.Spec.Volumes[i].PersistentVolumeClaim == nil {
		t.Fatalf("artifacts.dir %s is on volume %q, which is not a PersistentVolumeClaim (an emptyDir or hostPath is per replica, so a download link made by one replica misses the file another wrote)", c.Artifacts.Dir, mount)
	}
	claim := ss.Spec.Template.Spec.Volumes[i].PersistentVolumeClaim.ClaimName
	pvc, ok := objs["PersistentVolumeClaim/"+claim]
	if !ok {
		t.Fatalf("artifacts.dir is on the claim %q, which the manifests do not declare", claim)
	}
	if !slices.Contains(pvc.Spec.AccessModes, "ReadWriteMany") {
		t.Errorf("the claim %q holding artifacts.dir has access modes %v; the %d replicas, on different nodes, all need it: ReadWriteMany", claim, pvc.Spec.AccessModes, ss.Spec.Replicas)
	}

	var sticky []string
	for name, o := range objs {
		if o.Kind == "Service" && o.Spec.SessionAffinity == "ClientIP" && o.Spec.Selector["app"] == "medgate" {
			timeout := o.Spec.AffinityConfig.ClientIP.TimeoutSeconds
			if timeout == 0 {
				timeout = 10800 // Kubernetes' default
			}
			if got, want := time.Duration(timeout)*time.Second, c.Console.SessionIdle.D(); got < want {
				t.Errorf("%s keeps a client on one replica for %s, shorter than console.sessionIdle (%s): a console session would move to a replica that does not know it", name, got, want)
			}
			sticky = append(sticky, name)
		}
	}
	if len(sticky) == 0 {
		t.Error("no Service selecting the medgate pods has sessionAffinity: ClientIP; console sessions and download links live in one replica's memory, so staff need a Service that keeps them on one replica")
	}
}

// TestKubernetesServiceNamesAllowed: the server refuses (421) a request
// whose Host is not an IP address, localhost or a name of
// http.allowedHosts (DNS rebinding), so every name the manifests tell
// clients and staff to call — each Service selecting the medgate pods, by
// its short name as other pods of the namespace use it, and each
// http://name:port/ address in the comments — must be allowed by the
// ConfigMap's configuration, or that address answers host_not_allowed.
func TestKubernetesServiceNamesAllowed(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(deployDir, "kubernetes", "medgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	type object struct {
		Kind     string                `yaml:"kind"`
		Metadata struct{ Name string } `yaml:"metadata"`
		Data     map[string]string     `yaml:"data"`
		Spec     struct {
			ClusterIP string         `yaml:"clusterIP"`
			Selector  map[string]any `yaml:"selector"`
		} `yaml:"spec"`
	}
	var services []string
	var conf string
	for _, o := range manifestObjects[object](t, data) {
		switch {
		case o.Kind == "ConfigMap" && o.Metadata.Name == "medgate-config":
			conf = o.Data["medgate.yaml"]
		case o.Kind == "Service" && o.Spec.ClusterIP != "None" && o.Spec.Selector["app"] == "medgate":
			services = append(services, o.Metadata.Name)
		}
	}
	if conf == "" || len(services) == 0 {
		t.Fatalf("no ConfigMap medgate-config or no Service of the medgate pods (services %v)", services)
	}
	c, _ := parseShipped(t, "configmap:medgate.yaml", []byte(conf))
	// As api.hostAllowed matches a name: exactly, or under a ".suffix".
	allowed := func(h string) bool {
		for _, a := range c.HTTP.AllowedHosts {
			a = strings.ToLower(a)
			if h == a || strings.HasPrefix(a, ".") && strings.HasSuffix(h, a) {
				return true
			}
		}
		return false
	}
	names := map[string]string{}
	for _, s := range services {
		names[s] = "Service " + s
	}
	for _, m := range regexp.MustCompile(`http://([a-z][a-z0-9.-]*):[0-9]+/`).FindAllStringSubmatch(string(data), -1) {
		names[m[1]] = "the address " + m[0] + " in the comments"
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if !allowed(name) {
			t.Errorf("%s: Host %q is not in http.allowedHosts %v, so medgate answers 421 host_not_allowed; add it to allowedHosts", names[name], name, c.HTTP.AllowedHosts)
		}
	}
}

// manifestObjects decodes every object of a multi-document YAML manifest
// as T.
func manifestObjects[T any](t *testing.T, data []byte) []T {
	t.Helper()
	var out []T
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var o T
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
}
