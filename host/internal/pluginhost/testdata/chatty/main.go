// Command chatty is a plugin for pluginhost's tests: it prints a line to
// standard output before it serves, as a plugin written with fmt.Println
// for logging does, which breaks go-plugin's handshake.
package main

import (
	"fmt"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/test/plugins/ledger/adapter"
)

func main() {
	fmt.Println("chatty plugin starting")
	sdk.Serve(adapter.New())
}
