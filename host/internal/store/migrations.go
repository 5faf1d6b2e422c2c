package store

import (
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
		return nil, fmt.Errorf("store: %s: database schema version %d is newer than this binary supports (%d); upgrade medgate", engine, latest, n)
	}
	var out []migration
	for _, m := range all {
		if !applied[m.version] {
			out = append(out, m)
		}
	}
	return out, nil
}
