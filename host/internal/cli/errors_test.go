package cli

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestCommandErrorsSayHowToFix: when a command cannot do its work (no
// configuration file, no medgate at the address, a token it cannot read,
// Kafka not reachable), it exits 1 and says what failed, where, and what
// to do, never echoing a secret.
func TestCommandErrorsSayHowToFix(t *testing.T) {
	t.Setenv("MEDGATE_USER", "")
	t.Setenv("MEDGATE_TEST_UNSET_TOKEN", "")
	os.Unsetenv("MEDGATE_TEST_UNSET_TOKEN")
	dir := t.TempDir()
	addr := closedAddr(t)
	write := func(name, conf string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	down := write("down.yaml", "http: {listen: "+addr+"}\nkafka: {brokers: ["+addr+"]}\nsites:\n  - code: s1\n")
	envToken := write("env.yaml", "http: {listen: "+addr+", adminToken: env:MEDGATE_TEST_UNSET_TOKEN}\nsites:\n  - code: s1\n")
	missing := filepath.Join(dir, "none.yaml")
	cases := map[string]struct {
		user string // MEDGATE_USER
		args []string
		want []string
	}{
		"check-config, no configuration file": {args: []string{"check-config", "-config", missing}, want: []string{"none.yaml", "-config", "MEDGATE_CONFIG"}},
		"run, no configuration file":          {args: []string{"run", "-config", missing}, want: []string{"none.yaml", "-config", "MEDGATE_CONFIG"}},
		"reload, no configuration file":       {args: []string{"reload", "-config", missing}, want: []string{"none.yaml", "-config", "MEDGATE_CONFIG"}},
		"replay, no configuration file":       {args: []string{"replay", "-config", missing, "m-1"}, want: []string{"none.yaml", "-config", "MEDGATE_CONFIG"}},
		"send, no configuration file":         {args: []string{"send", "-config", missing, "-site", "s1", "-type", "a.b", "-payload", "{}"}, want: []string{"none.yaml", "-config", "MEDGATE_CONFIG"}},
		"reload, medgate not running":         {args: []string{"reload", "-config", down}, want: []string{addr, "http.listen", "down.yaml", "-addr", "medgate run"}},
		"jobs, medgate not running":           {args: []string{"jobs", "-config", down}, want: []string{addr, "http.listen", "-addr"}},
		"reload, token not in the environment": {args: []string{"reload", "-config", envToken},
			want: []string{"MEDGATE_TEST_UNSET_TOKEN", "env.yaml", "this shell", "MEDGATE_USER"}},
		// The hint above must work: a user signing in needs no token.
		"reload as a user, token not in the environment": {user: "op", args: []string{"reload", "-config", envToken},
			want: []string{"cannot reach medgate", addr}},
		"send, Kafka not reachable": {args: []string{"send", "-config", down, "-site", "s1", "-type", "a.b", "-payload", "{}", "-timeout", "10s"},
			want: []string{addr, "kafka.brokers", "-brokers", "medgate run"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv("MEDGATE_USER", tc.user)
			stdin = strings.NewReader("pw-0123456789\n")
			var out, errOut bytes.Buffer
			code := Main(tc.args, &out, &errOut)
			if code != 1 {
				t.Fatalf("medgate %s: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), code, out.String(), errOut.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("medgate %s: stderr lacks %q:\n%s", strings.Join(tc.args, " "), w, errOut.String())
				}
			}
		})
	}
}
