package e2e

import (
	"os"
	"testing"

	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/testenv"
)

// TestKilledMedgateLeavesNoSockets: every test here ends its medgate with
// SIGKILL (harness.Start), and neither a killed medgate nor its plugins,
// which the kernel kills with it, can remove their unix sockets; medgate's
// next start would, but after the last test there is none. The harness
// removes them, so test runs leave no plugin sockets in the temporary
// directory. Not parallel: it sets TMPDIR, which medgate inherits.
func TestKilledMedgateLeavesNoSockets(t *testing.T) {
	bins := harness.Binaries(t)       // built outside the TMPDIR under test
	tmp, err := os.MkdirTemp("", "s") // short: the socket directories fit in it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })
	t.Setenv("TMPDIR", tmp)
	var running []string
	t.Run("medgate", func(t *testing.T) {
		cfg := harness.NewConfig(t, nil)
		cfg.Embedded = true
		cfg.Listen = testenv.FreeAddr(t)
		cfg.Brokers = []string{cfg.Listen}
		harness.Start(t, bins, cfg.Write(t, bins))
		running = testenv.SocketsUnder(t, tmp)
	})
	if len(running) == 0 {
		t.Fatalf("no unix socket under TMPDIR %s while medgate ran its plugin: the test cannot see where they listen", tmp)
	}
	if left := testenv.SocketsUnder(t, tmp); len(left) > 0 {
		t.Fatalf("the killed medgate and its plugin left %d of their %d sockets in the temporary directory: %v", len(left), len(running), left)
	}
}
