package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Tool returns the path of an independent command-line tool a test checks
// medgate's output with (zbarimg, soffice, kcat), installed by
// deploy/testenv/checkers.sh from the Debian package pkg. Without it the
// test is skipped, saying how to install it, or fails when
// MEDGATE_REQUIRE_SERVICES=1 (make test), so that CI never passes a check
// it did not run.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("testenv: %s is not installed (%v); run deploy/testenv/checkers.sh or apt-get install %s", name, err, pkg)
	if os.Getenv(RequireServicesEnv) == "1" {
		t.Fatalf("%s (%s=1)", msg, RequireServicesEnv)
	}
	t.Skip(msg)
	return ""
}
