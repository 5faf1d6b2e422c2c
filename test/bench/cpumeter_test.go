package bench

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/medgate/medgate/test/testenv"
)

// TestPGServerSeconds: the CPU meter finds the PostgreSQL server this
// process started and keeps counting what a backend used after its
// connection has closed and the backend has exited (the postmaster's
// reaped children), as the pool's connections may during a row.
func TestPGServerSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	dsn := testenv.Postgres(t)
	s0, ok := pgServerSeconds()
	if !ok {
		t.Fatal("pgServerSeconds finds no server under this process after testenv.Postgres started one")
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxIdleConns(0) // a connection's backend exits when it is returned
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var backend int
	if err := conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		t.Fatal(err)
	}
	// At least 0.3 s of the backend's CPU: many of /proc's 10 ms ticks.
	var used float64
	for used < 0.3 {
		if _, err := conn.ExecContext(ctx, `SELECT count(*) FROM generate_series(1, 1000000)`); err != nil {
			t.Fatal(err)
		}
		used = cpuSeconds(backend)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(backend)))
		s1, ok := pgServerSeconds()
		if !ok {
			t.Fatal("pgServerSeconds lost the server")
		}
		if os.IsNotExist(err) && s1-s0 >= used {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backend %d used %.2f s of CPU; 10 s after its connection closed (exited: %v), the server's CPU had risen by %.2f s only",
				backend, used, os.IsNotExist(err), s1-s0)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMachineTicks: /proc/stat's first line gives a total that counts
// every busy and stolen jiffy, and busy time grows while this test burns
// CPU (it spins until the counter moves: jiffies are 10 ms).
func TestMachineTicks(t *testing.T) {
	busy0, all0, steal0 := machineTicks()
	if all0 == 0 || busy0 > all0 || steal0 > busy0 || steal0 < 0 {
		t.Fatalf("machineTicks() = busy %v, all %v, steal %v; want 0 <= steal <= busy <= all, all > 0", busy0, all0, steal0)
	}
	for end := time.Now().Add(10 * time.Second); ; {
		busy, all, steal := machineTicks()
		if busy > busy0 {
			if all < all0+(busy-busy0) || steal < steal0 {
				t.Fatalf("after busy %v → %v: all %v → %v, steal %v → %v; want all to grow by at least busy's growth, steal not to fall", busy0, busy, all0, all, steal0, steal)
			}
			return
		}
		if time.Now().After(end) {
			t.Fatal("busy jiffies did not grow in 10 s of spinning")
		}
	}
}
