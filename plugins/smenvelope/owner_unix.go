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

// fileOwner returns the owner uid for change detection.
func fileOwner(fi os.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return strconv.FormatUint(uint64(st.Uid), 10)
	}
	return ""
}
