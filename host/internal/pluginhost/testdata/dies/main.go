// Command dies is a plugin for pluginhost's tests: it says why it cannot
// start on standard error, as a plugin should, and exits before the
// handshake.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "cannot start: the key file /etc/dies/key.pem is missing; token=s3cr3tvalue123")
	os.Exit(3)
}
