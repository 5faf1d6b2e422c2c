package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/store"
)

// downStore is the fixture's store until failing is set: from then on
// every call the console makes fails with that error.
type downStore struct {
	store.Store
	failing atomic.Pointer[error]
}

func (d *downStore) fail() error {
	if p := d.failing.Load(); p != nil {
		return *p
	}
	return nil
}

func (d *downStore) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	if err := d.fail(); err != nil {
		return nil, err
	}
	return d.Store.ListAudit(ctx, f)
}

func (d *downStore) AppendAudit(ctx context.Context, e store.AuditEntry) (int64, error) {
	if err := d.fail(); err != nil {
		return 0, err
	}
	return d.Store.AppendAudit(ctx, e)
}

func (d *downStore) GetUser(ctx context.Context, name string) (*store.User, error) {
	if err := d.fail(); err != nil {
		return nil, err
	}
	return d.Store.GetUser(ctx, name)
}

func (d *downStore) ListUsers(ctx context.Context) ([]store.User, error) {
	if err := d.fail(); err != nil {
		return nil, err
	}
	return d.Store.ListUsers(ctx)
}

func (d *downStore) CountUsers(ctx context.Context) (int, error) {
	if err := d.fail(); err != nil {
		return 0, err
	}
	return d.Store.CountUsers(ctx)
}

// TestStoreOutagePages checks every console page that a store call can
// stop: a transient outage of the store is a 503 with Retry-After whose
// page names the store and says to try again (not to call support), and
// shows nothing of the error (database host, address, account); a page
// that shows what it could read says the same in its notice; any other
// store error is a 500 that says to report it.
func TestStoreOutagePages(t *testing.T) {
	t.Parallel()
	refused := fmt.Errorf(`store: postgres: failed to connect to "host=pg-primary.hospital.internal user=medgate database=medgate": %w`,
		&net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP("10.20.0.9"), Port: 5432}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	leaks := []string{"pg-primary", "10.20.0.9", "user=medgate", "SQLSTATE"}
	kinds := map[string]struct {
		err  error
		down bool // a transient outage
	}{
		"connection refused":       {err: refused, down: true},
		"PostgreSQL shutting down": {err: fmt.Errorf("store: postgres: %w", &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}), down: true},
		"deadline":                 {err: fmt.Errorf("store: postgres: search: %w", expired.Err()), down: true},
		"a genuine fault":          {err: errors.New("store: sqlite: search: decode reply: invalid character 'x'")},
	}
	pages := map[string]struct {
		call func(c *client) resp
		// whole: the page is the error page (503 or 500); else the page
		// shows what it could read (200) with a notice.
		whole bool
	}{
		"message":   {whole: true, call: func(c *client) resp { return c.get("/console/message?id=his-42") }},
		"audit log": {whole: true, call: func(c *client) resp { return c.get("/console/admin/audit") }},
		"users":     {whole: true, call: func(c *client) resp { return c.get("/console/admin/users") }},
		"reveal": {whole: true, call: func(c *client) resp {
			return c.post("/console/message/reveal", url.Values{"csrf": {c.csrf}, "id": {"his-42"}})
		}},
		"replay all": {whole: true, call: func(c *client) resp { return c.post("/console/messages/replay-all", url.Values{"csrf": {c.csrf}}) }},
		"sign-in": {whole: true, call: func(c *client) resp {
			return c.f.client().post("/console/login", url.Values{"user": {"pharm01"}, "password": {"some-password-0123"}})
		}},
		"overview": {call: func(c *client) resp { return c.get("/console/") }},
		"search":   {call: func(c *client) resp { return c.get("/console/messages?status=failed") }},
		"board":    {call: func(c *client) resp { return c.get("/console/board") }},
	}
	for kind, k := range kinds {
		for page, p := range pages {
			t.Run(kind+"/"+page, func(t *testing.T) {
				t.Parallel()
				down := &downStore{}
				var logs logBuffer
				f := newFixture(t, testToken, func(o *Options) {
					o.Users = access.NewUsers(down, testParams)
					o.Audit = audit.New(down, nil)
					o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				})
				down.Store = f.st
				f.b.st.Store = down
				f.b.st.fail = down.fail
				c := f.client()
				c.login("boss")
				down.failing.Store(&k.err)
				r := p.call(c)
				for _, l := range leaks {
					if strings.Contains(r.body, l) {
						t.Errorf("the page shows %q:\n%s", l, r.body)
					}
				}
				if !strings.Contains(logs.String(), "10.20.0.9") && kind == "connection refused" {
					t.Errorf("the log lacks the error:\n%s", logs.String())
				}
				switch {
				case !p.whole:
					want := "Check /readyz"
					if k.down {
						want = "the store (PostgreSQL) is unavailable"
						if kind != "PostgreSQL shutting down" {
							want = "the store is unavailable"
						}
						want += ": "
					}
					if r.code != http.StatusOK || !strings.Contains(r.body, want) || k.down != strings.Contains(r.body, "reload the page in a few seconds") {
						t.Fatalf("HTTP %d; want 200 with a notice saying %q:\n%s", r.code, want, r.body)
					}
				case k.down:
					if r.code != http.StatusServiceUnavailable || r.h.Get("Retry-After") != "5" {
						t.Fatalf("HTTP %d, Retry-After %q; want 503 with Retry-After 5:\n%s", r.code, r.h.Get("Retry-After"), r.body)
					}
					if !strings.Contains(r.body, "the store") || !strings.Contains(r.body, "temporary outage") || !strings.Contains(r.body, "请稍候几秒后") ||
						strings.Contains(r.body, "Ask the administrator") {
						t.Fatalf("the page does not name the store and say to try again in a few seconds:\n%s", r.body)
					}
				default:
					if r.code != http.StatusInternalServerError || r.h.Get("Retry-After") != "" || !strings.Contains(r.body, "medgate log") {
						t.Fatalf("HTTP %d, Retry-After %q; want 500 pointing to the medgate log:\n%s", r.code, r.h.Get("Retry-After"), r.body)
					}
				}
			})
		}
	}
}

// TestMessageNotFinishedOnOutage: a console message the pipeline could not
// finish because the store's database is down is told as such — the
// store named, a temporary outage, try again — without the error's
// database host or account; any other failure (Kafka's) keeps its words.
func TestMessageNotFinishedOnOutage(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		err   error
		want  []string
		leaks []string
	}{
		"store down": {err: fmt.Errorf(`pipeline: record message: store: postgres: connect to pg-primary.hospital.internal:5432 user medgate: %w`,
			&pgconn.PgError{Severity: "FATAL", Code: "57P03", Message: "the database system is starting up"}),
			want: []string{"the store (PostgreSQL) is unavailable", "temporary outage", "try again in a few seconds"}, leaks: []string{"pg-primary", "user medgate", "SQLSTATE"}},
		"Kafka down": {err: errors.New("queue message: kafka: client has run out of available brokers"),
			want: []string{"run out of available brokers", "check /readyz"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, testToken)
			f.b.failWith = tc.err
			c := f.client()
			c.login("boss")
			r := c.get("/console/worklists?plugin=ecard&list=recent-cards")
			for _, w := range tc.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("the work list does not say %q:\n%s", w, r.body)
				}
			}
			for _, l := range tc.leaks {
				if strings.Contains(r.body, l) {
					t.Errorf("the work list shows %q:\n%s", l, r.body)
				}
			}
		})
	}
}
