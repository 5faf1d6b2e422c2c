package testenv

import (
	"io/fs"
	"path/filepath"
	"testing"
)

// SocketsUnder returns the unix sockets in the tree at dir: the tests
// that check medgate and its plugins leave none behind in the temporary
// directory use it.
func SocketsUnder(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSocket != 0 {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
