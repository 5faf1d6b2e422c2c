package store_test

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/host/internal/store/storetest"
	"github.com/medgate/medgate/test/testenv"
)

// startPgBouncer runs a PgBouncer in transaction pooling mode, with two
// server sessions per database, in front of the PostgreSQL server of
// dsn (trust authentication, as testenv's), stopped when t ends. It
// returns dsn with PgBouncer's address. Without a pgbouncer binary it
// skips t, or fails it under MEDGATE_REQUIRE_SERVICES=1 (make test installs
// PgBouncer with deploy/testenv/checkers.sh).
func startPgBouncer(t *testing.T, dsn string) string {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil { // Debian installs it in /usr/sbin, outside a user's PATH
		bin, err = exec.LookPath("/usr/sbin/pgbouncer")
	}
	if err != nil {
		msg := "no pgbouncer in PATH (Debian: apt-get install pgbouncer, or deploy/testenv/checkers.sh): the store behind PgBouncer is not tested"
		if os.Getenv(testenv.RequireServicesEnv) == "1" {
			t.Fatalf("%s (%s=1)", msg, testenv.RequireServicesEnv)
		}
		t.Skip(msg)
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		t.Skipf("%s is no URL: the PgBouncer test needs testenv's own server", testenv.PostgresDSNEnv)
	}
	// Not t.TempDir: its parent is closed to PgBouncer's user.
	dir, err := os.MkdirTemp("", "medgate-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var argv []string
	if os.Geteuid() == 0 { // PgBouncer refuses to run as root
		pg, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root needs an OS user postgres to run PgBouncer as: %v", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		argv = []string{"runuser", "-u", "postgres", "--"}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = 2
max_client_conn = 200
logfile = %s
`, u.Hostname(), u.Port(), port, filepath.Join(dir, "users.txt"), filepath.Join(dir, "pgbouncer.log"))
	for name, text := range map[string]string{"pgbouncer.ini": ini, "users.txt": `"` + u.User.Username() + `" ""` + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	argv = append(argv, bin, filepath.Join(dir, "pgbouncer.ini"))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) // immediate shutdown: SIGINT waits for the clients
		_ = cmd.Wait()
	})
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(20 * time.Second); ; <-tick.C {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("PgBouncer does not listen on port %d after 20s: %v\n%s", port, err, log)
		}
	}
	u.Host = fmt.Sprintf("127.0.0.1:%d", port)
	return u.String()
}

// TestPostgresBehindPgBouncer runs the store's conformance suite through
// a PgBouncer in transaction pooling mode, fewer server sessions than the
// store's: each transaction, and each statement outside one, may run on
// another server session. With default_query_exec_mode=cache_describe in
// the DSN (what the README asks for behind such a pooler) the store
// prepares no named statement, which another server session would not
// know.
func TestPostgresBehindPgBouncer(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		dsn := startPgBouncer(t, testenv.Postgres(t))
		return openPostgres(t, dsn+"&default_query_exec_mode=cache_describe")
	})
}
