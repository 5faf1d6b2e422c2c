package store

import (
	"io/fs"
	"os"
	"syscall"
)

// datasync makes f's data durable with fdatasync: the data and the size
// that reading it needs, not the file's times (no journal commit of the
// inode for every sync of a WAL that is overwritten in place).
func datasync(f *os.File) error {
	if err := syscall.Fdatasync(int(f.Fd())); err != nil {
		return &fs.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
	}
	return nil
}
