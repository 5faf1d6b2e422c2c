//go:build unix

package smenvelope

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// checkOwner refuses a private key file not owned by the effective user.
func checkOwner(path string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if euid := os.Geteuid(); int(st.Uid) != euid {
		return fmt.Errorf("private key file %s is owned by uid %d, not the current user (uid %d): run `chown %d %s && chmod 600 %s` or run medgate as the owner",
			path, st.Uid, euid, euid, path, path)
	}
	return nil
}

// fileIdentity returns the owner uid, device and inode for change
// detection: a file replaced by rename (as ImportKey does) has a new inode
// even when its size and modification time are those of the old one.
func fileIdentity(fi os.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return strconv.FormatUint(uint64(st.Uid), 10) + ":" + strconv.FormatUint(uint64(st.Dev), 10) + ":" + strconv.FormatUint(st.Ino, 10)
	}
	return ""
}
