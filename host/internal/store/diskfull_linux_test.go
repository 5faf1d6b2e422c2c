package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// tinyFilesystem mounts a tmpfs of size bytes at a new directory and
// returns it, unmounted when the test ends; it skips the test where
// mounting is not allowed (not root, no CAP_SYS_ADMIN).
func tinyFilesystem(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("cannot mount a tmpfs of %d bytes (needs root): %v; TestSQLiteRefusesWrites covers SQLITE_FULL by max_page_count", size, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file in dir until the filesystem is full and returns its
// path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			return path
		}
	}
}

// TestSQLiteRealDiskFull: on a filesystem that is really full (a tmpfs
// whose free space a file took), the writes of the message path fail
// with ErrRefused naming the directory and saying to free space, the
// store is not damaged, and once the file is removed the same writes
// succeed without reopening the store: nothing written before is lost.
func TestSQLiteRealDiskFull(t *testing.T) {
	t.Parallel()
	dir := tinyFilesystem(t, 4<<20)
	s, err := OpenSQLite(t.Context(), filepath.Join(dir, "medgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	if _, _, err := s.BeginMessage(ctx, Message{ID: "before", Site: "s", Type: "p.op", Key: "k", Request: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	filler := fill(t, dir)
	var refused error
	var ids []string
	for i := range 200 {
		id := fmt.Sprintf("m-%d", i)
		_, _, err := s.BeginMessage(ctx, Message{ID: id, Site: "s", Type: "p.op", Key: "k", Request: incompressible(16 << 10)})
		if err != nil {
			refused = err
			ids = append(ids, id)
			break
		}
	}
	if refused == nil {
		t.Fatal("200 messages of 16 KiB written to a full filesystem")
	}
	t.Logf("refused: %v", refused)
	if !errors.Is(refused, ErrRefused) {
		t.Fatalf("a write to a full disk: %v, want ErrRefused", refused)
	}
	if kind, _, _ := Refusal(refused); kind != RefusedDiskFull && kind != RefusedIO {
		t.Errorf("a write to a full disk refused as %q, want %q (or %q)", kind, RefusedDiskFull, RefusedIO)
	}
	for _, want := range []string{dir, "df -h"} {
		if !strings.Contains(refused.Error(), want) {
			t.Errorf("the refusal %q does not say %q", refused, want)
		}
	}
	if err := s.Ping(ctx); !errors.Is(err, ErrRefused) {
		t.Errorf("Ping on a full disk: %v, want the refusal", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, created, err := s.BeginMessage(ctx, Message{ID: id, Site: "s", Type: "p.op", Key: "k", Request: incompressible(16 << 10)}); err != nil || !created {
			t.Fatalf("BeginMessage %s once there is room: created %v, %v", id, created, err)
		}
		if err := s.FinishMessage(ctx, id, "ok", []byte(`{}`), 1); err != nil {
			t.Fatalf("FinishMessage %s once there is room: %v", id, err)
		}
	}
	if m, err := s.GetMessage(ctx, "before"); err != nil || m.Status != StatusPending {
		t.Errorf("the message written before the disk filled: %+v, %v", m, err)
	}
	var check string
	if err := s.w.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check after the disk was full: %q, %v", check, err)
	}
}
