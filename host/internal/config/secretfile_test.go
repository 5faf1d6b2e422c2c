package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretFileProblemsSayHowToFix: a "file:" secret that is missing, or
// a directory, was reported as Go's error alone ("secret file: stat
// /etc/medgate/secrets/admin-token: no such file or directory"), unlike an
// unset variable, which says where to set it; an administrator installing
// the production example met one such line per secret. Each now names the
// file and says what to do.
func TestSecretFileProblemsSayHowToFix(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "a-directory"), 0o700); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		path string
		want []string
	}{
		"missing": {
			path: filepath.Join(dir, "admin-token"),
			want: []string{filepath.Join(dir, "admin-token") + " does not exist", "install -m 600", "correct the path"},
		},
		"missing directory": {
			path: filepath.Join(dir, "secrets", "pg-dsn"),
			want: []string{filepath.Join(dir, "secrets", "pg-dsn") + " does not exist", "install -m 600"},
		},
		"a directory": {
			path: filepath.Join(dir, "a-directory"),
			want: []string{filepath.Join(dir, "a-directory") + " is a directory", "name the file"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ResolveSecret("file:" + tc.path)
			if err == nil {
				t.Fatalf("file:%s resolved", tc.path)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("file:%s: %v\nwant it to say %q", tc.path, err, w)
				}
			}
		})
	}
}
