package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrationFiles holds the versioned schema of each engine:
// migrations/<engine>/<version>_<name>.sql. Versions start at 1 and have no
// gaps; a released file is never edited, a change is a new file.
//
//go:embed migrations
var migrationFiles embed.FS

// migration is one schema change.
type migration struct {
	version int64
	name    string // file name, for error messages and schema_migrations
	sql     string
}

// loadMigrations returns the migrations of engine ("sqlite" or "postgres")
// in version order.
func loadMigrations(engine string) ([]migration, error) {
	dir := path.Join("migrations", engine)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("store: %s: read migrations: %w", engine, err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("store: %s: migration %q: name must be <version>_<name>.sql with version >= 1", engine, e.Name())
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: %s: migration %q: %w", engine, e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != int64(i+1) {
			return nil, fmt.Errorf("store: %s: migration %q: version %d, want %d (versions start at 1 with no gaps or duplicates)", engine, m.name, m.version, i+1)
		}
	}
	return ms, nil
}

// pendingMigrations returns the migrations not yet in applied. It refuses a
// database whose schema is newer than this binary knows: running old code
// on it could corrupt data.
func pendingMigrations(engine string, all []migration, applied map[int64]bool) ([]migration, error) {
	var latest int64
	for v := range applied {
		latest = max(latest, v)
	}
	if n := int64(len(all)); latest > n {
		return nil, fmt.Errorf("store: %s: database schema version %d is newer than this binary supports (%d); upgrade medgate to the version that wrote it, or restore the backup taken before the upgrade (README \"Backup and restore\")", engine, latest, n)
	}
	var out []migration
	for _, m := range all {
		if !applied[m.version] {
			out = append(out, m)
		}
	}
	return out, nil
}

// migrate applies the pending migrations in one transaction on the write
// pool. SQLite's writer begins it IMMEDIATE, PostgreSQL takes an advisory
// lock first (d.lockMigrations): either way, of several processes starting
// at once, one applies each migration and the others then see it applied.
func (s *sqlStore) migrate(ctx context.Context) error {
	all, err := loadMigrations(s.d.name)
	if err != nil {
		return err
	}
	at := "" // the SQLite file, for the messages
	if s.db != "" {
		at = s.db + ": "
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.errorf("%smigrate: begin: %w", at, err)
	}
	defer tx.Rollback()
	if s.d.lockMigrations != "" {
		if _, err := tx.ExecContext(ctx, s.d.lockMigrations); err != nil {
			return s.errorf("%smigrate: lock: %w", at, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.createMigrations); err != nil {
		return s.errorf("%smigrate: create schema_migrations: %w", at, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return s.errorf("%smigrate: read schema_migrations: %w", at, err)
	}
	applied := map[int64]bool{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return s.errorf("%smigrate: read schema_migrations: %w", at, err)
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.errorf("%smigrate: read schema_migrations: %w", at, err)
	}
	pending, err := pendingMigrations(s.d.name, all, applied)
	if err != nil {
		if s.db != "" {
			err = fmt.Errorf("%w (file %s)", err, s.db)
		}
		return err
	}
	record := s.d.rebind(s.d.recordMigration)
	for _, m := range pending {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return s.errorf("%smigration %q: %w", at, m.name, err)
		}
		args := []any{m.version, m.name}
		if s.d.stampMigrations {
			args = append(args, s.d.encodeTime(now()))
		}
		if _, err := tx.ExecContext(ctx, record, args...); err != nil {
			return s.errorf("%smigration %q: record: %w", at, m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.errorf("%smigrate: commit: %w", at, err)
	}
	return nil
}
