package cli

import (
	"bytes"
	"io"
	"log/slog"
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
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// personalReply is a reply whose payload holds a patient's name, ID and
// phone number in fields and rows a plugin declares personal.
const personalPayload = `{"headline":"2 cards","patient":{"name":"张三丰","idNumber":"11010519491231002X"},` +
	`"cards":[{"cardNo":"E0001","name":"李四光","phone":"13812345678"},{"cardNo":"E0002","name":"王五","phone":"13912345678"}]}`

var personalDisplay = sdk.Display{Headline: "headline",
	Fields: []sdk.Column{{Field: "patient.name", Title: "姓名", Personal: true}, {Field: "patient.idNumber", Title: "证件号", Personal: true}},
	Rows:   "cards",
	Columns: []sdk.Column{{Field: "cardNo", Title: "卡号"}, {Field: "name", Title: "姓名", Personal: true},
		{Field: "phone", Title: "手机号", Personal: true}}}

// personalValues are the values of personalPayload's personal fields.
var personalValues = []string{"张三丰", "11010519491231002X", "李四光", "13812345678", "王五", "13912345678"}

// TestCommandOutputMasksPersonalColumns: the command line shows a value a
// plugin declared personal (sdk.Column.Personal) masked, as the console
// does, whatever the plugin sent: in the fields, the table and -json.
func TestCommandOutputMasksPersonalColumns(t *testing.T) {
	t.Parallel()
	r := &message.Reply{Type: "ecard.cards", Status: message.StatusOK, Payload: []byte(personalPayload)}
	for name, tc := range map[string]struct {
		display sdk.Display
		asJSON  bool
		want    []string
	}{
		"fields and table": {personalDisplay, false, []string{"2 cards", "E0001", "E0002", "138****5678"}},
		"-json":            {personalDisplay, true, []string{`"cardNo": "E0001"`, "138****5678"}},
		"the whole reply as JSON": {func() sdk.Display { d := personalDisplay; d.JSON = true; return d }(), false,
			[]string{`"status": "ok"`, "138****5678"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			if err := showReply(&out, tc.display, r, nil, tc.asJSON, false); err != nil {
				t.Fatal(err)
			}
			for _, v := range personalValues {
				if strings.Contains(out.String(), v) {
					t.Errorf("printed %q unmasked:\n%s", v, out.String())
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestPluginCommandRevealNeedsTheServersGrant runs a plugin command whose
// result declares a personal column (the test plugin's business keys,
// which may be ID numbers) through the whole command line: masked as the
// console masks it; with -reveal, unmasked only when the running medgate
// (its admin API over HTTP) grants it to the user, who must be an admin,
// and records it in its audit log; refused otherwise, with nothing run.
func TestPluginCommandRevealNeedsTheServersGrant(t *testing.T) {
	cfg := ledgerConfig(t)
	const id = "11010519491231002X"
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "effects.log"), []byte("m1\t"+id+"\t1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
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
	srv := httptest.NewServer(api.Handler(&revealBackend{st: st}, api.Options{IngressTimeout: time.Second, MaxBodyBytes: 1 << 10,
		Registry: prometheus.NewRegistry(), Logger: log, Audit: audit.New(st, log), Users: users}))
	t.Cleanup(srv.Close)
	conf, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, append(conf, []byte("http:\n  listen: "+strings.TrimPrefix(srv.URL, "http://")+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		user   string
		reveal bool
		code   int
		stdout []string
		stderr []string
		shown  bool
	}{
		"masked":                  {code: 0, stdout: []string{"110***********002X"}},
		"an admin, revealed":      {user: "amy", reveal: true, code: 0, shown: true},
		"an operator is refused":  {user: "olga", reveal: true, code: 1, stderr: []string{"-reveal was not granted", "403", "needs the role admin", "nothing was sent or run", "without -reveal"}},
		"no credentials, refused": {reveal: true, code: 1, stderr: []string{"-reveal was not granted", "401"}},
		"help offers it":          {user: "", reveal: false, code: 0},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("MEDGATE_USER", tc.user)
			stdin = strings.NewReader("pw-" + tc.user + "-0123456789\n")
			args := []string{"ledger", "effects", "-config", cfg}
			if tc.reveal {
				args = append(args, "-reveal")
			}
			if name == "help offers it" {
				args = append(args, "-h")
			}
			var out, errOut bytes.Buffer
			code := Main(args, &out, &errOut)
			if code != tc.code {
				t.Fatalf("medgate %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, tc.code, out.String(), errOut.String())
			}
			if name == "help offers it" {
				if !strings.Contains(out.String(), "-reveal") {
					t.Errorf("the command's help does not offer -reveal:\n%s", out.String())
				}
				return
			}
			if got := strings.Contains(out.String()+errOut.String(), id); got != tc.shown {
				t.Errorf("the ID number shown unmasked: %v, want %v\nstdout:\n%s\nstderr:\n%s", got, tc.shown, out.String(), errOut.String())
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
		})
	}
	entries, err := st.ListAudit(t.Context(), store.AuditFilter{Action: "personal.reveal"})
	if err != nil {
		t.Fatal(err)
	}
	var ok []string
	for _, e := range entries {
		if e.Outcome == "ok" {
			ok = append(ok, e.Actor+" "+e.Target+" "+e.Site)
		}
	}
	if len(ok) != 1 || ok[0] != "amy ledger effects s1" {
		t.Errorf("reveals recorded: %q, want the admin's of the ledger's effects at s1 only", ok)
	}
}

// revealBackend is a running medgate as the admin API sees it, with a
// real store for users and the audit log.
type revealBackend struct {
	api.Backend
	st store.Store
}

func (b *revealBackend) Store() store.Store { return b.st }
