//go:build !linux

package pluginhost

import (
	"os"
	"os/exec"
)

func command(path string) *exec.Cmd { return exec.Command(path) }

// processExists cannot tell here: every process may exist, so no socket
// directory of another medgate is ever taken for stale.
func processExists(int) bool { return true }

// ownedByUs cannot tell here.
func ownedByUs(os.FileInfo) bool { return false }

// lockFile opens the file at path; there is no lock to take here.
func lockFile(path string) (*os.File, bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	return f, err == nil, err
}
