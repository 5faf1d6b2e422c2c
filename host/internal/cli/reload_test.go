package cli

import (
	"bytes"
	"context"
	"errors"
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

	"github.com/medgate/medgate/host/internal/api"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/store"
)

// reloadBackend is an admin API backend whose reload reports keys it
// did not apply; nothing else is called.
type reloadBackend struct{ notApplied []string }

func (b reloadBackend) Process(context.Context, pipeline.Input) (*message.Reply, error) {
	return nil, errors.New("not used")
}
func (b reloadBackend) Store() store.Store                      { return nil }
func (b reloadBackend) Ready(context.Context) map[string]string { return nil }
func (b reloadBackend) Reload(context.Context) error            { return nil }
func (b reloadBackend) Plugins() any                            { return nil }
func (b reloadBackend) Jobs() []scheduler.Status                { return nil }
func (b reloadBackend) TriggerJob(_ context.Context, id string) (scheduler.Run, error) {
	return scheduler.Run{Job: id}, nil
}
func (b reloadBackend) Replay(context.Context, string) error { return nil }
func (b reloadBackend) ReloadReport(context.Context) ([]string, error) {
	return b.notApplied, nil
}

// TestReloadPrintsWhatNeedsARestart: `medgate reload` prints the admin
// API's reply, and with it the settings the reload did not apply and that
// they need a restart; the reply used to say only "reloaded".
func TestReloadPrintsWhatNeedsARestart(t *testing.T) {
	t.Setenv("MEDGATE_USER", "")
	// The admin API makes no change it cannot audit.
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(api.Handler(reloadBackend{notApplied: []string{"store.path", "mllp.listeners"}}, api.Options{
		IngressTimeout: time.Second, MaxBodyBytes: 1 << 10, Registry: prometheus.NewRegistry(),
		Logger: log, Audit: audit.New(st, log)}))
	defer srv.Close()
	cfg := filepath.Join(t.TempDir(), "medgate.yaml")
	if err := os.WriteFile(cfg, []byte("http: {listen: 127.0.0.1:1}\nsites:\n  - code: h1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := Main([]string{"reload", "-config", cfg, "-addr", strings.TrimPrefix(srv.URL, "http://")}, &out, &errOut); code != 0 {
		t.Fatalf("medgate reload: exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{`"reloaded"`, `"notApplied"`, "store.path", "mllp.listeners", "restarts"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("medgate reload printed no %s:\n%s", want, out.String())
		}
	}
}

// TestAdminRefusalSaysHowToSignIn: when the admin API refuses the
// credentials, the admin commands say which credentials they sent and how
// to give others, not only "401 Unauthorized".
func TestAdminRefusalSaysHowToSignIn(t *testing.T) {
	t.Setenv("MEDGATE_USER", "")
	cases := map[string]struct {
		status int
		token  bool
		want   []string
	}{
		"no credentials":    {http.StatusUnauthorized, false, []string{"401", "no credentials", "http.adminToken", "MEDGATE_USER"}},
		"token refused":     {http.StatusUnauthorized, true, []string{"401", "http.adminToken", "MEDGATE_USER"}},
		"role insufficient": {http.StatusForbidden, true, []string{"403", "role"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, `{"error":{"code":"unauthorized","message":"refused"}}`)
			}))
			defer srv.Close()
			dir := t.TempDir()
			conf := "http: {listen: 127.0.0.1:1}\nsites:\n  - code: h1\n"
			if tc.token {
				if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				conf = "http: {listen: 127.0.0.1:1, adminToken: file:admin-token}\nsites:\n  - code: h1\n"
			}
			cfg := filepath.Join(dir, "medgate.yaml")
			if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			code := Main([]string{"reload", "-config", cfg, "-addr", strings.TrimPrefix(srv.URL, "http://")}, &out, &errOut)
			if code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
			if strings.Contains(out.String()+errOut.String(), "0123456789abcdef") {
				t.Error("the admin token was echoed")
			}
		})
	}
}
