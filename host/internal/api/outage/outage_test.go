package outage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	_ "modernc.org/sqlite"

	"github.com/medgate/medgate/host/internal/store"
)

// sqliteErrors returns real errors of the SQLite driver: a write to a
// database another connection holds locked (SQLITE_BUSY) and a duplicate
// primary key (SQLITE_CONSTRAINT), wrapped as the store wraps them.
func sqliteErrors(t *testing.T) (busy, constraint error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db.sqlite")
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
	ctx := t.Context()
	if _, err := a.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExecContext(ctx, `INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	_, err := a.ExecContext(ctx, `INSERT INTO t VALUES (1)`)
	if err == nil {
		t.Fatal("duplicate key accepted")
	}
	constraint = fmt.Errorf("store: sqlite: insert: %w", err)
	tx, err := a.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (2)`); err != nil {
		t.Fatal(err)
	}
	_, err = b.ExecContext(ctx, `INSERT INTO t VALUES (3)`)
	if err == nil {
		t.Fatal("write to a locked database succeeded")
	}
	return fmt.Errorf("store: sqlite: insert: %w", err), constraint
}

// sqliteRefusals returns the real errors of writes SQLite refuses: a
// database that cannot grow (SQLITE_FULL, as on a full disk) and one that
// accepts only reads (SQLITE_READONLY).
func sqliteRefusals(t *testing.T) (full, readOnly error) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	var pages int64
	if err := db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err = db.ExecContext(ctx, `INSERT INTO t VALUES (zeroblob(65536))`); err == nil {
		t.Fatal("a database at its max_page_count grew")
	}
	full = fmt.Errorf("store: sqlite: insert: %w", err)
	if _, err := db.ExecContext(ctx, `PRAGMA query_only = 1`); err != nil {
		t.Fatal(err)
	}
	if _, err = db.ExecContext(ctx, `DELETE FROM t`); err == nil {
		t.Fatal("a query_only connection wrote")
	}
	return full, fmt.Errorf("store: sqlite: delete: %w", err)
}

// fakePostgres is a PostgreSQL server that answers every connection with
// serve, through pgproto3 (the protocol pgx speaks).
func fakePostgres(t *testing.T, serve func(be *pgproto3.Backend, c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				be := pgproto3.NewBackend(c, c)
				if _, err := be.ReceiveStartupMessage(); err != nil {
					return
				}
				serve(be, c)
			}()
		}
	}()
	return "postgres://medgate:s3cret@" + ln.Addr().String() + "/his?sslmode=disable&connect_timeout=5"
}

// postgresError connects to a fake server and returns the error of the
// connection, or of a query on it, wrapped as the store wraps them.
// A query goes as database/sql sends it through pgx (the extended
// protocol), or, with simple, as one text query.
func postgresError(t *testing.T, serve func(be *pgproto3.Backend, c net.Conn), simple bool) error {
	t.Helper()
	dsn := fakePostgres(t, serve)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, dsn)
	if err == nil {
		defer conn.Close(ctx)
		if simple {
			_, err = conn.Exec(ctx, "SELECT 1").ReadAll()
		} else {
			err = conn.ExecParams(ctx, "SELECT 1", nil, nil, nil, nil).Read().Err
		}
	}
	if err == nil {
		t.Fatal("the fake server's failure gave no error")
	}
	return fmt.Errorf("store: postgres: list messages: %w", err)
}

// refuse answers the startup with a FATAL error of code.
func refuse(code string) func(*pgproto3.Backend, net.Conn) {
	return func(be *pgproto3.Backend, _ net.Conn) {
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: code, Message: "refused by the test server"})
		_ = be.Flush()
	}
}

// dropAtQuery accepts the connection, then closes it when the first query
// comes: the connection lost mid-query.
func dropAtQuery(be *pgproto3.Backend, c net.Conn) {
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if err := be.Flush(); err != nil {
		return
	}
	_, _ = be.Receive()
	c.Close()
}

// refusedPort returns an address nothing listens on.
func refusedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestClassify(t *testing.T) {
	t.Parallel()
	busy, constraint := sqliteErrors(t)
	full, readOnly := sqliteRefusals(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, refused := pgconn.Connect(ctx, "postgres://medgate:s3cret@"+refusedPort(t)+"/his?sslmode=disable&connect_timeout=5")
	if refused == nil {
		t.Fatal("connected to a closed port")
	}
	refused = fmt.Errorf("store: postgres: get message: %w", refused)
	deadline, cancelDeadline := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancelDeadline()

	cases := map[string]struct {
		err error
		// database: Database counts it; store: Store counts it.
		database, store bool
		dependency      string
		reason          string
	}{
		"SQLite busy":                               {err: busy, database: true, store: true, dependency: storeSQLite, reason: reasonLocked},
		"PostgreSQL connection refused":             {err: refused, database: true, store: true, dependency: storePostgres, reason: reasonUnreachable},
		"PostgreSQL starting up":                    {err: postgresError(t, refuse("57P03"), false), database: true, store: true, dependency: storePostgres, reason: reasonRestarting},
		"PostgreSQL too many connections":           {err: postgresError(t, refuse("53300"), false), database: true, store: true, dependency: storePostgres, reason: reasonFull},
		"PostgreSQL connection lost":                {err: postgresError(t, dropAtQuery, false), store: true, dependency: storeAny, reason: reasonUnreachable},
		"PostgreSQL connection lost (simple query)": {err: postgresError(t, dropAtQuery, true), database: true, store: true, dependency: storePostgres, reason: reasonUnreachable},
		"PostgreSQL shutting down":                  {err: fmt.Errorf("store: postgres: %w", &pgconn.PgError{Severity: "FATAL", Code: "57P01"}), database: true, store: true, dependency: storePostgres, reason: reasonRestarting},
		"PostgreSQL connection exception":           {err: &pgconn.PgError{Code: "08006"}, database: true, store: true, dependency: storePostgres, reason: reasonUnreachable},
		"PostgreSQL failover (read-only)":           {err: &pgconn.PgError{Code: "25006"}, database: true, store: true, dependency: storePostgres, reason: reasonRestarting},
		"PostgreSQL deadlock":                       {err: &pgconn.PgError{Code: "40P01"}, database: true, store: true, dependency: storePostgres, reason: reasonConflict},
		"PostgreSQL statement timeout":              {err: &pgconn.PgError{Code: "57014"}, database: true, store: true, dependency: storePostgres, reason: reasonSlow},
		"PostgreSQL connection closed":              {err: fmt.Errorf("store: postgres: %w", pgconn.ErrConnClosed), database: true, store: true, dependency: storePostgres, reason: reasonUnreachable},
		"store deadline":                            {err: fmt.Errorf("store: postgres: get: %w", deadline.Err()), store: true, dependency: storeAny, reason: reasonSlow},
		"bad connection":                            {err: fmt.Errorf("store: postgres: %w", driver.ErrBadConn), store: true, dependency: storeAny, reason: reasonUnreachable},
		"connection refused (network)":              {err: fmt.Errorf("store: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), store: true, dependency: storeAny, reason: reasonUnreachable},
		"connection reset":                          {err: syscall.ECONNRESET, store: true, dependency: storeAny, reason: reasonUnreachable},
		"SQLite disk full":                          {err: full, database: true, store: true, dependency: storeSQLite, reason: reasonDiskFull},
		"SQLite read-only":                          {err: readOnly, database: true, store: true, dependency: storeSQLite, reason: reasonReadOnly},
		"PostgreSQL disk full":                      {err: fmt.Errorf("store: postgres: %w", &pgconn.PgError{Code: "53100"}), database: true, store: true, dependency: storePostgres, reason: reasonDiskFull},
		"PostgreSQL I/O error":                      {err: &pgconn.PgError{Code: "58030"}, database: true, store: true, dependency: storePostgres, reason: reasonWriteIO},
		"the store refuses writes (sync failed)":    {err: fmt.Errorf("store: sqlite: finish message: commit: sync to disk: %w", fmt.Errorf("%w: x", store.ErrRefused)), database: true, store: true, dependency: storeAny, reason: reasonRefused},
		"PostgreSQL wrong password":                 {err: postgresError(t, refuse("28P01"), false)},
		"PostgreSQL unique violation":               {err: &pgconn.PgError{Code: "23505"}},
		"SQLite constraint":                         {err: constraint},
		"a row that cannot be decoded":              {err: errors.New("store: sqlite: get message: decode reply: invalid character")},
		"compressed data damaged":                   {err: fmt.Errorf("store: sqlite: get message: reply: %w", errors.New("s2: corrupt input"))},
		"client gone":                               {err: context.Canceled},
		"the store closed at shutdown":              {err: fmt.Errorf("store: postgres: get message %q: %w", "m1", store.ErrClosed), database: true, store: true, dependency: storeAny, reason: reasonStoreClosed},
		"the store closed, as a read sees it":       {err: fmt.Errorf("store: sqlite: get message: sql: database is closed (%w)", store.ErrClosed), database: true, store: true, dependency: storeAny, reason: reasonStoreClosed},
		"a database handle closed, not the store":   {err: errors.New("sql: database is closed")},
		"no error": {},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o, ok := Database(tc.err)
			if ok != tc.database {
				t.Fatalf("Database(%v) = %v, want %v", tc.err, ok, tc.database)
			}
			o, ok = Store(tc.err)
			if ok != tc.store {
				t.Fatalf("Store(%v) = %v, want %v", tc.err, ok, tc.store)
			}
			if !ok {
				return
			}
			if o.Dependency != tc.dependency || o.Reason != tc.reason {
				t.Fatalf("Store(%v) = %+v, want %s: %s", tc.err, o, tc.dependency, tc.reason)
			}
			// The words an answer shows name no host, address, account,
			// database or file, which the error itself does.
			for _, leak := range []string{"127.0.0.1", "medgate", "his", "s3cret", "db.sqlite", "/"} {
				if strings.Contains(o.String(), leak) {
					t.Fatalf("the outage %q shows %q", o, leak)
				}
			}
		})
	}
}
