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
