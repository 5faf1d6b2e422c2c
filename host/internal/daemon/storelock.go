package daemon

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// storeLock is this instance's hold on its SQLite database: SQLite is one
// instance's store (several instances share PostgreSQL), and a second
// medgate on the same file (a copy of the unit, a test run on the
// server's configuration) would take its job leases, queue the first's
// HTTP requests again into its own Kafka and read the first's partitions
// as lost, all without a word. The lock is an advisory lock on the file
// <store.path>.lock, which says who holds it; the kernel releases it when
// the process ends, however it ends, so a killed medgate leaves none.
type storeLock struct {
	f *os.File
}

// lockSQLite takes the lock of the SQLite database at dbPath for the
// instance node, or says which medgate holds it and what to do.
func lockSQLite(dbPath, node string) (*storeLock, error) {
	path := dbPath + ".lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store.path: cannot open its lock file %s: %w; medgate needs to write beside the database", path, err)
	}
	if err := lockFile(f); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, errLocked) {
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "another process"
			}
			return nil, fmt.Errorf("store.path: the SQLite database %s is in use by another medgate (%s): SQLite serves one instance; stop that one first, or give this instance its own store.path (a second instance needs a store of its own), or run several instances on PostgreSQL (store.driver: postgres)", dbPath, who)
		}
		return nil, fmt.Errorf("store.path: cannot lock %s: %w", path, err)
	}
	// Who holds it, for the message of the next one that tries.
	who := fmt.Sprintf("node %s, pid %d, since %s", node, os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(who+"\n"), 0)
	}
	return &storeLock{f: f}, nil
}

// release lets another medgate open the database. Closing the file
// releases the lock; the file stays (removing it could let two
// instances each lock a file of the same name).
func (l *storeLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
