//go:build unix

package store

import (
	"io/fs"
	"os"
	"syscall"
)

// The modes of access(2), the same on every Unix.
const (
	accessX = 1
	accessW = 2
	accessR = 4
)

// writable reports whether this process may create files in dir.
func writable(dir string) error {
	return syscall.Access(dir, accessW|accessX)
}

// readWritable reports whether this process may read and write path.
func readWritable(path string) error {
	return syscall.Access(path, accessR|accessW)
}

// ownedByMe reports whether this process may change the mode of a file
// of st: it is its owner, or root.
func ownedByMe(st fs.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	uid := os.Geteuid()
	return uid == 0 || int(sys.Uid) == uid
}
