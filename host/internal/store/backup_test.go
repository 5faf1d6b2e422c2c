package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/testenv"
)

// backupLoad writes finished messages, a state value and a sequence to s,
// as a running medgate does, and remembers how many it finished.
type backupLoad struct {
	s        store.Store
	finished atomic.Int64 // messages 0 … finished-1 are finished
}

// backupReply is message i's reply.
func backupReply(i int64) []byte { return fmt.Appendf(nil, `{"requestId":"b-%d","status":"ok"}`, i) }

// write finishes message i, puts the state value and takes the sequence's
// next value, each as its own write.
func (l *backupLoad) write(ctx context.Context, i int64) error {
	id := fmt.Sprintf("b-%d", i)
	now := time.Now()
	if _, _, err := l.s.BeginMessage(ctx, store.Message{ID: id, Site: "xm01", Type: "ecard.register", Key: id, ReceivedAt: now, OccurredAt: now, Request: []byte(`{"name":"张三"}`)}); err != nil {
		return err
	}
	if err := l.s.FinishMessage(ctx, id, "ok", backupReply(i), 1); err != nil {
		return err
	}
	if _, err := l.s.StatePut(ctx, "ecard/xm01", "last", []byte(id)); err != nil {
		return err
	}
	if _, err := l.s.NextSequence(ctx, "ecard/xm01/ecard.cardNo"); err != nil {
		return err
	}
	l.finished.Store(i + 1)
	return nil
}

// whileWriting runs backup while l keeps writing, after n messages were
// finished before it and at least one more has been finished since the
// writer started, and returns how many were finished when backup began.
func (l *backupLoad) whileWriting(t *testing.T, n int64, backup func() error) int64 {
	t.Helper()
	ctx := t.Context()
	for i := range n {
		if err := l.write(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	stop, started := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := n; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if werr = l.write(ctx, i); werr != nil {
				close(started)
				return
			}
			if i == n {
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer finished no message in 10 s")
	}
	before := l.finished.Load()
	err := backup()
	close(stop)
	wg.Wait()
	if werr != nil {
		t.Fatalf("writing while the backup ran: %v", werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if l.finished.Load() == before {
		t.Log("no message was finished while the backup ran")
	}
	return before
}

// checkRestored checks a store restored from a backup: every message
// finished before the backup began is there, finished, with its reply;
// every message the backup holds is whole; the state and the sequence are
// at least where they were.
func checkRestored(t *testing.T, s store.Store, before int64) {
	t.Helper()
	ctx := t.Context()
	for i := range before {
		m, err := s.GetMessage(ctx, fmt.Sprintf("b-%d", i))
		if err != nil || m.Status != store.StatusDone || !bytes.Equal(m.Reply, backupReply(i)) || string(m.Request) != `{"name":"张三"}` {
			t.Fatalf("message b-%d, finished before the backup began, in the restored store: %+v, %v; want it finished with its request and reply", i, m, err)
		}
	}
	counts, err := s.CountMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[""] > 1 {
		t.Errorf("the restored store holds %d pending messages; the writer had at most one begun and not finished", counts[store.StatusPending])
	}
	e, err := s.StateGet(ctx, "ecard/xm01", "last")
	if err != nil || !strings.HasPrefix(string(e.Value), "b-") || e.Version < before {
		t.Errorf("state in the restored store: %+v, %v; want a message id at version %d or later", e, err, before)
	}
	if n, err := s.NextSequence(ctx, "ecard/xm01/ecard.cardNo"); err != nil || n <= before {
		t.Errorf("sequence in the restored store goes on with %d, %v; want more than %d", n, err, before)
	}
}

// backupKey is a store key for the backup tests: the backup holds personal
// data encrypted, and only that key reads it back.
func backupKey(t *testing.T) store.Key {
	t.Helper()
	k := store.Key{ID: "2026-01", Secret: make([]byte, 32)}
	if _, err := rand.Read(k.Secret); err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSQLiteBackupWhileRunning: the backups README "Backup and restore"
// gives for SQLite — the sqlite3 shell's VACUUM INTO or .backup on the
// database medgate has open and is writing — make a file that passes
// SQLite's integrity check and that medgate opens with every message
// finished before the backup began, each with its reply, readable with the
// store key only.
func TestSQLiteBackupWhileRunning(t *testing.T) {
	t.Parallel()
	sqlite3 := testenv.Tool(t, "sqlite3", "sqlite3")
	cases := map[string]func(src, dst string) []string{
		"VACUUM INTO": func(src, dst string) []string {
			return []string{"-cmd", ".timeout 10000", src, "VACUUM INTO '" + dst + "'"}
		},
		".backup": func(src, dst string) []string {
			return []string{"-cmd", ".timeout 10000", src, ".backup '" + dst + "'"}
		},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			key := backupKey(t)
			dir := t.TempDir()
			src, dst := filepath.Join(dir, "data", "medgate.db"), filepath.Join(dir, "backup", "medgate.db")
			l := &backupLoad{s: openSQLite(t, src, store.WithKeys(key))}
			if err := exec.Command("mkdir", "-m", "700", filepath.Dir(dst)).Run(); err != nil {
				t.Fatal(err)
			}
			before := l.whileWriting(t, 50, func() error {
				if out, err := exec.Command(sqlite3, args(src, dst)...).CombinedOutput(); err != nil {
					return fmt.Errorf("sqlite3 %s: %v\n%s", name, err, out)
				}
				return nil
			})
			out, err := exec.Command(sqlite3, dst, "PRAGMA integrity_check").CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "ok" {
				t.Fatalf("PRAGMA integrity_check of the backup: %v: %s", err, out)
			}

			restored := openSQLite(t, dst, store.WithKeys(key))
			checkRestored(t, restored, before)
			restored.Close()

			// Without the store key the personal data stays sealed.
			nokey := openSQLite(t, dst)
			if m, err := nokey.GetMessage(t.Context(), "b-0"); err == nil && bytes.Equal(m.Reply, backupReply(0)) {
				t.Errorf("the backup's reply read without the store key: %s", m.Reply)
			}
		})
	}
}

// TestPostgresBackupWhileRunning: pg_dump of the database medgate has
// open and is writing, restored with pg_restore into an empty database,
// gives a store medgate opens with every message finished before the dump
// began, each with its reply (README "Backup and restore").
func TestPostgresBackupWhileRunning(t *testing.T) {
	t.Parallel()
	src := testenv.Postgres(t)
	pgDump := testenv.Tool(t, "pg_dump", "postgresql-client")
	pgRestore := testenv.Tool(t, "pg_restore", "postgresql-client")
	dst := testenv.Postgres(t)
	key := backupKey(t)
	dump := filepath.Join(t.TempDir(), "medgate.dump")
	l := &backupLoad{s: openPostgresKeys(t, src, key)}
	before := l.whileWriting(t, 50, func() error {
		if out, err := exec.Command(pgDump, "--format=custom", "--file="+dump, "--dbname="+src).CombinedOutput(); err != nil {
			return fmt.Errorf("pg_dump: %v\n%s", err, out)
		}
		return nil
	})
	if out, err := exec.Command(pgRestore, "--no-owner", "--exit-on-error", "--dbname="+dst, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	restored := openPostgresKeys(t, dst, key)
	checkRestored(t, restored, before)
}

// openPostgresKeys opens the PostgreSQL store at dsn encrypting with key.
func openPostgresKeys(t *testing.T, dsn string, key store.Key) *store.Postgres {
	t.Helper()
	p, err := store.OpenPostgres(t.Context(), dsn, store.WithKeys(key))
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}
