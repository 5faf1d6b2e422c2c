package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// sqliteLocked reports whether err is SQLite's SQLITE_BUSY or
// SQLITE_LOCKED (primary codes 5 and 6, whatever the extended code): a
// lock another connection held longer than the busy timeout.
func sqliteLocked(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code() & 0xff
	return code == 5 || code == 6
}

// sqliteBusyTimeout is how long a connection waits for a lock held by
// another connection (or process) before giving up with SQLITE_BUSY.
const sqliteBusyTimeout = 10 * time.Second

// sqliteWALLimit is the size, in bytes, SQLite cuts the WAL file back to
// when it restarts it (journal_size_limit). The WAL is restarted from its
// start after a checkpoint and keeps its size, a few MiB (1,000 pages and
// the transaction that crossed them), so this one is never reached in
// use; but while a read transaction stays open (a backup, an admin's
// sqlite3 shell) SQLite cannot restart it, and it grows by everything
// written meanwhile, which without a limit stayed on the disk for good.
const sqliteWALLimit = 64 << 20

// sqliteDialect: ? placeholders and times as INTEGER unix microseconds.
// The writer's transactions start with BEGIN IMMEDIATE (_txlock), which
// locks the migrations too.
var sqliteDialect = &dialect{
	name:       DriverSQLite,
	encodeTime: func(t time.Time) any { return t.UnixMicro() },
	createMigrations: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`,
	recordMigration: `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
	stampMigrations: true,
	// A row of up to about 4 KB fits in its page (4 KiB pages); a larger
	// one spills into overflow pages, all written again by the outcome's
	// UPDATE unless the request is apart.
	requestApart: 1 << 10,
	detachReads:  true,
	oneWriter:    true,
	hintIndexes:  true,
}

// SQLite is the embedded engine: one database file in WAL mode.
//
// The writes of the message path (messages, journal, plugin state,
// sequences) are committed in groups (see committer) on a connection of
// their own, so writers in this process queue in Go instead of contending
// for SQLite's lock. That connection commits with synchronous=NORMAL, and
// the committer then syncs the WAL itself with fdatasync (syncWAL) before
// it answers the writes of the group: what a caller is told is stored is on
// disk, as with synchronous=FULL, but SQLite (as built by modernc) syncs
// with fsync, which on ext4 also commits the file's new modification time
// to the journal at every commit of a WAL that is overwritten in place.
// The other writes (users, audit, leases, batches, maintenance), rare, use
// a second connection with synchronous=FULL. Transactions start with BEGIN
// IMMEDIATE. Reads use a separate pool of read-only connections that WAL
// lets run beside the writers. busy_timeout covers the rare contention
// left (the two writers, checkpoints, another process); a write that
// waits it out fails with an error naming the file, the likely cause
// (another process writing it) and the fix.
type SQLite struct {
	sqlStore
}

// OpenSQLite opens (creating if needed) the SQLite database at path and
// brings its schema up to date. The database's directory is kept at mode
// 0700 and its files at 0600 (see secureSQLite).
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*SQLite, error) {
	if path == "" {
		return nil, errors.New("store: sqlite: open: empty path")
	}
	seal, err := sealerFrom(opts)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: open %q: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: open %q: %w", path, err)
	}
	if err := secureSQLite(abs); err != nil {
		return nil, fmt.Errorf("store: sqlite: open %q: %w", path, err)
	}
	// A file: URI, so that '?', '#' and '%' in the path are escaped rather
	// than taken as the start of the driver's parameters.
	uri := (&url.URL{Scheme: "file", Path: abs}).String()
	busyTimeout := sqliteBusyTimeout
	if d := optionsFrom(opts).busyTimeout; d > 0 {
		busyTimeout = d
	}
	busy := fmt.Sprint(busyTimeout.Milliseconds())
	walLimit := int64(sqliteWALLimit)
	if n := optionsFrom(opts).walLimit; n > 0 {
		walLimit = n
	}
	// Both writers: the WAL is restarted (and cut back) by a write.
	limitWAL := fmt.Sprintf("&_pragma=journal_size_limit(%d)", walLimit)

	if seal == nil {
		seal = &sealer{} // no key: it only compresses
	}
	seal.compress = true // see sealer.compress
	s := &SQLite{sqlStore{d: sqliteDialect, db: fmt.Sprintf("%q", path), seal: seal, busy: busyTimeout, dir: filepath.Dir(abs)}}
	s.refusals.hook = optionsFrom(opts).refusals
	s.w, err = sql.Open("sqlite", uri+"?_txlock=immediate&_busy_timeout="+busy+
		"&_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1"+limitWAL)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: open %q: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	if err := s.w.PingContext(ctx); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("store: sqlite: open %q: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.w.Close()
		return nil, err
	}
	// Opened after the writer has switched the file to WAL and created the schema.
	s.r, err = sql.Open("sqlite", uri+"?_busy_timeout="+busy+"&_foreign_keys=1&_query_only=1")
	if err != nil {
		s.w.Close()
		return nil, fmt.Errorf("store: sqlite: open %q for reading: %w", path, err)
	}
	// database/sql keeps 2 idle connections unless told: with more, a
	// burst of reads ending together closed the surplus and the next
	// burst opened new ones (file, pragmas, WAL index), a cost every pure
	// query paid on its GetMessage (TestSQLiteReadsKeepTheirConnections).
	readers := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(readers)
	s.r.SetMaxIdleConns(readers)
	if err := s.r.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: sqlite: open %q for reading: %w", path, err)
	}
	if err := s.prepareReads(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.g, err = sql.Open("sqlite", uri+"?_txlock=immediate&_busy_timeout="+busy+
		"&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1"+limitWAL)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("store: sqlite: open %q for the group commit: %w", path, err)
	}
	s.g.SetMaxOpenConns(1)
	if err := s.g.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: sqlite: open %q for the group commit: %w", path, err)
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	ws := newWALSync(abs)
	s.group = newCommitter(s.g, nil, ws.sync)
	s.closeLast = ws.close
	return s, nil
}

// syncWAL returns the sync of the group commit (see committer.sync): an
// fdatasync of the database's WAL file, which holds every committed
// transaction not yet checkpointed. With synchronous=NORMAL SQLite syncs
// the WAL before each checkpoint and the database file after it, so a
// transaction already checkpointed is on disk. Without a WAL file the
// database file is synced.
//
// The file synced is kept open from one sync to the next, and each sync
// first checks by its path that it is still the current file: should
// SQLite delete the WAL (when the last connection closes, after
// checkpointing it into the database file) and create another, the sync
// is of the new one. One stat instead of an open and a close per commit
// (the group commit syncs after every commit of the message path; the
// open and close were about 1 % of the host's CPU per message).
func syncWAL(path string) func() error { return newWALSync(path).sync }

func newWALSync(path string) *walSync { return &walSync{wal: path + "-wal", db: path} }

// walSync is syncWAL's state; its sync runs on the committer's goroutine
// only.
type walSync struct {
	wal, db string
	f       *os.File    // the file last synced, open
	fi      os.FileInfo // f's identity
}

func (w *walSync) sync() error {
	name := w.wal
	fi, err := os.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		name = w.db
		fi, err = os.Stat(name)
	}
	if err != nil {
		return err
	}
	if w.f == nil || !os.SameFile(fi, w.fi) {
		if err := w.open(name); err != nil {
			return err
		}
	}
	return datasync(w.f)
}

// close closes the file kept open, once the store's connections are
// closed (see sqlStore.Close).
func (w *walSync) close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f, w.fi = nil, nil
	return err
}

// open makes the file at name the one synced, closing the one before.
func (w *walSync) open(name string) error {
	if w.f != nil {
		_ = w.f.Close() // only read from: nothing to lose
		w.f, w.fi = nil, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return err
	}
	w.f, w.fi = f, fi
	return nil
}

var _ Store = (*SQLite)(nil)
