package store_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medgate/medgate/host/internal/api/outage"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/testenv"
)

// ownPostgres is a PostgreSQL server of one test, run with pg_ctl in a
// temporary directory on its own port, so that the test can restart it
// without disturbing the server the package's other tests share.
type ownPostgres struct {
	bin, data, log string
	port           int
	dsn            string
}

// startOwnPostgres initializes and starts a server for t, stopped when t
// ends. It skips t without PostgreSQL's binaries unless
// MEDGATE_REQUIRE_SERVICES=1.
func startOwnPostgres(t *testing.T) *ownPostgres {
	t.Helper()
	var bin string
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			bin = d
			break
		}
	}
	if bin == "" {
		if p, err := exec.LookPath("pg_ctl"); err == nil {
			bin = filepath.Dir(p)
		}
	}
	if bin == "" {
		msg := "no PostgreSQL binaries (pg_ctl, initdb) in /usr/lib/postgresql/*/bin or PATH; run deploy/testenv/postgres.sh"
		if os.Getenv(testenv.RequireServicesEnv) == "1" {
			t.Fatalf("%s (%s=1)", msg, testenv.RequireServicesEnv)
		}
		t.Skip(msg)
	}
	dir, err := os.MkdirTemp("", "medgate-pgrestart-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs an OS user postgres to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	s := &ownPostgres{bin: bin, data: filepath.Join(dir, "data"), log: filepath.Join(dir, "server.log"), port: port,
		dsn: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
	s.run(t, "initdb", "-D", s.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	s.ctl(t, "start")
	stopGuard := s.guard(t)
	t.Cleanup(func() {
		s.ctl(t, "stop", "-m", "immediate")
		stopGuard()
	})
	return s
}

// guard starts a shell that stops the server once its stdin closes: the
// test closes it after its own stop, and the kernel closes it when the
// test process dies without running its cleanups (a -timeout panic, a
// kill), which would otherwise leave the server running (pg_ctl starts
// it detached from the test). It returns the function that closes it.
func (s *ownPostgres) guard(t *testing.T) (stop func()) {
	t.Helper()
	// It stops the server until pg_ctl finds none twice in a row: a
	// pg_ctl restart the test had under way outlives the test and starts
	// the server again.
	script := `read -r _
quiet=0 n=0
while [ "$quiet" -lt 2 ] && [ "$n" -lt 60 ]; do
	if "$1" -D "$2" status >/dev/null 2>&1; then
		"$1" -D "$2" stop -m immediate -w -t 30 >/dev/null 2>&1
		quiet=0
	else
		quiet=$((quiet + 1))
	fi
	n=$((n + 1))
	sleep 1
done`
	argv := []string{"sh", "-c", script, "sh", filepath.Join(s.bin, "pg_ctl"), s.data}
	if os.Geteuid() == 0 {
		argv = append([]string{"runuser", "-u", "postgres", "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = filepath.Dir(s.data)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() {
		stdin.Close()
		_ = cmd.Wait()
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ctl runs pg_ctl with args and waits for it (-w).
func (s *ownPostgres) ctl(t *testing.T, args ...string) {
	t.Helper()
	argv := append([]string{"-D", s.data, "-l", s.log, "-w", "-t", "30",
		"-o", fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off", s.port)}, args...)
	s.run(t, "pg_ctl", argv...)
}

func (s *ownPostgres) run(t *testing.T, prog string, args ...string) {
	t.Helper()
	argv := append([]string{filepath.Join(s.bin, prog)}, args...)
	if os.Geteuid() == 0 {
		argv = append([]string{"runuser", "-u", "postgres", "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = filepath.Dir(s.data)
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(s.log)
		t.Fatalf("%v: %v\n%s\nserver log:\n%s", argv, err, out, log)
	}
}

// write is one BeginMessage of the load: when it started and ended, and
// its error.
type write struct {
	id         string
	start, end time.Time
	err        error
}

// TestPostgresServerRestartedUnderLoad restarts a PostgreSQL server of its
// own (pg_ctl restart, fast and immediate) while writers store messages.
// A write may fail only while the server is down, and then with an error
// the ingress answers 503 to (outage.Store); a write that starts once the
// server is back (pg_ctl restart returned) succeeds, although every
// session the pool held was ended; every write told stored is stored,
// every failed one succeeds sent again, on the same store; and the store
// keeps no more sessions than its pool allows and none once closed.
func TestPostgresServerRestartedUnderLoad(t *testing.T) {
	tests := []struct {
		mode string
		idle bool // no writes while the server restarts: the pool's sessions wait, idle, ended by the server
	}{
		{mode: "fast"},
		{mode: "immediate"},
		{mode: "fast", idle: true},
		{mode: "immediate", idle: true},
	}
	for _, tc := range tests {
		name := tc.mode
		if tc.idle {
			name += "/idle"
		}
		t.Run(name, func(t *testing.T) {
			srv := startOwnPostgres(t)
			ctx := t.Context()
			s, err := store.OpenPostgres(ctx, srv.dsn+"&pool_max_conns=8")
			if err != nil {
				t.Fatalf("OpenPostgres: %v", err)
			}
			closed := false
			t.Cleanup(func() {
				if !closed {
					s.Close()
				}
			})

			const writers = 4
			var mu sync.Mutex
			var writes []write
			var stop chan struct{}
			var wg sync.WaitGroup
			seq := 0 // numbers the writes of each writer across runs
			startLoad := func() {
				stop = make(chan struct{})
				for w := range writers {
					wg.Go(func() {
						for {
							select {
							case <-stop:
								return
							default:
							}
							mu.Lock()
							seq++
							wr := write{id: fmt.Sprintf("w%d-%d", w, seq), start: time.Now()}
							mu.Unlock()
							_, _, wr.err = s.BeginMessage(ctx, store.Message{ID: wr.id, Site: "s", Type: "p.op", Key: fmt.Sprintf("k%d", w), Request: []byte(`{}`)})
							wr.end = time.Now()
							mu.Lock()
							writes = append(writes, wr)
							mu.Unlock()
						}
					})
				}
			}
			stopLoad := func() {
				close(stop)
				wg.Wait()
			}
			poll := time.NewTicker(5 * time.Millisecond)
			defer poll.Stop()
			count := func() int {
				mu.Lock()
				defer mu.Unlock()
				return len(writes)
			}
			waitWrites := func(n int, what string) {
				deadline := time.Now().Add(20 * time.Second)
				for count() < n {
					if time.Now().After(deadline) {
						stopLoad()
						t.Fatalf("%s: %d writes in 20s, want %d", what, count(), n)
					}
					<-poll.C
				}
			}
			startLoad()
			waitWrites(200, "before the restart")
			if tc.idle {
				stopLoad()
			}
			down := time.Now()
			srv.ctl(t, "restart", "-m", tc.mode)
			up := time.Now()
			if tc.idle {
				startLoad()
			}
			waitWrites(count()+200, "after the restart")
			stopLoad()

			failed := 0
			for _, wr := range writes {
				if wr.err == nil {
					if _, err := s.GetMessage(ctx, wr.id); err != nil {
						t.Errorf("message %s was told stored, then: %v", wr.id, err)
					}
					continue
				}
				failed++
				if _, ok := outage.Store(wr.err); !ok {
					t.Errorf("message %s failed with %v, which is no outage of the store (the HTTP answer would be 500)", wr.id, wr.err)
				}
				if wr.start.After(up) {
					t.Errorf("message %s, written %v after the server was back, failed: %v", wr.id, wr.start.Sub(up).Round(time.Millisecond), wr.err)
				}
				if wr.end.Before(down) {
					t.Errorf("message %s failed before the restart: %v", wr.id, wr.err)
				}
				if _, _, err := s.BeginMessage(ctx, store.Message{ID: wr.id, Site: "s", Type: "p.op", Key: "again", Request: []byte(`{}`)}); err != nil {
					t.Errorf("message %s sent again on the same store: %v", wr.id, err)
				}
			}
			t.Logf("restart -m %s took %v; %d of %d writes failed", tc.mode, up.Sub(down).Round(time.Millisecond), failed, len(writes))
			counts, err := s.CountMessages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if counts[""] != len(writes) {
				t.Errorf("%d messages stored, want %d", counts[""], len(writes))
			}

			admin, err := pgx.Connect(ctx, srv.dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close(context.Background())
			sessions := func() int {
				var n int
				if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
					t.Fatalf("count sessions: %v", err)
				}
				return n
			}
			if n := sessions(); n > 8 {
				t.Errorf("%d sessions of the store after the restart, want at most pool_max_conns (8)", n)
			}
			s.Close()
			closed = true
			deadline := time.Now().Add(10 * time.Second)
			n := sessions()
			for n > 0 && time.Now().Before(deadline) {
				<-poll.C
				n = sessions()
			}
			if n > 0 {
				t.Errorf("%d sessions left after the store closed, want 0", n)
			}
		})
	}
}
