package store

import (
	"path/filepath"
	"testing"
)

// BenchmarkSyncWAL: the group commit's sync of an open SQLite store's WAL
// (after every commit of the message path). Its CPU is mostly the
// fdatasync's; what this round changed is the rest: an os.Open and Close
// of the WAL (openat, epoll_ctl, close: 2.50-2.53 us of CPU, 152 B and 3
// allocations per pair, 300,000 pairs three times, shared 2-CPU VM) made
// an os.Stat of its path (newfstatat: 0.73-0.80 us, 256 B, 2 allocations);
// per sync 4 allocs/op before, 2 after.
func BenchmarkSyncWAL(b *testing.B) {
	path := filepath.Join(b.TempDir(), "medgate.db")
	s, err := OpenSQLite(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.NextSequence(b.Context(), "n"); err != nil {
		b.Fatal(err)
	}
	sync := syncWAL(path)
	b.ReportAllocs()
	for b.Loop() {
		if err := sync(); err != nil {
			b.Fatal(err)
		}
	}
}
