package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/daemon"
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
		{"", []string{"passwd", "-config", cfg, "pharm01", "new-password-as-argument"}, 2, "usage:"},
		{"another-pass-22\n", []string{"passwd", "-config", cfg, "pharm01"}, 0, "password changed\npharm01's console sessions end at their next request"},
		{"", []string{"role", "-config", cfg, "pharm01", "admin"}, 0, "role admin"},
		{"", []string{"disable", "-config", cfg, "pharm01"}, 0, "disabled"},
		{"", []string{"role", "-config", cfg, "nobody", "admin"}, 1, "there is no user"},
		{"", []string{"list", "-config", cfg}, 0, "pharm01  admin  disabled"},
		{"", []string{"enable", "-config", cfg, "pharm01"}, 0, "enabled"},
		// Site scopes: given at add (after the arguments too) and changed
		// with sites; an admin has none.
		{"xiamen-pass-1\n", []string{"add", "-config", cfg, "xm-op", "operator", "-sites", "xm02,xm01"}, 0, "user xm-op: role operator, sites xm01,xm02"},
		{"", []string{"sites", "-config", cfg, "xm-op", "xm01,xm02"}, 0, `warning: site "xm01" is not in the configuration's sites; xm-op sees nothing of it`},
		{"xiamen-pass-1\n", []string{"add", "-config", cfg, "xm-boss", "admin", "-sites", "xm01"}, 1, "cannot be limited to sites"},
		{"xiamen-pass-1\n", []string{"add", "-config", cfg, "xm-bad", "viewer", "-sites", "xm01,,x"}, 1, "empty site code"},
		{"", []string{"role", "-config", cfg, "xm-op", "admin"}, 1, "cannot be limited to sites"},
		{"", []string{"sites", "-config", cfg, "pharm01", "xm01"}, 1, "cannot be limited to sites"},
		{"", []string{"list", "-config", cfg}, 0, "xm01,xm02"},
		{"", []string{"sites", "-config", cfg, "xm-op", "xm03"}, 0, "user xm-op: sites xm03\nxm-op's console sessions end"},
		{"", []string{"sites", "-config", cfg, "xm-op"}, 2, "usage:"},
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
	if err != nil || u.Role != access.Admin || u.Scoped() {
		t.Fatalf("sign in with the new password: %+v %v", u, err)
	}
	if u, err := access.NewUsers(st, access.DefaultParams).Lookup(t.Context(), "xm-op"); err != nil || strings.Join(u.Sites, ",") != "xm03" {
		t.Fatalf("xm-op after medgate user sites: %+v %v; want sites xm03", u, err)
	}
	entries, err := st.ListAudit(t.Context(), store.AuditFilter{Action: "user.*"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Action+" "+e.Target+" "+e.Outcome)
		// Read on the audit page by Chinese-reading admins: the detail
		// leads in Chinese and keeps its English after it.
		if first, _ := utf8.DecodeRuneInString(e.Detail); !unicode.Is(unicode.Han, first) {
			t.Errorf("%s %s %s: detail %q does not start in Chinese", e.Action, e.Target, e.Outcome, e.Detail)
		}
		if english := map[string]string{"user.add pharm01": "role operator, sites all", "user.add xm-op": "role operator, sites xm01,xm02",
			"user.passwd pharm01": "password changed", "user.sites xm-op": "sites xm"}[e.Action+" "+e.Target]; !strings.Contains(e.Detail, english) {
			t.Errorf("%s %s %s: detail %q lost its English %q", e.Action, e.Target, e.Outcome, e.Detail, english)
		}
	}
	// Each change attempted first, then its outcome.
	want := "user.sites xm-op ok|user.sites xm-op attempted|user.sites pharm01 failed|user.sites pharm01 attempted|user.role xm-op failed|user.role xm-op attempted|" +
		"user.sites xm-op ok|user.sites xm-op attempted|" +
		"user.add xm-op ok|user.add xm-op attempted|" +
		"user.enable pharm01 ok|user.enable pharm01 attempted|user.role nobody failed|user.role nobody attempted|" +
		"user.disable pharm01 ok|user.disable pharm01 attempted|user.role pharm01 ok|user.role pharm01 attempted|" +
		"user.passwd pharm01 ok|user.passwd pharm01 attempted|user.add pharm01 failed|user.add pharm01 attempted|user.add pharm01 ok|user.add pharm01 attempted"
	if strings.Join(got, "|") != want {
		t.Fatalf("audit:\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
}

// failingAudit is a store whose audit log fails from the fail-th entry
// on (1: every entry; 2: every entry after the first).
type failingAudit struct {
	store.Store
	fail, n int
}

func (f *failingAudit) AppendAudit(ctx context.Context, e store.AuditEntry) (int64, error) {
	f.n++
	if f.n >= f.fail {
		return 0, errors.New("store: sqlite: append audit: database is locked")
	}
	return f.Store.AppendAudit(ctx, e)
}

// TestUserChangeNeedsItsAuditEntry: a `medgate user` change is recorded
// as attempted before it is made, so when the audit log cannot take that
// entry nothing changes and the command fails saying so; when only its
// outcome cannot be written (the change was made already) the command
// says so on stderr and the attempt stays in the log. Not parallel: it
// replaces the store opener and stdin.
func TestUserChangeNeedsItsAuditEntry(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "medgate.yaml")
	if err := os.WriteFile(cfg, []byte("kafka:\n  embedded: {}\nstore:\n  path: data/medgate.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fail := 0
	defer func(o func(context.Context, *config.Config) (store.Store, error)) { openStore = o }(openStore)
	openStore = func(ctx context.Context, c *config.Config) (store.Store, error) {
		st, err := daemon.OpenStore(ctx, c)
		if err != nil || fail == 0 {
			return st, err
		}
		return &failingAudit{Store: st, fail: fail}, nil
	}
	run := func(input string, args ...string) (int, string, string) {
		stdin = strings.NewReader(input)
		var out, errb bytes.Buffer
		code := Main(append([]string{"user"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	fail = 1
	cases := map[string][]string{
		"add":     {"add", "-config", cfg, "amy", "admin"},
		"passwd":  {"passwd", "-config", cfg, "bob"},
		"role":    {"role", "-config", cfg, "bob", "admin"},
		"disable": {"disable", "-config", cfg, "bob"},
	}
	fail = 0
	if code, out, errs := run("bob-password-01\n", "add", "-config", cfg, "bob", "viewer"); code != 0 {
		t.Fatalf("add bob: %d %s %s", code, out, errs)
	}
	fail = 1
	for name, args := range cases {
		code, _, errs := run("new-password-99\n", args...)
		if code == 0 || !strings.Contains(errs, "database is locked") || !strings.Contains(errs, "not made") {
			t.Errorf("%s with the audit log failing: exit %d, %q; want a failure saying nothing was changed", name, code, errs)
		}
	}
	fail = 0
	st, err := store.OpenSQLite(t.Context(), filepath.Join(dir, "data", "medgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	users := access.NewUsers(st, access.DefaultParams)
	if ok, _ := users.Exists(t.Context(), "amy"); ok {
		t.Error("amy was added although the audit log failed")
	}
	if u, err := users.Authenticate(t.Context(), "bob", "bob-password-01"); err != nil || u.Role != access.Viewer {
		t.Errorf("bob was changed although the audit log failed: %+v %v", u, err)
	}

	// The attempt written, the outcome not: made, and said so.
	fail = 2
	code, out, errs := run("", "role", "-config", cfg, "bob", "operator")
	if code != 0 || !strings.Contains(out, "role operator") || !strings.Contains(errs, "was made") || !strings.Contains(errs, "attempt") {
		t.Errorf("role with the outcome lost: exit %d, %q %q; want done, and a warning naming the attempt", code, out, errs)
	}
	es, err := st.ListAudit(t.Context(), store.AuditFilter{Action: "user.role", Limit: 1})
	if err != nil || len(es) != 1 || es[0].Outcome != audit.Attempted || es[0].Target != "bob" {
		t.Errorf("the attempt is not in the audit log: %+v %v", es, err)
	}
}
