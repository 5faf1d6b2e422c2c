// Command rawstdout is a plugin for pluginhost's tests: before it serves
// it writes a line to the standard output file descriptor itself, not
// through os.Stdout, as a C library or a plugin built with an SDK older
// than the one that keeps os.Stdout off the handshake does; that breaks
// go-plugin's handshake.
package main

import (
	"os"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/test/plugins/ledger/adapter"
)

func main() {
	_, _ = os.NewFile(1, "stdout").WriteString("rawstdout plugin starting\n")
	sdk.Serve(adapter.New())
}
