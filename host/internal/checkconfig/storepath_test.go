package checkconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckSQLiteStorePath: check-config reports, at store.path, a
// SQLite database medgate run could not open (its directory a file, a
// directory others may write to, a database path that is a directory),
// with what to do, and creates nothing; a directory still to be made or
// one medgate already uses passes. check-config said "configuration OK"
// for each, and the unit, whose ExecStartPre is check-config, then failed
// at every start.
func TestCheckSQLiteStorePath(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) // makes what store.path points into
		path  string                         // store.path, relative to the configuration
		want  []string                       // in the problem; none: no problem
	}{
		{"directory to be made", nil, "data/medgate.db", nil},
		{"directory of its own", func(t *testing.T, dir string) { mkdir(t, filepath.Join(dir, "data"), 0o700) }, "data/medgate.db", nil},
		{"directory is a file", func(t *testing.T, dir string) { write(t, filepath.Join(dir, "data")) }, "data/medgate.db",
			[]string{"store.path: data directory", "is not a directory", "point it at a directory"}},
		{"missing directory under a file", func(t *testing.T, dir string) { write(t, filepath.Join(dir, "data")) }, "data/db/medgate.db",
			[]string{"store.path: data directory", "cannot be created", "is not a directory"}},
		{"directory others may write", func(t *testing.T, dir string) { mkdir(t, filepath.Join(dir, "shared"), 0o777) }, "shared/medgate.db",
			[]string{"store.path: data directory", "writable by group or others (mode 777)", "mkdir -m 700"}},
		{"database is a directory", func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, "data"), 0o700)
			mkdir(t, filepath.Join(dir, "data", "medgate.db"), 0o700)
		}, "data/medgate.db", []string{"store.path:", "medgate.db is a directory, not a database file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			src := "kafka:\n  embedded: {}\nstore:\n  driver: sqlite\n  path: " + tc.path + "\n"
			cfgPath := filepath.Join(dir, "medgate.yaml")
			if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			before := listing(t, dir)
			err := Check(t.Context(), cfgPath)
			if after := listing(t, dir); after != before {
				t.Errorf("check-config changed the directory:\nbefore %s\nafter  %s", before, after)
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Check refused a usable store.path: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check accepted store.path %s", tc.path)
			}
			if !strings.Contains(err.Error(), "medgate.yaml:5: store.path") {
				t.Errorf("the problem is not reported at the line of store.path:\n%v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestCheckArtifactsDir: check-config reports an artifacts.dir medgate run
// could not create or use (a file; a directory to be made under a file),
// creating nothing; it said "configuration OK" and the start then failed
// with "artifact store: create …".
func TestCheckArtifactsDir(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  string // artifacts.dir, relative to the configuration
		want []string
	}{
		{"to be made", "state/artifacts", nil},
		{"a file", "afile", []string{"medgate.yaml:6: artifacts.dir: directory", "afile is not a directory", "point it at a directory"}},
		{"under a file", "afile/artifacts", []string{"medgate.yaml:6: artifacts.dir: directory", "does not exist and cannot be created", "afile is not a directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "afile"))
			src := "kafka:\n  embedded: {}\nstore:\n  path: db/medgate.db\nartifacts:\n  dir: " + tc.dir + "\n"
			cfgPath := filepath.Join(dir, "medgate.yaml")
			if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			before := listing(t, dir)
			err := Check(t.Context(), cfgPath)
			if after := listing(t, dir); after != before {
				t.Errorf("check-config changed the directory:\nbefore %s\nafter  %s", before, after)
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Check refused a usable artifacts.dir: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check accepted artifacts.dir %s", tc.dir)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func mkdir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func write(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// listing names every file under dir with its mode.
func listing(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b.WriteString(p + " " + info.Mode().String() + "; ")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
