package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/store"
)

// TestUserCommand: users are added, listed, changed and disabled from the
// command line, passwords come from stdin (never an argument), and every
// change is in the audit log.
func TestUserCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "medgate.yaml")
	if err := os.WriteFile(cfg, []byte("kafka:\n  embedded: {}\nstore:\n  path: data/medgate.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(input string, args ...string) (int, string) {
		stdin = strings.NewReader(input)
		var out, errb bytes.Buffer
		code := Main(append([]string{"user"}, args...), &out, &errb)
		return code, out.String() + errb.String()
	}
	steps := []struct {
		input string
		args  []string
		code  int
		want  string
	}{
		{"", []string{"list", "-config", cfg}, 0, "no users yet"},
		{"pharmacy-pass-1\n", []string{"add", "-config", cfg, "pharm01", "operator"}, 0, "user pharm01: role operator"},
		{"pharmacy-pass-1\n", []string{"add", "-config", cfg, "pharm01", "operator"}, 1, "already exists"},
		{"short\n", []string{"add", "-config", cfg, "amy", "viewer"}, 1, "at least 10"},
		{"", []string{"add", "-config", cfg, "amy", "viewer"}, 1, "no password on stdin"},
		{"x\n", []string{"add", "-config", cfg, "amy", "root"}, 1, "not a role"},
		{"", []string{"passwd", "-config", cfg, "pharm01", "new-password-as-argument"}, 1, "usage:"},
		{"another-pass-22\n", []string{"passwd", "-config", cfg, "pharm01"}, 0, "password changed\npharm01's console sessions end at their next request"},
		{"", []string{"role", "-config", cfg, "pharm01", "admin"}, 0, "role admin"},
		{"", []string{"disable", "-config", cfg, "pharm01"}, 0, "disabled"},
		{"", []string{"role", "-config", cfg, "nobody", "admin"}, 1, "there is no user"},
		{"", []string{"list", "-config", cfg}, 0, "pharm01  admin  disabled"},
		{"", []string{"enable", "-config", cfg, "pharm01"}, 0, "enabled"},
	}
	for _, s := range steps {
		code, out := run(s.input, s.args...)
		if code != s.code || !strings.Contains(out, s.want) {
			t.Fatalf("medgate user %s: exit %d\n%s\nwant exit %d and %q", strings.Join(s.args, " "), code, out, s.code, s.want)
		}
	}
	st, err := store.OpenSQLite(t.Context(), filepath.Join(dir, "data", "medgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := access.NewUsers(st, access.DefaultParams).Authenticate(t.Context(), "pharm01", "another-pass-22")
	if err != nil || u.Role != access.Admin {
		t.Fatalf("sign in with the new password: %+v %v", u, err)
	}
	entries, err := st.ListAudit(t.Context(), store.AuditFilter{Action: "user.*"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Action+" "+e.Target+" "+e.Outcome)
	}
	want := "user.enable pharm01 ok|user.role nobody failed|user.disable pharm01 ok|user.role pharm01 ok|user.passwd pharm01 ok|user.add pharm01 failed|user.add pharm01 ok"
	if strings.Join(got, "|") != want {
		t.Fatalf("audit:\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
}
