package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestReloadSaysAnEnvPasswordCannotRotate: a Kafka password behind an
// env: reference cannot be rotated by a reload, since a running process
// keeps the environment it started with (a new value in the systemd
// unit's EnvironmentFile or the pod's Secret reaches it only at a
// restart). Each reload with such a password says so, naming the
// variable (never its value), and how to rotate: a file: reference and a
// reload, or a restart. A file: password, which a reload does rotate,
// gets no such line. The reload's reply (ReloadNotes, the admin API's)
// says it too.
func TestReloadSaysAnEnvPasswordCannotRotate(t *testing.T) {
	const user, pass = "medgate", "env-Passw0rd-1234"
	const envName = "MEDGATE_TEST_KAFKA_PASSWORD_RELOAD"
	t.Setenv(envName, pass)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "kafka-password")
	if err := os.WriteFile(pwFile, []byte(pass), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		ref      string
		wantNote bool
	}{
		"env: reference":  {ref: "env:" + envName, wantNote: true},
		"file: reference": {ref: "file:" + pwFile},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("PLAIN", user, pass))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			dir := t.TempDir()
			cfgPath := filepath.Join(dir, "medgate.yaml")
			cfg := fmt.Sprintf("node: envpw-1\n"+
				"kafka:\n  brokers: [%q]\n  groupId: envpw\n  createTopics: true\n  partitions: 1\n  replicationFactor: 1\n"+
				"  sasl: {mechanism: PLAIN, username: %s, password: %q}\n"+
				"store:\n  driver: sqlite\n  path: %q\n"+
				"http:\n  listen: 127.0.0.1:0\n", c.ListenAddrs()[0], user, tc.ref, filepath.Join(dir, "medgate.db"))
			if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			logs := &lockedBuffer{}
			d, err := Start(t.Context(), cfgPath, Options{Out: logs})
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			defer func() { _ = d.Close() }()
			pollFor(t, 30*time.Second, "the consumer in its group", func() bool { return d.kafkaReadiness() == "ok" })
			before := len(logs.String())
			_, warnings, err := d.ReloadNotes(t.Context())
			if err != nil {
				t.Fatalf("reload: %v", err)
			}
			// The admin API's reply carries the warnings (api.ReloadWarner).
			switch {
			case tc.wantNote && (len(warnings) != 1 || !strings.Contains(warnings[0], "cannot rotate") || !strings.Contains(warnings[0], envName)):
				t.Errorf("the reload's warnings %q do not say that %s cannot rotate", warnings, envName)
			case !tc.wantNote && len(warnings) > 0:
				t.Errorf("the reload warns of a %s password: %q", name, warnings)
			}
			if strings.Contains(strings.Join(warnings, "\n"), pass) {
				t.Errorf("the reload's warnings hold the password: %q", warnings)
			}
			logged := logs.String()[before:]
			var note string
			for _, l := range strings.Split(logged, "\n") {
				if strings.Contains(l, "kafka.sasl.password") && strings.Contains(l, "cannot rotate") {
					note = l
				}
			}
			switch {
			case tc.wantNote && note == "":
				t.Errorf("the reload does not say that the env: password cannot rotate; logs:\n%s", logged)
			case !tc.wantNote && note != "":
				t.Errorf("the reload says a %s password cannot rotate: %s", name, note)
			case tc.wantNote:
				for _, want := range []string{envName, "restart", "file:", "chmod 600"} {
					if !strings.Contains(note, want) {
						t.Errorf("the note does not say %q: %s", want, note)
					}
				}
			}
			if strings.Contains(logs.String(), pass) {
				t.Errorf("the password was logged; logs:\n%s", logs.String())
			}
		})
	}
}
