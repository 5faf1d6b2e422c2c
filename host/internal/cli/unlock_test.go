package cli

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/api"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/store"
)

// TestUnlockLiftsASignInLockout: `medgate unlock USER` asks the running
// medgate to lift a user's sign-in lockout (everywhere, or -from one
// address), after which the right password signs in at once; before,
// nothing but a restart lifted it. It prints what it lifted and that it
// acts on that instance only; a user the lockout does not know of is
// refused naming the user list.
func TestUnlockLiftsASignInLockout(t *testing.T) {
	t.Setenv("MEDGATE_USER", "")
	const token, pw = "0123456789abcdef0123456789abcdef", "amy-right-password-0123"
	tests := map[string]struct {
		args     []string
		exit     int
		want     []string // in stdout (exit 0) or stderr
		signedIn bool
	}{
		"everywhere":        {args: []string{"amy"}, want: []string{"amy", "1 sign-in lockout lifted", "every address", "this medgate instance only"}, signedIn: true},
		"from one address":  {args: []string{"-from", "127.0.0.1", "amy"}, want: []string{"amy", "1 sign-in lockout lifted", "127.0.0.1"}, signedIn: true},
		"another address":   {args: []string{"-from", "10.9.9.9", "amy"}, want: []string{"no sign-in lockout of amy", "10.9.9.9"}},
		"no such user":      {args: []string{"bob"}, exit: 1, want: []string{"404", "medgate user list"}},
		"no user named":     {args: nil, exit: 2, want: []string{"usage: medgate unlock"}},
		"not an IP address": {args: []string{"-from", "10.4.0", "amy"}, exit: 1, want: []string{"400", `"10.4.0" is not an IP address`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "unlock.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			users := access.NewUsers(st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
			if err := users.Add(t.Context(), "amy", access.Operator, pw, nil); err != nil {
				t.Fatal(err)
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			srv := httptest.NewServer(api.Handler(reloadBackend{}, api.Options{
				IngressTimeout: time.Second, MaxBodyBytes: 1 << 10, Registry: prometheus.NewRegistry(), AdminToken: token,
				Logger: log, Audit: audit.New(st, log), Users: users, Lockout: access.NewLockout(3, 15*time.Minute, nil)}))
			defer srv.Close()
			signIn := func(password string) int {
				req, _ := http.NewRequest("GET", srv.URL+"/admin/plugins", nil)
				req.SetBasicAuth("amy", password)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			for range 3 {
				signIn("wrong-password-0123456789")
			}
			if code := signIn(pw); code != http.StatusTooManyRequests {
				t.Fatalf("the right password after 3 wrong ones: %d, want 429", code)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte(token+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(dir, "medgate.yaml")
			if err := os.WriteFile(cfg, []byte("http: {listen: 127.0.0.1:1, adminToken: file:admin-token}\nsites:\n  - code: h1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			args := append([]string{"unlock", "-config", cfg, "-addr", strings.TrimPrefix(srv.URL, "http://")}, tc.args...)
			if code := Main(args, &out, &errOut); code != tc.exit {
				t.Fatalf("medgate %s: exit %d, want %d\n%s\n%s", strings.Join(args, " "), code, tc.exit, out.String(), errOut.String())
			}
			got := out.String()
			if tc.exit != 0 {
				got = errOut.String()
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("medgate unlock %v printed no %q:\n%s", tc.args, w, got)
				}
			}
			want := http.StatusTooManyRequests
			if tc.signedIn {
				want = http.StatusOK
			}
			if code := signIn(pw); code != want {
				t.Errorf("the right password after medgate unlock %v: %d, want %d", tc.args, code, want)
			}
		})
	}
}

// TestUnlockTokenLiftsTheTokenWait: an address that sent wrong bearer
// tokens waits, even with the right token, and medgate unlock could not
// lift it (it takes a user's name). medgate unlock -token [-from IP]
// lifts it (and the console's admin-token sign-in lockout), printing
// what it lifted; -token with a user name is a usage error. When the
// command's own address waits, the refusal says how to get through: as
// an admin user (MEDGATE_USER), whose sign-in does not wait for failed
// tokens, which then lifts it.
func TestUnlockTokenLiftsTheTokenWait(t *testing.T) {
	const token, rootPW = "0123456789abcdef0123456789abcdef", "root-right-password-0123"
	tests := map[string]struct {
		user     string // MEDGATE_USER
		selfWait bool   // the command's own address (127.0.0.1) waits too
		args     []string
		exit     int
		want     []string // in stdout (exit 0) or stderr
		lifted   bool     // 10.4.0.1 may use the token afterwards
	}{
		"everywhere":       {args: []string{"-token"}, want: []string{"admin token: 1 lockout(s) lifted at every address", "waits for failed bearer tokens: 1", "this medgate instance only"}, lifted: true},
		"from one address": {args: []string{"-token", "-from", "10.4.0.1"}, want: []string{"admin token: 1 lockout(s) lifted at 10.4.0.1"}, lifted: true},
		"another address":  {args: []string{"-token", "-from", "10.9.9.9"}, want: []string{"no admin token lockout at 10.9.9.9"}},
		"with a user name": {args: []string{"-token", "amy"}, exit: 2, want: []string{"takes no user name (amy)", "usage: medgate unlock"}},
		"own address waits": {selfWait: true, args: []string{"-token", "-from", "10.4.0.1"}, exit: 1,
			want: []string{"429", "MEDGATE_USER=NAME", "medgate unlock -token -from ADDRESS"}},
		"own address waits, as an admin user": {selfWait: true, user: "root", args: []string{"-token"},
			want: []string{"admin token: 2 lockout(s) lifted at every address"}, lifted: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv("MEDGATE_USER", tc.user)
			stdin = strings.NewReader(rootPW + "\n")
			st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "unlock.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			users := access.NewUsers(st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
			if err := users.Add(t.Context(), "root", access.Admin, rootPW, nil); err != nil {
				t.Fatal(err)
			}
			proxy, err := access.NewProxy("", "", []string{"127.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			srv := httptest.NewServer(api.Handler(reloadBackend{}, api.Options{
				IngressTimeout: time.Second, MaxBodyBytes: 1 << 10, Registry: prometheus.NewRegistry(), AdminToken: token, Proxy: proxy,
				Logger: log, Audit: audit.New(st, log), Users: users, Lockout: access.NewLockout(3, 15*time.Minute, nil)}))
			defer srv.Close()
			call := func(from, tok string) int {
				req, _ := http.NewRequest("GET", srv.URL+"/admin/plugins", nil)
				if from != "" {
					req.Header.Set("X-Forwarded-For", from)
				}
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			froms := []string{"10.4.0.1"}
			if tc.selfWait {
				froms = append(froms, "") // the proxy's own address, as the command calls
			}
			for _, from := range froms {
				for range 5 {
					call(from, "wrong-token-0123456789")
				}
			}
			if code := call("10.4.0.1", token); code != http.StatusTooManyRequests {
				t.Fatalf("the right token from 10.4.0.1 after 5 wrong ones: %d, want 429", code)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte(token+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(dir, "medgate.yaml")
			if err := os.WriteFile(cfg, []byte("http: {listen: 127.0.0.1:1, adminToken: file:admin-token}\nsites:\n  - code: h1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			args := append([]string{"unlock", "-config", cfg, "-addr", strings.TrimPrefix(srv.URL, "http://")}, tc.args...)
			if code := Main(args, &out, &errOut); code != tc.exit {
				t.Fatalf("medgate %s: exit %d, want %d\n%s\n%s", strings.Join(args, " "), code, tc.exit, out.String(), errOut.String())
			}
			got := out.String()
			if tc.exit != 0 {
				got = errOut.String()
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("medgate unlock %v printed no %q:\n%s", tc.args, w, got)
				}
			}
			if strings.Contains(got, token) || strings.Contains(got, rootPW) {
				t.Errorf("medgate unlock printed a secret:\n%s", got)
			}
			want := http.StatusTooManyRequests
			if tc.lifted {
				want = http.StatusOK
			}
			if code := call("10.4.0.1", token); code != want {
				t.Errorf("the right token from 10.4.0.1 after medgate unlock %v: %d, want %d", tc.args, code, want)
			}
		})
	}
}
