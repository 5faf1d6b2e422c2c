// Command chattydies is a plugin for pluginhost's tests: it prints a line
// to standard output, as a plugin written with fmt.Println for logging
// does, then, a moment later, finds it cannot start, says why on standard
// error and exits, all before the handshake.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/test/plugins/ledger/adapter"
)

func main() {
	fmt.Println("chattydies plugin starting")
	// What a plugin does before it serves, and what takes it a while (a
	// key file on a slow network mount, a vault): here, read its key.
	time.Sleep(300 * time.Millisecond)
	if _, err := os.ReadFile("/etc/chattydies/key.pem"); err != nil {
		fmt.Fprintf(os.Stderr, "cannot start: %v; token=s3cr3tvalue123\n", err)
		os.Exit(3)
	}
	sdk.Serve(adapter.New())
}
