// PostgreSQL for tests: Postgres returns a fresh database on one real
// server per test process, started from the PostgreSQL binaries on this
// machine (deploy/testenv/postgres.sh installs them) or taken from
// MEDGATE_TEST_PG_DSN. A package whose tests use it stops the server from
// TestMain:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		testenv.Stop()
//		os.Exit(code)
//	}
//
// Even without that, the server stops when the test process exits.

package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PostgresDSNEnv names an existing PostgreSQL server to use instead of
// starting one; its role must be allowed to create databases. Example:
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
const PostgresDSNEnv = "MEDGATE_TEST_PG_DSN"

// pgInstallHint says how to get the services the tests need.
const pgInstallHint = "run deploy/testenv/postgres.sh (or make test), or set " + PostgresDSNEnv

// Time limits for starting and stopping the test server.
const (
	pgStartTimeout = 60 * time.Second
	pgStopTimeout  = 30 * time.Second
	pgPollEvery    = 20 * time.Millisecond
)

// errNoPostgres means no PostgreSQL server binaries were found.
var errNoPostgres = errors.New("no PostgreSQL server binaries found (looked for /usr/lib/postgresql/*/bin/{initdb,postgres} and in PATH)")

// pg is the one PostgreSQL server of this test process.
var pg struct {
	mu       sync.Mutex
	started  bool      // adminDSN/err are set
	adminDSN string    // a DSN of the maintenance database
	err      error     // why there is no server
	srv      *pgServer // nil when using PostgresDSNEnv
}

// pgDBSeq numbers the databases created by this process.
var pgDBSeq atomic.Int64

// Postgres returns the DSN (a postgres:// URL or keyword/value string) of a
// new, empty database on the test server, dropped when t ends. The server
// is the one named by MEDGATE_TEST_PG_DSN or else one started for this
// test binary (see the package doc for stopping it).
func Postgres(t testing.TB) string {
	t.Helper()
	admin, err := postgresServer()
	if errors.Is(err, errNoPostgres) {
		msg := fmt.Sprintf("testenv: PostgreSQL: %v; %s", err, pgInstallHint)
		if os.Getenv(RequireServicesEnv) == "1" {
			t.Fatalf("%s (%s=1)", msg, RequireServicesEnv)
		}
		t.Skip(msg)
	}
	if err != nil {
		t.Fatalf("testenv: PostgreSQL: %v", err)
	}

	suffix := make([]byte, 4)
	rand.Read(suffix)
	name := fmt.Sprintf("medgate_test_%d_%d_%s", os.Getpid(), pgDBSeq.Add(1), hex.EncodeToString(suffix))
	ident := pgx.Identifier{name}.Sanitize()
	ctx, cancel := context.WithTimeout(context.Background(), pgStartTimeout)
	defer cancel()
	if err := pgExec(ctx, admin, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("testenv: PostgreSQL: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), pgStopTimeout)
		defer cancel()
		// WITH (FORCE) (PostgreSQL 13+) disconnects sessions a test leaked.
		err := pgExec(ctx, admin, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42601" { // syntax error: older server
			err = pgExec(ctx, admin, "DROP DATABASE IF EXISTS "+ident)
		}
		if err != nil {
			t.Errorf("testenv: PostgreSQL: drop database %s: %v", name, err)
		}
	})
	dsn, err := pgWithDatabase(admin, name)
	if err != nil {
		t.Fatalf("testenv: PostgreSQL: %v", err)
	}
	return dsn
}

// Stop stops every service this package started (PostgreSQL and Kafka).
// Call it from TestMain after m.Run.
func Stop() {
	StopPostgres()
	StopKafka()
}

// StopPostgres stops the PostgreSQL server started by this process, if
// any, and removes its files. It is safe to call more than once, and when
// no server was started. A later Postgres call starts a new server.
func StopPostgres() {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.srv != nil {
		if err := pg.srv.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: PostgreSQL: stop: %v\n", err)
		}
	}
	pg.started, pg.adminDSN, pg.err, pg.srv = false, "", nil, nil
}

// postgresServer returns the DSN of the maintenance database of the test
// server, starting the server on first use.
func postgresServer() (string, error) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.started {
		return pg.adminDSN, pg.err
	}
	pg.started = true
	if dsn := os.Getenv(PostgresDSNEnv); dsn != "" {
		ctx, cancel := context.WithTimeout(context.Background(), pgStartTimeout)
		defer cancel()
		if err := pgExec(ctx, dsn, "SELECT 1"); err != nil {
			pg.err = fmt.Errorf("server from %s: %w", PostgresDSNEnv, err)
		}
		pg.adminDSN = dsn
		return pg.adminDSN, pg.err
	}
	bin, err := findPostgres()
	if err != nil {
		pg.err = err
		return "", err
	}
	// Another process may take the free port between our check and the
	// server's bind; then try again on another.
	for attempt := 1; ; attempt++ {
		pg.srv, err = startPostgres(bin)
		if err == nil || attempt == 3 || !errors.Is(err, errPGPortTaken) {
			break
		}
	}
	if err != nil {
		pg.err = err
		return "", err
	}
	pg.adminDSN = pg.srv.dsn
	return pg.adminDSN, nil
}

// pgExec runs one statement on a fresh connection to dsn.
func pgExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// pgWithDatabase returns dsn pointing at database name instead.
func pgWithDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse %s: %w", PostgresDSNEnv, err)
		}
		u.Path, u.RawPath = "/"+name, ""
		return u.String(), nil
	}
	// keyword/value form: a later keyword overrides an earlier one.
	return dsn + " dbname=" + name, nil
}

// findPostgres returns the directory holding initdb and postgres: the
// newest /usr/lib/postgresql/<version>/bin (Debian and Ubuntu), else PATH.
func findPostgres() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if pgExecutable(filepath.Join(d, "initdb")) && pgExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(initdb)
		if pgExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errNoPostgres
}

func pgExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// errPGPortTaken means the server could not bind the port chosen for it.
var errPGPortTaken = errors.New("port already in use")

// pgServer is a PostgreSQL server run by this process in a temporary
// directory.
type pgServer struct {
	dir   string // temporary directory: data/, server.log
	dsn   string // maintenance database
	cmd   *exec.Cmd
	stdin io.Closer     // closing it stops the server
	done  chan struct{} // closed when cmd has exited
}

// pgSupervise runs the server as a child of a shell that stops it (fast
// shutdown) when the shell's stdin closes: when Stop closes it, or when the
// test process dies in any way, so no server outlives the tests. The shell
// exits when the server does; if it was told to stop, it removes the
// directory ($2) too. Otherwise the directory, with server.log, is left
// for the caller to read and remove.
const pgSupervise = `
exec 3<&0
"$1/postgres" -D "$2/data" -p "$3" -c listen_addresses=127.0.0.1 -c unix_socket_directories= \
	-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
	</dev/null 3<&- >>"$2/server.log" 2>&1 &
pg=$!
( read -r line <&3; : >"$2/stopping"; kill -INT "$pg" 2>/dev/null ) &
watcher=$!
exec 3<&-
wait "$pg"
rc=$?
if [ -e "$2/stopping" ]; then rm -rf "$2"; else kill "$watcher" 2>/dev/null; fi
exit "$rc"
`

// pgAsUser prefixes argv so that it runs as the OS user "postgres"
// when this process is root (initdb and postgres refuse to run as root).
func pgAsUser(argv ...string) ([]string, error) {
	if os.Geteuid() != 0 {
		return argv, nil
	}
	if _, err := user.Lookup("postgres"); err != nil {
		return nil, fmt.Errorf("running as root needs an OS user %q to run PostgreSQL as (%v); %s", "postgres", err, pgInstallHint)
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		return nil, fmt.Errorf("running as root needs runuser (util-linux) to run PostgreSQL as user postgres: %w", err)
	}
	return append([]string{runuser, "-u", "postgres", "--"}, argv...), nil
}

// startPostgres initializes a cluster in a new temporary directory and
// starts a server for it on a free loopback port, then waits until it
// accepts connections.
func startPostgres(bin string) (srv *pgServer, err error) {
	dir, err := os.MkdirTemp("", "medgate-pg-")
	if err != nil {
		return nil, fmt.Errorf("create server directory: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs an OS user %q to run PostgreSQL as (%v); %s", "postgres", err, pgInstallHint)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, fmt.Errorf("give %s to user postgres: %w", dir, err)
		}
	}

	argv, err := pgAsUser(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if err != nil {
		return nil, err
	}
	initdb := exec.Command(argv[0], argv[1:]...)
	initdb.Dir = dir // the postgres user may not be able to enter the test's directory
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, out)
	}

	ports, err := freePorts("127.0.0.1", 1)
	if err != nil {
		return nil, err
	}
	port := ports[0]
	argv, err = pgAsUser("/bin/sh", "-c", pgSupervise, "sh", bin, dir, strconv.Itoa(port))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	srv = &pgServer{
		dir:   dir,
		dsn:   fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		cmd:   cmd,
		stdin: stdin,
		done:  make(chan struct{}),
	}
	go func() {
		_ = cmd.Wait() // the exit status of a server we stop is of no interest
		close(srv.done)
	}()
	if err := srv.waitReady(); err != nil {
		_ = srv.stop() // the readiness error is the one to report
		return nil, err
	}
	return srv, nil
}

// waitReady polls until the server accepts a connection, it exits, or
// pgStartTimeout passes.
func (s *pgServer) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), pgStartTimeout)
	defer cancel()
	tick := time.NewTicker(pgPollEvery)
	defer tick.Stop()
	var last error
	for {
		last = pgExec(ctx, s.dsn, "SELECT 1")
		if last == nil {
			return nil
		}
		select {
		case <-s.done:
			log := s.log()
			if bytes.Contains(log, []byte("Address already in use")) {
				return fmt.Errorf("postgres (%s): %w", s.dsn, errPGPortTaken)
			}
			return fmt.Errorf("postgres exited while starting (%s): %v\nserver log:\n%s", s.cmd.ProcessState, last, log)
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready after %v (%s): %v\nserver log:\n%s", pgStartTimeout, s.dsn, last, s.log())
		case <-tick.C:
		}
	}
}

// log returns the server's log so far.
func (s *pgServer) log() []byte {
	b, err := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if err != nil {
		return []byte(err.Error())
	}
	return b
}

// stop shuts the server down and removes its directory.
func (s *pgServer) stop() error {
	s.stdin.Close()
	var err error
	select {
	case <-s.done:
	case <-time.After(pgStopTimeout):
		_ = s.cmd.Process.Kill() // reported below as the stop error
		err = fmt.Errorf("server in %s did not stop within %v; killed its supervisor", s.dir, pgStopTimeout)
	}
	if rmErr := os.RemoveAll(s.dir); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}
