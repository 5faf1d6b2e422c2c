package sites

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain removes the ledger plugin the tests built from the temporary
// directory.
func TestMain(m *testing.M) {
	code := m.Run()
	if ledgerPath != "" {
		_ = os.RemoveAll(filepath.Dir(ledgerPath))
	}
	os.Exit(code)
}
