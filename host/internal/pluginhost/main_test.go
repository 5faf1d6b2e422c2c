package pluginhost

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain removes the plugins the tests built from the temporary
// directory.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range built {
		_ = os.RemoveAll(filepath.Dir(p))
	}
	os.Exit(code)
}
