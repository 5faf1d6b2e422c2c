package checkconfig

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// deployDir is the repository's deploy/ directory.
var deployDir = filepath.Join("..", "..", "..", "deploy")

// The shipped plugins and the test plugin the demo enables, built once.
var (
	pluginsOnce sync.Once
	pluginsDir  string
	pluginsErr  error
)

// TestMain removes the plugins built for the tests (some 130 MB).
func TestMain(m *testing.M) {
	code := m.Run()
	if pluginsDir != "" {
		_ = os.RemoveAll(pluginsDir)
	}
	os.Exit(code)
}

// builtPlugins builds the plugins the examples under deploy/ name and
// returns the directory that holds them.
func builtPlugins(t *testing.T) string {
	t.Helper()
	pluginsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "checkconfig-plugins-")
		if err != nil {
			pluginsErr = err
			return
		}
		pluginsDir = dir
		out, err := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
			"github.com/medgate/medgate/plugins/ecard",
			"github.com/medgate/medgate/plugins/workinjury",
			"github.com/medgate/medgate/plugins/selfpay",
			"github.com/medgate/medgate/plugins/tracecode",
			"github.com/medgate/medgate/test/plugins/ledger").CombinedOutput()
		if err != nil {
			pluginsErr = fmt.Errorf("%w: %s", err, out)
		}
	})
	if pluginsErr != nil {
		t.Fatalf("build the plugins the examples name: %v", pluginsErr)
	}
	return pluginsDir
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeSecret writes a file of random hex (mode 0600), as openssl rand
// -hex n would, with prefix before it.
func writeSecret(t *testing.T, path, prefix string, n int) {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(prefix+hex.EncodeToString(b)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// installed rewrites a production configuration as if installed in root:
// /etc/medgate → root, the plugins at /opt/medgate/plugins → the built
// ones with their real checksums (the examples pin a placeholder), and
// creates every secret and TLS file the production examples name.
func installed(t *testing.T, root, plugins, src string) string {
	t.Helper()
	// The DSN as the install steps write it: check-config parses it.
	if err := os.MkdirAll(filepath.Join(root, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "secrets", "pg-dsn"), []byte("postgres://medgate:"+strings.Repeat("ab", 16)+"@pg.hospital.local:5432/medgate?sslmode=verify-full\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kafka-password", "admin-token", "client-cashier", "client-doctor-station", "store-key-2026-01", "ecard-identity"} {
		writeSecret(t, filepath.Join(root, "secrets", name), "", 32)
	}
	writeSecret(t, filepath.Join(root, "secrets", "ecard-qrkeys"), "A:", 16)
	// The CA files hold a certificate: check-config reads them as medgate
	// run does.
	if err := os.MkdirAll(filepath.Join(root, "tls"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeCert(t, filepath.Join(root, "tls"), "ca", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	ca, err := os.ReadFile(filepath.Join(root, "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kafka-ca.pem", "ca.pem"} {
		if err := os.WriteFile(filepath.Join(root, "tls", name), ca, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	placeholder := `"` + strings.Repeat("0", 64) + `"`
	if !strings.Contains(src, "/opt/medgate/plugins/ecard") || !strings.Contains(src, placeholder) {
		t.Fatalf("the example no longer names /opt/medgate/plugins/ecard with a placeholder sha256; update this test")
	}
	src = strings.ReplaceAll(src, "/etc/medgate/", root+"/")
	src = strings.ReplaceAll(src, "/opt/medgate/plugins/", plugins+"/")
	return strings.ReplaceAll(src, placeholder, `"`+sha256File(t, filepath.Join(plugins, "ecard"))+`"`)
}

// TestDeployExamplesPassCheckConfig: every configuration shipped under
// deploy/ passes `medgate check-config` (plugins launched, every site's
// settings accepted, every secret read) once the files it names exist.
func TestDeployExamplesPassCheckConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds five plugins; run without -short")
	}
	plugins := builtPlugins(t)
	t.Run("config/medgate.yaml", func(t *testing.T) {
		src, err := os.ReadFile(filepath.Join(deployDir, "config", "medgate.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		// The systemd unit's EnvironmentFile sets it.
		t.Setenv("MEDGATE_KAFKA_PASSWORD", "kafka-password-from-the-environment-file")
		root := t.TempDir()
		path := filepath.Join(root, "medgate.yaml")
		if err := os.WriteFile(path, []byte(installed(t, root, plugins, string(src))), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Check(t.Context(), path); err != nil {
			t.Errorf("medgate check-config refuses deploy/config/medgate.yaml:\n%v", err)
		}
	})
	t.Run("kubernetes/medgate.yaml", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(deployDir, "kubernetes", "medgate.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var src string
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var o struct {
				Kind     string
				Metadata struct{ Name string }
				Data     map[string]string
			}
			if err := dec.Decode(&o); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			if o.Kind == "ConfigMap" && o.Metadata.Name == "medgate-config" {
				src = o.Data["medgate.yaml"]
			}
		}
		if src == "" {
			t.Fatal("no medgate.yaml in the ConfigMap medgate-config")
		}
		root := t.TempDir()
		path := filepath.Join(root, "medgate.yaml")
		if err := os.WriteFile(path, []byte(installed(t, root, plugins, src)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Check(t.Context(), path); err != nil {
			t.Errorf("medgate check-config refuses the ConfigMap of deploy/kubernetes/medgate.yaml:\n%v", err)
		}
	})
	t.Run("demo/medgate.yaml", func(t *testing.T) {
		// The layout `make run` gives it: the repository's bin/ and data/,
		// with what deploy/demo/secrets.sh, deploy/demo/checksums.sh and
		// the simulators write.
		root := t.TempDir()
		demo := filepath.Join(root, "deploy", "demo")
		if err := os.MkdirAll(demo, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"medgate.yaml", "workinjury-institutions.json"} {
			b, err := os.ReadFile(filepath.Join(deployDir, "demo", name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(demo, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(plugins, filepath.Join(root, "bin", "plugins")); err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(root, "data")
		writeSecret(t, filepath.Join(data, "secrets", "ecard-identity"), "", 32)
		writeSecret(t, filepath.Join(data, "secrets", "ecard-qrkeys"), "A:", 16)
		writeSecret(t, filepath.Join(data, "secrets", "store-key"), "", 32)
		writeSecret(t, filepath.Join(data, "sim", "selfpay", "paas-token"), "", 16)
		writeSecret(t, filepath.Join(data, "sim", "tracecode", "app-secret"), "", 16)
		writeSecret(t, filepath.Join(data, "sim", "tracecode", "hsa-token"), "", 16)
		var sums strings.Builder
		for _, p := range []string{"ecard", "workinjury", "selfpay", "tracecode", "ledger"} {
			fmt.Fprintf(&sums, "%s  %s\n", sha256File(t, filepath.Join(plugins, p)), p)
		}
		if err := os.WriteFile(filepath.Join(data, "plugin-sha256sums"), []byte(sums.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Check(t.Context(), filepath.Join(demo, "medgate.yaml")); err != nil {
			t.Errorf("medgate check-config refuses deploy/demo/medgate.yaml:\n%v", err)
		}
	})
}

// TestKubernetesTempIsWritable: a medgate container whose root file system
// is read-only has a writable volume at its temporary directory ($TMPDIR,
// else /tmp). Each plugin creates its go-plugin socket there at start (and
// large Excel exports spill there), so without it no plugin starts.
func TestKubernetesTempIsWritable(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(deployDir, "kubernetes", "medgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	type container struct {
		Name            string
		Args            []string
		Env             []struct{ Name, Value string }
		SecurityContext struct {
			ReadOnlyRootFilesystem bool `yaml:"readOnlyRootFilesystem"`
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string
			MountPath string `yaml:"mountPath"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"volumeMounts"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	checked := 0
	for {
		var o struct {
			Kind string
			Spec struct {
				Template struct {
					Spec struct {
						Containers []container
						Volumes    []map[string]any
					}
				}
			}
		}
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if o.Kind != "StatefulSet" && o.Kind != "Deployment" {
			continue
		}
		volumes := map[string]map[string]any{}
		for _, v := range o.Spec.Template.Spec.Volumes {
			name, _ := v["name"].(string)
			volumes[name] = v
		}
		for _, c := range o.Spec.Template.Spec.Containers {
			if !c.SecurityContext.ReadOnlyRootFilesystem {
				continue
			}
			checked++
			tmp := "/tmp"
			for _, e := range c.Env {
				if e.Name == "TMPDIR" {
					tmp = e.Value
				}
			}
			ok := false
			for _, m := range c.VolumeMounts {
				if m.MountPath == tmp && !m.ReadOnly && volumes[m.Name] != nil {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s container %q: the root file system is read-only and nothing writable is mounted at %s: every plugin fails to create its socket there; mount an emptyDir at %s", o.Kind, c.Name, tmp, tmp)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no container with a read-only root file system found; update this test")
	}
}

// TestCreateTopicsInSyncReplicas: deploy/kafka/create-topics.sh never asks
// for more in-sync replicas than a topic has (with REPLICATION=1 every
// acks=all write medgate makes would fail with NOT_ENOUGH_REPLICAS), and
// with three replicas one broker may be down.
func TestCreateTopicsInSyncReplicas(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash to run the script")
	}
	script, err := filepath.Abs(filepath.Join(deployDir, "kafka", "create-topics.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ replication, wantISR string }{{"1", "1"}, {"2", "2"}, {"3", "2"}, {"5", "2"}} {
		t.Run("replication "+tc.replication, func(t *testing.T) {
			t.Parallel()
			bin := t.TempDir()
			log := filepath.Join(bin, "calls")
			// A kafka-topics.sh that records its arguments, one call a line.
			fake := "#!/usr/bin/env bash\necho \"$*\" >> " + log + "\n"
			if err := os.WriteFile(filepath.Join(bin, "kafka-topics.sh"), []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", script)
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "BOOTSTRAP=k:9093", "REPLICATION="+tc.replication)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("create-topics.sh: %v\n%s", err, out)
			}
			calls, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(calls)), "\n")
			if len(lines) != 4 {
				t.Fatalf("%d topics created, want 4:\n%s", len(lines), calls)
			}
			for _, l := range lines {
				if !strings.Contains(l, "--replication-factor "+tc.replication) || !strings.Contains(l, "min.insync.replicas="+tc.wantISR+" ") && !strings.HasSuffix(l, "min.insync.replicas="+tc.wantISR) {
					t.Errorf("with REPLICATION=%s, want min.insync.replicas=%s: %s", tc.replication, tc.wantISR, l)
				}
			}
		})
	}
}
