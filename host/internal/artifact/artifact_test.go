package artifact

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPutOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := New(dir, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	m, err := s.Put("tracecode", "s1", "../../etc/export.xlsx", "application/x", strings.NewReader("PK workbook"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "export.xlsx" || m.Size != 11 || len(m.SHA256) != 64 || m.Plugin != "tracecode" || m.Site != "s1" {
		t.Fatalf("meta %+v", m)
	}
	got, f, err := s.Open(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(f)
	f.Close()
	if string(data) != "PK workbook" || got != m {
		t.Fatalf("opened %+v %q", got, data)
	}
	cases := map[string]struct {
		id     string
		before func()
		notFnd bool
	}{
		"not an id":    {id: "../" + m.ID, notFnd: true},
		"unknown id":   {id: strings.Repeat("0", 48), notFnd: true},
		"changed file": {id: m.ID, before: func() { _ = os.WriteFile(filepath.Join(dir, m.ID), []byte("PK changed!"), 0o600) }},
		"expired":      {id: m.ID, before: func() { now = now.Add(time.Hour) }, notFnd: true},
	}
	for _, name := range []string{"not an id", "unknown id", "changed file", "expired"} {
		tc := cases[name]
		if tc.before != nil {
			tc.before()
		}
		_, f, err := s.Open(tc.id)
		if err == nil {
			f.Close()
			t.Fatalf("%s: opened", name)
		}
		if errors.Is(err, ErrNotFound) != tc.notFnd {
			t.Fatalf("%s: %v, want not-found %v", name, err, tc.notFnd)
		}
	}
}

func TestPutTooLargeAndPrune(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := New(dir, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	s.MaxSize = 4
	if _, err := s.Put("p", "s", "big", "", bytes.NewReader([]byte("12345"))); err == nil || !strings.Contains(err.Error(), "over 4 bytes") {
		t.Fatalf("too large: %v", err)
	}
	old, err := s.Put("p", "s", "old", "", bytes.NewReader([]byte("1")))
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(filepath.Join(dir, old.ID+".json"), past, past); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put("p", "s", "new", "", bytes.NewReader([]byte("2"))); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("after pruning %d files, want the new artifact and its metadata", len(entries))
	}
}

// TestNewKeepsDirectoryPrivate: the directory is created 0700 and an
// existing one others may enter is tightened; a file is refused.
func TestNewKeepsDirectoryPrivate(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	fresh := filepath.Join(root, "data", "artifacts")
	loose := filepath.Join(root, "loose")
	if err := os.Mkdir(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{fresh, loose} {
		if _, err := New(dir, 0); err != nil {
			t.Fatalf("New(%s): %v", dir, err)
		}
		st, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 {
			t.Errorf("%s has mode %o, want 700", dir, st.Mode().Perm())
		}
	}
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(file, 0); err == nil {
		t.Error("New accepted a file as its directory")
	}
}

// TestPruneRemovesAbandonedUploads: a Put cut short by a crash leaves its
// temporary file (part of an export, personal data); once older than the
// TTL it is removed like an expired artifact, while a recent one (a Put
// going on) is left alone.
func TestPruneRemovesAbandonedUploads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := New(dir, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	stale, fresh := filepath.Join(dir, ".put-1234"), filepath.Join(dir, ".put-5678")
	for _, f := range []string{stale, fresh} {
		if err := os.WriteFile(f, []byte("half an export"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(stale, past, past); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put("p", "s", "new", "", bytes.NewReader([]byte("2"))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the abandoned upload is still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("a recent upload was removed: %v", err)
	}
}

// TestCleanName: a stored name is one plain file name: no directory, no
// "." or "..", no control characters (it becomes the download's file name
// and appears in the log and the audit trail).
func TestCleanName(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"export.xlsx":                "export.xlsx",
		"../../etc/export.xlsx":      "export.xlsx",
		`C:\exports\stock.xlsx`:      "stock.xlsx",
		"..":                         "file",
		"a/..":                       "file",
		".":                          "file",
		"":                           "file",
		"/":                          "file",
		"stock\r\nX-Injected: 1.csv": "stock__X-Injected: 1.csv",
		"库存导出.xlsx":                  "库存导出.xlsx",
	}
	for in, want := range cases {
		if got := cleanName(in); got != want {
			t.Errorf("cleanName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSharedRefusesLinksAndOthersDirectories: the default store sits in
// the temporary directory, where any user can plant a link or a directory
// of their own under its name. It refuses both, and never tightens (as
// root: chmods) what a link points to.
func TestSharedRefusesLinksAndOthersDirectories(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	target := filepath.Join(tmp, "etc")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(tmp, "medgate-artifacts")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := newShared(link); err == nil || !strings.Contains(err.Error(), "MEDGATE_ARTIFACT_DIR") {
		t.Errorf("a link accepted as the store (%v)", err)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o755 {
		t.Errorf("the link's target was changed to mode %o", fi.Mode().Perm())
	}
	if os.Getuid() == 0 {
		other := filepath.Join(tmp, "other")
		if err := os.Mkdir(other, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(other, 54321, 54321); err != nil {
			t.Fatal(err)
		}
		if _, err := newShared(other); err == nil || !strings.Contains(err.Error(), "uid 54321") {
			t.Errorf("another user's directory accepted as the store (%v)", err)
		}
	}
	own := filepath.Join(tmp, "own")
	if s, err := newShared(own); err != nil || s == nil {
		t.Fatalf("a fresh directory: %v", err)
	}
}
