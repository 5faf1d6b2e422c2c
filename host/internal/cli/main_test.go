package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain removes the binaries the tests built (the medgate command line
// and the ledger plugin) from the temporary directory.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range []string{binPath, ledgerPath} {
		if p != "" {
			_ = os.RemoveAll(filepath.Dir(p))
		}
	}
	os.Exit(code)
}
