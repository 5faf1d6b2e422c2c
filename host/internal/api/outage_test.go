package api

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "modernc.org/sqlite"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/store"
)

// downStore is a store whose every call the admin API makes fails with err.
type downStore struct {
	store.Store // only the methods below are called
	err         error
}

func (d *downStore) ListMessages(context.Context, string, string, string, int) ([]store.Message, error) {
	return nil, d.err
}
func (d *downStore) GetMessage(context.Context, string) (*store.Message, error) { return nil, d.err }
func (d *downStore) ListExchanges(context.Context, store.ExchangeFilter) ([]store.Exchange, error) {
	return nil, d.err
}
func (d *downStore) ListAudit(context.Context, store.AuditFilter) ([]store.AuditEntry, error) {
	return nil, d.err
}
func (d *downStore) Rekey(context.Context) (int64, error)                 { return 0, d.err }
func (d *downStore) CreateUser(context.Context, store.User) error         { return d.err }
func (d *downStore) UpdateUser(context.Context, store.User) error         { return d.err }
func (d *downStore) GetUser(context.Context, string) (*store.User, error) { return nil, d.err }
func (d *downStore) ListUsers(context.Context) ([]store.User, error)      { return nil, d.err }
func (d *downStore) CountUsers(context.Context) (int, error)              { return 0, d.err }

// downBackend is a backend on a down store whose replay fails with the
// store's error too.
type downBackend struct {
	fakeBackend
	st *downStore
}

func (b *downBackend) Store() store.Store                   { return b.st }
func (b *downBackend) Replay(context.Context, string) error { return b.st.err }

// sqliteBusy returns SQLite's own error for a write to a database another
// connection holds locked, as the store wraps it.
func sqliteBusy(t *testing.T) error {
	t.Helper()
	path := filepath.Join(t.TempDir(), "busy.db")
	open := func() *sql.DB {
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()
	if _, err := a.ExecContext(t.Context(), `CREATE TABLE t (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	tx, err := a.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(t.Context(), `INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	if _, err = b.ExecContext(t.Context(), `INSERT INTO t VALUES (2)`); err == nil {
		t.Fatal("a write to a locked database succeeded")
	}
	return fmt.Errorf("store: sqlite: %s: list messages: %w", path, err)
}

// TestAdminAnswersStoreOutages checks that a transient outage of the store
// (each kind a driver reports) is answered 503 with Retry-After, naming the
// store and saying the request can be sent again, without the error's
// host, address, account or file; and that any other store error stays a
// 500, as a fault of medgate.
func TestAdminAnswersStoreOutages(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, refused := pgconn.Connect(ctx, "postgres://hisacct:s3cret@"+closed+"/hisdb?sslmode=disable&connect_timeout=5")
	if refused == nil {
		t.Fatal("connected to a closed port")
	}
	expired, cancelExpired := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancelExpired()
	// Words of the errors an answer must not show.
	leaks := []string{"hisacct", "hisdb", "s3cret", "127.0.0.1", "10.1.2.3", "db.hospital.example", "busy.db", "SQLSTATE", "SQLITE"}

	kinds := map[string]struct {
		err        error
		dependency string // "" for a genuine fault: 500
		// replay: the replay's answer names the outage too (its
		// backend's errors may be Kafka's: only the database drivers'
		// own count there).
		replay bool
	}{
		"PostgreSQL refuses connections": {err: fmt.Errorf("store: postgres: list: %w", refused), dependency: "the store (PostgreSQL)", replay: true},
		"PostgreSQL shutting down":       {err: fmt.Errorf("store: postgres: list: %w", &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}), dependency: "the store (PostgreSQL)", replay: true},
		"SQLite locked":                  {err: sqliteBusy(t), dependency: "the store (SQLite)", replay: true},
		"connection lost":                {err: fmt.Errorf("store: postgres: db.hospital.example:5432: %w", driver.ErrBadConn), dependency: "the store"},
		"connection refused":             {err: fmt.Errorf("store: postgres: connect to db.hospital.example:5432 database hisdb: %w", &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 5432}, Err: syscall.ECONNREFUSED}), dependency: "the store"},
		"deadline":                       {err: fmt.Errorf("store: postgres: list: %w", expired.Err()), dependency: "the store"},
		"a genuine fault":                {err: errors.New("store: sqlite: list messages: decode reply: invalid character 'x'")},
	}
	routes := []struct{ method, path string }{
		{"GET", "/admin/messages"},
		{"GET", "/admin/messages/m1"},
		{"GET", "/admin/exchanges"},
		{"GET", "/admin/audit"},
		{"GET", "/admin/users"},
		{"POST", "/admin/store/rekey"},
		{"POST", "/admin/messages/m1/replay"},
		// A user's credentials checked against the store.
		{"GET", "/admin/plugins"},
	}
	for name, k := range kinds {
		for _, rt := range routes {
			t.Run(name+"/"+rt.method+" "+rt.path, func(t *testing.T) {
				t.Parallel()
				st := &downStore{err: k.err}
				users := access.NewUsers(st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
				f := newFixture(t, &downBackend{fakeBackend: *okBackend(), st: st}, Options{AdminToken: "tok", Users: users})
				hdr := map[string]string{"Authorization": "Bearer tok"}
				if rt.path == "/admin/plugins" {
					hdr = map[string]string{"Authorization": "Basic dS1hZG1pbjpwdy1hZG1pbi0wMTIzNDU2Nzg5"} // u-admin:pw-admin-0123456789
				}
				code, h, body := f.do(t, req{rt.method, rt.path, "", hdr})
				outage := k.dependency != "" && (k.replay || !strings.HasSuffix(rt.path, "/replay"))
				if !outage {
					want := 500
					if rt.path == "/admin/store/rekey" {
						want = 409 // rekey_failed: run it again once fixed
					}
					if code != want || h.Get("Retry-After") != "" {
						t.Fatalf("HTTP %d, Retry-After %q: %s; want %d without Retry-After", code, h.Get("Retry-After"), body, want)
					}
					return
				}
				if code != 503 || h.Get("Retry-After") != "5" {
					t.Fatalf("HTTP %d, Retry-After %q: %s; want 503 with Retry-After 5", code, h.Get("Retry-After"), body)
				}
				var e struct{ Code, Message, Dependency string }
				if err := json.Unmarshal([]byte(body), &e); err != nil {
					t.Fatalf("%s: %v", body, err)
				}
				if e.Code != "store_unavailable" || e.Dependency != k.dependency || !strings.HasPrefix(e.Message, k.dependency+" is unavailable") ||
					!strings.Contains(e.Message, "send the same request again") {
					t.Fatalf("body %s; want code store_unavailable, dependency %q and a message saying it is down and to send the request again", body, k.dependency)
				}
				for _, l := range leaks {
					if strings.Contains(body, l) {
						t.Fatalf("the answer shows %q: %s", l, body)
					}
				}
				// The cause is in the log, for the operator.
				if !strings.Contains(f.logs.String(), "store unavailable") {
					t.Fatalf("the outage was not logged: %s", f.logs.String())
				}
			})
		}
	}
}
