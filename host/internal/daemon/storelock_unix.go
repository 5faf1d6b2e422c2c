//go:build unix

package daemon

import (
	"errors"
	"os"
	"syscall"
)

// errLocked is the error of lockFile when another holds the lock.
var errLocked = errors.New("locked")

// lockFile takes an exclusive advisory lock on f without waiting.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return err
}
