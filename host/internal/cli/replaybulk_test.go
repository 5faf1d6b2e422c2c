package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/api"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/store"
)

// failedStore is a real SQLite store (users, audit) whose messages are
// the list below, selected as the requirements say a search selects:
// site, type prefix, outcome and received time [From, To).
type failedStore struct {
	store.Store
	msgs []store.Message
}

func (s failedStore) matches(m store.Message, site string, sites []string, typePrefix, outcome string, from, to time.Time) bool {
	return (site == "" || m.Site == site) && (len(sites) == 0 || slices.Contains(sites, m.Site)) &&
		strings.HasPrefix(m.Type, typePrefix) && (outcome == "" || m.Outcome == outcome) &&
		(from.IsZero() || !m.ReceivedAt.Before(from)) && (to.IsZero() || m.ReceivedAt.Before(to))
}

func (s failedStore) ListMessages(_ context.Context, site, typePrefix, outcome string, _ int) ([]store.Message, error) {
	var out []store.Message
	for _, m := range s.msgs {
		if s.matches(m, site, nil, typePrefix, outcome, time.Time{}, time.Time{}) {
			out = append(out, m)
		}
	}
	return out, nil
}

func (s failedStore) SearchMessages(_ context.Context, q store.MessageQuery) ([]store.Message, string, error) {
	var out []store.Message
	for _, m := range s.msgs {
		if s.matches(m, q.Site, q.Sites, q.TypePrefix, q.Status, q.From, q.To) && strings.HasPrefix(m.ID, q.IDPrefix) {
			out = append(out, m)
		}
	}
	return out, "", nil
}

// replayBackend serves failedStore and records the messages replayed.
type replayBackend struct {
	reloadBackend
	st       failedStore
	mu       sync.Mutex
	replayed []string
}

func (b *replayBackend) Store() store.Store { return b.st }

func (b *replayBackend) Replay(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.replayed = append(b.replayed, id)
	return nil
}

func (b *replayBackend) got() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Sorted(slices.Values(b.replayed))
}

// adminFixture is a real admin API with failed messages at sites s1, s2
// and s3 (one an hour ago, one five hours ago at each, and many more at
// s1 received half an hour ago, bulk-0000…), users scoped to s1 (operator
// op-s1, viewer v-s1), and a configuration file whose http.adminToken the
// API takes.
type adminFixture struct {
	b    *replayBackend
	cfg  string
	addr string
}

const fixtureToken = "0123456789abcdef0123456789abcdef"

func newAdminFixture(t *testing.T, many int) *adminFixture {
	t.Helper()
	dir := t.TempDir()
	st, err := store.OpenSQLite(t.Context(), filepath.Join(dir, "medgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	users := access.NewUsers(st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
	for _, u := range []struct {
		name string
		role access.Role
	}{{"op-s1", access.Operator}, {"v-s1", access.Viewer}} {
		if err := users.Add(t.Context(), u.name, u.role, "pw-"+u.name+"-0123456789", []string{"s1"}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	var msgs []store.Message
	for _, site := range []string{"s1", "s2", "s3"} {
		msgs = append(msgs,
			store.Message{ID: "new-" + site, Site: site, Type: "ecard.scan", Status: store.StatusDone, Outcome: "failed", ReceivedAt: now.Add(-time.Hour)},
			store.Message{ID: "old-" + site, Site: site, Type: "selfpay.upload", Status: store.StatusDone, Outcome: "failed", ReceivedAt: now.Add(-5 * time.Hour)},
			store.Message{ID: "ok-" + site, Site: site, Type: "ecard.scan", Status: store.StatusDone, Outcome: "ok", ReceivedAt: now.Add(-time.Hour)})
	}
	for i := range many {
		msgs = append(msgs, store.Message{ID: fmt.Sprintf("bulk-%04d", i), Site: "s1", Type: "ecard.scan", Status: store.StatusDone, Outcome: "failed", ReceivedAt: now.Add(-30 * time.Minute)})
	}
	b := &replayBackend{st: failedStore{Store: st, msgs: msgs}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(api.Handler(b, api.Options{
		IngressTimeout: time.Second, MaxBodyBytes: 1 << 10, Registry: prometheus.NewRegistry(),
		Logger: log, Audit: audit.New(st, log), Users: users, AdminToken: fixtureToken}))
	t.Cleanup(srv.Close)
	if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte(fixtureToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "medgate.yaml")
	if err := os.WriteFile(cfg, []byte("http: {listen: 127.0.0.1:1, adminToken: file:admin-token}\nsites:\n  - code: s1\n  - code: s2\n  - code: s3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &adminFixture{b: b, cfg: cfg, addr: strings.TrimPrefix(srv.URL, "http://")}
}

// TestReplayFailedInBulk: `medgate replay -failed` replays every failed
// message its filters select through the admin API (sites, type prefix,
// received since a duration or between two times), prints per site what
// it replayed, with -dry-run only what it would replay; a site outside a
// scoped user's sites is refused with the API's reason and nothing is
// replayed.
func TestReplayFailedInBulk(t *testing.T) {
	cases := map[string]struct {
		user     string // MEDGATE_USER; empty: the admin token
		many     int    // failed messages at s1 besides the fixture's six
		args     []string
		code     int
		replayed []string
		stdout   []string
		stderr   []string
	}{
		"two sites since 2h": {args: []string{"-site", "s1,s2", "-since", "2h"}, replayed: []string{"new-s1", "new-s2"},
			stdout: []string{"replayed 2 of 2 failed messages selected", "s1: replayed 1 of 1", "s2: replayed 1 of 1"}},
		"sites given twice, a type": {args: []string{"-site", "s2", "-site", "s3", "-type", "selfpay."}, replayed: []string{"old-s2", "old-s3"},
			stdout: []string{"replayed 2 of 2", "s2: replayed 1 of 1", "s3: replayed 1 of 1"}},
		"every site": {args: nil, replayed: []string{"new-s1", "new-s2", "new-s3", "old-s1", "old-s2", "old-s3"},
			stdout: []string{"replayed 6 of 6", "s1: replayed 2 of 2", "s3: replayed 2 of 2"}},
		"between two times": {args: []string{"-from", time.Now().Add(-6 * time.Hour).Format(time.RFC3339), "-to", time.Now().Add(-2 * time.Hour).Format(time.RFC3339), "-site", "s1"},
			replayed: []string{"old-s1"}, stdout: []string{"replayed 1 of 1 failed message selected", "s1: replayed 1 of 1"}},
		"dry run": {args: []string{"-site", "s1,s2", "-since", "2h", "-dry-run"},
			stdout: []string{"would replay 2 failed messages selected", "s1: 1", "new-s1", "s2: 1", "new-s2", "nothing was replayed"}},
		"dry run, more than one run replays": {args: []string{"-site", "s1", "-since", "2h", "-dry-run"}, many: 1200,
			stdout: []string{"would replay 1000 failed messages", "s1: 1000", "new-s1", "bulk-0998", "more failed messages match than one run replays (1000)", "nothing was replayed"}},
		"dry run, scoped operator, another site": {user: "op-s1", args: []string{"-site", "s1,s2", "-dry-run"}, code: 1,
			stderr: []string{"403", "site s2 is not one of the sites op-s1 sees", "nothing was replayed"}},
		"dry run, scoped operator, own site": {user: "op-s1", args: []string{"-since", "2h", "-dry-run"},
			stdout: []string{"would replay 1 failed message selected", "s1: 1", "new-s1", "nothing was replayed"}},
		"dry run, scoped viewer, own site": {user: "v-s1", args: []string{"-since", "2h", "-dry-run"},
			stdout: []string{"would replay 1 failed message selected", "s1: 1", "new-s1", "nothing was replayed"}},
		"dry run, scoped viewer, another site": {user: "v-s1", args: []string{"-site", "s2", "-dry-run"}, code: 1,
			stderr: []string{"403", "site s2 is not one of the sites v-s1 sees", "nothing was replayed"}},
		"scoped viewer, replay": {user: "v-s1", args: []string{"-since", "2h"}, code: 1,
			stderr: []string{"403", "needs the role operator", "add -dry-run"}},
		"nothing selected": {args: []string{"-site", "s1", "-type", "trace."}, stdout: []string{"no failed message", "nothing was replayed"}},
		"scoped operator, own site": {user: "op-s1", args: []string{"-since", "2h"}, replayed: []string{"new-s1"},
			stdout: []string{"replayed 1 of 1 failed message selected", "s1: replayed 1 of 1"}},
		"scoped operator, another site": {user: "op-s1", args: []string{"-site", "s1,s2"}, code: 1,
			stderr: []string{"403", "site s2 is not one of the sites op-s1 sees", "nothing was replayed"}},
		"bad duration":       {args: []string{"-since", "two hours"}, code: 2, stderr: []string{"-since", "2h"}},
		"since and from":     {args: []string{"-since", "2h", "-from", "2026-12-05T08:00:00+08:00"}, code: 2, stderr: []string{"-since", "-from"}},
		"bad time":           {args: []string{"-from", "yesterday"}, code: 2, stderr: []string{"-from", "RFC 3339"}},
		"an id as well":      {args: []string{"m-1"}, code: 2, stderr: []string{"-failed", "MESSAGE-ID"}},
		"filters without it": {args: []string{"-site", "s1"}, code: 2, stderr: []string{"-failed"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newAdminFixture(t, tc.many)
			t.Setenv("MEDGATE_USER", tc.user)
			stdin = strings.NewReader("pw-" + tc.user + "-0123456789\n")
			args := []string{"replay", "-config", f.cfg, "-addr", f.addr}
			if name != "filters without it" {
				args = append(args, "-failed")
			}
			args = append(args, tc.args...)
			var out, errOut bytes.Buffer
			code := Main(args, &out, &errOut)
			t.Logf("medgate %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args[5:], " "), code, out.String(), errOut.String())
			if code != tc.code {
				t.Fatalf("medgate %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, tc.code, out.String(), errOut.String())
			}
			if got := f.b.got(); !slices.Equal(got, tc.replayed) {
				t.Errorf("replayed %q, want %q", got, tc.replayed)
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
			if strings.Contains(out.String()+errOut.String(), fixtureToken) || (tc.user != "" && strings.Contains(out.String()+errOut.String(), "pw-"+tc.user)) {
				t.Error("a secret was echoed")
			}
		})
	}
}
