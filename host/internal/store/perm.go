package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Modes of the SQLite database: it holds personal data, so no one but
// medgate's user may read it or list its directory.
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

// sqliteSuffixes are the files SQLite keeps beside the database.
var sqliteSuffixes = []string{"", "-wal", "-shm", "-journal"}

// secureSQLite prepares the database at path before it is opened: its
// directory exists with mode 0700, the database file exists with mode
// 0600 (SQLite gives its -wal and -shm files the database's mode), and
// looser modes left by earlier versions or by hand are tightened. A
// directory others can write to is refused: they could swap the database.
func secureSQLite(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, dirMode); err != nil {
			return fmt.Errorf("create the data directory %s: %w", dir, err)
		}
		// MkdirAll's mode passes through the umask; set it exactly.
		if err := os.Chmod(dir, dirMode); err != nil {
			return fmt.Errorf("data directory %s: %w", dir, err)
		}
	case err != nil:
		return fmt.Errorf("data directory %s: %w", dir, err)
	case !st.IsDir():
		return fmt.Errorf("data directory %s is not a directory", dir)
	case st.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("data directory %s is writable by group or others (mode %o), who could replace the database; give medgate a directory of its own (mkdir -m 700 DIR) and set store.path inside it", dir, st.Mode().Perm())
	case st.Mode().Perm()&0o077 != 0:
		if err := os.Chmod(dir, dirMode); err != nil {
			return fmt.Errorf("data directory %s is readable by group or others (mode %o) and medgate cannot tighten it: %w; run chmod 700 %s as its owner", dir, st.Mode().Perm(), err, dir)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return fmt.Errorf("create the database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create the database file: %w", err)
	}
	for _, suffix := range sqliteSuffixes {
		p := path + suffix
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if st.Mode().Perm()&^fileMode != 0 {
			if err := os.Chmod(p, fileMode); err != nil {
				return fmt.Errorf("%s is readable by group or others (mode %o) and medgate cannot tighten it: %w; run chmod 600 %s as its owner", p, st.Mode().Perm(), err, p)
			}
		}
	}
	return nil
}
