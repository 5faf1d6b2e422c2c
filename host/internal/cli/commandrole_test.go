package cli

import (
	"bytes"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/api"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/sites"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"

	"net/http"
	"net/http/httptest"
)

// commandsBackend is a running medgate whose plugin "ledger" declares
// the command "fix" for admins.
type commandsBackend struct {
	api.Backend
	st store.Store
}

func (b *commandsBackend) Store() store.Store { return b.st }
func (b *commandsBackend) Plugins() any {
	return []sites.Info{{Name: "ledger", Sites: []string{"s1"}, Commands: []sdk.Command{fixCommand}}}
}

var fixCommand = sdk.Command{Name: "fix", Summary: "fix a record", Operation: "ledger.fix", Role: sdk.RoleAdmin}

// TestAdminCommandAsksTheRunningMedgate: before it sends a command whose
// plugin declares the admin role, the command line has the running
// medgate (its admin API, over HTTP) check the user's role: an admin may,
// an operator is refused with the role named and nothing sent, as is a
// caller without credentials; a command declaring no role sends without
// asking, as before. The command's help names the role.
func TestAdminCommandAsksTheRunningMedgate(t *testing.T) {
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "medgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	users := access.NewUsers(st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
	for _, u := range []struct {
		name string
		role access.Role
	}{{"amy", access.Admin}, {"olga", access.Operator}} {
		if err := users.Add(t.Context(), u.name, u.role, "pw-"+u.name+"-0123456789", nil); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(api.Handler(&commandsBackend{st: st}, api.Options{IngressTimeout: time.Second, MaxBodyBytes: 1 << 10,
		Registry: prometheus.NewRegistry(), Logger: log, Audit: audit.New(st, log), Users: users}))
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "medgate.yaml")
	if err := os.WriteFile(path, []byte("http:\n  listen: "+strings.TrimPrefix(srv.URL, "http://")+"\nkafka: {brokers: [127.0.0.1:1]}\nsites:\n  - code: s1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		user string
		cmd  sdk.Command
		want []string // in the error; none: allowed
	}{
		"an admin":                  {user: "amy", cmd: fixCommand},
		"an operator":               {user: "olga", cmd: fixCommand, want: []string{"ledger fix", "403", "needs the role admin", "has the role operator", "nothing was sent"}},
		"no credentials":            {cmd: fixCommand, want: []string{"401", "nothing was sent"}},
		"an operator's own command": {user: "olga", cmd: sdk.Command{Name: "note", Operation: "ledger.note"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("MEDGATE_USER", tc.user)
			stdin = strings.NewReader("pw-" + tc.user + "-0123456789\n")
			err := requireRole(t.Context(), cfg, "ledger", "s1", "cli-1", tc.cmd)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("allowed, want refused")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	var help bytes.Buffer
	commandHelp(&help, "ledger", fixCommand, flag.NewFlagSet("fix", flag.ContinueOnError))
	if !strings.Contains(help.String(), "needs the role admin") {
		t.Errorf("the command's help does not name the role:\n%s", help.String())
	}
}

// TestAdminCommandCheckOlderOrDown: the role check of an admin command
// needs POST /admin/commands/check, which a medgate older than this
// command line does not have (its mux answers 404 page not found): the
// error says the running medgate is older and to upgrade it, not only
// "404 Not Found"; a medgate that declares no such command (404
// not_found) keeps the API's words; a medgate not reachable says to start
// it or give its address. Nothing is sent in any case.
func TestAdminCommandCheckOlderOrDown(t *testing.T) {
	older := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(older.Close)
	undeclared := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"code":"not_found","message":"no running plugin ledger declares a command fix that the running medgate sends"}`)
	}))
	t.Cleanup(undeclared.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	downAddr := strings.TrimPrefix(down.URL, "http://")
	down.Close()
	for name, tc := range map[string]struct {
		addr string
		want []string
	}{
		"older":      {strings.TrimPrefix(older.URL, "http://"), []string{"needs the role admin", "older than this command line", "upgrade", "nothing was sent"}},
		"undeclared": {strings.TrimPrefix(undeclared.URL, "http://"), []string{"no running plugin ledger declares a command fix", "nothing was sent"}},
		"down":       {downAddr, []string{"cannot reach medgate at " + downAddr, "is it running", "nothing was sent"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("MEDGATE_USER", "")
			path := filepath.Join(t.TempDir(), "medgate.yaml")
			if err := os.WriteFile(path, []byte("http:\n  listen: "+tc.addr+"\nkafka: {brokers: [127.0.0.1:1]}\nsites:\n  - code: s1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			err = requireRole(t.Context(), cfg, "ledger", "s1", "cli-1", fixCommand)
			if err == nil {
				t.Fatal("allowed, want refused")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
