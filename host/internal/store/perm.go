package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
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

// CheckSQLitePath reports, without creating or changing anything, why
// medgate run could not open a SQLite database at path (what
// secureSQLite would refuse or fail at, and a directory or file this
// user cannot write), with what to do; nil when nothing is known to be
// wrong. medgate check-config calls it, as the user medgate runs as, so
// that a store it cannot use is found before the start (systemd runs
// check-config first) rather than by a unit failing at every restart.
func CheckSQLitePath(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(abs)
	if st, err := os.Stat(dir); err == nil && st.IsDir() && st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("data directory %s is writable by group or others (mode %o), who could replace the database; give medgate a directory of its own (mkdir -m 700 DIR) and set store.path inside it", dir, st.Mode().Perm())
	}
	if err := CheckPrivateDir("data directory", dir); err != nil {
		return err
	}
	for _, suffix := range sqliteSuffixes {
		p := abs + suffix
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if st.IsDir() {
			return fmt.Errorf("%s is a directory, not a database file; set store.path to a file", p)
		}
		if err := readWritable(p); err != nil {
			return fmt.Errorf("%s cannot be read and written by this user (%w), as medgate must; give it to the user medgate runs as: chown USER %s (a backup restored as root is owned by root)", p, err, p)
		}
		if st.Mode().Perm()&^fileMode != 0 && !ownedByMe(st) {
			return fmt.Errorf("%s is readable by group or others (mode %o) and medgate cannot tighten it, not being its owner; run chmod 600 %s as its owner", p, st.Mode().Perm(), p)
		}
	}
	return nil
}

// CheckPrivateDir reports, without creating or changing anything, why
// this user could not use dir as a directory of medgate's own (the SQLite
// store's, artifacts.dir): created with mode 0700 when missing, its mode
// tightened to 0700, files created in it. what names it in the error
// ("data directory"), which says what to do.
func CheckPrivateDir(what, dir string) error {
	st, err := os.Stat(dir)
	switch {
	case missing(err):
		// medgate creates it: the nearest existing directory above must
		// be one this user may create directories in.
		parent := filepath.Dir(dir)
		for {
			pst, err := os.Stat(parent)
			if missing(err) && parent != filepath.Dir(parent) {
				parent = filepath.Dir(parent)
				continue
			}
			if err != nil {
				return fmt.Errorf("%s %s does not exist and cannot be created: %w", what, dir, err)
			}
			if !pst.IsDir() {
				return fmt.Errorf("%s %s does not exist and cannot be created: %s is not a directory; point it at a directory", what, dir, parent)
			}
			if err := writable(parent); err != nil {
				return fmt.Errorf("%s %s does not exist and medgate cannot create it: %s is not writable by this user (%w); create it for the user medgate runs as: install -d -o USER -m 700 %s", what, dir, parent, err, dir)
			}
			return nil
		}
	case err != nil:
		return fmt.Errorf("%s %s: %w", what, dir, err)
	case !st.IsDir():
		return fmt.Errorf("%s %s is not a directory; point it at a directory", what, dir)
	case st.Mode().Perm()&0o077 != 0 && !ownedByMe(st):
		return fmt.Errorf("%s %s is readable by group or others (mode %o) and medgate cannot tighten it, not being its owner; run chmod 700 %s as its owner", what, dir, st.Mode().Perm(), dir)
	}
	if err := writable(dir); err != nil {
		return fmt.Errorf("%s %s is not writable by this user (%w); give it to the user medgate runs as: chown USER %s", what, dir, err, dir)
	}
	return nil
}

// missing reports whether a stat failed because the path does not exist
// (a path under a file does not either).
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
