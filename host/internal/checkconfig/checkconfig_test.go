package checkconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckReadsSecrets: check-config reports unreadable HTTP tokens and
// store keys, all at once, without showing any secret.
func TestCheckReadsSecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "short-token"), []byte("tooshort"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `kafka:
  embedded: {}
http:
  adminToken: file:short-token
  clients:
    - {name: cashier, token: env:MEDGATE_TEST_CHECK_UNSET}
store:
  path: db/medgate.db
  encryption:
    keys:
      - {id: k1, key: env:MEDGATE_TEST_CHECK_UNSET_KEY}
`
	path := filepath.Join(dir, "medgate.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Check(t.Context(), path)
	if err == nil {
		t.Fatal("Check accepted unreadable secrets")
	}
	for _, want := range []string{
		"medgate.yaml:4: http.adminToken: the token is 8 characters",
		"medgate.yaml:6: http.clients[0].token: environment variable MEDGATE_TEST_CHECK_UNSET is not set",
		"store.encryption.keys[0].key: environment variable MEDGATE_TEST_CHECK_UNSET_KEY is not set",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "tooshort") {
		t.Error("Check shows a token")
	}
}

// TestCheckReadsConnectionSecrets: check-config reads the Kafka SASL
// password and the PostgreSQL DSN as medgate does at start, reporting each
// unreadable one at its key; a secret written in the file is reported once
// and never shown.
func TestCheckReadsConnectionSecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty-dsn"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	src := `kafka:
  brokers: ["127.0.0.1:1"]
  sasl:
    mechanism: SCRAM-SHA-512
    username: medgate
    password: env:MEDGATE_TEST_CHECK_UNSET_SASL
store:
  driver: postgres
  dsn: file:empty-dsn
http:
  adminToken: "hunter2-literal-admin-token"
`
	path := filepath.Join(dir, "medgate.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Check(t.Context(), path)
	if err == nil {
		t.Fatal("Check accepted unreadable connection secrets")
	}
	msg := err.Error()
	for _, want := range []string{
		"medgate.yaml:6: kafka.sasl.password: environment variable MEDGATE_TEST_CHECK_UNSET_SASL is not set",
		"medgate.yaml:9: store.dsn: the secret file:empty-dsn is empty",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("Check error lacks %q:\n%s", want, msg)
		}
	}
	if n := strings.Count(msg, "http.adminToken:"); n != 1 {
		t.Errorf("the literal admin token is reported %d times, want once:\n%s", n, msg)
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("Check shows a secret:\n%s", msg)
	}
}

// TestCheckNamesTheFailingPlugin: a plugin that cannot be started is
// reported at its own plugins[i] and line, even when a plugin declared
// before it is not launched because its declaration is already wrong.
func TestCheckNamesTheFailingPlugin(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fake-plugin")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 1\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	zeros := strings.Repeat("0", 64)
	cases := map[string]struct {
		plugins string
		want    []string
		notWant []string
	}{
		"bad declaration first": {
			plugins: "  - {name: first, path: fake-plugin, sha256: not-hex}\n  - {name: second, path: fake-plugin, sha256: " + zeros + "}\n",
			want:    []string{"medgate.yaml:4: plugins[0].sha256: must be 64 lowercase hex digits", "medgate.yaml:5: plugins[1]: "},
			notWant: []string{"medgate.yaml:4: plugins[0]: "},
		},
		"two bad declarations first": {
			plugins: "  - {name: a, path: fake-plugin, sha256: x}\n  - {name: B, path: fake-plugin, sha256: " + zeros + "}\n  - {name: c, path: fake-plugin, sha256: " + zeros + "}\n",
			want:    []string{"medgate.yaml:5: plugins[1].name:", "medgate.yaml:6: plugins[2]: "},
			notWant: []string{"medgate.yaml:4: plugins[0]: ", "medgate.yaml:5: plugins[1]: "},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, "medgate.yaml")
			src := "kafka:\n  embedded: {}\nplugins:\n" + tc.plugins
			if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			err := Check(t.Context(), path)
			if err == nil {
				t.Fatal("Check accepted a plugin that cannot start")
			}
			msg := err.Error()
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("Check error lacks %q:\n%s", want, msg)
				}
			}
			for _, bad := range tc.notWant {
				if strings.Contains(msg, bad) {
					t.Errorf("Check error blames the wrong plugin with %q:\n%s", bad, msg)
				}
			}
		})
	}
}
