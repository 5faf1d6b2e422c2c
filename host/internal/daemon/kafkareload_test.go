package daemon

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/medgate/medgate/host/internal/bus"
)

// TestReloadReportsKafkaSettingsItCannotRotate: a reload rotates the
// Kafka password and TLS files in place (TestReloadRotatesKafkaCredentials),
// but the SASL mechanism and TLS turned on or off need new clients: such a
// reload reports the keys as taking effect at the restart (with the
// credentials changed along with them, never their values), the running
// clients keep what they use, and written back to what runs nothing is
// pending. A password file that cannot be read refuses the reload.
func TestReloadReportsKafkaSettingsItCannotRotate(t *testing.T) {
	dir := t.TempDir()
	brokerCert, brokerPEM := selfSignedCert(t, "broker.example")
	const user, oldPass, newPass = "medgate", "old-Passw0rd-1234", "new-Passw0rd-5678"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("PLAIN", user, oldPass),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{brokerCert}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	pwFile := filepath.Join(dir, "kafka-password")
	caFile := filepath.Join(dir, "kafka-ca.pem")
	writeFile := func(path string, b []byte) {
		t.Helper()
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(pwFile, []byte(oldPass))
	writeFile(caFile, brokerPEM)
	cfgPath := filepath.Join(dir, "medgate.yaml")
	writeConfig := func(mech, tlsLine string) {
		writeFile(cfgPath, []byte(fmt.Sprintf("node: rotate-1\n"+
			"kafka:\n  brokers: [%q]\n  groupId: rotate\n  createTopics: true\n  partitions: 1\n  replicationFactor: 1\n"+
			"%s  sasl: {mechanism: %s, username: %s, password: \"file:%s\"}\n"+
			"store:\n  driver: sqlite\n  path: %q\n"+
			"http:\n  listen: 127.0.0.1:0\n", c.ListenAddrs()[0], tlsLine, mech, user, pwFile, filepath.Join(dir, "medgate.db"))))
	}
	tlsOn := fmt.Sprintf("  tls: {caFile: %q}\n", caFile)
	writeConfig("PLAIN", tlsOn)
	logs := &lockedBuffer{}
	d, err := Start(t.Context(), cfgPath, Options{Out: logs})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer func() { _ = d.Close() }()
	pollFor(t, 30*time.Second, "the consumer in its group", func() bool { return d.kafkaReadiness() == "ok" })

	for _, tc := range []struct {
		name   string
		rotate func()
		want   []string
	}{
		{name: "nothing changed"},
		{name: "mechanism changed, password rotated with it", rotate: func() {
			writeConfig("SCRAM-SHA-256", tlsOn)
			writeFile(pwFile, []byte(newPass))
		}, want: []string{"kafka.sasl.mechanism", "kafka.sasl.password"}},
		{name: "TLS turned off", rotate: func() { writeConfig("PLAIN", "") }, want: []string{"kafka.tls"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(logs.String())
			if tc.rotate != nil {
				tc.rotate()
			}
			got, err := d.ReloadReport(t.Context())
			if err != nil {
				t.Fatalf("reload: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("keys reported not applied (-want +got):\n%s", diff)
			}
			logged := logs.String()[before:]
			if warned := strings.Contains(logged, "take effect only when medgate restarts"); warned != (tc.want != nil) {
				t.Errorf("warning of a restart: %v, want %v; logs:\n%s", warned, tc.want != nil, logged)
			}
			for _, k := range tc.want {
				if !strings.Contains(logged, k) {
					t.Errorf("the warning does not name %s; logs:\n%s", k, logged)
				}
			}
			if strings.Contains(logged, newPass) || strings.Contains(logged, oldPass) {
				t.Errorf("the reload logged a password; logs:\n%s", logged)
			}
			// The running clients keep what they use: a new client made
			// from the running settings still authenticates with the old
			// password, and the consumer stays in its group.
			p, err := bus.NewProducer(d.busCfg)
			if err != nil {
				t.Fatalf("a new Kafka client after the reload: %v", err)
			}
			p.Close()
			if r := d.kafkaReadiness(); r != "ok" {
				t.Errorf("kafka readiness after the reload: %q, want ok", r)
			}
			// Written back to what runs: nothing pending.
			writeConfig("PLAIN", tlsOn)
			writeFile(pwFile, []byte(oldPass))
			if back, err := d.ReloadReport(t.Context()); err != nil || back != nil {
				t.Fatalf("reload back to the running settings: %q, %v; want nothing reported", back, err)
			}
		})
	}

	// A password file that cannot be read: medgate could not start with
	// this configuration, so the reload is refused and says why.
	if err := os.Remove(pwFile); err != nil {
		t.Fatal(err)
	}
	_, err = d.ReloadReport(t.Context())
	if err == nil || !strings.Contains(err.Error(), "kafka.sasl.password") || !strings.Contains(err.Error(), "keep the ones in force") {
		t.Errorf("reload with the password file gone: %v; want it refused naming kafka.sasl.password", err)
	}
}
