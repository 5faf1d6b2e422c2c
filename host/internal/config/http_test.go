package config

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/bus"
)

// problemsOf parses src and returns its problems as strings.
func problemsOf(t *testing.T, src string) []string {
	t.Helper()
	_, err := Parse("m.yaml", []byte(src))
	if err == nil {
		return nil
	}
	ps, ok := err.(Problems)
	if !ok {
		t.Fatalf("err = %v, want Problems", err)
	}
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

func hasProblem(got []string, part string) bool {
	for _, g := range got {
		if strings.Contains(g, part) {
			return true
		}
	}
	return false
}

// TestNonLoopbackNeedsCredentials: an ingress or admin API reachable from
// other machines without credentials is refused at start.
func TestNonLoopbackNeedsCredentials(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		http           string
		admin, ingress bool // want the problem
	}{
		"all interfaces, no tokens": {http: "listen: 0.0.0.0:8080", admin: true, ingress: true},
		"empty host":                {http: `listen: ":8080"`, admin: true, ingress: true},
		"ipv6 any":                  {http: `listen: "[::]:8080"`, admin: true, ingress: true},
		"lan address, admin only":   {http: "listen: 10.1.2.3:8080\n  adminToken: env:A", ingress: true},
		"host name, ingress only":   {http: "listen: medgate.local:8080\n  ingressToken: env:I", admin: true},
		"both tokens":               {http: "listen: 0.0.0.0:8080\n  adminToken: env:A\n  ingressToken: env:I"},
		"clients instead":           {http: "listen: 0.0.0.0:8080\n  adminToken: env:A\n  clients: [{name: cashier, token: env:C}]"},
		"loopback v4":               {http: "listen: 127.0.0.1:8080"},
		"loopback v6":               {http: `listen: "[::1]:8080"`},
		"localhost":                 {http: "listen: localhost:8080"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := problemsOf(t, "kafka:\n  embedded: {}\nhttp:\n  "+tc.http+"\n")
			if hasProblem(got, "http.adminToken: http.listen") != tc.admin {
				t.Errorf("admin token problem = %v, want %v: %q", !tc.admin, tc.admin, got)
			}
			if hasProblem(got, "http.clients: http.listen") != tc.ingress {
				t.Errorf("ingress credentials problem = %v, want %v: %q", !tc.ingress, tc.ingress, got)
			}
			if !tc.admin && !tc.ingress && len(got) > 0 {
				t.Errorf("unexpected problems: %q", got)
			}
		})
	}
}

func TestHTTPSettingsChecked(t *testing.T) {
	t.Parallel()
	got := problemsOf(t, `kafka:
  embedded: {}
http:
  ingressToken: env:I
  clients:
    - name: "bad name"
      token: plain
    - name: cashier
    - name: cashier
      token: env:C
    - name: default
      token: env:D
    - name: ward
      token: env:W
      sites: [h1, h9]
  allowedHosts: ["https://medgate.local:8080", medgate.local, .svc.local]
  ingressTimeout: 30s
  writeTimeout: 20s
  idleTimeout: -1s
  maxConnections: -5
processing:
  maxPayloadBytes: 4194304
sites:
  - code: h1
`)
	for _, want := range []string{
		`m.yaml:6: http.clients[0].name: "bad name" is not a client name`,
		"m.yaml:7: http.clients[0].token: secrets are never written",
		"m.yaml:8: http.clients[1].token: is required",
		`m.yaml:9: http.clients[2].name: client "cashier" is listed twice`,
		`m.yaml:11: http.clients[3].name: the name "default" is taken`,
		`http.clients[4].sites[1]: site "h9" is not declared under sites:`,
		`http.allowedHosts[0]: "https://medgate.local:8080" is not a host name`,
		"http.writeTimeout: 20s must be longer than http.ingressTimeout (30s)",
		"http.idleTimeout: must be positive",
		"http.maxConnections: must be between 1 and 100000, is -5",
		"processing.maxPayloadBytes: must be between 1 and 983616, is 4194304: a larger message could not be published to Kafka",
	} {
		if !hasProblem(got, want) {
			t.Errorf("missing problem %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if hasProblem(got, "http.clients[4].sites[0]") {
		t.Errorf("a declared site of a client was refused:\n%s", strings.Join(got, "\n"))
	}
	if hasProblem(got, "allowedHosts[1]") || hasProblem(got, "allowedHosts[2]") {
		t.Errorf("a valid allowed host was refused:\n%s", strings.Join(got, "\n"))
	}
}

// TestHTTPDefaultsFitKafkaAndBoundConnections: the default payload limit
// fits in one Kafka record, and every server timeout has a default.
func TestHTTPDefaultsFitKafkaAndBoundConnections(t *testing.T) {
	t.Parallel()
	c, err := Parse("m.yaml", []byte("kafka:\n  embedded: {}\nhttp:\n  ingressTimeout: 1m\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Processing.MaxPayloadBytes > bus.MaxRecordBytes-16<<10 || KafkaMaxRecordBytes > 1<<20 {
		t.Errorf("maxPayloadBytes default %d does not leave room for key and headers in a %d-byte record", c.Processing.MaxPayloadBytes, KafkaMaxRecordBytes)
	}
	h := c.HTTP
	if h.ReadHeaderTimeout <= 0 || h.ReadTimeout <= 0 || h.IdleTimeout <= 0 || h.WriteTimeout <= h.IngressTimeout || h.MaxConnections <= 0 {
		t.Errorf("http defaults incomplete: %+v", h)
	}
}

func TestHTTPCredentials(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "admin"), []byte("admin-secret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty"), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MEDGATE_TEST_CASHIER", "cashier-secret-0123456789")
	t.Setenv("MEDGATE_TEST_SHORT", "short")
	c := &Config{File: filepath.Join(dir, "medgate.yaml"), HTTP: HTTP{AdminToken: "file:admin", IngressToken: "env:MEDGATE_TEST_INGRESS",
		Clients: []HTTPClient{{Name: "cashier", Token: "env:MEDGATE_TEST_CASHIER", Sites: []string{"h1"}}, {Name: "pharmacy", Token: "file:missing"},
			{Name: "ward", Token: "file:empty"}, {Name: "lab", Token: "env:MEDGATE_TEST_SHORT"}}}}
	_, err := c.HTTPCredentials()
	if err == nil {
		t.Fatal("missing secrets were accepted")
	}
	for _, want := range []string{"http.ingressToken: environment variable MEDGATE_TEST_INGRESS is not set", "http.clients[1].token: secret file",
		"http.clients[2].token: the token is 0 characters; use at least 16", "http.clients[3].token: the token is 5 characters"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "short") {
		t.Error("an error shows a token")
	}
	t.Setenv("MEDGATE_TEST_INGRESS", "ingress-secret-0123456789")
	c.HTTP.Clients = c.HTTP.Clients[:1]
	got, err := c.HTTPCredentials()
	if err != nil {
		t.Fatal(err)
	}
	want := Credentials{Admin: "admin-secret-0123456789", Clients: []ResolvedClient{{Name: "default", Token: "ingress-secret-0123456789"}, {Name: "cashier", Token: "cashier-secret-0123456789", Sites: []string{"h1"}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v (each client with its sites)", got, want)
	}
}

func TestStoreKeys(t *testing.T) {
	t.Setenv("MEDGATE_TEST_K1", strings.Repeat("ab", 32))
	t.Setenv("MEDGATE_TEST_K2", base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32))))
	t.Setenv("MEDGATE_TEST_SHORT", "00112233")
	c := &Config{File: "m.yaml", Store: Store{Encryption: &Encryption{Keys: []StoreKey{{ID: "k2", Key: "env:MEDGATE_TEST_K2"}, {ID: "k1", Key: "env:MEDGATE_TEST_K1"}}}}}
	keys, err := c.StoreKeys()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != "k2" || string(keys[0].Key) != strings.Repeat("k", 32) || keys[1].Key[0] != 0xab {
		t.Fatalf("keys = %+v", keys)
	}
	c.Store.Encryption.Keys = append(c.Store.Encryption.Keys, StoreKey{ID: "k0", Key: "env:MEDGATE_TEST_SHORT"}, StoreKey{ID: "k9", Key: "env:MEDGATE_TEST_NONE"})
	_, err = c.StoreKeys()
	if err == nil || !strings.Contains(err.Error(), "keys[2].key: the key is not 32 bytes") || !strings.Contains(err.Error(), "keys[3].key: environment variable") {
		t.Fatalf("err = %v, want both bad keys reported", err)
	}
	if strings.Contains(err.Error(), "00112233") {
		t.Fatal("error shows key material")
	}
	got := problemsOf(t, "kafka:\n  embedded: {}\nstore:\n  encryption:\n    keys:\n      - {id: a, key: env:A}\n      - {id: a, key: clear}\n      - {id: 'no way', key: env:B}\n")
	for _, want := range []string{`keys[1].id: key id "a" is listed twice`, "keys[1].key: secrets are never written", `keys[2].id: "no way" is not a key id`} {
		if !hasProblem(got, want) {
			t.Errorf("missing problem %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
}

// TestChecksumsNotBesidePlugins: a checksums file in the plugins' own
// directory, or writable by others, does not protect them and is refused.
func TestChecksumsNotBesidePlugins(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	data := filepath.Join(dir, "data")
	for _, d := range []string{plugins, data} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(plugins, "ledger")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("ab", 32) + "  ledger\n")
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{{filepath.Join(plugins, "SHA256SUMS"), 0o644}, {filepath.Join(dir, "SHA256SUMS"), 0o644}, {filepath.Join(data, "sums"), 0o644}, {filepath.Join(data, "loose"), 0o666}} {
		if err := os.WriteFile(f.path, line, f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f.path, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]struct {
		sums, sha, want string
	}{
		"beside the plugin":  {sums: "plugins/SHA256SUMS", want: "sits beside (or above) the plugin"},
		"above the plugin":   {sums: "SHA256SUMS", want: "sits beside (or above) the plugin"},
		"another directory":  {sums: "data/sums"},
		"writable by others": {sums: "data/loose", want: "writable by group or others"},
		"pinned sha wins":    {sums: "plugins/SHA256SUMS", sha: strings.Repeat("cd", 32)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := "kafka:\n  embedded: {}\npluginChecksums: " + tc.sums + "\nplugins:\n  - name: ledger\n    path: plugins/ledger\n"
			if tc.sha != "" {
				src += "    sha256: " + tc.sha + "\n"
			}
			_, err := Parse(filepath.Join(dir, "medgate.yaml"), []byte(src))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected problems: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

// TestRefusePlainNeedsKeys: store.encryption.refusePlain is read, and
// refused without a key (every value would be stored plain, then refused).
func TestRefusePlainNeedsKeys(t *testing.T) {
	t.Parallel()
	const head = "kafka:\n  embedded: {}\nstore:\n  encryption:\n"
	cases := map[string]struct {
		src     string
		problem string // "" when refusePlain must be accepted
	}{
		"no keys":         {src: head + "    refusePlain: true\n", problem: "store.encryption.refusePlain: refuses every value stored without encryption, but no key encrypts any"},
		"empty key list":  {src: head + "    keys: []\n    refusePlain: true\n", problem: "list store.encryption.keys, or set refusePlain to false"},
		"with a key":      {src: head + "    keys: [{id: k1, key: env:MEDGATE_K1}]\n    refusePlain: true\n"},
		"off without key": {src: head + "    refusePlain: false\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := problemsOf(t, tc.src)
			if tc.problem != "" {
				if !hasProblem(got, tc.problem) {
					t.Errorf("missing problem %q in:\n%s", tc.problem, strings.Join(got, "\n"))
				}
				return
			}
			if hasProblem(got, "refusePlain") {
				t.Errorf("refusePlain refused with a key or off:\n%s", strings.Join(got, "\n"))
			}
		})
	}
	c, _ := Parse("m.yaml", []byte(head+"    keys: [{id: k1, key: env:MEDGATE_K1}]\n    refusePlain: true\n"))
	if c == nil || c.Store.Encryption == nil || !c.Store.Encryption.RefusePlain {
		t.Fatal("store.encryption.refusePlain: true was not read")
	}
}

// TestRefuseUnboundJournalNeedsKeys: store.encryption.refuseUnboundJournal
// is read, and refused without a key (no entry would be bound, and every
// one refused).
func TestRefuseUnboundJournalNeedsKeys(t *testing.T) {
	t.Parallel()
	const head = "kafka:\n  embedded: {}\nstore:\n  encryption:\n"
	cases := map[string]struct {
		src     string
		problem string // "" when refuseUnboundJournal must be accepted
	}{
		"no keys":         {src: head + "    refuseUnboundJournal: true\n", problem: "store.encryption.refuseUnboundJournal: refuses every journal entry not bound to its row, but no key binds any"},
		"empty key list":  {src: head + "    keys: []\n    refuseUnboundJournal: true\n", problem: "list store.encryption.keys, or set refuseUnboundJournal to false"},
		"with a key":      {src: head + "    keys: [{id: k1, key: env:MEDGATE_K1}]\n    refuseUnboundJournal: true\n"},
		"off without key": {src: head + "    refuseUnboundJournal: false\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := problemsOf(t, tc.src)
			if tc.problem != "" {
				if !hasProblem(got, tc.problem) {
					t.Errorf("missing problem %q in:\n%s", tc.problem, strings.Join(got, "\n"))
				}
				return
			}
			if hasProblem(got, "refuseUnboundJournal") {
				t.Errorf("refuseUnboundJournal refused with a key or off:\n%s", strings.Join(got, "\n"))
			}
		})
	}
	c, _ := Parse("m.yaml", []byte(head+"    keys: [{id: k1, key: env:MEDGATE_K1}]\n    refuseUnboundJournal: true\n"))
	if c == nil || c.Store.Encryption == nil || !c.Store.Encryption.RefuseUnboundJournal {
		t.Fatal("store.encryption.refuseUnboundJournal: true was not read")
	}
}

// TestHTTPMaxConnectionsPerAddress: the per-address cap defaults to 256,
// at most http.maxConnections, and one written above that is a problem.
func TestHTTPMaxConnectionsPerAddress(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		http    string
		want    int
		problem string
	}{
		"default":                      {"", 256, ""},
		"default within a smaller cap": {"  maxConnections: 100\n", 100, ""},
		"set":                          {"  maxConnectionsPerAddress: 32\n", 32, ""},
		"above the cap of all":         {"  maxConnections: 100\n  maxConnectionsPerAddress: 200\n", 0, "http.maxConnectionsPerAddress: must be between 1 and http.maxConnections (100), is 200"},
		"negative":                     {"  maxConnectionsPerAddress: -1\n", 0, "http.maxConnectionsPerAddress: must be between 1 and http.maxConnections (1024), is -1"},
		"zero is no value, not no cap": {"  maxConnectionsPerAddress: 0\n", 0, "http.maxConnectionsPerAddress: 0 is not a valid value"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := "kafka:\n  embedded: {}\nhttp:\n" + tc.http
			if tc.problem != "" {
				if got := problemsOf(t, src); !hasProblem(got, tc.problem) {
					t.Errorf("missing problem %q in:\n%s", tc.problem, strings.Join(got, "\n"))
				}
				return
			}
			c, err := Parse("m.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if c.HTTP.MaxConnectionsPerAddress != tc.want {
				t.Errorf("http.maxConnectionsPerAddress = %d, want %d", c.HTTP.MaxConnectionsPerAddress, tc.want)
			}
		})
	}
}
